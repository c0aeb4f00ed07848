#include "enforcement/policy.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

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

TEST(Policy, AsksForTheReasonsOnlyWhenTheVerdictChanges) {
  policy p(opts());
  std::vector<pb::AuditEntry> audit;
  p.set_audit_sink([&](const pb::AuditEntry& a) { audit.push_back(a); });
  int asked = 0;
  auto update = [&](double risk, micros t) {
    risk_input in;
    in.client_id = "a";
    in.risk = risk;
    in.ts_micros = t;
    in.explain = [&](std::vector<pb::DetectorScore>& scores, std::vector<std::string>& reasons) {
      ++asked;
      scores.emplace_back().set_detector("templates");
      scores.back().set_score(risk);
      reasons.push_back("templates: 90% of prompts share 1 template");
    };
    return p.update(in);
  };
  update(0.2, 0);
  update(0.55, 1 * s);  // allow -> watermark: asked once, into the audit entry
  update(0.6, 2 * s);
  update(0.58, 3 * s);  // no change: not asked
  EXPECT_EQ(asked, 1);
  ASSERT_EQ(audit.size(), 1u);
  ASSERT_EQ(audit[0].scores_size(), 1);
  EXPECT_EQ(audit[0].scores(0).detector(), "templates");
  EXPECT_DOUBLE_EQ(audit[0].scores(0).score(), 0.55);
  EXPECT_EQ(audit[0].reasons(audit[0].reasons_size() - 1), "templates: 90% of prompts share 1 template");
  update(0.8, 4 * s);  // watermark -> throttle
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(audit.size(), 2u);
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

// Lookups on several threads while the policy thread sets and clears
// overrides, so every shard of the verdict table is copied and swapped under
// the readers. Meant for TSan (make test-tsan); the assertions check that a
// reader only ever sees whole entries and that a client nobody touches keeps
// its verdict while its shard is rewritten around it.
TEST(Policy, ConcurrentLookupsWhileOverridesChange) {
  policy p(opts());
  ASSERT_TRUE(p.set_override("pinned", verdict::throttle, 0, "fixed", 0).is_ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 256; ++i) ids.push_back("c" + std::to_string(i));
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> torn{0}, pinned_lost{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::uint64_t n = static_cast<std::uint64_t>(t);
      do {
        const verdict_view v = p.lookup(ids[n % ids.size()], 0);
        // The writer only ever sets block overrides: allow without one, block with one.
        if ((v.decided == verdict::block) != v.overridden ||
            (v.decided != verdict::allow && v.decided != verdict::block)) {
          ++torn;
        }
        if (p.lookup("pinned", 0).decided != verdict::throttle) ++pinned_lost;
        ++reads;
        n += 7;
      } while (!done.load(std::memory_order_acquire));
    });
  }
  for (int round = 0; round < 40; ++round) {
    for (const auto& id : ids) {
      if (round % 2 == 0) {
        EXPECT_TRUE(p.set_override(id, verdict::block, 0, "churn", round).is_ok());
      } else {
        (void)p.clear_override(id, round);
      }
    }
  }
  done.store(true, std::memory_order_release);
  for (auto& r : readers) r.join();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_EQ(pinned_lost.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(p.lookup("c0", 0).decided, verdict::allow);  // round 39 cleared every override
}

}  // namespace
}  // namespace dg::enforcement
