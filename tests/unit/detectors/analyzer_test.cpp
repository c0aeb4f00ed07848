#include "detectors/analyzer.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace dg::detectors {
namespace {

constexpr micros day0 = 1793577600LL * 1000000;

raw_event make(const std::string& client, micros ts, const std::string& prompt) {
  raw_event r;
  r.event.set_client_id(client);
  r.event.set_ts_micros(ts);
  r.request_body = R"({"model":"m","messages":[{"role":"user","content":")" + prompt + R"("}],"max_tokens":1,
      "logprobs":true,"logit_bias":{"42":100}})";
  return r;
}

TEST(Analyzer, ParsesFoldsAndHandsEventsDownstreamFromManyThreads) {
  detector_options o;
  prometheus::Registry reg;
  std::atomic<int> stored{0};
  std::atomic<bool> had_prompt{true};
  analyzer a(o, nullptr, &reg, [&](pb::QueryEvent&& ev) {
    if (ev.prompt_text().empty() || ev.features().version() == 0) had_prompt = false;
    ++stored;
  });
  a.start();
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        a.submit(make("client-" + std::to_string(t), day0 + i * 1000000LL, "probe the same prompt"));
      }
    });
  }
  for (auto& p : producers) p.join();
  a.drain();
  EXPECT_EQ(stored.load() + static_cast<int>(a.dropped()), 2000);
  EXPECT_EQ(a.dropped(), 0u);
  EXPECT_TRUE(had_prompt.load());
  auto r = a.report("client-1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->events, 500u);
  EXPECT_EQ(r->verdict, enforcement::verdict::block);  // logit-bias probes, every one
  EXPECT_EQ(a.reports().size(), 4u);
  a.stop();
  const std::string text = prometheus::TextSerializer().Serialize(reg.Collect());
  EXPECT_NE(text.find("distillguard_analysis_queue_depth"), std::string::npos);
  EXPECT_NE(text.find("distillguard_analysis_events_total 2000"), std::string::npos) << text;
}

TEST(Analyzer, FullQueueDropsAndCounts) {
  detector_options o;
  o.queue_capacity = 16;
  prometheus::Registry reg;
  analyzer a(o, nullptr, &reg, {});
  // Not started: nothing drains the queue.
  int accepted = 0;
  for (int i = 0; i < 100; ++i) accepted += a.submit(make("c", day0 + i, "x")) ? 1 : 0;
  EXPECT_EQ(accepted, 16);
  EXPECT_EQ(a.dropped(), 84u);
  EXPECT_EQ(a.queue_depth(), 16u);
  const std::string text = prometheus::TextSerializer().Serialize(reg.Collect());
  EXPECT_NE(text.find("distillguard_analysis_events_dropped_total 84"), std::string::npos) << text;
  a.start();
  a.drain();
  EXPECT_EQ(a.processed(), 16u);
}

TEST(Analyzer, TextFieldsFromTheRequestPathReachTheEvent) {
  detector_options o;
  std::vector<pb::QueryEvent> out;
  analyzer a(o, nullptr, nullptr, [&](pb::QueryEvent&& ev) { out.push_back(std::move(ev)); });
  a.start();
  raw_event r = make("", day0, "hello there");
  r.text = {"a-client-id-longer-than-sso-0123", "sk-...abcd", "10.1.2.3", "curl/8.5.0", "POST",
            "/v1/chat/completions"};
  a.submit(std::move(r));
  raw_event kept = make("set-directly", day0 + 1000000, "hello again");  // no staged text
  kept.event.set_route("/v1/completions");
  a.submit(std::move(kept));
  a.drain();
  a.stop();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].client_id(), "a-client-id-longer-than-sso-0123");
  EXPECT_EQ(out[0].client_hint(), "sk-...abcd");
  EXPECT_EQ(out[0].peer_address(), "10.1.2.3");
  EXPECT_EQ(out[0].user_agent(), "curl/8.5.0");
  EXPECT_EQ(out[0].method(), "POST");
  EXPECT_EQ(out[0].route(), "/v1/chat/completions");
  EXPECT_EQ(out[1].client_id(), "set-directly");
  EXPECT_EQ(out[1].route(), "/v1/completions");
  EXPECT_TRUE(a.report("a-client-id-longer-than-sso-0123").has_value());
}

TEST(Analyzer, BadBodiesAreCountedAndStillAnalysed) {
  detector_options o;
  analyzer a(o, nullptr, nullptr, {});
  a.start();
  raw_event r;
  r.event.set_client_id("c");
  r.event.set_ts_micros(day0);
  r.request_body = "{definitely not json";
  a.submit(std::move(r));
  a.drain();
  EXPECT_EQ(a.parse_errors(), 1u);
  ASSERT_TRUE(a.report("c").has_value());
  EXPECT_EQ(a.report("c")->events, 1u);
}

}  // namespace
}  // namespace dg::detectors
