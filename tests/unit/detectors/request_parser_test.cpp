#include "detectors/request_parser.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace dg::detectors {
namespace {

TEST(RequestParser, ChatWithStringAndPartsContent) {
  pb::QueryEvent ev;
  auto s = parse_request_body(R"({"model":"gpt-4o","temperature":0.2,"top_p":0.9,"n":2,"max_completion_tokens":50,
    "stream":true,"logprobs":true,"top_logprobs":5,"logit_bias":{"123":-100,"456":40},
    "tools":[{"type":"function"},{"type":"function"}],
    "messages":[{"role":"system","content":"You are terse."},
                {"role":"user","content":"first question"},
                {"role":"assistant","content":"an answer"},
                {"role":"user","content":[{"type":"text","text":"second"},{"type":"image_url","image_url":{}},
                                          {"type":"text","text":"question"}]}]})",
                              ev);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(ev.model(), "gpt-4o");
  EXPECT_DOUBLE_EQ(ev.temperature(), 0.2);
  EXPECT_DOUBLE_EQ(ev.top_p(), 0.9);
  EXPECT_EQ(ev.n(), 2u);
  EXPECT_EQ(ev.max_tokens(), 50u);
  EXPECT_TRUE(ev.stream());
  EXPECT_TRUE(ev.logprobs());
  EXPECT_EQ(ev.top_logprobs(), 5u);
  EXPECT_EQ(ev.logit_bias_count(), 2u);
  EXPECT_DOUBLE_EQ(ev.logit_bias_max_abs(), 100);
  EXPECT_EQ(ev.tools_count(), 2u);
  EXPECT_EQ(ev.message_count(), 4u);
  ASSERT_EQ(ev.roles_size(), 4);
  EXPECT_EQ(ev.roles(0), pb::ROLE_SYSTEM);
  EXPECT_EQ(ev.roles(2), pb::ROLE_ASSISTANT);
  EXPECT_EQ(ev.system_prompt(), "You are terse.");
  EXPECT_NE(ev.system_prompt_hash(), 0u);
  EXPECT_EQ(ev.prompt_text(), "second\nquestion");  // the last user turn
  EXPECT_EQ(ev.prompt_text_hash().size(), 32u);
}

TEST(RequestParser, CompletionsPromptStringOrListAndIntLogprobs) {
  pb::QueryEvent ev;
  ASSERT_TRUE(parse_request_body(R"({"model":"m","prompt":["a","b","the last"],"logprobs":5,"max_tokens":1})", ev).is_ok());
  EXPECT_EQ(ev.prompt_text(), "the last");
  EXPECT_EQ(ev.message_count(), 3u);
  EXPECT_TRUE(ev.logprobs());
  EXPECT_EQ(ev.top_logprobs(), 5u);
  EXPECT_EQ(ev.max_tokens(), 1u);
  pb::QueryEvent ev2;
  ASSERT_TRUE(parse_request_body(R"({"prompt":"just text"})", ev2).is_ok());
  EXPECT_EQ(ev2.prompt_text(), "just text");
  EXPECT_EQ(ev2.system_prompt_hash(), 0u);
}

TEST(RequestParser, EmbeddingsAndResponsesApi) {
  pb::QueryEvent emb;
  ASSERT_TRUE(parse_request_body(R"({"model":"e","input":["x","embed me"]})", emb).is_ok());
  EXPECT_EQ(emb.prompt_text(), "embed me");
  pb::QueryEvent r;
  ASSERT_TRUE(parse_request_body(R"({"model":"o","instructions":"Think step by step.","max_output_tokens":900,
      "input":[{"role":"user","content":[{"type":"input_text","text":"why is the sky blue"}]}]})", r).is_ok());
  EXPECT_EQ(r.prompt_text(), "why is the sky blue");
  EXPECT_EQ(r.system_prompt(), "Think step by step.");
  EXPECT_EQ(r.max_tokens(), 900u);
  pb::QueryEvent r2;
  ASSERT_TRUE(parse_request_body(R"({"input":"plain input"})", r2).is_ok());
  EXPECT_EQ(r2.prompt_text(), "plain input");
}

