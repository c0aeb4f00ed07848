// upstream_pool: keep-alive connections to the upstream, reused across
// requests. There is one pool per I/O thread (worker), so a connection, its
// socket and the session using it all live on one io_context and nothing here
// takes a lock. HTTPS upstreams go through OpenSSL with peer verification and
// SNI.
//
// Not thread safe: use a pool only from its worker's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "server/config.h"

namespace dg::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// One connection to the upstream, plain or TLS, with the buffer its responses
// are read through (it stays with the connection, since bytes of a response
// may follow in it).
class upstream_connection {
 public:
  upstream_connection(asio::io_context& ioc, asio::ssl::context* tls);

  tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
  bool is_tls() const { return tls_.has_value(); }
  asio::ssl::stream<tcp::socket>& tls_stream() { return *tls_; }

  // Calls f with the stream to read and write (tcp::socket& or ssl::stream&).
  template <class F>
  decltype(auto) visit(F&& f) {
    if (tls_) return f(*tls_);
    return f(plain_);
  }

  // Closes the socket (aborting pending operations); safe to call twice.
  void close();
  // True if an idle connection shows no sign of having been closed by the
  // peer: no EOF and no unexpected bytes waiting (non-blocking peek).
  bool looks_alive();

  static constexpr std::size_t read_buffer_bytes = 8192;
  boost::beast::flat_buffer buffer;
  std::uint64_t requests = 0;  // requests sent on it so far
  std::chrono::steady_clock::time_point idle_since{};

 private:
  tcp::socket plain_;
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
};

class upstream_pool {
 public:
  using connect_handler =
      std::function<void(boost::system::error_code, std::unique_ptr<upstream_connection>)>;

  upstream_pool(asio::io_context& ioc, const upstream_options& opts, asio::ssl::context* tls,
                std::size_t max_idle);
  ~upstream_pool();

  // Connections idle for less than this are handed out without a look at the
  // socket (looks_alive(), a recv syscall): one the upstream closed in that
  // moment fails before any byte of a response, and the session sends the
  // request again on a new connection (its retry on a stale connection).
  static constexpr std::chrono::milliseconds trust_idle{1000};

  // The most recently used idle connection: one idle for less than
  // trust_idle as it is, an older one if it still looks alive; or nullptr.
  std::unique_ptr<upstream_connection> acquire();
  // Opens a new connection (resolve, TCP connect, TLS handshake with SNI and
  // verification). The caller bounds it with its own deadline and aborts it
  // by closing `pending()` ... see session. `on_open` counts new connections.
  void connect(std::unique_ptr<upstream_connection>& slot, connect_handler done);
  // Returns a connection after a complete response with keep-alive.
  void release(std::unique_ptr<upstream_connection> c);
  // Closes every idle connection (shutdown).
  void close_idle();
  std::size_t idle() const { return idle_.size(); }

  std::function<void()> on_open;  // called for every connection opened

 private:
  void sweep();
  void start_sweep();

  asio::io_context& ioc_;
  const upstream_options& opts_;
  asio::ssl::context* tls_;
  std::size_t max_idle_;
  std::deque<std::unique_ptr<upstream_connection>> idle_;  // most recently used at the back
  tcp::resolver resolver_;
  std::vector<tcp::endpoint> endpoints_;  // cached resolution
  std::chrono::steady_clock::time_point resolved_at_{};
  asio::steady_timer sweep_timer_;
  bool sweeping_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// An ssl::context for an upstream: TLS 1.2+, peer verification unless
// `opts.verify` is off, the CA file or the system's trust store.
std::unique_ptr<asio::ssl::context> make_upstream_tls_context(const upstream_options& opts);

}  // namespace dg::server
