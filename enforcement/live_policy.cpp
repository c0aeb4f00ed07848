#include "enforcement/live_policy.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/crypto.h"
#include "enforcement/openai_error.h"
#include "enforcement/watermark_rewriter.h"

namespace dg::enforcement {

namespace {

status read_secret(const watermark_key& k, std::string_view fallback, std::string& out) {
  if (!k.secret_file.empty()) {
    std::ifstream in(k.secret_file, std::ios::binary);
    if (!in) return status::not_found("cannot read watermark secret file " + k.secret_file);
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  } else if (!k.secret.empty()) {
    out = k.secret;
  } else {
    out = std::string(fallback);
  }
  if (out.empty()) return status::invalid_argument("empty watermark secret");
  return status::ok();
}

}  // namespace

status load_watermark_keys(const watermark_options& o, std::string_view fallback_secret,
                           std::vector<std::pair<std::uint32_t, std::string>>& out) {
  out.clear();
  std::string s;
  if (status st = read_secret(o.current, fallback_secret, s); !st) return st;
  out.emplace_back(o.current.id, s);
  for (const auto& k : o.previous) {
    if (k.id == o.current.id) return status::invalid_argument("a previous watermark key reuses the current id");
    if (status st = read_secret(k, {}, s); !st) return st;
    out.emplace_back(k.id, s);
  }
  return status::ok();
}

std::string derive_watermark_secret(std::string_view identity_secret) {
  return to_hex(hmac_sha256(identity_secret, "distillguard-watermark-key"));
}

status load_synonym_table(const watermark_options& o, std::shared_ptr<const synonym_table>& out) {
  if (!o.synonyms_file.empty()) {
    auto t = std::make_shared<synonym_table>();
    if (status st = synonym_table::load_file(o.synonyms_file, *t); !st) return st;
    out = std::move(t);
    return status::ok();
  }
  for (const auto& path : default_synonym_paths()) {
    std::ifstream probe(path);
    if (!probe) continue;
    auto t = std::make_shared<synonym_table>();
    if (status st = synonym_table::load_file(path, *t); !st) return st;
    out = std::move(t);
    return status::ok();
  }
  out = synonym_table::builtin();
  return status::ok();
}

struct live_policy::metrics {
  explicit metrics(prometheus::Registry& r)
      : actions(prometheus::BuildCounter()
                    .Name("distillguard_actions_total")
                    .Help("Requests acted on by enforcement, by action")
                    .Register(r)),
        shadow(prometheus::BuildCounter()
                   .Name("distillguard_shadow_decisions_total")
                   .Help("Actions decided but not enforced (shadow mode or a shadowed action)")
                   .Register(r)),
        by_verdict(prometheus::BuildGauge()
                       .Name("distillguard_clients_by_verdict")
                       .Help("Clients per verdict in force")
                       .Register(r)),
        changes(prometheus::BuildCounter()
                    .Name("distillguard_verdict_changes_total")
                    .Help("Changes of a client's verdict in force")
                    .Register(r)
                    .Add({})),
        watermarked(actions.Add({{"action", "watermarked"}})),
        throttled(actions.Add({{"action", "throttled"}})),
        blocked(actions.Add({{"action", "blocked"}})),
        shaped(actions.Add({{"action", "shaped"}})),
        s_watermarked(shadow.Add({{"action", "watermarked"}})),
        s_throttled(shadow.Add({{"action", "throttled"}})),
        s_blocked(shadow.Add({{"action", "blocked"}})),
        s_shaped(shadow.Add({{"action", "shaped"}})) {
    for (verdict v : {verdict::allow, verdict::watermark, verdict::throttle, verdict::block})
      gauges[static_cast<int>(v)] = &by_verdict.Add({{"verdict", std::string(to_string(v))}});
  }
  prometheus::Family<prometheus::Counter>& actions;
  prometheus::Family<prometheus::Counter>& shadow;
  prometheus::Family<prometheus::Gauge>& by_verdict;
  prometheus::Counter& changes;
  prometheus::Counter &watermarked, &throttled, &blocked, &shaped;
  prometheus::Counter &s_watermarked, &s_throttled, &s_blocked, &s_shaped;
  prometheus::Gauge* gauges[4] = {};
};

live_policy::live_policy(const policy_options& options, policy& verdicts,
                         std::shared_ptr<const synonym_table> table, std::string watermark_secret,
                         std::uint32_t watermark_key_id, prometheus::Registry* registry)
    : config_(std::make_shared<const config>(options, table ? std::move(table) : synonym_table::builtin(),
                                             std::move(watermark_secret), watermark_key_id)),
      verdicts_(verdicts),
      limiter_(options.rate_limits),
      metrics_(registry ? std::make_unique<metrics>(*registry) : nullptr) {}

live_policy::~live_policy() = default;

void live_policy::reconfigure(const policy_options& options, std::shared_ptr<const synonym_table> table,
                              std::string watermark_secret, std::uint32_t watermark_key_id) {
  auto next = std::make_shared<const config>(options, table ? std::move(table) : synonym_table::builtin(),
                                             std::move(watermark_secret), watermark_key_id);
  limiter_.reconfigure(options.rate_limits);
  config_.store(std::move(next));
}

std::shared_ptr<const live_policy::config> live_policy::config_of(const admission& a) const {
  if (a.pinned) return std::static_pointer_cast<const config>(a.pinned);
  return config_.load();
}

bucket_limits live_policy::limits_for(const config& c, const verdict_view& v, bool throttled) {
  const policy_options& o = c.options;
  bucket_limits out = o.rate_limits.base;
  if (!throttled) return out;
  // Shrink linearly from the throttled limits at the threshold to min_scale of them at risk 1.
  const double t = o.throttle_threshold;
  const double f = t < 1 ? std::clamp((v.risk - t) / (1 - t), 0.0, 1.0) : 1.0;
  const double scale = 1.0 - (1.0 - o.rate_limits.min_scale) * f;
  auto tighter = [](double base, double thr) {
    if (thr <= 0) return base;
    if (base <= 0) return thr;
    return std::min(base, thr);
  };
  out.requests_per_minute = tighter(out.requests_per_minute,
                                    o.rate_limits.throttled.requests_per_minute * scale);
  out.tokens_per_minute = tighter(out.tokens_per_minute,
                                  o.rate_limits.throttled.tokens_per_minute * scale);
  return out;
}

admission live_policy::admit(std::string_view client_id, micros now, std::uint32_t estimated_tokens) {
  admission a;
  std::shared_ptr<const config> cfg = config_.load();
  const config& c = *cfg;
  const policy_options& opt = c.options;
  const verdict_view v = verdicts_.lookup(client_id, now);
  a.decided = v.decided;

  if (v.decided == verdict::block) {
    if (c.enforced(opt.block_mode)) {
      a.act = admission::action::refuse;
      a.applied = verdict::block;
      a.status = opt.block.status;
      if (a.status == 429) {
        a.body = openai_error(opt.block.message, "rate_limit_exceeded", {}, "client_blocked");
        a.headers.emplace_back("x-should-retry", "false");
      } else {
        a.body = openai_error(opt.block.message, "permission_error", {}, "client_blocked");
      }
      if (metrics_) metrics_->blocked.Increment();
      return a;
    }
    if (metrics_) metrics_->s_blocked.Increment();
  }

  const bool throttle_decided = v.decided >= verdict::throttle;
  const bool throttle_on = throttle_decided && c.enforced(opt.throttle_mode);
  if (throttle_decided && !throttle_on && metrics_) metrics_->s_throttled.Increment();
  // Base limits count as throttling too: in shadow they are not enforced.
  const bool limits_on = !opt.shadow() && opt.throttle_mode == "enforce";
  if (limits_on) {
    const bucket_limits lim = limits_for(c, v, throttle_on);
    const limit_state st = limiter_.acquire(client_id, lim, estimated_tokens, now);
    if (!st.allowed) {
      a.act = admission::action::refuse;
      a.applied = throttle_on ? verdict::throttle : verdict::allow;
      a.status = 429;
      const std::string which = std::string(st.limited_by);
      const std::string limit = which == "requests"
                                    ? std::to_string(static_cast<long long>(st.limit_requests)) + " requests"
                                    : std::to_string(static_cast<long long>(st.limit_tokens)) + " tokens";
      a.body = openai_error("Rate limit reached on " + which + " per minute (limit: " + limit +
                                " per minute). Please try again in " + format_reset(st.retry_after_ms) + ".",
                            "rate_limit_exceeded", {}, "rate_limit_exceeded");
      a.headers.emplace_back("retry-after", std::to_string((st.retry_after_ms + 999) / 1000));
      a.headers.emplace_back("retry-after-ms", std::to_string(st.retry_after_ms));
      if (st.limit_requests > 0) {
        a.headers.emplace_back("x-ratelimit-limit-requests", std::to_string(static_cast<long long>(st.limit_requests)));
        a.headers.emplace_back("x-ratelimit-remaining-requests", std::to_string(static_cast<long long>(st.remaining_requests)));
        a.headers.emplace_back("x-ratelimit-reset-requests", format_reset(st.reset_requests_ms));
      }
      if (st.limit_tokens > 0) {
        a.headers.emplace_back("x-ratelimit-limit-tokens", std::to_string(static_cast<long long>(st.limit_tokens)));
        a.headers.emplace_back("x-ratelimit-remaining-tokens", std::to_string(static_cast<long long>(st.remaining_tokens)));
        a.headers.emplace_back("x-ratelimit-reset-tokens", format_reset(st.reset_tokens_ms));
      }
      if (metrics_) metrics_->throttled.Increment();
      return a;
    }
    if (lim.tokens_per_minute > 0) a.reserved_tokens = estimated_tokens;
    if (throttle_on) {
      a.applied = verdict::throttle;
      if (opt.rate_limits.tarpit_ms > 0) {
        a.act = admission::action::delay;
        a.delay_ms = opt.rate_limits.tarpit_ms;
        if (metrics_) metrics_->throttled.Increment();
      }
    }
  }

  if (v.decided >= verdict::watermark) {
    const bool shape_rules = c.shaper.rules_for(v.decided) != nullptr;
    if (c.enforced(opt.shape_mode) && shape_rules) {
      a.shape = true;
    } else if (shape_rules && metrics_) {
      metrics_->s_shaped.Increment();
    }
    if (c.enforced(opt.watermark_mode)) {
      a.watermark = true;
      a.applied = std::max(a.applied, verdict::watermark);
    } else if (metrics_) {
      metrics_->s_watermarked.Increment();
    }
  }
  if (opt.watermark.everyone && c.enforced(opt.watermark_mode)) a.watermark = true;
  if (c.shaper.checks_everyone()) a.shape = true;
  a.pinned = std::move(cfg);
  return a;
}

bool live_policy::shape(const admission& a, std::string& body) {
  return shape_request(a, body).changed;
}

shape_outcome live_policy::shape_request(const admission& a, std::string& body) {
  const std::shared_ptr<const config> cfg = config_of(a);
  const config& c = *cfg;
  const shape_level* rules = c.enforced(c.options.shape_mode) ? c.shaper.rules_for(a.decided) : nullptr;
  shape_outcome out = c.shaper.shape(body, rules, rules != nullptr);
  if (out.changed && rules && metrics_) metrics_->shaped.Increment();
  return out;
}

namespace {
// A client's mark key, derived once per thread for its last few clients: the HMAC behind it was
// a sixtieth of the gateway's CPU with every answer watermarked, for a value that only changes
// with the secret or its id (a rotation or a reload with another secret empties the cache; the
// secret is held once per thread, as the HMAC context of common/crypto.cpp holds it).
mark_key cached_mark_key(const std::string& secret, std::string_view client_id, std::uint32_t key_id) {
  struct entry {
    std::string client;
    mark_key key;
    bool used = false;
  };
  struct cache {
    std::string secret;
    std::uint32_t key_id = 0;
    std::array<entry, 64> entries;
  };
  thread_local cache c;
  if (c.key_id != key_id || c.secret != secret) {
    for (entry& e : c.entries) e.used = false;
    c.secret = secret;
    c.key_id = key_id;
  }
  entry& e = c.entries[std::hash<std::string_view>{}(client_id) % c.entries.size()];
  if (!e.used || e.client != client_id) {
    e.key = derive_mark_key(secret, client_id, key_id);
    e.client.assign(client_id);
    e.used = true;
  }
  return e.key;
}
}  // namespace

std::unique_ptr<response_rewriter> live_policy::watermark(const admission& a, std::string_view client_id) {
  if (!a.watermark) return nullptr;
  const std::shared_ptr<const config> cfg = config_of(a);
  if (metrics_) metrics_->watermarked.Increment();
  return std::make_unique<watermark_rewriter>(
      cfg->table, cached_mark_key(cfg->watermark_secret, client_id, cfg->watermark_key_id));
}

void live_policy::settle(std::string_view client_id, const admission& a, std::uint32_t actual_tokens,
                         micros now) {
  if (a.reserved_tokens == 0) return;
  limiter_.settle(client_id, a.reserved_tokens, actual_tokens, now);
}

void live_policy::refresh_gauges(std::uint64_t known_clients) {
  if (!metrics_) return;
  const auto c = verdicts_.counts();
  std::uint64_t flagged = 0;
  for (int i = 1; i < 4; ++i) {
    metrics_->gauges[i]->Set(static_cast<double>(c[static_cast<std::size_t>(i)]));
    flagged += c[static_cast<std::size_t>(i)];
  }
  const std::uint64_t allow =
      known_clients > flagged ? known_clients - flagged : c[0];
  metrics_->gauges[0]->Set(static_cast<double>(allow));
}

void live_policy::count_verdict_change() {
  if (metrics_) metrics_->changes.Increment();
}

}  // namespace dg::enforcement
