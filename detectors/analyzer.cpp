#include "detectors/analyzer.h"

#include <chrono>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/log.h"
#include "common/thread_role.h"

namespace dg::detectors {
namespace {
constexpr std::size_t batch = 256;  // events folded per hold of the snapshot lock
// An idle analyzer looks at its queue every idle_poll on its own; the request
// path wakes it early only once wake_at events wait. Waking it for every event
// cost each request a futex call and a context switch on a busy machine, and
// analysis a few milliseconds later is as good.
constexpr std::size_t wake_at = 32;
constexpr auto idle_poll = std::chrono::milliseconds(5);
}

analyzer::analyzer(const detector_options& options, enforcement::policy* policy, prometheus::Registry* registry,
                   downstream down)
    : engine_(options, policy, registry), down_(std::move(down)), queue_(options.queue_capacity) {
  limits_.max_body_bytes = options.max_body_bytes;
  if (registry) {
    m_dropped_ = &prometheus::BuildCounter()
                      .Name("distillguard_analysis_events_dropped_total")
                      .Help("Events dropped because the analysis queue was full")
                      .Register(*registry)
                      .Add({});
    m_parse_errors_ = &prometheus::BuildCounter()
                           .Name("distillguard_analysis_parse_errors_total")
                           .Help("Request bodies the analyzer could not parse (the event is still analysed)")
                           .Register(*registry)
                           .Add({});
    m_depth_ = &prometheus::BuildGauge()
                    .Name("distillguard_analysis_queue_depth")
                    .Help("Events waiting for the analyzer thread")
                    .Register(*registry)
                    .Add({});
  }
}

analyzer::~analyzer() { stop(); }

void analyzer::start() {
  if (thread_.joinable()) return;
  stopping_.store(false);
  thread_ = std::thread([this] { run(); });
  set_thread_role(thread_, "dg-analyzer", thread_role::background);
}

void analyzer::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lk(wake_mu_);
    stopping_.store(true);
  }
  wake_.notify_one();
  thread_.join();
}

bool analyzer::submit(raw_event&& e) noexcept {
  std::unique_ptr<raw_event> p;
  try {
    p = std::make_unique<raw_event>(std::move(e));
  } catch (...) {  // out of memory: drop, as when full
    p.reset();
  }
  if (!p || !queue_.try_push(std::move(p))) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    if (m_dropped_) m_dropped_->Increment();
    return false;
  }
  submitted_.fetch_add(1, std::memory_order_relaxed);
  if (queue_.size() >= wake_at && sleeping_.load(std::memory_order_acquire)) wake_.notify_one();
  return true;
}

void analyzer::process(raw_event& e) {
  take_text_fields(e);
  pb::QueryEvent& ev = e.event;
  // The request path leaves the request fields to us; an event that already has them
  // (a re-submitted stored event) is not parsed again.
  if (!e.request_body.empty() && ev.prompt_text().empty() && ev.message_count() == 0) {
    status s = parse_request_body(e.request_body, ev, limits_);
    if (!s.is_ok()) {
      parse_errors_.fetch_add(1, std::memory_order_relaxed);
      if (m_parse_errors_) m_parse_errors_->Increment();
    }
  }
  engine_.observe(ev);
}

void analyzer::run() {
  std::vector<std::unique_ptr<raw_event>> work;
  work.reserve(batch);
  for (;;) {
    work.clear();
    std::unique_ptr<raw_event> e;
    while (work.size() < batch && queue_.try_pop(e)) work.push_back(std::move(e));
    if (work.empty()) {
      if (stopping_.load()) break;
      std::unique_lock lk(wake_mu_);
      sleeping_.store(true, std::memory_order_release);
      drained_.notify_all();
      // A push between try_pop and here only wakes us at the timeout: bounded latency, no lost event.
      if (queue_.size() == 0 && !stopping_.load()) wake_.wait_for(lk, idle_poll);
      sleeping_.store(false, std::memory_order_relaxed);
      continue;
    }
    {
      std::lock_guard lk(engine_mu_);
      for (auto& w : work) {
        try {
          process(*w);
        } catch (const std::exception& ex) {  // never let one event stop the pipeline
          dg::log::error("analyzer: event failed", {{"error", ex.what()}});
        }
      }
    }
    for (auto& w : work) {
      if (down_) down_(std::move(w->event));
    }
    processed_.fetch_add(work.size(), std::memory_order_release);
    if (m_depth_) m_depth_->Set(static_cast<double>(queue_.size()));
  }
  if (m_depth_) m_depth_->Set(0);
  std::lock_guard lk(wake_mu_);
  drained_.notify_all();
}

void analyzer::drain() {
  const std::uint64_t target = submitted_.load(std::memory_order_acquire);
  std::unique_lock lk(wake_mu_);
  while (processed_.load(std::memory_order_acquire) < target && thread_.joinable()) {
    wake_.notify_one();
    drained_.wait_for(lk, std::chrono::milliseconds(5));
  }
}

std::vector<client_report> analyzer::reports() const {
  std::lock_guard lk(engine_mu_);
  return engine_.reports();
}

std::optional<client_report> analyzer::report(std::string_view client_id) const {
  std::lock_guard lk(engine_mu_);
  return engine_.report(client_id);
}

std::vector<cluster_report> analyzer::clusters() const {
  std::lock_guard lk(engine_mu_);
  return engine_.clusters();
}

std::optional<pb::ClientRecord> analyzer::save(std::string_view client_id) const {
  std::lock_guard lk(engine_mu_);
  return engine_.save(client_id);
}

void analyzer::with_engine(const std::function<void(engine&)>& fn) {
  std::lock_guard lk(engine_mu_);
  fn(engine_);
}

}  // namespace dg::detectors
