#include <algorithm>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "enforcement/watermark_detector.h"
#include "enforcement/watermark_rewriter.h"
#include "enforcement/watermark_text.h"
#include "tests/eval/watermark_trials.h"
#include "tests/support/datasets.h"

namespace dg::enforcement {
namespace {

const mark_key key = derive_mark_key("secret", "client-7", 1);

std::shared_ptr<const synonym_table> old_table_v6() {
  auto t = std::make_shared<synonym_table>();
  EXPECT_TRUE(synonym_table::load_file(
                  std::string(DG_SOURCE_DIR) + "/enforcement/data/distillguard-synonyms-v6.tsv", *t)
                  .is_ok());
  return t;
}

std::string mark(std::string_view text) {
  text_marker m(*synonym_table::builtin(), key);
  return m.mark(text);
}

TEST(Synonyms, BuiltinTableParses) {
  auto t = synonym_table::builtin();
  ASSERT_GT(t->groups(), 1000u);
  const auto* h = t->find("large");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(t->group(h->group)[h->member], "large");
  std::ifstream in(std::string(DG_SOURCE_DIR) + "/enforcement/data/distillguard-synonyms.tsv");
  std::stringstream ss;
  ss << in.rdbuf();
  synonym_table parsed;
  EXPECT_TRUE(synonym_table::parse(ss.str(), parsed).is_ok());
  EXPECT_EQ(parsed.groups(), t->groups());
  synonym_table bad;
  EXPECT_FALSE(synonym_table::parse("a\tbig,large\na\tlarge,huge\n", bad).is_ok());
}

TEST(Synonyms, FindsEveryMemberAndNothingElse) {
  // find() probes its own open-addressed index: every word of every group is found as itself,
  // and words that are not members (prefixes, suffixes, other words) are not.
  auto t = synonym_table::builtin();
  std::size_t members = 0, alternates = 0;
  for (std::size_t g = 0; g < t->groups(); ++g) {
    const auto& words = t->group(static_cast<std::uint32_t>(g));
    // A contraction unit's group ("cannot", "can't") is looked up by its own path; find() takes
    // the single words of the other groups.
    if (std::any_of(words.begin(), words.end(), [](const std::string& w) {
          return w.find_first_not_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos;
        })) {
      continue;
    }
    for (std::size_t m = 0; m < words.size(); ++m) {
      const auto* h = t->find(words[m]);
      ASSERT_NE(h, nullptr) << words[m];
      // A word in two groups ("also") is found in its first, the other one is its alternate.
      if (h->group != g) ++alternates;
      while (h && h->group != g) h = t->alternate(*h);
      ASSERT_NE(h, nullptr) << words[m];
      EXPECT_EQ(h->member, m);
      ++members;
      for (const std::string& other : {words[m] + "x", words[m].substr(0, words[m].size() - 1), "q" + words[m]}) {
        if (const auto* o = t->find(other)) {
          EXPECT_EQ(t->group(o->group)[o->member], other);
        }
      }
    }
  }
  EXPECT_EQ(members, t->words() + alternates);
  EXPECT_GT(alternates, 0u);
  for (const char* w : {"zzzz", "qqqqqqqqqqqqqqqqqqqq", "the", "of"}) EXPECT_EQ(t->find(w), nullptr) << w;
  synonym_table empty;
  EXPECT_EQ(empty.find("large"), nullptr);
}

TEST(Marker, ChangesSomeWordsKeepingCase) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "The large car was quickly built. Large LARGE large. ";
  std::string out = mark(text);
  EXPECT_NE(out, text);
  EXPECT_EQ(out.size() > 0, true);
  // Sentence structure, punctuation and case patterns survive.
  EXPECT_EQ(std::count(out.begin(), out.end(), '.'), std::count(text.begin(), text.end(), '.'));
  EXPECT_EQ(out.find("large") == std::string::npos && out.find("big") == std::string::npos, false);
}

TEST(Marker, LeavesCodeUrlsNumbersJsonAlone) {
  const std::string code = "```python\nlarge = big_car(quickly)\nprint('large')\n```\n";
  const std::string inline_code = "use `large` here";
  const std::string url = "see https://example.com/large/car?quickly=1 and www.large.com";
  const std::string nums = "3large 2.5 big-car large_car";
  std::string text = "A large car.\n" + code + inline_code + " " + url + " " + nums + " end.";
  for (int i = 0; i < 20; ++i) {
    text_marker m(*synonym_table::builtin(), derive_mark_key("s", "c" + std::to_string(i), 1));
    std::string out = m.mark(text);
    EXPECT_NE(out.find(code), std::string::npos);
    EXPECT_NE(out.find(inline_code), std::string::npos);
    EXPECT_NE(out.find(url), std::string::npos);
    EXPECT_NE(out.find(nums), std::string::npos);
  }
  const std::string json_text = "{\"answer\": \"a large car\", \"big\": 1}";
  EXPECT_EQ(mark(json_text), json_text);
  const std::string utf8 = "Un café large — très large, naïve große 日本語 large.";
  std::string out = mark(utf8);
  EXPECT_NE(nlohmann::json(out).dump(), "");  // valid UTF-8 (dump throws otherwise)
  EXPECT_NE(out.find("café"), std::string::npos);
  EXPECT_NE(out.find("日本語"), std::string::npos);
}

TEST(Marker, StreamingEqualsWholeAndHoldsBackOneWord) {
  std::string text;
  // (No word whose rule reads the next word: a stream leaves those as written, see below.)
  for (int i = 0; i < 40; ++i) text += "Students often utilize large cars and quickly build big houses. ";
  const std::string whole = mark(text);
  for (std::size_t step : {1u, 3u, 7u, 64u}) {
    text_marker m(*synonym_table::builtin(), key);
    std::string out;
    for (std::size_t i = 0; i < text.size(); i += step) {
      std::string piece = m.feed(std::string_view(text).substr(i, step));
      out += piece;
      // Never more than the unfinished last run is held back.
      const std::size_t seen = std::min(text.size(), i + step);
      const std::size_t last_space = text.find_last_of(' ', seen - 1);
      if (last_space != std::string::npos) {
        EXPECT_GE(out.size() + (seen - last_space) + 16, seen) << step;
      }
    }
    out += m.finish();
    EXPECT_EQ(out, whole) << step;
  }
}

TEST(Rewriter, JsonBodiesStayValid) {
  auto t = synonym_table::builtin();
  std::string text;
  for (int i = 0; i < 30; ++i) text += "Students often require large cars. ";
  nlohmann::json chat = {{"id", "x"},
                         {"object", "chat.completion"},
                         {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}}}},
                         {"usage", {{"prompt_tokens", 1}}}};
  watermark_rewriter rw(t, key);
  const std::string out = rw.rewrite_json_body(chat.dump());
  auto j = nlohmann::json::parse(out);
  EXPECT_NE(j["choices"][0]["message"]["content"], text);
  EXPECT_EQ(j["choices"][0]["message"]["content"], mark(text));
  EXPECT_GT(rw.counts().changed, 0u);
  EXPECT_EQ(rw.rewrite_json_body("not json {"), "not json {");
  nlohmann::json resp = {{"output", {{{"type", "message"}, {"content", {{{"type", "output_text"}, {"text", text}}}}}}}};
  auto r2 = nlohmann::json::parse(watermark_rewriter(t, key).rewrite_json_body(resp.dump()));
  EXPECT_EQ(r2["output"][0]["content"][0]["text"], mark(text));
}

