// The one-pass reader of raw request bodies against the reader of parsed JSON:
// the same event from every body, the same bodies refused.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "detectors/request_parser.h"
#include "traffic.h"

namespace dg::detectors {
namespace {

// The reference: nlohmann's tree, then parse_request_json (replay's path).
status by_tree(std::string_view body, pb::QueryEvent& ev, const parse_limits& limits) {
  ev.set_request_bytes(body.size());
  if (body.size() > limits.max_body_bytes) return status::invalid_argument("too large");
  if (json_depth(body, limits.max_depth) > limits.max_depth) return status::invalid_argument("too deep");
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return status::invalid_argument("invalid");
  return parse_request_json(j, ev, limits);
}

void expect_same(const std::string& body, const parse_limits& limits = {}) {
  pb::QueryEvent want, got;
  const bool ok_want = by_tree(body, want, limits).is_ok();
  const bool ok_got = parse_request_body(body, got, limits).is_ok();
  ASSERT_EQ(ok_got, ok_want) << body;
  if (!ok_want) return;
  ASSERT_EQ(got.SerializeAsString(), want.SerializeAsString()) << body << "\nwant: " << want.ShortDebugString()
                                                               << "\ngot:  " << got.ShortDebugString();
}

TEST(RequestBodyReader, SameEventAsTheTreeForEveryShape) {
  const std::vector<std::string> bodies = {
      R"({"model":"gpt-4o","temperature":0.2,"top_p":0.9,"n":2,"max_completion_tokens":50,"stream":true,
          "logprobs":true,"top_logprobs":5,"logit_bias":{"123":-100,"456":40},"tools":[{"type":"function"},{}],
          "messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"first"},
                      {"role":"assistant","content":"an answer"},
                      {"role":"user","content":[{"type":"text","text":"second"},{"type":"image_url","image_url":{}},
                                                "bare",{"text":5},{"text":"a","text":"last text wins"}]}]})",
      // Keys in any order, duplicates decided by the last.
      R"({"messages":[{"content":"before role","role":"user"}],"model":"a","model":"b","temperature":1,"temperature":"hot"})",
      R"({"messages":"not a list","input":[{"role":"user","content":"from input"}],"prompt":"ignored"})",
      R"({"messages":[{"role":"user","content":"one"}],"messages":[{"role":"developer","content":"two"}]})",
      R"({"input":["x",{"role":"user"},"embed me",3]})",
      R"({"input":[{"type":"function_call"},{"type":"function_call_output"},{"role":"","type":"x"},"text item"]})",
      R"({"input":[]})", R"({"input":null,"prompt":"not read"})", R"({"prompt":[]})", R"({"prompt":[1,[2],{"a":"b"}]})",
      R"({"prompt":"p","instructions":"Think.","system":[{"text":"sys part"},"sys string",{"type":"x"}]})",
      R"({"system":"top system","messages":[{"role":"system","content":[{"text":"a"},{"text":"b"}]}]})",
      R"({"logprobs":5,"max_tokens":1,"max_output_tokens":7})", R"({"logprobs":0})", R"({"logprobs":-2})",
      R"({"logprobs":0.0})", R"({"logprobs":-99999999999999999999})", R"({"logprobs":18446744073709551615})",
      R"({"n":1e30,"max_tokens":-1,"top_p":-0,"temperature":1E-400})",
      R"({"logit_bias":{"1":5,"1":-10,"2":"x","3":[1],"\u0031":2}})", R"({"logit_bias":[1]})",
      R"({"functions":[1,2,3]})", R"({"tools":{},"functions":[1]})",
      R"({"messages":[1,null,{"role":5},{"role":"user","content":{"weird":true}},{"role":"user","content":7}]})",
      R"({"messages":[{"role":"us\u0065r","content":"esc\"aped \u00e9 \ud83d\ude00 \/ \\ \n\t"}]})",
      R"({"model":"\u00e9\u00e9","messages":[{"role":"tool","content":"t"},{"role":"function","content":"f"},{"role":"x"}]})",
      "\xEF\xBB\xBF{\"prompt\":\"after a byte-order mark\"}",
      "{\"prompt\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}",
      R"({})", R"({"a":{"b":{"c":[[[{"messages":[]}]]]}}})",
      // nlohmann ends the text at a NUL byte where a token would start (found by the fuzzer).
      std::string("{\"prompt\":\"x\"}\0 trailing", 24), std::string("{\"prompt\":\"x\"} \0", 16),
      std::string("{\"prompt\":\"x\"\0}", 15), std::string("{\"prompt\":\"x\0\"}", 15), std::string("\0{}", 3),
      // Refused by both.
      "", " ", "{", "}", "[1,2]", "\"s\"", "3", "null", R"({"a":1,})", R"({"a" 1})", R"({"a":01})", R"({"a":1.})",
      R"({"a":.5})", R"({"a":-})", R"({"a":1e})", R"({"a":tru})", R"({"a":nul})", R"({"a":"x"}x)", R"({"a":"\x"})",
      R"({"a":"\u12"})", R"({"a":"\ud800"})", R"({"a":"\udc00"})", R"({"a":"\ud800\u0041"})", R"({"a":1e400})",
      "{\"a\":\"\x01\"}", "{\"a\":\"\xC3\"}", "{\"a\":\"\xC0\xAF\"}", "{\"a\":\"\xED\xA0\x80\"}", "{\"a\":\"\xF4\x90\x80\x80\"}",
      "{\"a\":\"\xFF\"}", R"({"a":[1,2})", R"({"a":[1,2]]})", R"({'a':1})", "{\"a\":1}\n", "\t{\"a\" : [ 1 , 2 ] }\r\n"};
  for (const auto& b : bodies) expect_same(b);
}

TEST(RequestBodyReader, SameEventAsTheTreeAtTheLimits) {
  nlohmann::json body;
  for (int i = 0; i < 300; ++i) body["messages"].push_back({{"role", i % 3 ? "user" : "system"}, {"content", "m" + std::to_string(i)}});
  parse_limits lim;
  lim.max_messages = 100;
  lim.max_text_bytes = 20;
  expect_same(body.dump(), lim);
  nlohmann::json list = {{"prompt", nlohmann::json::array()}};
  for (int i = 0; i < 300; ++i) list["prompt"].push_back("p" + std::to_string(i));
  expect_same(list.dump(), lim);
  std::string deep = std::string(64, '[') + std::string(64, ']');
  expect_same("{\"a\":" + deep + "}");  // 65 deep: refused by both
  expect_same(std::string(64, '[') + std::string(64, ']'));
  lim.max_body_bytes = 10;
  expect_same(R"({"prompt":"longer than ten"})", lim);
}

TEST(RequestBodyReader, SameEventAsTheTreeForCorpusChats) {
  DG_REQUIRE_DATASETS();
  const auto& q = testing::questions();
  for (std::size_t i = 0; i < q.size(); i += 7) {
    nlohmann::json b = {{"model", "m"},
                        {"messages", {{{"role", "system"}, {"content", "Answer briefly."}}, {{"role", "user"}, {"content", q[i]}}}},
                        {"max_tokens", 100 + i},
                        {"temperature", 0.1 * static_cast<double>(i % 10)}};
    expect_same(b.dump());
  }
}

}  // namespace
}  // namespace dg::detectors