TEST(RequestParser, SameFieldsFromParsedJson) {
  auto j = nlohmann::json::parse(R"({"messages":[{"role":"user","content":"hello"}],"temperature":0})");
  pb::QueryEvent a, b;
  ASSERT_TRUE(parse_request_json(j, a).is_ok());
  ASSERT_TRUE(parse_request_body(j.dump(), b).is_ok());
  EXPECT_EQ(a.prompt_text(), b.prompt_text());
  EXPECT_EQ(a.temperature(), b.temperature());
}

TEST(RequestParser, RejectsBadInputWithoutThrowing) {
  pb::QueryEvent ev;
  EXPECT_FALSE(parse_request_body("", ev).is_ok());
  EXPECT_FALSE(parse_request_body("{not json", ev).is_ok());
  EXPECT_FALSE(parse_request_body("[1,2,3]", ev).is_ok());
  EXPECT_FALSE(parse_request_body(std::string(100000, '[') + std::string(100000, ']'), ev).is_ok());
  parse_limits small;
  small.max_body_bytes = 10;
  EXPECT_FALSE(parse_request_body(R"({"prompt":"this is longer than ten"})", ev, small).is_ok());
  // Wrong types are ignored, not fatal.
  pb::QueryEvent odd;
  EXPECT_TRUE(parse_request_body(R"({"temperature":"hot","n":-3,"max_tokens":1e30,"messages":[1,null,{"role":5},
      {"role":"user","content":{"weird":true}}],"logit_bias":[1]})", odd).is_ok());
  EXPECT_FALSE(odd.has_temperature());
  EXPECT_EQ(odd.n(), 0u);
  EXPECT_EQ(odd.max_tokens(), 4294967295u);
  EXPECT_EQ(odd.logit_bias_count(), 0u);
}

TEST(RequestParser, CapsMessagesAndText) {
  nlohmann::json body;
  for (int i = 0; i < 10000; ++i) body["messages"].push_back({{"role", "user"}, {"content", "m" + std::to_string(i)}});
  parse_limits lim;
  lim.max_messages = 100;
  lim.max_text_bytes = 3;
  pb::QueryEvent ev;
  ASSERT_TRUE(parse_request_body(body.dump(), ev, lim).is_ok());
  EXPECT_EQ(ev.message_count(), 100u);
  EXPECT_EQ(ev.prompt_text(), "m99");
  EXPECT_EQ(json_depth(R"({"a":"[[[[","b":[{}]})", 10), 3);
  EXPECT_EQ(json_depth(R"("\"[[[")", 10), 0);
}

// Nothing after a NUL byte is JSON to nlohmann's lexer, nor to json_depth: the
// one-pass reader and the tree reader accept the same body (fuzz: request_body,
// crash-deep-after-nul).
TEST(RequestParser, JsonDepthStopsAtNul) {
  using namespace std::string_literals;
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})"s + '\0' +
                           std::string(100, '{');
  EXPECT_EQ(json_depth(body, 64), 3);  // object, messages array, message object
  EXPECT_EQ(json_depth(std::string(65, '[') + '\0', 64), 65);
  pb::QueryEvent one_pass;
  ASSERT_TRUE(parse_request_body(body, one_pass).is_ok());
  ASSERT_LE(json_depth(body, 64), 64);
  const auto tree = nlohmann::json::parse(body, nullptr, false);
  ASSERT_FALSE(tree.is_discarded());
  pb::QueryEvent from_tree;
  from_tree.set_request_bytes(body.size());
  ASSERT_TRUE(parse_request_json(tree, from_tree).is_ok());
  EXPECT_EQ(from_tree.SerializeAsString(), one_pass.SerializeAsString());
}

TEST(RequestParser, Utf8TruncationKeepsWholeCharacters) {
  parse_limits lim;
  lim.max_text_bytes = 4;
  pb::QueryEvent ev;
  ASSERT_TRUE(parse_request_body(R"({"prompt":"aé€x"})", ev, lim).is_ok());  // a(1) é(2) €(3)
  EXPECT_EQ(ev.prompt_text(), "a\xC3\xA9");
}

}  // namespace
}  // namespace dg::detectors
