// proxy_context and worker: what every client session shares. The context is
// built once; what a config reload may change (limits, upstream timeouts,
// identity, access log) sits in one immutable live_config in a dg::snapshot.
// A session loads it at the start of each request and uses it to the end of
// that request, so a reload never changes a request midway, and the request
// path takes no lock for it (one atomic load and a shared_ptr copy). A worker is one
// io_context with its thread, its upstream pool and the sessions living on it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_set>

#include <boost/asio/io_context.hpp>

#include "common/clock.h"
#include "common/snapshot.h"

#include "enforcement/request_policy.h"
#include "server/config.h"
#include "server/identity.h"
#include "server/metrics.h"
#include "server/upstream_pool.h"

namespace dg::detectors {
class event_sink;  // detectors/event_sink.h; only record.cpp needs the schema
}

namespace dg::server {

// One config as the request path sees it: the whole validated config and the
// identity resolver built from it (same secret, its header and trusted proxies).
struct live_config {
  live_config(gateway_config c, identity_resolver id) : cfg(std::move(c)), identity(std::move(id)) {}
  gateway_config cfg;
  identity_resolver identity;
};

struct proxy_context {
  proxy_context(std::shared_ptr<const live_config> initial, gateway_metrics& m, const clock_source& clk)
      : live(std::move(initial)), metrics(m), clock(clk) {}

  // The config in force; a reload stores a new one (gateway::apply_config).
  std::shared_ptr<const live_config> snapshot() const { return live.load(); }

  dg::snapshot<live_config> live;
  gateway_metrics& metrics;
  const clock_source& clock;
  enforcement::request_policy* policy = nullptr;  // null: no enforcement
  detectors::event_sink* sink = nullptr;          // null: events are not recorded
  bool client_tls = false;                        // the listener speaks TLS

  std::atomic<bool> draining{false};  // shutdown began: finish, then close
  std::atomic<int> sessions{0};       // client connections open
  std::function<void()> on_session_closed;  // lets the listener resume accepting
};

// What a worker can ask of a live session.
class session_base {
 public:
  virtual ~session_base() = default;
  // Shutdown began: close now if idle between requests, else after the response.
  virtual void drain() = 0;
};

struct worker {
  // Declared first so that it outlives the io_context, whose destruction
  // destroys the sessions still owned by pending handlers.
  std::unordered_set<session_base*> sessions;
  boost::asio::io_context ioc{1};
  std::unique_ptr<upstream_pool> pool;
  std::thread thread;
};

}  // namespace dg::server
