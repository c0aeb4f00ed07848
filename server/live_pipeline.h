// live_pipeline: the engine's live driver, assembled around a gateway. It owns
// the event store, the enforcement policy and its request-path face
// (live_policy), the analyzer (bounded queue -> detectors -> storage) and the
// admin API, and wires them to each other and to the gateway:
//
//   request path --raw_event--> analyzer --QueryEvent--> prompt privacy --> store
//   engine --risk--> policy --audit entry--> store (audit), verdict metrics
//   admin API --override--> policy --override sink--> store (clients)
//
// A housekeeping thread applies decay and override expiry (policy::advance),
// refreshes the verdict gauges, and saves the state of recently active
// clients so that verdicts and detector state survive a restart (verdict
// changes are saved at once). start() restores every saved client.
//
// Config reload (SIGHUP and POST /admin/reload, both through reload()): the
// file the gateway started with is read and validated again; a bad file, or
// one that changes a restart-only key (server/config_reload.h), changes
// nothing and reports every error. A good one is applied part by part, each
// part atomically: the gateway's request-path snapshot (limits, timeouts,
// identity, log), the policy (thresholds, lists; verdicts and overrides kept),
// the live policy (mode, switches, limits, shaping, block response, watermark
// keys; rate-limit buckets kept) and the engine (detector options; every
// client's state kept). Requests under way finish on the snapshots they took.
// Every attempt is counted in distillguard_config_reloads_total{result}.
//
// Thread safety: create/start/stop from the thread that runs the gateway.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/status.h"
#include "detectors/analyzer.h"
#include "enforcement/live_policy.h"
#include "enforcement/policy.h"
#include "server/admin_api.h"
#include "server/gateway.h"
#include "server/ops_metrics.h"
#include "storage/event_store.h"

namespace dg::server {

class live_pipeline {
 public:
  // Builds every part from gw.config() and plugs them into `gw` (policy,
  // event sink, /admin/ routes, readiness, SIGHUP). `reload` is what POST
  // /admin/reload and SIGHUP call; empty = reload() (tests may pass their
  // own). Fails with a clear message (store cannot be opened, admin token
  // file unsafe, ...); the caller exits non-zero.
  static status create(gateway& gw, const clock_source& clock, std::function<reload_result()> reload,
                       std::unique_ptr<live_pipeline>& out);
  ~live_pipeline();

  // Stops the analyzer after it has processed what is queued, saves every
  // client, closes the store. Idempotent.
  void stop();

  detectors::analyzer& analyzer() { return *analyzer_; }
  enforcement::policy& policy() { return *policy_; }
  storage::event_store& store() { return *store_; }

  // Re-reads gw.config().file and applies it (see above). Serialised; may be
  // called from any thread. Not counted in the metrics: create() wraps it.
  reload_result reload();

  // The config now in force, as GET /admin/config shows it (after a reload).
  void set_config(std::shared_ptr<const gateway_config> c) {
    std::lock_guard lock(config_mu_);
    config_ = std::move(c);
  }

 private:
  live_pipeline(gateway& gw, const clock_source& clock);
  status build(std::function<reload_result()> reload);
  admin_sources admin_sources_for(std::function<reload_result()> reload);
  void housekeeping();
  // Saves the named clients (engine state, verdict, override) in one batch.
  void save_clients(const std::set<std::string>& ids);
  void mark_dirty(const std::string& id, bool urgent);
  // Maps a raw key of the allow/deny lists to the client ids the gateway
  // would give it, with the identity settings in force when it is called.
  enforcement::policy::key_hasher key_hasher();

  gateway& gw_;
  const clock_source& clock_;
  std::unique_ptr<storage::event_store> store_;
  std::unique_ptr<enforcement::policy> policy_;
  std::unique_ptr<enforcement::live_policy> request_policy_;
  std::unique_ptr<detectors::analyzer> analyzer_;
  std::unique_ptr<ops_metrics> ops_;  // build info, reloads
  std::shared_ptr<const admin_api> admin_;
  std::mutex config_mu_;
  std::shared_ptr<const gateway_config> config_;
  std::string identity_secret_;  // for the derived watermark secret on reload
  std::mutex reload_mu_;         // one reload at a time

  std::mutex dirty_mu_;
  std::set<std::string> dirty_;          // clients with events since their last save
  std::set<std::string> urgent_;         // clients whose verdict or override changed
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
  std::thread housekeeper_;
};

}  // namespace dg::server
