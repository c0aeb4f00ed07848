#include "server/gateway.h"

#include <openssl/ssl.h>

#include <thread>

#include <boost/asio/post.hpp>

#include "common/log.h"
#include "common/thread_role.h"
#include "server/session.h"

namespace dg::server {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using boost::system::error_code;

namespace {
std::string host_port(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}
}  // namespace

std::unique_ptr<ssl::context> make_server_tls_context(const tls_options& t) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_NO_COMPRESSION);
  // TLS 1.2: ECDHE with AEAD only. TLS 1.3 suites are all AEAD (OpenSSL's defaults).
  SSL_CTX_set_cipher_list(native,
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  ctx->use_certificate_chain_file(t.cert_file);
  ctx->use_private_key_file(t.key_file, ssl::context::pem);
  return ctx;
}

gateway::gateway(gateway_config cfg, const clock_source& clock)
    : cfg_(std::move(cfg)),
      clock_(clock),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_(*registry_),
      admin_(control_, *registry_, ready_),
      acceptor_(control_),
      signals_(control_, SIGINT, SIGTERM, SIGHUP),
      retry_timer_(control_),
      drain_timer_(control_) {
  const status s = load_or_create_secret(secret_path(cfg_), secret_);
  if (!s) throw std::runtime_error("identity secret: " + s.to_string());
  ctx_ = std::make_unique<proxy_context>(
      std::make_shared<const live_config>(
          cfg_, identity_resolver(secret_, cfg_.identity.header, cfg_.identity.trusted)),
      metrics_, clock_);
  if (cfg_.tls.enabled()) {
    client_tls_ = make_server_tls_context(cfg_.tls);
    ctx_->client_tls = true;
  }
  if (cfg_.upstream.parsed.tls) upstream_tls_ = make_upstream_tls_context(cfg_.upstream);
  ready_.add("shutdown", [this] {
    return ctx_->draining.load() ? std::string("draining: shutting down") : std::string();
  });
}

gateway::~gateway() {
  for (auto& w : workers_) {
    w->ioc.stop();
    if (w->thread.joinable()) w->thread.join();
  }
  // Pools close their idle sockets before the io_contexts go.
  for (auto& w : workers_) w->pool.reset();
  // The workers (and the sessions their io_contexts still own) are destroyed
  // after control_ (see gateway.h): a closing session must not post to it.
  ctx_->on_session_closed = nullptr;
}

void gateway::bind_proxy() {
  const tcp::endpoint ep(asio::ip::make_address(cfg_.listen_host), cfg_.listen_port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

int gateway::run() {
  log::level lvl = log::level::info;
  log::parse_level(ctx_->snapshot()->cfg.log.level, lvl);
  log::set_level(lvl);

  const unsigned n = io_thread_count(cfg_);
  const std::size_t per_worker_idle =
      cfg_.upstream.pool_size == 0 ? 0 : std::max<std::size_t>(1, static_cast<std::size_t>(cfg_.upstream.pool_size) / n);
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<worker>();
    w->pool = std::make_unique<upstream_pool>(w->ioc, cfg_.upstream, upstream_tls_.get(), per_worker_idle);
    w->pool->on_open = [this] { metrics_.upstream_connections_opened.Increment(); };
    guards_.push_back(asio::make_work_guard(w->ioc));
    workers_.push_back(std::move(w));
  }
  ctx_->on_session_closed = [this] {
    asio::post(control_, [this] {
      if (accept_paused_ && !shutting_down_ &&
          ctx_->sessions.load() < ctx_->snapshot()->cfg.limits.max_connections) {
        accept_paused_ = false;
        do_accept();
      }
    });
  };

  bind_proxy();
  const std::uint16_t admin_port = admin_.start(cfg_.admin.host, cfg_.admin.port);
  const std::uint16_t proxy_port = acceptor_.local_endpoint().port();
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    auto& w = workers_[i];
    w->thread = std::thread([&ioc = w->ioc] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          // A handler threw: our bug. Log it and keep serving the others.
          log::error("uncaught exception on an I/O thread", {{"error", e.what()}});
        }
      }
    });
    const std::string name = "dg-io-" + std::to_string(i);
    set_thread_role(w->thread, name.c_str(), thread_role::request_path);
  }
  wait_signal();
  do_accept();
  log::info("listening", {{"proxy", host_port(cfg_.listen_host, proxy_port)},
                          {"admin", host_port(cfg_.admin.host, admin_port)},
                          {"upstream", cfg_.upstream.url},
                          {"threads", n},
                          {"tls", ctx_->client_tls}});
  control_.run();
  for (auto& w : workers_) {
    w->ioc.stop();
    if (w->thread.joinable()) w->thread.join();
  }
  log::info("stopped", {{"sessions_left", ctx_->sessions.load()}});
  return 0;
}