// The in-place path (answer strings rewritten where they stand) against the tree path it
// replaced: the same JSON from every answer shape, duplicates and oddities included.
TEST(Rewriter, InPlaceJsonRewriteEqualsTheTreeRewrite) {
  auto t = synonym_table::builtin();
  std::string text;
  for (int i = 0; i < 12; ++i) text += "Students often require large cars. \"Quoted\" \u00e9t\u00e9 \n ";
  const std::string s = "\"" + text + "\"";
  const std::vector<std::string> bodies = {
      R"({"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":)" + s + R"(}},{"index":1,"text":)" + s + "}]}",
      R"({"choices":[{"message":{"content":[{"type":"text","text":)" + s + R"(},{"text":)" + s + R"(,"type":"output_text"},)"
          R"({"type":"image","text":)" + s + R"(},{"type":5,"text":)" + s + R"(},"bare",{"text":7}]}}]})",
      R"({"output":[{"type":"message","content":[{"type":"output_text","text":)" + s + R"(}]},{"content":)" + s + R"(},3]})",
      R"( { "choices" : [ 1, [ ], { "message" : null , "text" : )" + s + R"( } ] , "usage" : { "total_tokens" : 1.0e2 } } )",
      R"({"choices":[{"message":{"content":"short"}}],"choices":[{"message":{"content":)" + s + "}}]}",  // duplicate
      R"({"choices":[{"text":)" + s + R"(,"text":"again"}]})",                                                // duplicate
      R"({"choices":[{"message":{"content":)" + s + R"(},"message":{"content":"x"}}]})",                    // duplicate
      R"({"choices":{"message":{"content":)" + s + "}}}", R"([{"choices":[]}])", "not json", R"({"choices":[]})",
      R"({"choices":[{"delta":{"content":)" + s + "}}]}"};
  for (const auto& b : bodies) {
    const std::string got = watermark_rewriter(t, key).rewrite_json_body(b);
    // The tree path: what a body with a key the fast path refuses ("choices" twice) still takes.
    auto tree_j = nlohmann::ordered_json::parse(b, nullptr, false);
    if (tree_j.is_discarded()) {
      EXPECT_EQ(got, b);
      continue;
    }
    auto got_j = nlohmann::ordered_json::parse(got, nullptr, false);
    ASSERT_FALSE(got_j.is_discarded()) << got;
    // Rewrite the tree the way the tree path does, by marking each answer string.
    auto mark_all = [&](nlohmann::ordered_json& j) {
      auto mark_string = [&](nlohmann::ordered_json& f) {
        if (f.is_string()) f = mark(f.get<std::string>());
      };
      auto mark_content = [&](nlohmann::ordered_json& c) {
        if (c.is_string()) mark_string(c);
        else if (c.is_array())
          for (auto& p : c)
            if (p.is_object() && p.contains("text") && (!p.contains("type") || p["type"] == "text" || p["type"] == "output_text"))
              mark_string(p["text"]);
      };
      if (!j.is_object()) return;
      if (auto ch = j.find("choices"); ch != j.end() && ch->is_array())
        for (auto& c : *ch) {
          if (!c.is_object()) continue;
          if (auto m = c.find("message"); m != c.end() && m->is_object())
            if (auto ct = m->find("content"); ct != m->end()) mark_content(*ct);
          if (auto tx = c.find("text"); tx != c.end()) mark_string(*tx);
        }
      if (auto o = j.find("output"); o != j.end() && o->is_array())
        for (auto& it : *o)
          if (it.is_object())
            if (auto ct = it.find("content"); ct != it.end()) mark_content(*ct);
    };
    mark_all(tree_j);
    EXPECT_EQ(got_j, tree_j) << b;
    if (&b == &bodies[0]) {
      EXPECT_NE(got, b);  // the texts are long enough to be marked
    }
  }
}

