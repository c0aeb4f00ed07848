// engine: the detection engine. Folds QueryEvents, in time order, into bounded
// per-client state in every enabled detector, rescores each client every K of
// its events or T seconds of event time, combines the detector scores into one
// risk, asks the enforcement policy (or the configured thresholds) for a
// verdict, and links accounts into clusters that are scored as one.
//
// One engine, two drivers: the live analyzer thread and `distillguard replay`
// call the same observe(), so a replay decides what the gateway decided. Time
// comes only from the events (ts_micros); nothing reads the wall clock, every
// hash is seeded, and every output is sorted, so the same input in the same
// order gives the same reports byte for byte.
//
// Thread safety: none. One thread owns an engine (the analyzer wraps it with a
// snapshot method for the admin API).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "detectors/detector_options.h"
#include "enforcement/verdict.h"
#include "proto/query_event.pb.h"

namespace prometheus {
class Registry;
}

namespace dg {
namespace pb = ::distillguard::pb;
}

namespace dg::enforcement {
class policy;
}

namespace dg::detectors {

// One detector's part in a risk.
struct detector_part {
  std::string detector;  // "volume", "cadence", "coverage", "templates", "prada", "mmd",
                         // "reasoning", "conversation", "extraction", "linking"
  double score = 0;      // [0, 1]
  double weight = 0;     // from the config
  std::string reason;    // a sentence a person can read; empty when there is nothing to say
};

struct client_report {
  std::string client_id;
  std::string client_hint;
  std::uint64_t events = 0;
  double risk = 0;                       // [0, 1], after cluster inheritance
  double own_risk = 0;                   // from the client's own traffic only
  enforcement::verdict verdict = enforcement::verdict::allow;
  std::uint64_t first_action_event = 0;  // client's events seen when verdict first rose above allow; 0 = never
  micros first_action_ts_micros = 0;     // event time of that moment; 0 = never
  micros first_seen_micros = 0;
  micros last_seen_micros = 0;
  std::string cluster;                   // cluster id ("c-<hex>"), empty when not linked
  std::vector<detector_part> scores;     // every enabled detector, in a fixed order
  std::vector<std::string> reasons;      // the reasons of the detectors that matter, strongest first
};

struct cluster_report {
  std::string cluster;                   // "c-<hex>", stable for a given input
  std::vector<std::string> members;      // client ids, sorted
  std::vector<std::string> links;        // what linked them: "system prompt", "template", ...
  std::uint64_t events = 0;              // events folded into the cluster's union state
  double risk = 0;
  std::vector<detector_part> scores;
  std::vector<std::string> reasons;
};

// A verdict change, for the live driver's audit log and storage.
struct verdict_change {
  std::string client_id;
  micros ts_micros = 0;
  enforcement::verdict from = enforcement::verdict::allow;
  enforcement::verdict to = enforcement::verdict::allow;
  double risk = 0;
  std::vector<detector_part> scores;
  std::vector<std::string> reasons;
  std::string source;                    // "policy", "thresholds", "cluster", or the policy's own source
  std::string cluster;
};

class engine {
 public:
  using verdict_callback = std::function<void(const verdict_change&)>;

  // policy may be null: verdicts then come from the thresholds in options.scoring.
  // registry may be null: no metrics. Both must outlive the engine.
  explicit engine(const detector_options& options, enforcement::policy* policy = nullptr,
                  prometheus::Registry* registry = nullptr);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Folds one event. Computes ev.features if absent (features.version == 0) and
  // fills them in, so the caller stores what the engine saw. Events should come
  // in time order; an event older than the client's last one is folded with its
  // time clamped to the last one's.
  void observe(pb::QueryEvent& ev);

  // Called on every verdict change of a client (own or inherited from its cluster).
  void set_verdict_callback(verdict_callback cb);

  // Rescores every client and cluster now (end of a replay; before reports()).
  void flush();

  // Every client, sorted by client_id.
  std::vector<client_report> reports() const;
  std::optional<client_report> report(std::string_view client_id) const;
  // Every cluster of two or more clients, sorted by cluster id.
  std::vector<cluster_report> clusters() const;

  // Saves one client (risk, verdict, scores, detector state, versioned) for a restart.
  std::optional<pb::ClientRecord> save(std::string_view client_id) const;
  // Restores a client saved by save(); replaces any state it had here.
  status restore(const pb::ClientRecord& record);

  std::vector<std::string> client_ids() const;  // sorted
  std::size_t client_count() const;
  std::uint64_t events_observed() const;
  // Bytes of per-client detector state (sum over clients, heap included): the size accounting
  // the benchmark reports.
  std::size_t state_bytes() const;
  const detector_options& options() const;
  // Config reload: new weights, enabled switches, detector thresholds, scoring
  // and max_clients, keeping every client's and cluster's state; they apply
  // from the next event and rescoring. The feature seed and the account
  // linker's options (except linking.weight) stay as constructed: the server
  // refuses a reload that changes them (they need a restart).
  void reconfigure(const detector_options& options);

  class impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace dg::detectors
