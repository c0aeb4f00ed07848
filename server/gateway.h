// gateway: the live proxy process. It owns the I/O workers (one io_context
// and thread each), the proxy listener, the admin listener, the metrics
// registry and the identity secret, and runs until SIGTERM or SIGINT, then
// drains: it stops accepting, lets requests and streams in flight finish for
// up to shutdown.drain_ms, and returns 0.
//
// Wiring before run(): set_policy / set_event_sink (optional; null = no
// enforcement / no recording), admin().route(...), ready().add(...).
// Thread safety: configure from one thread before run(); stop() may be called
// from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <prometheus/registry.h>

#include "common/clock.h"
#include "server/admin_server.h"
#include "server/config.h"
#include "server/identity.h"
#include "server/metrics.h"
#include "server/proxy_context.h"
#include "server/readiness.h"

namespace dg::server {

class gateway {
 public:
  // Reads (or creates) the identity secret; throws std::runtime_error on failure.
  gateway(gateway_config cfg, const clock_source& clock);
  ~gateway();

  const gateway_config& config() const { return cfg_; }
  prometheus::Registry& registry() { return *registry_; }
  const std::shared_ptr<prometheus::Registry>& registry_ptr() { return registry_; }
  readiness& ready() { return ready_; }
  admin_server& admin() { return admin_; }
  const identity_resolver& identity() const { return *identity_; }
  gateway_metrics& metrics() { return metrics_; }

  void set_policy(enforcement::request_policy* p) { ctx_->policy = p; }
  void set_event_sink(detectors::event_sink* s) { ctx_->sink = s; }

  // Binds both listeners (throws if it cannot), logs
  // {"msg":"listening","proxy":"HOST:PORT","admin":"HOST:PORT"} with the
  // bound ports, serves until a signal or stop(), drains, and returns 0.
  int run();
  // Begins the graceful shutdown (as SIGTERM does).
  void stop();

 private:
  void bind_proxy();
  void do_accept();
  void begin_shutdown();
  void wait_signal();
  void poll_drain();

  gateway_config cfg_;
  const clock_source& clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  gateway_metrics metrics_;
  readiness ready_;
  std::unique_ptr<identity_resolver> identity_;
  std::unique_ptr<proxy_context> ctx_;
  std::unique_ptr<boost::asio::ssl::context> client_tls_;
  std::unique_ptr<boost::asio::ssl::context> upstream_tls_;

  boost::asio::io_context control_{1};  // signals, accept, admin, drain
  admin_server admin_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer drain_timer_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::size_t next_worker_ = 0;
  bool accept_paused_ = false;
  bool shutting_down_ = false;
  std::chrono::steady_clock::time_point drain_deadline_{};
};

// A server TLS context: TLS 1.2 and 1.3 only, forward-secret AEAD ciphers.
std::unique_ptr<boost::asio::ssl::context> make_server_tls_context(const tls_options& t);

}  // namespace dg::server
