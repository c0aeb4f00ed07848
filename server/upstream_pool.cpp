#include "server/upstream_pool.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

#include "common/log.h"

namespace dg::server {

namespace ssl = asio::ssl;
using boost::system::error_code;

upstream_connection::upstream_connection(asio::io_context& ioc, ssl::context* tls) : plain_(ioc) {
  if (tls != nullptr) tls_.emplace(ioc, *tls);
  // Beast reads as much as the buffer has room for, and an empty flat_buffer
  // has room for 512 bytes: a 2 KB answer took four reads and four writes to
  // the client. 8 KiB (as the relay buffer) takes a typical answer, or a burst
  // of SSE events, at once, and keeps an idle stream small.
  buffer.reserve(read_buffer_bytes);
}

void upstream_connection::close() {
  error_code ec;
  socket().shutdown(tcp::socket::shutdown_both, ec);
  socket().close(ec);
}

bool upstream_connection::looks_alive() {
  if (!socket().is_open()) return false;
  char byte = 0;
  const ssize_t n = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return false;  // EOF: the upstream closed it
  if (n > 0) return false;   // bytes on an idle connection: out of sync (or a TLS alert)
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

upstream_pool::upstream_pool(asio::io_context& ioc, const upstream_options& opts,
                             ssl::context* tls, std::size_t max_idle)
    : ioc_(ioc), opts_(opts), tls_(tls), max_idle_(max_idle), resolver_(ioc), sweep_timer_(ioc) {}

upstream_pool::~upstream_pool() {
  *alive_ = false;
  close_idle();
}

std::unique_ptr<upstream_connection> upstream_pool::acquire() {
  const auto now = std::chrono::steady_clock::now();
  const auto max_idle = std::chrono::milliseconds(opts_.idle_timeout_ms);
  while (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    const auto idle_for = now - c->idle_since;
    // Idle a moment only (under load, microseconds): reused without the peek,
    // a syscall per request; the session resends on a fresh connection if it
    // turns out closed. Idle longer: the upstream may have timed it out.
    if (idle_for < max_idle && (idle_for < trust_idle || c->looks_alive())) return c;
    c->close();
  }
  return nullptr;
}

void upstream_pool::release(std::unique_ptr<upstream_connection> c) {
  if (!c || max_idle_ == 0 || !c->socket().is_open()) return;
  // Bytes after a complete response: the connection is out of step.
  if (c->buffer.size() > 0) {
    c->close();
    return;
  }
  c->idle_since = std::chrono::steady_clock::now();
  if (idle_.size() >= max_idle_) {
    idle_.front()->close();
    idle_.pop_front();
  }
  idle_.push_back(std::move(c));
  start_sweep();
}

void upstream_pool::close_idle() {
  for (auto& c : idle_) c->close();
  idle_.clear();
}

void upstream_pool::start_sweep() {
  if (sweeping_) return;
  sweeping_ = true;
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](error_code ec) {
    if (ec || alive.expired()) return;
    sweeping_ = false;
    sweep();
    if (!idle_.empty()) start_sweep();
  });
}

void upstream_pool::sweep() {
  // Oldest first: close connections idle too long or closed by the upstream.
  const auto now = std::chrono::steady_clock::now();
  const auto max_idle = std::chrono::milliseconds(opts_.idle_timeout_ms);
  std::deque<std::unique_ptr<upstream_connection>> keep;
  for (auto& c : idle_) {
    if (now - c->idle_since < max_idle && c->looks_alive()) {
      keep.push_back(std::move(c));
    } else {
      c->close();
    }
  }
  idle_.swap(keep);
}

void upstream_pool::connect(std::unique_ptr<upstream_connection>& slot, connect_handler done) {
  slot = std::make_unique<upstream_connection>(ioc_, tls_);
  upstream_connection* conn = slot.get();
  auto alive = std::weak_ptr<bool>(alive_);
  // After TCP connect: TLS handshake (SNI + name check) or done.
  auto on_connected = [this, conn, done, alive](error_code ec) mutable {
    if (alive.expired()) return;
    if (ec) return done(ec, nullptr);
    error_code ignored;
    conn->socket().set_option(tcp::no_delay(true), ignored);
    // The session writes a plain connection directly and must not block.
    if (!conn->is_tls()) conn->socket().non_blocking(true, ignored);
    if (on_open) on_open();
    if (!conn->is_tls()) return done({}, nullptr);
    const std::string& host = opts_.parsed.host;
    boost::system::error_code addr_ec;
    (void)asio::ip::make_address(host, addr_ec);
    if (addr_ec) {  // SNI only for names, never for literal addresses (RFC 6066)
      // SSL_set_tlsext_host_name is a macro with an old-style cast.
      if (SSL_ctrl(conn->tls_stream().native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                   TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str())) != 1) {
        return done(error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()),
                    nullptr);
      }
    }
    if (opts_.verify) conn->tls_stream().set_verify_callback(ssl::host_name_verification(host));
    conn->tls_stream().async_handshake(ssl::stream_base::client,
                                       [done](error_code hec) mutable { done(hec, nullptr); });
  };
  auto connect_to = [conn, on_connected](const std::vector<tcp::endpoint>& eps) mutable {
    asio::async_connect(conn->socket(), eps,
                        [on_connected](error_code ec, const tcp::endpoint&) mutable {
                          on_connected(ec);
                        });
  };
  const auto now = std::chrono::steady_clock::now();
  if (!endpoints_.empty() && now - resolved_at_ < std::chrono::seconds(30)) {
    return connect_to(endpoints_);
  }
  resolver_.async_resolve(
      opts_.parsed.host, std::to_string(opts_.parsed.port),
      [this, alive, connect_to, done](error_code ec, tcp::resolver::results_type results) mutable {
        if (alive.expired()) return;
        if (ec) return done(ec, nullptr);
        endpoints_.assign(results.begin(), results.end());
        resolved_at_ = std::chrono::steady_clock::now();
        connect_to(endpoints_);
      });
}

std::unique_ptr<ssl::context> make_upstream_tls_context(const upstream_options& opts) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (opts.verify) {
    ctx->set_verify_mode(ssl::verify_peer);
    if (!opts.ca_file.empty()) {
      ctx->load_verify_file(opts.ca_file);
    } else {
      ctx->set_default_verify_paths();
    }
  } else {
    ctx->set_verify_mode(ssl::verify_none);
    log::warn("upstream TLS verification is off (upstream.verify: false)");
  }
  return ctx;
}

}  // namespace dg::server
