#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "enforcement/live_policy.h"
#include "enforcement/rate_limiter.h"
#include "enforcement/request_shaper.h"

namespace dg::enforcement {
namespace {

constexpr micros s = 1'000'000;

TEST(RateLimiter, RefusesThenRefills) {
  rate_limit_options o;
  o.burst_seconds = 60;
  rate_limiter r(o);
  bucket_limits lim{6, 0};
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(r.acquire("a", lim, 0, 0).allowed);
  auto st = r.acquire("a", lim, 0, 0);
  EXPECT_FALSE(st.allowed);
  EXPECT_EQ(st.limited_by, "requests");
  EXPECT_NEAR(static_cast<double>(st.retry_after_ms), 10000, 5);
  EXPECT_TRUE(r.acquire("b", lim, 0, 0).allowed);  // another client is untouched
  EXPECT_TRUE(r.acquire("a", lim, 0, 10 * s).allowed);
}

TEST(RateLimiter, TokensReservedAndSettled) {
  rate_limit_options o;
  o.burst_seconds = 60;
  rate_limiter r(o);
  bucket_limits lim{0, 1000};
  EXPECT_TRUE(r.acquire("a", lim, 800, 0).allowed);
  EXPECT_FALSE(r.acquire("a", lim, 800, 0).allowed);
  r.settle("a", 800, 100, 0);  // used far less than reserved
  auto st = r.acquire("a", lim, 800, 0);
  EXPECT_TRUE(st.allowed);
  EXPECT_EQ(st.remaining_tokens, 100);
}

TEST(RateLimiter, BoundedMemory) {
  rate_limit_options o;
  o.max_clients = 1000;
  rate_limiter r(o);
  for (int i = 0; i < 20000; ++i) r.acquire("c" + std::to_string(i), {100, 0}, 0, i);
  EXPECT_LE(r.clients(), 2000u);
}

TEST(Shaper, StripsAndCapsKeepingOrder) {
  shape_options o;
  request_shaper sh(o);
  std::string body =
      R"({"model":"m","messages":[],"logprobs":true,"top_logprobs":5,"logit_bias":{"1":100},"n":4,"max_tokens":9000,"stream":true})";
  auto out = sh.shape(body, sh.rules_for(verdict::throttle), true);
  EXPECT_TRUE(out.changed);
  auto j = nlohmann::json::parse(body);
  EXPECT_FALSE(j.contains("logprobs"));
  EXPECT_FALSE(j.contains("top_logprobs"));
  EXPECT_FALSE(j.contains("logit_bias"));
  EXPECT_EQ(j["n"], 1);
  EXPECT_EQ(j["max_tokens"], 1024);
  EXPECT_EQ(j["stream_options"]["include_usage"], true);
  EXPECT_EQ(body.find("\"model\""), 1u);
}

TEST(Shaper, RefusesLogitBiasWithLogprobs) {
  shape_options o;
  o.refuse_logit_bias_with_logprobs = true;
  request_shaper sh(o);
  std::string body = R"({"prompt":"x","logprobs":5,"logit_bias":{"50256":-100}})";
  auto out = sh.shape(body, nullptr, false);
  EXPECT_TRUE(out.refuse);
  EXPECT_EQ(out.status, 400);
  auto e = nlohmann::json::parse(out.body);
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(e["error"].contains("param"));
}

// Bodies without a logit_bias key skip the JSON parse; one that spells the key
// with an escape must not slip through, and the strict mode still validates.
TEST(Shaper, QuickPathMissesNothing) {
  shape_options o;
  o.refuse_logit_bias_with_logprobs = true;
  request_shaper sh(o);
  std::string escaped = R"({"prompt":"x","logprobs":5,"logit\u005fbias":{"50256":-100}})";
  EXPECT_TRUE(sh.shape(escaped, nullptr, false).refuse);
  std::string plain = R"({"prompt":"x","logprobs":5,"max_tokens":3})";
  const std::string before = plain;
  const auto out = sh.shape(plain, nullptr, false);
  EXPECT_FALSE(out.refuse);
  EXPECT_FALSE(out.changed);
  EXPECT_EQ(plain, before);

  o.invalid_json = "refuse";
  request_shaper strict(o);
  for (std::string bad : {std::string("{\"a\":1"), std::string("[1,2]"), std::string("  "),
                          std::string("{\"a\":1} trailing")}) {
    EXPECT_TRUE(strict.shape(bad, nullptr, false).refuse) << bad;
  }
  std::string good = " {\"a\":[1,{\"b\":null}]}";
  EXPECT_FALSE(strict.shape(good, nullptr, false).refuse);
}

TEST(Shaper, AnyBytesAreSafe) {
  shape_options o;
  request_shaper sh(o);
  for (std::string body : {std::string(""), std::string("{"), std::string("\xff\xfe{\"n\":3}"), std::string("[1,2]"),
                           std::string("{\"n\":\"x\",\"max_tokens\":null}")}) {
    std::string copy = body;
    auto out = sh.shape(copy, sh.rules_for(verdict::throttle), true);
    EXPECT_FALSE(out.refuse);
    if (!out.changed) {
      EXPECT_EQ(copy, body);
    }
  }
  o.invalid_json = "refuse";
  request_shaper strict(o);
  std::string bad = "{nope";
  EXPECT_TRUE(strict.shape(bad, nullptr, false).refuse);
}

// A body too deep to read is passed on unread only when nothing is owed on it: for a
// flagged client, or with a logit_bias to refuse, one deep dummy field must not
// carry logprobs or logit_bias past the gateway.
TEST(Shaper, TooDeepBodiesAreRefusedWhenShapingIsOwed) {
  auto deep = [](std::string head) {
    return head + R"("pad":)" + std::string(300, '[') + std::string(300, ']') + "}";
  };
  shape_options o;
  o.refuse_logit_bias_with_logprobs = true;
  request_shaper sh(o);
  std::string flagged = deep(R"({"model":"m","logprobs":true,"top_logprobs":5,)");
  auto out = sh.shape(flagged, sh.rules_for(verdict::throttle), false);
  EXPECT_TRUE(out.refuse);
  EXPECT_EQ(out.status, 400);
  EXPECT_EQ(nlohmann::json::parse(out.body)["error"]["code"], "invalid_json");

  std::string biased = deep(R"({"model":"m","logprobs":true,"logit_bias":{"1":100},)");
  EXPECT_TRUE(sh.shape(biased, nullptr, false).refuse);

  // Nothing owed (an unflagged client, no logit_bias): passed through untouched.
  std::string plain = deep(R"({"model":"m",)");
  const std::string before = plain;
  out = sh.shape(plain, nullptr, false);
  EXPECT_FALSE(out.refuse);
  EXPECT_EQ(plain, before);
  std::string brackets(100000, '[');
  EXPECT_FALSE(sh.shape(brackets, nullptr, false).refuse);
  EXPECT_TRUE(sh.shape(brackets, sh.rules_for(verdict::watermark), false).refuse);
}

struct rig {
  policy_options o;
  std::unique_ptr<policy> p;
  prometheus::Registry reg;
  std::unique_ptr<live_policy> lp;
  explicit rig(policy_options opt) : o(std::move(opt)) {
    p = std::make_unique<policy>(o);
    lp = std::make_unique<live_policy>(o, *p, nullptr, "wm-secret", 1, &reg);
  }
  void risk(const char* id, double r) {
    risk_input in;
    in.client_id = id;
    in.risk = r;
    p->update(in);
  }
  std::string metrics() {
    return prometheus::TextSerializer().Serialize(reg.Collect());
  }
};

bool has_header(const admission& a, const std::string& name) {
  for (const auto& [k, v] : a.headers)
    if (k == name) return true;
  return false;
}

TEST(LivePolicy, ThrottleRefusesWithHeaders) {
  policy_options o;
  o.rate_limits.throttled = {6, 100000};
  o.rate_limits.burst_seconds = 10;
  rig r(o);
  r.risk("t", 0.8);
  admission last;
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    last = r.lp->admit("t", 0, 100);
    if (last.act == admission::action::refuse) ++refused;
  }
  EXPECT_GT(refused, 0);
  EXPECT_EQ(last.status, 429);
  for (const char* h : {"retry-after", "retry-after-ms", "x-ratelimit-limit-requests",
                        "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
                        "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
                        "x-ratelimit-reset-tokens"})
    EXPECT_TRUE(has_header(last, h)) << h;
  auto e = nlohmann::json::parse(last.body);
  EXPECT_EQ(e["error"]["code"], "rate_limit_exceeded");
  EXPECT_NE(e["error"]["message"].get<std::string>().find("requests"), std::string::npos);
  EXPECT_TRUE(r.lp->admit("other", 0, 100).act == admission::action::pass);
  EXPECT_NE(r.metrics().find("distillguard_actions_total{action=\"throttled\"}"), std::string::npos);
}

TEST(LivePolicy, BlockAs403Or429) {
  policy_options o;
  rig r(o);
  r.risk("b", 0.99);
  auto a = r.lp->admit("b", 0, 10);
  EXPECT_EQ(a.act, admission::action::refuse);
  EXPECT_EQ(a.status, 403);
  o.block.status = 429;
  rig r2(o);
  r2.risk("b", 0.99);
  a = r2.lp->admit("b", 0, 10);
  EXPECT_EQ(a.status, 429);
  EXPECT_TRUE(has_header(a, "x-should-retry"));
}

TEST(LivePolicy, ShadowEnforcesNothingButCounts) {
  policy_options o;
  o.mode = "shadow";
  o.rate_limits.base = {1, 0};
  rig r(o);
  r.risk("b", 0.99);
  for (int i = 0; i < 5; ++i) {
    auto a = r.lp->admit("b", 0, 10);
    EXPECT_EQ(a.act, admission::action::pass);
    EXPECT_EQ(a.decided, verdict::block);
    EXPECT_EQ(a.applied, verdict::allow);
    EXPECT_FALSE(a.watermark);
    EXPECT_EQ(r.lp->watermark(a, "b"), nullptr);
    std::string body = R"({"logprobs":true,"n":5})";
    EXPECT_FALSE(r.lp->shape_request(a, body).changed);
  }
  const std::string m = r.metrics();
  EXPECT_NE(m.find("distillguard_shadow_decisions_total{action=\"blocked\"} 5"), std::string::npos) << m;
  EXPECT_NE(m.find("distillguard_actions_total{action=\"blocked\"} 0"), std::string::npos);
}

TEST(LivePolicy, PerActionShadow) {
  policy_options o;
  o.block_mode = "shadow";
  rig r(o);
  r.risk("b", 0.99);
  auto a = r.lp->admit("b", 0, 10);
  EXPECT_NE(a.act, admission::action::refuse);
  EXPECT_TRUE(a.watermark);  // watermark still enforced
  EXPECT_NE(r.lp->watermark(a, "b"), nullptr);
}

}  // namespace
}  // namespace dg::enforcement