TEST(Rewriter, SseDeltasReassembleToTheMarkedText) {
  auto t = synonym_table::builtin();
  std::string text;
  // (No word whose rule reads the next word: a stream leaves those as written, see NeedToIsNeverRequireTo.)
  for (int i = 0; i < 20; ++i) text += "Students often utilize large cars and big houses. ";
  text += "Students utilize large";  // ends mid-sentence: the last word is held back
  watermark_rewriter rw(t, key);
  std::string got;
  for (std::size_t i = 0; i < text.size(); i += 5) {
    nlohmann::json chunk = {{"id", "c"}, {"object", "chat.completion.chunk"},
                            {"choices", {{{"index", 0}, {"delta", {{"content", text.substr(i, 5)}}}, {"finish_reason", nullptr}}}}};
    const std::string data = rw.rewrite_sse_data(chunk.dump());
    EXPECT_TRUE(rw.flush_sse().empty());
    auto j = nlohmann::json::parse(data);  // each event is valid JSON
    got += j["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(rw.rewrite_sse_data("[DONE]"), "[DONE]");
  const std::string before = rw.flush_sse();
  ASSERT_TRUE(before.starts_with("data: "));
  auto last = nlohmann::json::parse(before.substr(6));
  got += last["choices"][0]["delta"]["content"].get<std::string>();
  EXPECT_EQ(got, mark(text));
}

std::vector<std::string> alpaca_outputs() {
  std::vector<std::string> out;
  std::ifstream in = test_data::open_dataset("alpaca_5000.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j["output"].is_string() && j["output"].get<std::string>().size() > 200)
      out.push_back(j["output"]);
  }
  return out;
}

TEST(Detector, NamesTheRightClientAndNobodyInCleanText) {
  DG_REQUIRE_DATASETS();
  const auto outputs = alpaca_outputs();
  if (outputs.size() < 100) GTEST_SKIP() << "alpaca_5000.jsonl not found";
  auto t = synonym_table::builtin();
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back("client-" + std::to_string(i));
  watermark_detector det(t, {{2, "new-secret"}, {1, "old-secret"}});
  for (int trial = 0; trial < 3; ++trial) {
    const std::string& who = ids[static_cast<std::size_t>(trial * 331 + 17)];
    const mark_key k = derive_mark_key(trial == 2 ? "old-secret" : "new-secret", who, trial == 2 ? 1 : 2);
    std::string marked, clean;
    std::size_t words = 0;
    for (std::size_t i = static_cast<std::size_t>(trial) * 40; words < 2000; ++i) {
      text_marker m(*t, k);
      marked += m.mark(outputs[i]) + "\n\n";
      clean += outputs[i] + "\n\n";
      words += m.scanner().words();
    }
    auto rep = det.detect(marked, ids);
    ASSERT_FALSE(rep.top.empty());
    EXPECT_EQ(rep.top[0].client_id, who);
    EXPECT_TRUE(rep.found) << rep.top[0].p_corrected;
    EXPECT_EQ(rep.top[0].key_id, trial == 2 ? 1u : 2u);  // an old key still checks
    EXPECT_EQ(rep.tests, 2000u);
    auto clean_rep = det.detect(clean, ids);
    EXPECT_FALSE(clean_rep.found) << clean_rep.top[0].p_corrected;
    EXPECT_GT(clean_rep.top[0].p_corrected, 1e-3);
  }
}

// Rules (@name lines) say where a group's words may be swapped: after listed
// words, not after others, at a sentence's start, before a comma.
TEST(Synonyms, RulesParseAndHold) {
  synonym_table t;
  ASSERT_TRUE(synonym_table::parse("@lead\t^,+comma\n@for\tfor\n@not\t-the,-a\n"
                                   "r@lead\tfurthermore,moreover\nn@for\texample,instance\n"
                                   "n.pl@not\tpeople,individuals\na\tbig,large\n",
                                   t).is_ok());
  const auto* lead = t.find("moreover");
  const auto* ex = t.find("example");
  const auto* pl = t.find("people");
  const auto* big = t.find("big");
  ASSERT_TRUE(lead && ex && pl && big);
  EXPECT_TRUE(t.allowed(*lead, "done", true, ','));
  EXPECT_FALSE(t.allowed(*lead, "done", true, ' '));   // "Moreover the ..." : no comma
  EXPECT_FALSE(t.allowed(*lead, "and", false, ','));   // not a sentence's start
  EXPECT_TRUE(t.allowed(*ex, "for", false, ','));
  EXPECT_FALSE(t.allowed(*ex, "an", false, ' '));
  EXPECT_TRUE(t.allowed(*pl, "many", false, ' '));
  EXPECT_FALSE(t.allowed(*pl, "the", false, ' '));
  EXPECT_TRUE(t.allowed(*big, "", true, '.'));
  synonym_table bad;
  EXPECT_FALSE(synonym_table::parse("r@nope\tfurthermore,moreover\n", bad).is_ok());  // unknown rule
  EXPECT_FALSE(synonym_table::parse("@x\tfor\n@x\tto\nr@x\ta,b\n", bad).is_ok());      // defined twice
  EXPECT_FALSE(synonym_table::parse("@x\tFor\nr@x\taa,bb\n", bad).is_ok());            // not lower case
}

TEST(Synonyms, RulesReadTheNextWord) {
  synonym_table t;
  ASSERT_TRUE(synonym_table::parse("@notto\t>-to,>-for\nv@notto\tneed,require\na\tbig,large\n", t).is_ok());
  const auto* need = t.find("need");
  const auto* big = t.find("big");
  ASSERT_TRUE(need && big);
  EXPECT_TRUE(t.reads_next(*need));
  EXPECT_FALSE(t.reads_next(*big));
  EXPECT_FALSE(t.allowed(*need, "we", false, ' ', "to", true));    // "we need to go"
  EXPECT_FALSE(t.allowed(*need, "we", false, ' ', "for", true));
  EXPECT_TRUE(t.allowed(*need, "we", false, ' ', "water", true));  // "we need water"
  EXPECT_TRUE(t.allowed(*need, "we", false, '.', "", true));       // "what we need."
  EXPECT_FALSE(t.allowed(*need, "we", false, ' ', "", false));     // the next word has not arrived
  EXPECT_TRUE(t.allowed(*big, "", false, ' ', "", false));
}

// "need to" never becomes "require to", nor "allows for" "permits for"; where
// another word follows they swap. A stream leaves such a word as written when
// its delta ends before the next word, and the detector reads the same
// positions either way.
TEST(Marker, NeedToIsNeverRequireTo) {
  const std::string text =
      "We need to go now. We need water today. It allows for growth. It allows growth. They needed to rest.";
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    const mark_key k = derive_mark_key("s", "c" + std::to_string(i), 1);
    text_marker m(*synonym_table::builtin(), k);
    const std::string out = m.mark(text);
    EXPECT_EQ(out.find("require to"), std::string::npos) << out;
    EXPECT_EQ(out.find("required to"), std::string::npos) << out;
    EXPECT_EQ(out.find("permits for"), std::string::npos) << out;
    EXPECT_EQ(m.scanner().eligible(), 2u) << out;  // "need water", "allows growth"
    seen.insert(out);
    text_marker s(*synonym_table::builtin(), k);
    std::string streamed;
    for (char c : text) streamed += s.feed(std::string_view(&c, 1));
    streamed += s.finish();
    EXPECT_NE(streamed.find("need water"), std::string::npos) << streamed;
    EXPECT_NE(streamed.find("allows growth"), std::string::npos) << streamed;
    const auto a = collect_positions(*synonym_table::builtin(), out);
    const auto b = collect_positions(*synonym_table::builtin(), streamed);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t p = 0; p < a.size(); ++p) EXPECT_EQ(a[p].group, b[p].group);
  }
  EXPECT_GT(seen.size(), 2u);  // the two positions do carry the mark
}

// The built-in table's rules at work: connectives only opening a sentence,
// "make sure" but not "a certain", the verb "use" but not "the use of".
TEST(Marker, RulesOfTheBuiltinTable) {
  auto count = [](std::string_view text) {
    text_marker m(*synonym_table::builtin(), key);
    m.mark(text);
    return m.scanner().eligible();
  };
  EXPECT_EQ(count("It rained. Moreover, it was cold."), 1u);
  EXPECT_EQ(count("It rained and moreover it was cold."), 0u);
  EXPECT_EQ(count("Make sure the lid is on."), 1u);
  EXPECT_EQ(count("Set aside a certain sum."), 0u);
  EXPECT_EQ(count("You can use the tool."), 1u);
  EXPECT_EQ(count("The use of the tool."), 0u);
  EXPECT_EQ(count("The Maasai people live there."), 0u);
  EXPECT_EQ(count("This helps many people live there."), 1u);
}