void gateway::stop() {
  asio::post(control_, [this] { begin_shutdown(); });
}

void gateway::do_accept() {
  if (shutting_down_) return;
  if (ctx_->sessions.load() >= ctx_->snapshot()->cfg.limits.max_connections) {
    accept_paused_ = true;  // resumed when a session closes
    return;
  }
  worker& w = *workers_[next_worker_];
  next_worker_ = (next_worker_ + 1) % workers_.size();
  acceptor_.async_accept(w.ioc, [this, &w](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || shutting_down_) return;
    if (ec) {
      // Out of descriptors or memory: back off instead of spinning.
      log::warn("accept failed", {{"error", ec.message()}});
      retry_timer_.expires_after(std::chrono::milliseconds(50));
      retry_timer_.async_wait([this](error_code tec) {
        if (!tec) do_accept();
      });
      return;
    }
    ctx_->sessions.fetch_add(1);
    asio::post(w.ioc, [this, &w, s = std::move(socket)]() mutable {
      start_session(*ctx_, w, std::move(s), client_tls_.get());
    });
    do_accept();
  });
}

// SIGTERM and SIGINT drain and stop; SIGHUP reloads the config (the handler
// logs the outcome; a process without one logs and ignores it, as SIGHUP's
// default action would kill it).
void gateway::wait_signal() {
  signals_.async_wait([this](error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      if (on_reload_) {
        log::info("SIGHUP: reloading the config");
        on_reload_();
      } else {
        log::warn("SIGHUP: nothing to reload (no reload handler); the running config stays");
      }
      return wait_signal();
    }
    log::info("signal received, draining",
              {{"signal", sig}, {"drain_ms", ctx_->snapshot()->cfg.shutdown.drain_ms}});
    begin_shutdown();
  });
}

void gateway::apply_config(const gateway_config& next) {
  log::level lvl = log::level::info;
  if (log::parse_level(next.log.level, lvl)) log::set_level(lvl);
  ctx_->live.store(std::make_shared<const live_config>(
      next, identity_resolver(secret_, next.identity.header, next.identity.trusted)));
  // A higher max_connections may let a paused listener accept again.
  asio::post(control_, [this] {
    if (accept_paused_ && !shutting_down_ &&
        ctx_->sessions.load() < ctx_->snapshot()->cfg.limits.max_connections) {
      accept_paused_ = false;
      do_accept();
    }
  });
}

void gateway::begin_shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  ctx_->draining.store(true);
  error_code ec;
  acceptor_.close(ec);
  signals_.cancel(ec);
  for (auto& w : workers_) {
    asio::post(w->ioc, [&w = *w] {
      // Copy: drain() may close a session, which then leaves the set.
      std::vector<session_base*> live(w.sessions.begin(), w.sessions.end());
      for (auto* s : live) {
        if (w.sessions.contains(s)) s->drain();
      }
      w.pool->close_idle();
    });
  }
  drain_deadline_ = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(ctx_->snapshot()->cfg.shutdown.drain_ms);
  poll_drain();
}

void gateway::poll_drain() {
  if (ctx_->sessions.load() == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
    if (ctx_->sessions.load() > 0) {
      log::warn("drain time over, closing the connections left", {{"sessions", ctx_->sessions.load()}});
    }
    admin_.stop();
    guards_.clear();
    for (auto& w : workers_) w->ioc.stop();
    control_.stop();
    return;
  }
  drain_timer_.expires_after(std::chrono::milliseconds(20));
  drain_timer_.async_wait([this](error_code ec) {
    if (!ec) poll_drain();
  });
}

}  // namespace dg::server
