// gateway: the live proxy process. It owns the I/O workers (one io_context
// and thread each), the proxy listener, the admin listener, the metrics
// registry and the identity secret, and runs until SIGTERM or SIGINT, then
// drains: it stops accepting, lets requests and streams in flight finish for
// up to shutdown.drain_ms, and returns 0.
//
// Wiring before run(): set_policy / set_event_sink (optional; null = no
// enforcement / no recording), admin().route(...), ready().add(...),
// set_reload_handler (what SIGHUP does).
//
// Config reload: apply_config() swaps in the request path's new config
// snapshot (limits, upstream timeouts, identity header and trusted proxies,
// access log, drain time) and the log level; requests already under way keep
// the snapshot they started with. config() stays the config of the start: the
// listeners, threads, TLS and upstream pool are built from it and a reload
// never changes them (the caller refuses a reload that would).
//
// Thread safety: configure from one thread before run(); stop() and
// apply_config() may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
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

  // The config the gateway started with (listeners, threads, TLS, pool).
  const gateway_config& config() const { return cfg_; }
  // The config in force now (after any reload) with its identity resolver.
  std::shared_ptr<const live_config> live() const { return ctx_->snapshot(); }
  prometheus::Registry& registry() { return *registry_; }
  const std::shared_ptr<prometheus::Registry>& registry_ptr() { return registry_; }
  readiness& ready() { return ready_; }
  admin_server& admin() { return admin_; }
  gateway_metrics& metrics() { return metrics_; }

  void set_policy(enforcement::request_policy* p) { ctx_->policy = p; }
  void set_event_sink(detectors::event_sink* s) { ctx_->sink = s; }
  // Called on the control thread for every SIGHUP (it reloads and logs the outcome).
  void set_reload_handler(std::function<void()> f) { on_reload_ = std::move(f); }

  // Makes `next` the config of the requests that start from now on. The
  // caller has validated it and checked that it changes no restart-only key.
  void apply_config(const gateway_config& next);
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
  std::string secret_;  // the identity secret (read once; its file is restart-only)
  std::function<void()> on_reload_;
  std::unique_ptr<proxy_context> ctx_;
  std::unique_ptr<boost::asio::ssl::context> client_tls_;
  std::unique_ptr<boost::asio::ssl::context> upstream_tls_;

  // The workers outlive control_: a pending accept on control_ holds a socket
  // of a worker's io_context, and destroying it after that io_context was a
  // heap-use-after-free at every shutdown (ASan). ~gateway() unhooks
  // on_session_closed, so sessions destroyed with the workers post nothing to
  // the control_ that is gone by then.
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  boost::asio::io_context control_{1};  // signals, accept, admin, drain
  admin_server admin_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer drain_timer_;
  std::size_t next_worker_ = 0;
  bool accept_paused_ = false;
  bool shutting_down_ = false;
  std::chrono::steady_clock::time_point drain_deadline_{};
};

// A server TLS context: TLS 1.2 and 1.3 only, forward-secret AEAD ciphers.
std::unique_ptr<boost::asio::ssl::context> make_server_tls_context(const tls_options& t);

}  // namespace dg::server