// Contractions (%contract): "do not" / "don't" is one position, keyed on the
// word before it, written either way; the position and the context of the
// word after it are the same whichever way it is written.
TEST(Synonyms, ContractionsParse) {
  synonym_table t;
  ASSERT_TRUE(synonym_table::parse("%contract\tdo not,don't\n%contract\tcannot,can't\na\tbig,large\n", t).is_ok());
  ASSERT_TRUE(t.has_units());
  const auto* u = t.unit_by_words("do", "not");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(t.unit_by_contraction("don't"), u);
  EXPECT_EQ(t.group(u->group), (std::vector<std::string>{"do not", "don't"}));
  EXPECT_NE(t.unit_by_words("cannot", {}), nullptr);
  EXPECT_EQ(t.unit_by_words("do", "now"), nullptr);
  synonym_table bad;
  EXPECT_FALSE(synonym_table::parse("%contract\tdo not\n", bad).is_ok());              // no contraction
  EXPECT_FALSE(synonym_table::parse("%contract\tDo not,don't\n", bad).is_ok());        // not lower case
  EXPECT_FALSE(synonym_table::parse("%contract\tdo not,dont\n", bad).is_ok());         // no apostrophe
  EXPECT_FALSE(synonym_table::parse("%contract\tdo not,don't\n%contract\tdo not,do'nt\n", bad).is_ok());
}

TEST(Marker, ContractionsBothWays) {
  auto t = synonym_table::builtin();
  const std::string text =
      "Because it is cold, you do not go out. I am here, they are right and cannot wait. "
      "It's late and I don't know why you're here. Yes, we will.";
  std::set<std::string> outs;
  for (int i = 0; i < 64; ++i) {
    text_marker m(*t, derive_mark_key("s", "c" + std::to_string(i), 1));
    const std::string out = m.mark(text);
    EXPECT_EQ(m.scanner().eligible(), 8u) << out;
    outs.insert(out);
    // The same positions and contexts in the marked text as in the original.
    const auto a = collect_positions(*t, text), b = collect_positions(*t, out);
    ASSERT_EQ(a.size(), b.size()) << out;
    for (std::size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].prev, b[k].prev) << out;
      EXPECT_EQ(a[k].group, b[k].group) << out;
    }
  }
  EXPECT_GT(outs.size(), 16u);
  // Each unit is written both ways by some key.
  for (std::string_view form : {"it's cold", "it is cold", "don't go", "do not go", "I'm here", "I am here",
                                "they're right", "they are right", "can't wait", "cannot wait", "It's late",
                                "It is late", "I don't know", "I do not know", "you're here", "you are here"}) {
    bool seen = false;
    for (const auto& o : outs) seen = seen || o.find(form) != std::string::npos;
    EXPECT_TRUE(seen) << form;
  }
  for (const auto& o : outs) {
    EXPECT_EQ(o.find(" i "), std::string::npos) << o;  // "I" stays a capital
    EXPECT_EQ(o.find("i'm"), std::string::npos) << o;
    EXPECT_TRUE(o.ends_with("Yes, we will.")) << o;  // no word after it: no position
  }
}

// A phrase ("%phrase@rule<TAB>such as,like") is written as its two words or as
// its one word where its rule holds, in lower case, before a word; the detector
// reads it back either way, and the word after it sees "as".
TEST(Marker, PhrasesBothWaysWhereTheirRuleHolds) {
  synonym_table t;
  ASSERT_TRUE(
      synonym_table::parse("@ex\ttools,foods,>-to\n%phrase@ex\tsuch as,like\na\tbig,large\n", t)
          .is_ok());
  const std::string kept =
      " It looks like rain. Foods like to rot. I like tools. Such as it was. Tools such as."
      " Tools, such\nas a saw. Other such as well.";
  std::set<std::string> seen;
  for (int c = 0; c < 32; ++c) {
    const auto k = derive_mark_key("s", "c" + std::to_string(c), 1);
    for (const std::string first : {"Buy tools such as big saws and foods like rice.",
                                    "Buy tools like big saws and foods such as rice."}) {
      text_marker m(t, k);
      const std::string out = m.mark(first + kept);
      EXPECT_NE(out.find(kept), std::string::npos) << out;
      EXPECT_EQ(m.scanner().eligible(), 3u) << out;  // two phrases and "big"
      seen.insert(out.substr(0, std::min(out.find(" big"), out.find(" large"))));
      const auto pos = collect_positions(t, out);
      ASSERT_EQ(pos.size(), 3u) << out;
      EXPECT_EQ(pos[1].prev, "as");  // "big" after the phrase, either way
      for (const auto& p : pos)
        EXPECT_EQ(p.observed,
                  preferred_member(k, p.prev, t.group_seed(p.group), t.group(p.group).size()));
    }
  }
  EXPECT_EQ(seen, (std::set<std::string>{"Buy tools such as", "Buy tools like"}));
  // A phrase whose one word is its first ("help to reduce" / "help reduce"), where the
  // next word is one of the rule's (>+word): never "help to the poor", "help the city".
  synonym_table h;
  ASSERT_TRUE(
      synonym_table::parse("@hv\t>+reduce,>+cut\n%phrase@hv\thelp to,help\na\tbig,large\n", h)
          .is_ok());
  const std::string still = " Help reduce it. We help the city and help to the poor. Help to cut";
  std::set<std::string> helped;
  for (int c = 0; c < 32; ++c) {
    const auto k = derive_mark_key("s", "c" + std::to_string(c), 1);
    for (const std::string first : {"It can help reduce costs.", "It can help to reduce costs."}) {
      text_marker m(h, k);
      const std::string out = m.mark(first + still);
      EXPECT_NE(out.find(still), std::string::npos) << out;
      EXPECT_EQ(m.scanner().eligible(), 1u) << out;
      helped.insert(out.substr(0, out.find('.')));
      const auto pos = collect_positions(h, out);
      ASSERT_EQ(pos.size(), 1u) << out;
      EXPECT_EQ(pos[0].observed, preferred_member(k, pos[0].prev, h.group_seed(pos[0].group), 2));
    }
  }
  EXPECT_EQ(helped,
            (std::set<std::string>{"It can help reduce costs", "It can help to reduce costs"}));
  synonym_table bad;
  // One word; an apostrophe; an unknown rule; an unknown directive.
  EXPECT_FALSE(synonym_table::parse("%phrase\tsuch,like\na\tbig,large\n", bad).is_ok());
  EXPECT_FALSE(synonym_table::parse("%phrase\tsuch as,li'ke\na\tbig,large\n", bad).is_ok());
  EXPECT_FALSE(synonym_table::parse("%phrase@none\tsuch as,like\na\tbig,large\n", bad).is_ok());
  EXPECT_FALSE(synonym_table::parse("%phrasing\tsuch as,like\na\tbig,large\n", bad).is_ok());
}

