#include "enforcement/policy.h"

#include <gtest/gtest.h>

namespace dg::enforcement {
namespace {

constexpr micros s = 1'000'000;

policy_options opts() {
  policy_options o;
  o.watermark_threshold = 0.5;
  o.throttle_threshold = 0.75;
  o.block_threshold = 0.92;
  o.hysteresis_margin = 0.1;
  o.min_hold_s = 60;
  o.decay_half_life_s = 3600;
  return o;
}

decision feed(policy& p, const char* id, double risk, micros t) {
  risk_input in;
  in.client_id = id;
  in.risk = risk;
  in.ts_micros = t;
  return p.update(in);
}

TEST(Policy, RisesAtThresholdAndDoesNotFlap) {
  policy p(opts());
  std::vector<pb::AuditEntry> audit;
  p.set_audit_sink([&](const pb::AuditEntry& a) { audit.push_back(a); });
  EXPECT_EQ(feed(p, "a", 0.3, 0).to, verdict::allow);
  EXPECT_EQ(p.lookup("a", 0).decided, verdict::allow);
  EXPECT_EQ(feed(p, "a", 0.5, 1 * s).to, verdict::watermark);
  // Oscillating just around the threshold does not flap.
  for (int i = 0; i < 100; ++i) feed(p, "a", i % 2 ? 0.49 : 0.51, (2 + i) * s);
  EXPECT_EQ(p.lookup("a", 200 * s).decided, verdict::watermark);
  EXPECT_EQ(audit.size(), 1u);
}

TEST(Policy, FallsOnlyBelowMarginAfterHold) {
  policy p(opts());
  feed(p, "a", 0.8, 0);
  EXPECT_EQ(p.lookup("a", 0).decided, verdict::throttle);
  feed(p, "a", 0.3, 10 * s);  // within min_hold
  EXPECT_EQ(p.lookup("a", 10 * s).decided, verdict::throttle);
  feed(p, "a", 0.7, 100 * s);  // above 0.75 - 0.1: stays
  EXPECT_EQ(p.lookup("a", 100 * s).decided, verdict::throttle);
  feed(p, "a", 0.6, 200 * s);  // below 0.65 but above 0.4: watermark
  EXPECT_EQ(p.lookup("a", 200 * s).decided, verdict::watermark);
  feed(p, "a", 0.1, 300 * s);
  EXPECT_EQ(p.lookup("a", 300 * s).decided, verdict::allow);
  EXPECT_EQ(p.counts()[0] + p.counts()[1] + p.counts()[2] + p.counts()[3], 0u);  // forgotten
}

TEST(Policy, DecaysWithEventTime) {
  policy p(opts());
  std::vector<pb::AuditEntry> audit;
  p.set_audit_sink([&](const pb::AuditEntry& a) { audit.push_back(a); });
  feed(p, "a", 0.95, 0);
  EXPECT_EQ(p.lookup("a", 0).decided, verdict::block);
  p.advance(600 * s);  // 10 minutes: 0.95 * 2^(-1/6) = 0.85, above 0.82
  EXPECT_EQ(p.lookup("a", 600 * s).decided, verdict::block);
  p.advance(4 * 3600 * s);  // 0.95/16 = 0.06
  EXPECT_EQ(p.lookup("a", 4 * 3600 * s).decided, verdict::allow);
  ASSERT_GE(audit.size(), 2u);
  EXPECT_EQ(audit.back().source(), "decay");
  EXPECT_EQ(audit.back().to(), pb::VERDICT_ALLOW);
  EXPECT_FALSE(audit.back().reasons().empty());
}

TEST(Policy, ListsByIdAndByHashedKey) {
  policy_options o = opts();
  o.allow_clients = {"good"};
  o.deny_keys = {"sk-bad"};
  policy p(o, [](std::string_view key) { return std::vector<std::string>{"id-of-" + std::string(key)}; });
  EXPECT_EQ(p.lookup("id-of-sk-bad", 0).decided, verdict::block);
  EXPECT_TRUE(p.lookup("id-of-sk-bad", 0).listed);
  feed(p, "good", 0.99, 0);
  EXPECT_EQ(p.lookup("good", 0).decided, verdict::allow);
  feed(p, "id-of-sk-bad", 0.0, 0);
  EXPECT_EQ(p.lookup("id-of-sk-bad", 0).decided, verdict::block);
}

TEST(Policy, OverrideExpiresAndPersists) {
  policy p(opts());
  std::vector<std::pair<std::string, bool>> sink;
  p.set_override_sink([&](const std::string& id, const std::optional<override_entry>& o) {
    sink.emplace_back(id, o.has_value());
  });
  std::vector<pb::AuditEntry> audit;
  p.set_audit_sink([&](const pb::AuditEntry& a) { audit.push_back(a); });
  ASSERT_TRUE(p.set_override("c", verdict::block, 100 * s, "abuse report", 0).is_ok());
  EXPECT_FALSE(p.set_override("c", verdict::block, 5, "past", 10).is_ok());
  EXPECT_EQ(p.lookup("c", 50 * s).decided, verdict::block);
  EXPECT_TRUE(p.lookup("c", 50 * s).overridden);
  EXPECT_EQ(p.lookup("c", 100 * s).decided, verdict::allow);  // expired at read time already
  pb::ClientRecord rec;
  rec.set_client_id("c");
  p.save("c", rec);
  EXPECT_TRUE(rec.override_active());
  EXPECT_EQ(rec.override_reason(), "abuse report");
  policy q(opts());
  q.restore(rec);
  EXPECT_EQ(q.lookup("c", 50 * s).decided, verdict::block);
  p.advance(101 * s);
  EXPECT_EQ(audit.back().source(), "override");
  EXPECT_EQ(audit.back().to(), pb::VERDICT_ALLOW);
  ASSERT_EQ(sink.size(), 2u);
  EXPECT_FALSE(sink.back().second);
  EXPECT_TRUE(p.overrides().empty());
  ASSERT_TRUE(p.set_override("d", verdict::throttle, 0, "manual", 0).is_ok());
  EXPECT_TRUE(p.clear_override("d", 1, "done"));
  EXPECT_FALSE(p.clear_override("d", 2));
  EXPECT_EQ(p.lookup("d", 3).decided, verdict::allow);
}

}  // namespace
}  // namespace dg::enforcement
