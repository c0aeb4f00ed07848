// engine::reconfigure: detector switches and weights apply at the next
// rescoring while every client's state (events, detector state, verdict) is kept.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "detectors/engine.h"
#include "detectors/request_parser.h"

namespace dg::detectors {
namespace {

constexpr micros s = 1'000'000;

// The logit-extraction pattern: one prompt, max_tokens 1, logprobs, a rotating logit_bias.
pb::QueryEvent extraction_event(const std::string& client, int i) {
  nlohmann::json body = {{"model", "m"},
                         {"messages", {{{"role", "user"}, {"content", "The capital of France is"}}}},
                         {"max_tokens", 1},
                         {"logprobs", true},
                         {"top_logprobs", 5},
                         {"logit_bias", {{std::to_string(1000 + (i * 7) % 5000), 100}}}};
  pb::QueryEvent ev;
  ev.set_client_id(client);
  ev.set_ts_micros(static_cast<micros>(i) * s);
  ev.set_route("/v1/chat/completions");
  (void)parse_request_json(body, ev);
  ev.set_prompt_tokens(6);
  ev.set_completion_tokens(1);
  return ev;
}

TEST(EngineReconfigure, SwitchesApplyAndClientStateIsKept) {
  detector_options o;
  o.scoring.rescore_every_events = 1;
  engine e(o);
  for (int i = 0; i < 80; ++i) {
    auto ev = extraction_event("x", i);
    e.observe(ev);
  }
  e.flush();
  auto before = e.report("x");
  ASSERT_TRUE(before.has_value());
  ASSERT_EQ(before->events, 80u);
  ASSERT_GE(before->verdict, enforcement::verdict::throttle) << before->risk;

  // Extraction off: the next rescoring no longer counts it; nothing else is lost.
  detector_options off = o;
  off.extraction.enabled = false;
  e.reconfigure(off);
  EXPECT_FALSE(e.options().extraction.enabled);
  auto ev = extraction_event("x", 80);
  e.observe(ev);
  e.flush();
  auto during = e.report("x");
  ASSERT_TRUE(during.has_value());
  EXPECT_EQ(during->events, 81u);
  EXPECT_LT(during->own_risk, before->own_risk);
  EXPECT_EQ(during->first_seen_micros, before->first_seen_micros);

  // Back on: the state gathered all along scores again at once, without a new warm-up.
  e.reconfigure(o);
  ev = extraction_event("x", 81);
  e.observe(ev);
  e.flush();
  auto after = e.report("x");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->events, 82u);
  EXPECT_GE(after->own_risk, before->own_risk - 0.05);
  EXPECT_EQ(e.client_count(), 1u);
}

TEST(EngineReconfigure, SeedAndLinkerOptionsStayAsBuilt) {
  detector_options o;
  engine e(o);
  detector_options next = o;
  next.seed = o.seed + 1;
  next.linking.min_shared = o.linking.min_shared + 5;
  next.linking.weight = 0.25;
  next.extraction.weight = 0.5;
  e.reconfigure(next);
  EXPECT_EQ(e.options().seed, o.seed);
  EXPECT_EQ(e.options().linking.min_shared, o.linking.min_shared);
  EXPECT_DOUBLE_EQ(e.options().linking.weight, 0.25);
  EXPECT_DOUBLE_EQ(e.options().extraction.weight, 0.5);
}

}  // namespace
}  // namespace dg::detectors
