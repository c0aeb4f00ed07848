// analyzer: the live gateway's analysis pipeline (DESIGN.md, "The analysis
// pipeline"). The request path submits each finished request (event_sink);
// the event waits in a bounded lock-free queue (full: dropped and counted in
// distillguard_analysis_events_dropped_total, never the request); one analyzer
// thread parses the request body (request_parser), folds the event into the
// engine (features, detectors, scoring, the policy's verdict), then hands the
// event to `downstream` (the live wiring passes storage: prompt privacy, then
// the event store).
//
// Thread safety: submit() from any thread, never blocking. The engine is
// driven only by the analyzer thread; reports(), report(), clusters(), save()
// and with_engine() take a mutex the analyzer thread holds only while it folds
// a batch, so the admin API gets a consistent snapshot. The engine's verdict
// callback and `downstream` run on the analyzer thread; the callback runs while
// the snapshot lock is held, so it must not call this analyzer's snapshot methods.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "detectors/bounded_queue.h"
#include "detectors/engine.h"
#include "detectors/event_sink.h"
#include "detectors/request_parser.h"

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace dg::detectors {

class analyzer final : public event_sink {
 public:
  using downstream = std::function<void(pb::QueryEvent&&)>;

  // policy and registry may be null and must outlive the analyzer. Call start() to run.
  analyzer(const detector_options& options, enforcement::policy* policy, prometheus::Registry* registry,
           downstream down);
  ~analyzer() override;  // stop()s
  analyzer(const analyzer&) = delete;
  analyzer& operator=(const analyzer&) = delete;

  void start();
  // Processes what is queued, then joins the thread. Idempotent.
  void stop();

  bool submit(raw_event&& e) noexcept override;

  // Blocks until every event submitted before the call has been processed (tests, shutdown).
  void drain();

  std::vector<client_report> reports() const;
  std::optional<client_report> report(std::string_view client_id) const;
  std::vector<cluster_report> clusters() const;
  std::optional<pb::ClientRecord> save(std::string_view client_id) const;
  // Runs `fn` on the engine under the snapshot lock (restore at start-up, set the verdict callback).
  void with_engine(const std::function<void(engine&)>& fn);

  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t processed() const { return processed_.load(std::memory_order_relaxed); }
  std::uint64_t parse_errors() const { return parse_errors_.load(std::memory_order_relaxed); }
  std::size_t queue_depth() const { return queue_.size(); }

 private:
  void run();
  void process(raw_event& e);

  parse_limits limits_;
  engine engine_;
  downstream down_;
  bounded_queue<std::unique_ptr<raw_event>> queue_;  // a pointer a cell: an idle queue costs 8 bytes a slot
  mutable std::mutex engine_mu_;  // guards engine_ against snapshot readers

  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> submitted_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> processed_{0};
  std::atomic<std::uint64_t> parse_errors_{0};
  std::thread thread_;

  prometheus::Counter* m_dropped_ = nullptr;
  prometheus::Counter* m_parse_errors_ = nullptr;
  prometheus::Gauge* m_depth_ = nullptr;
};

}  // namespace dg::detectors
