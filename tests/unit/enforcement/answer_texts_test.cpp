// find_completion_texts (the fast path of a chat.completion or completion body) held to
// find_answer_texts: wherever it accepts a body it finds the same answers, spans and texts,
// on usual bodies, odd ones and bodies mutated at random; and it accepts the usual ones.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "enforcement/answer_texts.h"

namespace dg::enforcement {
namespace {

// Compares the two finders on `body`; returns whether the fast one accepted it.
bool expect_same(const std::string& body) {
  std::vector<answer_text> fast, general;
  const bool took = find_completion_texts(body, fast);
  const bool ok = find_answer_texts(body, 128, general);
  if (!took) {
    EXPECT_TRUE(fast.empty()) << body;
    return false;
  }
  EXPECT_TRUE(ok) << body;
  EXPECT_EQ(fast.size(), general.size()) << body;
  for (std::size_t i = 0; i < fast.size() && i < general.size(); ++i) {
    EXPECT_EQ(fast[i].begin, general[i].begin) << body;
    EXPECT_EQ(fast[i].end, general[i].end) << body;
    EXPECT_EQ(fast[i].text, general[i].text) << body;
  }
  return true;
}

const std::string chat =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1796348285,"model":"gpt-4o-mini",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"It is large.\n\nUse \"big\" cars \u00e9\ud83d\ude00 \/ \\ \t done.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"},)"
    R"({"index":1,"message":{"role":"assistant","content":"Second answer, plain."},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":64,"completion_tokens":83,"total_tokens":147,"prompt_tokens_details":{"cached_tokens":0}},)"
    R"("service_tier":"default","system_fingerprint":"fp_mock0001"})";

TEST(AnswerTexts, FastPathTakesTheUsualBodiesAndFindsTheSame) {
  const std::vector<std::string> usual = {
      chat,
      R"({"object":"text_completion","choices":[{"text":"Once upon a time","index":0,"logprobs":null,"finish_reason":"length"}]})",
      R"( { "choices" : [ { "message" : { "content" : "spaced out" } } ] } )",
      R"({"choices":[{"message":{"content":null}},{"message":{"role":"x"}},{"text":7},1,"s",[{"text":"nested"}]]})",
      R"({"choices":{"text":"not an array"},"x":[1,-0,true,false,null,{},[]]})",
      R"({"choices":[]})",
      R"({})",
      R"({"choices":[{"message":"not an object","text":"kept"}]})",
      R"({"choices":[{"message":{"content":"a","extra":{"content":"deeper, not an answer"}}}]})",
  };
  for (const auto& b : usual) EXPECT_TRUE(expect_same(b)) << b;
}

TEST(AnswerTexts, FastPathLeavesOddBodiesToTheGeneralFinder) {
  std::string deep = R"({"choices":[{"message":{"content":"x"}}],"d":)";
  for (int i = 0; i < 130; ++i) deep += "[";
  for (int i = 0; i < 130; ++i) deep += "]";
  deep += "}";
  const std::vector<std::string> odd = {
      R"({"choices":[{"message":{"content":[{"type":"text","text":"parts"}]}}]})",
      R"({"output":[{"content":[{"type":"output_text","text":"responses"}]}]})",
      R"({"choices":[{"message":{"content":"a"}}],"choices":[]})",
      R"({"choices":[{"message":{"content":"a","content":"b"}}]})",
      R"({"choices":[{"text":"a","text":"b"}]})",
      R"({"choices":[{"message":{"content":"a"},"message":{"content":"b"}}]})",
      R"({"choices":[{"message":{"content":"a"}}],"temperature":0.5})",
      R"({"choices":[{"message":{"content":"a"}}],"n":1e3})",
      "\xEF\xBB\xBF" R"({"choices":[{"text":"bom"}]})",
      std::string(R"({"choices":[{"text":"nul"}]})") + '\0' + "junk",
      R"({"ch\u006fices":[{"text":"escaped key"}]})",
      R"(["not an object"])",
      R"({"choices":[{"text":"unterminated})",
      R"({"choices":[{"text":"bad \x escape"}]})",
      R"({"choices":[{"text":"lone \udc00 surrogate"}]})",
      "{\"choices\":[{\"text\":\"raw\ncontrol\"}]}",
      "{\"choices\":[{\"text\":\"bad utf-8 \xC0\xAF\"}]}",
      R"({"choices":[{"text":"a"}]} trailing)",
      deep,
  };
  for (const auto& b : odd) EXPECT_FALSE(expect_same(b)) << b;
}

TEST(AnswerTexts, FastPathFindsTheSameOnMutatedBodies) {
  std::mt19937_64 rng(17);
  const std::string alphabet = "{}[]\",:\\ \n0123456789.-eE+tfnulrsa\x01\xC3\xA9\xE2\x80\x99";
  std::uniform_int_distribution<std::size_t> pos(0, chat.size() - 1), pick(0, alphabet.size() - 1), op(0, 2);
  int taken = 0;
  for (int t = 0; t < 20000; ++t) {
    std::string b = chat;
    for (int k = 0; k < 1 + t % 3; ++k) {
      const std::size_t at = pos(rng) % b.size();
      switch (op(rng)) {
        case 0: b[at] = alphabet[pick(rng)]; break;
        case 1: b.erase(at, 1); break;
        default: b.insert(at, 1, alphabet[pick(rng)]); break;
      }
    }
    taken += expect_same(b) ? 1 : 0;
    if (HasFailure()) return;
  }
  EXPECT_GT(taken, 2000);  // many mutated bodies still took the fast path and were compared
}

}  // namespace
}  // namespace dg::enforcement
