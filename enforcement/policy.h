// policy: turns a client's risk into a verdict (allow < watermark < throttle <
// block) and publishes it in a verdict table that the request path reads.
//
// Rules, in order of precedence:
//   1. a manual override (admin API) until it expires;
//   2. the deny list (block) and the allow list (allow), by client id or by raw
//      key hashed at load with the server's identity function;
//   3. the risk: a verdict rises as soon as the risk reaches its threshold; it
//      falls only when the risk is below threshold - hysteresis_margin AND it
//      has held for min_hold_s (no flapping). Without new scores the last risk
//      decays (half-life decay_half_life_s of event time), so a client that
//      stops relaxes.
// Every change of the verdict in force produces one pb::AuditEntry with its
// reasons, through the audit sink. Overrides are persisted by the caller:
// save()/restore() read and write the override fields of pb::ClientRecord, and
// the override sink is told of every set, clear and expiry.
//
// The policy decides; it does not enforce. Shadow mode and the per-action
// switches are applied by live_policy (the request path) from the same options.
//
// Thread safety: writers (update, advance, set_override, clear_override,
// restore) are serialised by an internal mutex; the detection engine calls
// update() from its one thread, the admin API the others from its own.
// lookup() never waits for a writer's work (see verdict_table) and may run on
// any number of threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "enforcement/policy_options.h"
#include "enforcement/verdict.h"
#include "proto/query_event.pb.h"

namespace dg {
namespace pb = ::distillguard::pb;
}

namespace dg::enforcement {

// One rescoring of a client, from the detection engine.
struct risk_input {
  std::string_view client_id;
  micros ts_micros = 0;                         // event time of the rescoring
  double risk = 0;                              // [0, 1]
  std::string_view cluster;                     // empty when not linked
  std::span<const pb::DetectorScore> scores;    // copied into the audit entry on a change
  std::span<const std::string> reasons;         // idem
  // If set, called instead of reading the two spans, and only when the verdict changes: the
  // engine rescores a flagged client every few events, and formatting its reasons each time cost
  // more than deciding.
  std::function<void(std::vector<pb::DetectorScore>& scores, std::vector<std::string>& reasons)> explain;
};

// What update() decided.
struct decision {
  verdict to = verdict::allow;    // the verdict in force now (decided; shadow is applied later)
  verdict from = verdict::allow;  // the verdict before this update
  bool changed = false;
  std::string_view source;        // "policy", "decay", "override", "allow_list", "deny_list"
};

// What the request path reads for one client.
struct verdict_view {
  verdict decided = verdict::allow;
  double risk = 0;                // the risk behind it (0 for list and override verdicts)
  bool listed = false;            // on the allow or deny list
  bool overridden = false;        // a manual override is in force
};

struct override_entry {
  std::string client_id;
  verdict to = verdict::allow;
  micros expires_micros = 0;      // 0 = never
  std::string reason;
  micros set_micros = 0;
};

class policy {
 public:
  using audit_sink = std::function<void(const pb::AuditEntry&)>;
  // Called with the client id and the override now in force (nullopt when
  // cleared or expired), so that the live driver can store it.
  using override_sink =
      std::function<void(const std::string& client_id, const std::optional<override_entry>&)>;
  // Maps a raw credential from allow_keys/deny_keys to the client ids it can
  // have (one per credential kind the server accepts it as). Unset = the key
  // lists are ignored with a warning.
  using key_hasher = std::function<std::vector<std::string>(std::string_view raw_key)>;

  explicit policy(const policy_options& options, key_hasher hasher = {});
  ~policy();
  policy(const policy&) = delete;
  policy& operator=(const policy&) = delete;

  // ---- writers --------------------------------------------------------------
  // A new risk for a client. Cheap for clients that stay at allow (no state is kept for them).
  decision update(const risk_input& in);
  // Applies decay and override expiry to every tracked client at event time `now`.
  // The live driver calls it every few seconds; replay at the end of its input.
  void advance(micros now);
  // Sets a manual override (expires_micros 0 = never). invalid_argument if the
  // client id is empty or the expiry is not after `now`.
  status set_override(std::string_view client_id, verdict to, micros expires_micros,
                      std::string reason, micros now);
  // Clears an override; false if there was none.
  bool clear_override(std::string_view client_id, micros now, std::string_view reason = {});
  // Restores a client's verdict, risk and override after a restart (from save()).
  void restore(const pb::ClientRecord& record);
  // Config reload: new thresholds, hysteresis, hold, decay and lists, keeping
  // every client's risk, history and override. The allow and deny lists are
  // rebuilt (raw keys hashed again with the hasher given here, or the one
  // given at construction when empty); every tracked or listed client is
  // re-evaluated at once: a new threshold below a client's risk raises its
  // verdict now, a higher one lets it fall only by the usual hysteresis and
  // hold. Each change of the verdict in force is audited with the reason
  // "config reloaded". Readers never see a listed client unlisted midway.
  void reconfigure(const policy_options& options, micros now, key_hasher hasher = {});

  void set_audit_sink(audit_sink sink);
  void set_override_sink(override_sink sink);

  // ---- readers --------------------------------------------------------------
  // The request path: the client's verdict at `now` (an expired override no
  // longer counts, even before advance() notices). Allocation-free; waits at
  // most for one shard's pointer swap (see verdict_table).
  verdict_view lookup(std::string_view client_id, micros now) const;
  // Fills verdict, verdict_since_micros, risk and the override_* fields.
  void save(std::string_view client_id, pb::ClientRecord& record) const;
  std::vector<override_entry> overrides() const;
  // Clients per verdict in force (index = verdict), for the gauge.
  std::vector<std::uint64_t> counts() const;
  // A copy: reconfigure() may replace the options at any time.
  policy_options options() const;

  class impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace dg::enforcement
