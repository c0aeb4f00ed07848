// live_policy: the request_policy of the gateway: the policy's verdict table
// (admit), the rate limiter (base limits, throttle), the shaper and the
// watermark, configured from policy_options. The options, the shaper and the
// watermark keys form one immutable snapshot (Envoy's FilterConfig) behind an
// atomic shared_ptr: reconfigure() swaps in a new one (config reload), each
// admission pins the snapshot it was decided under, and shape_request() and
// watermark() use the pinned one, so a request never mixes two configs. The
// rate limiter's buckets survive a reconfigure. Shadow mode and the
// per-action switches live here: a decision that is not enforced is counted
// in distillguard_shadow_decisions_total{action} and changes nothing.
//
// Metrics (when a registry is given):
//   distillguard_actions_total{action="watermarked|throttled|blocked|shaped"}
//   distillguard_shadow_decisions_total{action=...}
//   distillguard_clients_by_verdict{verdict}   (refresh_gauges())
//   distillguard_verdict_changes_total         (count_verdict_change(), from the audit sink)
//
// Thread safety: every request_policy method may run on any I/O thread at once,
// and reconfigure() on any thread concurrently with them (the request path
// takes no lock for it: one atomic load and a shared_ptr copy per admission).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/snapshot.h"
#include "common/status.h"
#include "enforcement/policy.h"
#include "enforcement/policy_options.h"
#include "enforcement/rate_limiter.h"
#include "enforcement/request_policy.h"
#include "enforcement/request_shaper.h"
#include "enforcement/watermark_synonyms.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
}  // namespace prometheus

namespace dg::enforcement {

// The watermark keys of the config: (key id, secret), the current one first.
// A key with neither secret nor secret_file takes `fallback_secret` (the
// server passes HMAC(identity secret, "watermark")).
status load_watermark_keys(const watermark_options& o, std::string_view fallback_secret,
                           std::vector<std::pair<std::uint32_t, std::string>>& out);

// The watermark secret used when the config names none: derived from the
// gateway's identity secret, so that `serve` and `watermark detect` agree.
std::string derive_watermark_secret(std::string_view identity_secret);

// The synonym table of the config: watermark.synonyms_file, else a file at a
// default location, else the table compiled in.
status load_synonym_table(const watermark_options& o, std::shared_ptr<const synonym_table>& out);

class live_policy final : public request_policy {
 public:
  // `verdicts` must outlive this object. registry may be null.
  live_policy(const policy_options& options, policy& verdicts,
              std::shared_ptr<const synonym_table> table, std::string watermark_secret,
              std::uint32_t watermark_key_id, prometheus::Registry* registry);
  ~live_policy() override;

  // Config reload: a new snapshot of options, shaper and watermark key for the
  // requests admitted from now on (the limiter keeps its buckets). The caller
  // reconfigures `verdicts` (the policy) itself.
  void reconfigure(const policy_options& options, std::shared_ptr<const synonym_table> table,
                   std::string watermark_secret, std::uint32_t watermark_key_id);

  admission admit(std::string_view client_id, micros now, std::uint32_t estimated_tokens) override;
  bool shape(const admission& a, std::string& body) override;
  shape_outcome shape_request(const admission& a, std::string& body) override;
  std::unique_ptr<response_rewriter> watermark(const admission& a,
                                               std::string_view client_id) override;
  void settle(std::string_view client_id, const admission& a, std::uint32_t actual_tokens,
              micros now) override;

  // Sets distillguard_clients_by_verdict from the policy (call every few seconds).
  // `known_clients` (e.g. the engine's client count) gives the allow figure; 0 = tracked only.
  void refresh_gauges(std::uint64_t known_clients = 0);
  // Counts one verdict change (wire it to policy::set_audit_sink).
  void count_verdict_change();

  const rate_limiter& limiter() const { return limiter_; }

 private:
  struct metrics;
  // One immutable config snapshot.
  struct config {
    config(const policy_options& o, std::shared_ptr<const synonym_table> t, std::string secret,
           std::uint32_t key_id)
        : options(o), shaper(o.shape), table(std::move(t)), watermark_secret(std::move(secret)),
          watermark_key_id(key_id) {}
    bool enforced(const std::string& action_mode) const {
      return !options.shadow() && action_mode == "enforce";
    }
    policy_options options;
    request_shaper shaper;
    std::shared_ptr<const synonym_table> table;
    std::string watermark_secret;
    std::uint32_t watermark_key_id;
  };
  // The snapshot an admission pinned, else the current one.
  std::shared_ptr<const config> config_of(const admission& a) const;
  static bucket_limits limits_for(const config& c, const verdict_view& v, bool throttled);

  snapshot<config> config_;
  policy& verdicts_;
  rate_limiter limiter_;
  std::unique_ptr<metrics> metrics_;
};

}  // namespace dg::enforcement