TEST(Marker, ContractionsOnlyWhereTheyRead) {
  auto count = [](std::string_view text) {
    text_marker m(*synonym_table::builtin(), key);
    m.mark(text);
    return m.scanner().eligible();
  };
  EXPECT_EQ(count("Leave it as it is. Whether it is or not, that is, no."), 0u);  // no word after
  EXPECT_EQ(count("It is not here and it isn't there, it's not mine."), 0u);     // it is / is not overlap
  EXPECT_EQ(count("It's been long and it is taken and it's gone. So."), 0u);  // 's as has
  EXPECT_EQ(count("What is it about?"), 0u);
  EXPECT_EQ(count("the word \"don't\" or (don't) and `do not use` and don't, ok"), 0u);
  EXPECT_EQ(count("Then it is cold. Then It is cold."), 1u);  // a capital only opening a sentence
  EXPECT_EQ(count("It's cold and I am here and you don’t say."), 3u);  // U+2019 too
}

// A stream fed a few characters at a time, as SSE deltas come, can write a
// contraction out in full (its run is whole) but does not contract (the
// second word is not there yet): it holds back no more than before.
TEST(Marker, StreamingExpandsButDoesNotContract) {
  auto t = synonym_table::builtin();
  std::string text;
  for (int i = 0; i < 40; ++i) text += "word" + std::to_string(i) + " it is cold and I don't go. ";
  int contracted = 0;
  for (int c = 0; c < 16; ++c) {
    const auto k = derive_mark_key("s", "c" + std::to_string(c), 1);
    text_marker m(*t, k);
    std::string out;
    for (std::size_t i = 0; i < text.size(); i += 3) out += m.feed(std::string_view(text).substr(i, 3));
    out += m.finish();
    EXPECT_EQ(out.find("it's"), std::string::npos);
    const std::string whole = text_marker(*t, k).mark(text);
    contracted += whole.find("it's") != std::string::npos;
    // Every "don't" the whole text writes out in full, the stream does too.
    EXPECT_EQ(out.find("don't") == std::string::npos, whole.find("don't") == std::string::npos);
  }
  EXPECT_GT(contracted, 0);
}

// A word may be in two groups when each has a rule: the scanner takes its first
// group whose rule holds, so "also" opening a sentence is among "Moreover," and
// "Furthermore,", "also" after "can" only beside "additionally", and every
// member of either group is read back in the group it was written for.
TEST(Synonyms, AWordInTwoGroupsTakesTheFirstWhoseRuleHolds) {
  synonym_table t;
  ASSERT_TRUE(synonym_table::parse("@lead\t^,+comma\n@mid\tcan,it\nr@lead\tadditionally,also,moreover\n"
                                   "r@mid\tadditionally,also\n",
                                   t)
                  .is_ok());
  const auto* h = t.find("also");
  ASSERT_NE(h, nullptr);
  ASSERT_NE(t.alternate(*h), nullptr);
  EXPECT_EQ(t.group(t.alternate(*h)->group).size(), 2u);
  EXPECT_EQ(t.alternate(*t.alternate(*h)), nullptr);
  EXPECT_EQ(t.alternate(*t.find("moreover")), nullptr);
  synonym_table bad;
  EXPECT_FALSE(synonym_table::parse("@mid\tcan\nr@mid\tadditionally,also\nr\talso,too\n", bad).is_ok());
  EXPECT_FALSE(synonym_table::parse("@mid\tcan\nr\talso,too\nr@mid\tadditionally,also\n", bad).is_ok());
  const std::string text = "Also, it can also help. But also this. It also works.";
  std::set<std::string> seen;
  for (int c = 0; c < 32; ++c) {
    const auto k = derive_mark_key("s", "c" + std::to_string(c), 1);
    text_marker m(t, k);
    const std::string out = m.mark(text);
    EXPECT_EQ(m.scanner().eligible(), 3u) << out;  // not after "But"
    EXPECT_NE(out.find(" also this"), std::string::npos) << out;
    const auto pos = collect_positions(t, out);
    ASSERT_EQ(pos.size(), 3u) << out;
    for (const auto& p : pos) {
      EXPECT_EQ(t.group(p.group).size(), p.prev.empty() ? 3u : 2u) << out;
      EXPECT_EQ(p.observed, preferred_member(k, p.prev, t.group_seed(p.group), t.group(p.group).size()));
    }
    seen.insert(out.substr(0, out.find(',')));
    seen.insert(out.substr(out.find("can ") + 4, out.find(" help") - out.find("can ") - 4));
  }
  // Opening the sentence: any of the three; inside it: never "moreover".
  EXPECT_EQ(seen, (std::set<std::string>{"Also", "Additionally", "Moreover", "also", "additionally"}));
}

// A list item of one sentence ends with a period or without one, as the key
// prefers after its last word (a table with "%itemstop"); a longer item, an
// abbreviation, code, a number and a line that is not an item keep theirs.
TEST(Marker, ItemStopsOnlyWhereAnItemEnds) {
  synonym_table t;
  ASSERT_TRUE(synonym_table::parse("%itemstop\t.\na\tbig,large\n", t).is_ok());
  ASSERT_TRUE(t.has_item_stop());
  const std::string kept = "1. Plan the route. Then drive.\n2) Bring tools etc.\n3) Bring rope etc\n* Buy 2\n- `code`\n```\n- in code\n```\n"
                           "Not an item.\nNot an item either\n- A\n";
  const std::string text = "- Fix any leaks.\n- Install big showerheads\n10. Avoid drips \n" + kept + "+ Save water";
  std::set<std::string> first, last;
  for (int c = 0; c < 32; ++c) {
    const auto k = derive_mark_key("s", "c" + std::to_string(c), 1);
    text_marker m(t, k);
    const std::string out = m.mark(text);
    EXPECT_NE(out.find(kept), std::string::npos) << out;
    first.insert(out.substr(0, out.find('\n')));
    last.insert(out.substr(out.rfind('\n') + 1));
    EXPECT_EQ(m.scanner().eligible(), 5u);  // four item ends and "big"
    // The detector sees the same positions, and every one carries the key's choice.
    const auto pos = collect_positions(t, out);
    ASSERT_EQ(pos.size(), 5u) << out;
    for (const auto& p : pos)
      EXPECT_EQ(p.observed, preferred_member(k, p.prev, t.group_seed(p.group), t.group(p.group).size()));
  }
  EXPECT_EQ(first, (std::set<std::string>{"- Fix any leaks.", "- Fix any leaks"}));
  EXPECT_EQ(last, (std::set<std::string>{"+ Save water.", "+ Save water"}));
  // A table without the line (every table before v6) leaves list items as they are.
  synonym_table before;
  ASSERT_TRUE(synonym_table::parse("a\tbig,large\n", before).is_ok());
  EXPECT_FALSE(before.has_item_stop());
  EXPECT_EQ(text_marker(before, key).mark("- Fix any leaks.\n- Fix any drips\n"), "- Fix any leaks.\n- Fix any drips\n");
  synonym_table v5;
  ASSERT_TRUE(synonym_table::load_file(std::string(DG_SOURCE_DIR) + "/enforcement/data/distillguard-synonyms-v5.tsv", v5)
                  .is_ok());
  EXPECT_FALSE(v5.has_item_stop());
  EXPECT_TRUE(synonym_table::builtin()->has_item_stop());
  synonym_table twice;
  EXPECT_FALSE(synonym_table::parse("%itemstop\t.\n%itemstop\t.\na\tbig,large\n", twice).is_ok());
}

