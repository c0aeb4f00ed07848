#include "storage/traffic_log.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "storage/privacy.h"
#include "test_events.h"

namespace dg::storage {
namespace {

using testing::make_event;
constexpr micros t0 = 1793577600LL * 1000000;

TEST(traffic_log, line_has_the_design_fields_and_the_stored_event) {
  auto e = make_event("0123456789abcdef", t0 + 250000, 7);  // i=7: logprobs, logit bias 1
  e.clear_roles();
  e.add_roles(pb::ROLE_SYSTEM);
  e.add_roles(pb::ROLE_USER);
  e.add_roles(pb::ROLE_ASSISTANT);
  e.add_roles(pb::ROLE_USER);
  e.set_message_count(4);
  e.set_tools_count(2);
  storage_options o;
  o.prompt_text = "full";
  apply_prompt_privacy(e, o);
  const auto j = nlohmann::json::parse(traffic_log_line(e));

  EXPECT_DOUBLE_EQ(j["ts"].get<double>(), 1793577600.25);
  EXPECT_EQ(j["client"], e.client_hint());
  EXPECT_EQ(j["ip"], e.peer_address());
  EXPECT_EQ(j["user_agent"], "OpenAI/Python 1.51.0");
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/v1/chat/completions");
  const auto& r = j["request"];
  EXPECT_EQ(r["model"], "gpt-4o-mini");
  ASSERT_EQ(r["messages"].size(), 4u);
  EXPECT_EQ(r["messages"][0]["role"], "system");
  EXPECT_EQ(r["messages"][0]["content"], e.system_prompt());
  EXPECT_EQ(r["messages"][1]["content"], "");  // an earlier turn: not stored
  EXPECT_EQ(r["messages"][2]["role"], "assistant");
  EXPECT_EQ(r["messages"][3]["role"], "user");
  EXPECT_EQ(r["messages"][3]["content"], e.prompt_text());
  EXPECT_DOUBLE_EQ(r["temperature"].get<double>(), 0.7);
  EXPECT_EQ(r["n"], 1);
  EXPECT_EQ(r["max_tokens"], 512);
  EXPECT_EQ(r["logprobs"], true);
  EXPECT_EQ(r["top_logprobs"], 5);
  ASSERT_EQ(r["logit_bias"].size(), 1u);
  EXPECT_DOUBLE_EQ(r["logit_bias"].begin()->get<double>(), 100.0);
  EXPECT_EQ(r["tools"].size(), 2u);
  EXPECT_FALSE(r.contains("stream"));  // i odd: not streamed
  EXPECT_EQ(j["response"]["status"], 200);
  EXPECT_EQ(j["response"]["usage"]["prompt_tokens"], e.prompt_tokens());
  EXPECT_EQ(j["response"]["usage"]["completion_tokens"], e.completion_tokens());

  // The extension is the stored event, exactly.
  pb::QueryEvent back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(j["x_distillguard"].dump(), &back).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back, e));
}

TEST(traffic_log, hash_mode_keeps_distinct_prompts_distinct) {
  storage_options o;
  o.prompt_text = "hash";
  auto a = make_event("c", t0, 1);
  auto b = make_event("c", t0, 2);
  apply_prompt_privacy(a, o);
  apply_prompt_privacy(b, o);
  const auto ja = nlohmann::json::parse(traffic_log_line(a));
  const auto jb = nlohmann::json::parse(traffic_log_line(b));
  const std::string pa = ja["request"]["messages"][1]["content"];
  EXPECT_TRUE(pa.starts_with("[sha256:")) << pa;
  EXPECT_NE(pa, jb["request"]["messages"][1]["content"].get<std::string>());
  EXPECT_EQ(ja["request"]["messages"][0]["content"], "");  // the system prompt was not kept
}

TEST(traffic_log, other_routes_use_their_request_shape) {
  auto e = make_event("c", t0, 7);
  e.set_route("/v1/completions");
  auto j = nlohmann::json::parse(traffic_log_line(e));
  EXPECT_EQ(j["request"]["prompt"], e.prompt_text());
  EXPECT_EQ(j["request"]["logprobs"], 5);  // a count in the legacy API
  e.set_route("/v1/embeddings");
  j = nlohmann::json::parse(traffic_log_line(e));
  EXPECT_EQ(j["request"]["input"], e.prompt_text());
  e.set_route("/v1/responses");
  j = nlohmann::json::parse(traffic_log_line(e));
  EXPECT_EQ(j["request"]["instructions"], e.system_prompt());
  EXPECT_EQ(j["request"]["max_output_tokens"], 512);
}

TEST(traffic_log, parses_times) {
  EXPECT_EQ(parse_time("1793577600"), 1793577600LL * 1000000);
  EXPECT_EQ(parse_time("1793577600.25"), 1793577600250000LL);
  EXPECT_EQ(parse_time("2026-11-02"), 1793577600LL * 1000000);
  EXPECT_EQ(parse_time("2026-11-02T00:00:00Z"), 1793577600LL * 1000000);
  EXPECT_EQ(parse_time("2026-11-02T01:30:00+01:30"), 1793577600LL * 1000000);
  EXPECT_EQ(parse_time("2026-11-01T23:00:00.5-01:00"), 1793577600500000LL);
  EXPECT_EQ(parse_time("2026-11-02 00:00"), 1793577600LL * 1000000);
  EXPECT_FALSE(parse_time(""));
  EXPECT_FALSE(parse_time("yesterday"));
  EXPECT_FALSE(parse_time("2026-13-01"));
  EXPECT_FALSE(parse_time("2026-11-02T00:00:00Q"));
}

}  // namespace
}  // namespace dg::storage