// A stream knows an item's last run only when the line break arrives with it:
// fed a character at a time it marks the same as the whole text, except an item
// whose line ends in a blank (the stream leaves its period as written).
TEST(Marker, StreamingItemStops) {
  synonym_table t;
  ASSERT_TRUE(synonym_table::parse("%itemstop\t.\na\tbig,large\n", t).is_ok());
  const std::string text = "- Fix any leaks.\n- Install big showerheads\n- Save water\n";
  for (int c = 0; c < 16; ++c) {
    const auto k = derive_mark_key("s", "c" + std::to_string(c), 1);
    text_marker m(t, k);
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) out += m.feed(std::string_view(text).substr(i, 1));
    out += m.finish();
    EXPECT_EQ(out, text_marker(t, k).mark(text));
    text_marker blank(t, k);
    out = blank.feed("- Fix any leaks. ");
    out += blank.feed("\n");
    out += blank.finish();
    EXPECT_EQ(out, "- Fix any leaks. \n");
  }
}

// The comma before the "and" that ends a list is written or not as the key
// prefers after the word before it (a table with "%serialcomma"); the list is
// read the same either way, and a pair after a clause, an opening word or a
// phrase ("However, ...", "such as icons and widgets") is no list.
TEST(Marker, SerialCommasOnlyInLists) {
  synonym_table t;
  ASSERT_TRUE(synonym_table::parse("%serialcomma\t,\na\tbig,large\n", t).is_ok());
  ASSERT_TRUE(t.has_serial_comma());
  const std::string kept =
      " However, we left and slept. It uses graphical elements, such as icons and widgets."
      " During the day, the stars and moon hide. It has 3, 4 and 5. Keep `a, b and c` as is."
      " Buy eggs, milk\nand bread.";
  const std::string text = "Buy apples, pears, and plums. Pack tents, big ropes and maps;" + kept;
  std::set<std::string> first, second;
  for (int c = 0; c < 32; ++c) {
    const auto k = derive_mark_key("s", "c" + std::to_string(c), 1);
    text_marker m(t, k);
    const std::string out = m.mark(text);
    EXPECT_NE(out.find(kept), std::string::npos) << out;
    first.insert(out.substr(0, out.find('.')));
    second.insert(out.substr(out.find("Pack"), out.find(';') - out.find("Pack")));
    EXPECT_EQ(m.scanner().eligible(), 3u) << out;  // two lists' last commas and "big"
    // The detector sees the same positions, and every one carries the key's choice.
    const auto pos = collect_positions(t, out);
    ASSERT_EQ(pos.size(), 3u) << out;
    for (const auto& p : pos)
      EXPECT_EQ(p.observed,
                preferred_member(k, p.prev, t.group_seed(p.group), t.group(p.group).size()));
  }
  EXPECT_EQ(first,
            (std::set<std::string>{"Buy apples, pears, and plums", "Buy apples, pears and plums"}));
  EXPECT_EQ(second.size(), 4u);  // "big" / "large", with and without the comma
  // A table without the line (every table before v7) leaves lists as they are.
  EXPECT_EQ(text_marker(*old_table_v6(), key).mark("Buy apples, pears, and plums.\n"),
            "Buy apples, pears, and plums.\n");
  EXPECT_TRUE(synonym_table::builtin()->has_serial_comma());
  synonym_table twice;
  EXPECT_FALSE(
      synonym_table::parse("%serialcomma\t,\n%serialcomma\t,\na\tbig,large\n", twice).is_ok());
  EXPECT_FALSE(synonym_table::parse("%serialcomma\t;\na\tbig,large\n", twice).is_ok());
}

// Table v8: a phrase of three words, or whose other form has two or three words,
// and a compound written open or with its hyphen, read the same whichever way
// they are written; the word after them sees the first form's last word.
TEST(Marker, LongPhrasesAndCompoundsBothWays) {
  synonym_table t;
  ASSERT_TRUE(synonym_table::parse("@ord\t>-person\n@cmp\t>-is,>-and\n%phrase\tin order to,so as to\n"
                                   "%phrase@ord\teach other,one another\n%phrase@cmp\tlong term,long-term\n"
                                   "a\tbig,large\n",
                                   t)
                  .is_ok());
  const std::string kept =
      " In order to win. Ask each other person. The long term is near. Long-term goals. Plan long-term"
      " and short. In order. One another. So as to.";
  std::set<std::string> seen;
  for (int c = 0; c < 32; ++c) {
    const auto k = derive_mark_key("s", "c" + std::to_string(c), 1);
    for (const std::string first : {"We met in order to talk, helped each other daily and set long term big goals.",
                                    "We met so as to talk, helped one another daily and set long-term large goals."}) {
      text_marker m(t, k);
      const std::string out = m.mark(first + kept);
      EXPECT_NE(out.find(kept), std::string::npos) << out;
      EXPECT_EQ(m.scanner().eligible(), 4u) << out;  // three phrases and "big"
      seen.insert(out.substr(0, out.find(',')));
      const auto pos = collect_positions(t, out);
      ASSERT_EQ(pos.size(), 4u) << out;
      EXPECT_EQ(pos[1].prev, "helped");
      EXPECT_EQ(pos[3].prev, "term");  // "big" after the compound, either way
      for (const auto& p : pos)
        EXPECT_EQ(p.observed, preferred_member(k, p.prev, t.group_seed(p.group), t.group(p.group).size()));
    }
  }
  EXPECT_EQ(seen, (std::set<std::string>{"We met in order to talk", "We met so as to talk"}));
  // A table before v8 reads none of them.
  auto v7 = std::make_shared<synonym_table>();
  ASSERT_TRUE(synonym_table::load_file(std::string(DG_SOURCE_DIR) + "/enforcement/data/distillguard-synonyms-v7.tsv",
                                       *v7)
                  .is_ok());
  const std::string v8_only = "We met so as to talk and left in order to dine, and set long-term plans.";
  EXPECT_EQ(text_marker(*v7, key).mark(v8_only), v8_only);
  EXPECT_EQ(collect_positions(*synonym_table::builtin(), v8_only).size(), 3u);
  synonym_table bad;
  // A fourth word; a hyphen that joins other words; a form given twice.
  EXPECT_FALSE(synonym_table::parse("%phrase\ta b c d,x y\na\tbig,large\n", bad).is_ok());
  EXPECT_FALSE(synonym_table::parse("%phrase\tlong term,long-terms\na\tbig,large\n", bad).is_ok());
  EXPECT_FALSE(synonym_table::parse("%phrase\tin order to,so as to\n%phrase\tin order to,to wit\n", bad).is_ok());
}

// Table v8: a rule may waive its group's part-of-speech cue before some words
// (>!word): "Volunteering provides an opportunity", never "the offers the shop made".
TEST(Synonyms, CueWaivedBeforeTheWordsOfItsRule) {
  synonym_table t;
  ASSERT_TRUE(synonym_table::parse("@vobj\t>!a,>!the,-the\nv.s!@vobj\tprovides,offers\n", t).is_ok());
  const std::string text = "Volunteering provides a chance. It offers more. The offers the shop made. Shops offers now.";
  const auto pos = collect_positions(t, text);
  ASSERT_EQ(pos.size(), 2u);
  EXPECT_EQ(pos[0].prev, "volunteering");
  EXPECT_EQ(pos[1].prev, "it");  // the cue
  synonym_table cued;
  ASSERT_TRUE(synonym_table::parse("v.s!\tprovides,offers\n", cued).is_ok());
  EXPECT_EQ(collect_positions(cued, text).size(), 1u);
  // A stream that does not yet show the next word reads no position there.
  const auto* h = t.find("provides");
  ASSERT_NE(h, nullptr);
  EXPECT_TRUE(t.reads_next(*h));
  EXPECT_TRUE(t.allowed(*h, "volunteering", false, ' ', "a", true));
  EXPECT_FALSE(t.allowed(*h, "volunteering", false, ' ', {}, false));
  EXPECT_FALSE(t.allowed(*h, "volunteering", false, ',', "a", true));
}

// Table v8: a list's first item may follow "such as" or "including" in its segment.
TEST(Marker, ListOpenersStartAList) {
  synonym_table t, before;
  ASSERT_TRUE(synonym_table::parse("%serialcomma\t,\n%listopener\tsuch as,including\na\tbig,large\n", t).is_ok());
  ASSERT_TRUE(synonym_table::parse("%serialcomma\t,\na\tbig,large\n", before).is_ok());
  ASSERT_TRUE(t.has_list_openers());
  const std::string text = "It has parts, including gears, wheels and bolts. It has tools, such as saws, axes and files.";
  EXPECT_EQ(collect_positions(t, text).size(), 2u);
  EXPECT_EQ(collect_positions(before, text).size(), 0u);
  EXPECT_EQ(t.list_opener_words("Such"), 2u);
  EXPECT_EQ(t.list_opener_words("including"), 1u);
  EXPECT_EQ(t.list_opener_words("inclusion"), 0u);
  synonym_table bad;
  EXPECT_FALSE(synonym_table::parse("%listopener\tSuch as\na\tbig,large\n", bad).is_ok());
  EXPECT_FALSE(synonym_table::parse("%listopener\ta b c\na\tbig,large\n", bad).is_ok());
}

// The detector reads a text that starts like JSON too: a '{' at its head (an
// answer at the head of many joined together, or one put there to evade) does
// not hide the rest. The marker still leaves a JSON-looking answer whole.
TEST(Detector, LeadingJsonHidesNothing) {
  auto t = synonym_table::builtin();
  const std::string prose = "Students often require large cars and quickly build big houses.";
  const std::string json = "{\"a\": 1}\n\n[1, 2]";
  const auto alone = collect_positions(*t, prose);
  ASSERT_GT(alone.size(), 2u);
  for (const std::string sep : {"\n\n", "\n", "\r\n"}) {
    const auto joined = collect_positions(*t, json + sep + prose);
    ASSERT_EQ(joined.size(), alone.size()) << sep;
    for (std::size_t k = 1; k < alone.size(); ++k) EXPECT_EQ(joined[k].prev, alone[k].prev);
  }
  EXPECT_EQ(mark("{\"a\": 1}\n\n" + prose), "{\"a\": 1}\n\n" + prose);
  EXPECT_EQ(mark("[x] " + prose), "[x] " + prose);
}

// A backtick that none closes on its line is no code (as in Markdown): one put
// in by an edit, in answers joined on one line, does not hide the rest of the
// text from the detector (it did, before table v7). Code between two stays whole.
TEST(Detector, AStrayBacktickHidesNothing) {
  auto t = synonym_table::builtin();
  const std::string prose = "Students often require large cars and quickly build big houses.";
  const auto alone = collect_positions(*t, prose);
  ASSERT_GT(alone.size(), 2u);
  EXPECT_EQ(collect_positions(*t, "Run it ` then. " + prose).size(), alone.size());
  EXPECT_EQ(collect_positions(*t, "Run it ```then. " + prose).size(), alone.size());
  EXPECT_EQ(collect_positions(*t, "Run `it then. " + prose + "`").size(), 0u);  // closed: code
  EXPECT_EQ(mark("Keep `" + prose + "` as is."), "Keep `" + prose + "` as is.");
  EXPECT_EQ(mark("` " + prose + "\n"), "` " + mark(prose + "\n"));
  // Under table v6 the rest of the line still reads as code.
  EXPECT_EQ(collect_positions(*old_table_v6(), "Run it ` then. " + prose).size(), 0u);
}

// A word in quotes is mentioned, not used ("the word 'large'"); one with an
// apostrophe is a possessive or a contraction ("people's"): neither moves.
TEST(Marker, QuotedWordsAndPossessivesAreNotPositions) {
  const std::string text = "The word 'large' and \"big\" mean it; many people's say.";
  for (int i = 0; i < 32; ++i) {
    text_marker m(*synonym_table::builtin(), derive_mark_key("s", "c" + std::to_string(i), 1));
    EXPECT_EQ(m.mark(text), text);
  }
  text_marker m(*synonym_table::builtin(), key);
  m.mark("The word large and big mean it; many people say.");  // the same, unquoted
  EXPECT_EQ(m.scanner().eligible(), 3u);
}

// Issue 5's targets, with the trials of the evaluation program
// (tests/eval/watermark_trials.h; seed 1, 20 trials, 10,000 clients, p < 1e-6
// after Bonferroni). Where the watermark meets them (1,000 words clean,
// 2,500 words after 20% edits) every trial must name the right client; at the
// issue's 600 and 1,500 words it reaches 20 and 20 of 20 with table v6 (18 and
// 18 with v5; before the trials' edits drew from a generator of their own,
// other trials: 16 and 19 with v5, 15 and 17 before a line's first word lost
// its context, 14 and 13 without the contractions; see the branches' reports),
// and the floors below catch a weaker table or scanner.
// Clean and human text name nobody. Deterministic: fixed seed and inputs.
TEST(Detector, IssueTargetsOnAlpaca) {
  DG_REQUIRE_DATASETS();
  const auto outputs = eval::load_texts(test_data::dataset_path("alpaca_5000.jsonl"), "output");
  auto t = synonym_table::builtin();
  watermark_detector det(t, {{1, "watermark-eval-secret"}});
  auto found = [](const eval::trial_totals& tot, bool attacked) {
    std::size_t n = 0;
    for (const auto& r : tot.trials) n += attacked ? r.attack_found : r.found;
    return n;
  };
  eval::trial_options o;  // 10,000 clients, 20 trials, seed 1
  o.words = 1000;
  o.attack_words = 2500;
  const auto met = eval::run_trials(*t, det, "watermark-eval-secret", 1, outputs, o);
  EXPECT_EQ(found(met, false), o.trials);
  EXPECT_EQ(found(met, true), o.trials);
  o.words = 600;
  o.attack_words = 1500;
  const auto issue = eval::run_trials(*t, det, "watermark-eval-secret", 1, outputs, o);
  // Table v6 finds 20 and 20 of these 20 (v5: 18 and 18); 600 trials, seeds 1 and 7:
  // 568 and 539 (v5: 507 and 497); v7 (serial commas, stray backticks, such as / like, help (to)):
  // 579 and 560; v8 (long phrases, compounds, cues waived, list openers): 582 and 569.
  EXPECT_GE(found(issue, false), 20u);
  EXPECT_GE(found(issue, true), 20u);
  for (const auto* tot : {&met, &issue})
    for (const auto& r : tot->trials) {
      EXPECT_TRUE(r.ranked_first);
      EXPECT_FALSE(r.clean_named) << r.p_clean;
    }
  // Few words change: under 4.5% of all words (v7: 4.1% on 600 trials; v6: 3.9%).
  EXPECT_LT(static_cast<double>(issue.changed) / static_cast<double>(issue.words), 0.045);
  const auto h = eval::run_human(det, test_data::datasets_dir(), o.clients, 20, 3000, o.alpha);
  EXPECT_EQ(h.pieces, 20u);
  EXPECT_EQ(h.named, 0u) << h.min_p;
}

TEST(Detector, PoissonBinomialTail) {
  auto tail = poisson_binomial_upper_tail({0.5, 0.5});
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_DOUBLE_EQ(tail[0], 1.0);
  EXPECT_DOUBLE_EQ(tail[1], 0.75);
  EXPECT_DOUBLE_EQ(tail[2], 0.25);
}


TEST(Detector, WeightedTail) {
  // Weights 2 and 4 (a pair and a group of four): S in {0, 2, 4, 6}.
  auto tail = weighted_upper_tail({0.5, 0.25}, {2, 4});
  ASSERT_EQ(tail.size(), 7u);
  EXPECT_DOUBLE_EQ(tail[0], 1.0);
  EXPECT_DOUBLE_EQ(tail[1], 1.0 - 0.375);
  EXPECT_DOUBLE_EQ(tail[3], 0.25);
  EXPECT_DOUBLE_EQ(tail[5], 0.125);
  EXPECT_DOUBLE_EQ(tail[6], 0.125);
  EXPECT_EQ(match_weight(2), 2u);
  EXPECT_EQ(match_weight(3), 3u);
  EXPECT_EQ(match_weight(4), 4u);
}

// The in-place rewrite of chat.completion.chunk events gives, event by event,
// the same JSON value as the full parse, and the same flushed events, on
// streams with escapes, \u escapes (surrogate pairs too), raw UTF-8, odd
// spacing, two choices, a finishing chunk, usage and duplicate keys.
TEST(Rewriter, InPlaceChunkEqualsFullParse) {
  const std::vector<std::string> words = {
      "It ", "is ", "important ", "to ", "show ", "a ", "quick ", "example ", "\\\"quoted\\\" ",
      "large\\n", "tab\\t", "caf\\u00e9 ", "emoji \\ud83d\\ude00 ", "r\u00e9sum\u00e9 ", "essential ",
      "\\/slash ", "big ", "often ", "however, ", "ideas ", "\\u0001ctl ", "and ", "methods."};
  std::vector<std::string> events;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string idx = std::to_string(i % 3 == 2 ? 1 : 0);
    if (i % 5 == 1)
      events.push_back("{ \"id\" : \"c\", \"choices\" : [ { \"delta\" : { \"content\" : \"" + words[i] +
                       "\" } , \"index\" : " + idx + " , \"finish_reason\" : null } ] }");
    else
      events.push_back(R"({"id":"c","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":)" +
                       idx + R"(,"delta":{"role":"assistant","content":")" + words[i] +
                       R"("},"logprobs":null,"finish_reason":null}]})");
  }
  events.push_back(R"({"id":"c","choices":[{"index":0,"delta":{"content":"x","content":"y"},"finish_reason":null}]})");
  events.push_back(R"({"id":"c","choices":[{"index":0,"delta":{"content":" significant"},"finish_reason":null},{"index":1,"delta":{"content":" big"}}]})");
  events.push_back(R"({"id":"c","choices":[{"index":0,"delta":{"content":" done"},"finish_reason":"stop"}]})");
  events.push_back(R"({"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1.5e1}})");
  events.push_back("[DONE]");
  for (const auto& e : events) ASSERT_TRUE(e == "[DONE]" || nlohmann::json::accept(e)) << e;

  watermark_rewriter fast(synonym_table::builtin(), key), full(synonym_table::builtin(), key);
  full.set_fast_path(false);
  std::string fast_text, full_text;
  for (const auto& e : events) {
    const std::string a = fast.rewrite_sse_data(e), b = full.rewrite_sse_data(e);
    const std::string fa = fast.flush_sse(), fb = full.flush_sse();
    EXPECT_EQ(fa, fb);
    if (e == "[DONE]") {
      EXPECT_EQ(a, b);
      continue;
    }
    ASSERT_TRUE(nlohmann::json::accept(a)) << a;
    EXPECT_EQ(nlohmann::json::parse(a), nlohmann::json::parse(b)) << e;
    fast_text += a;
  }
  EXPECT_EQ(fast.flush_sse(), full.flush_sse());
  EXPECT_GT(fast.counts().changed, 0u);
  EXPECT_EQ(fast.counts().changed, full.counts().changed);
  EXPECT_EQ(fast.counts().eligible, full.counts().eligible);
}


// Names, titles and code keywords keep their words: a capital counts only on
// the first word of a sentence, ALL CAPS never.
TEST(Marker, CapitalsOnlyAtSentenceStart) {
  const std::string text = "The United Nations met in the Large Hall. SELECT name FROM users; QUICK LARGE.";
  for (int i = 0; i < 64; ++i) {
    text_marker m(*synonym_table::builtin(), derive_mark_key("s", "c" + std::to_string(i), 1));
    EXPECT_EQ(m.mark(text), text);
    EXPECT_EQ(m.scanner().eligible(), 0u);
  }
  // Sentence-initial (after . ! ? : or a line start, a bullet too) words count.
  text_marker m(*synonym_table::builtin(), key);
  m.mark("Large rooms. Large rooms!\n- Large rooms: Large rooms");
  EXPECT_EQ(m.scanner().eligible(), 4u);
}

}  // namespace
}  // namespace dg::enforcement
