#include "server/session.h"

#include <array>
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

#include "common/log.h"
#include "server/headers.h"
#include "server/http_errors.h"
#include "server/record.h"
#include "server/sse_parser.h"
#include "server/usage.h"

namespace dg::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using boost::system::error_code;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t relay_buffer_bytes = 8192;
constexpr std::uint32_t upstream_header_limit = 64 * 1024;
// A watermarked JSON body is rewritten whole; beyond this it passes unchanged.
constexpr std::size_t max_rewrite_body = 8u << 20;
// Bytes of a JSON response kept to find "usage" (it comes last).
constexpr std::size_t usage_tail_bytes = 4096;
// After an error that closes the connection, unread request bytes are drained
// for this long so that the client reads our answer instead of a reset.
constexpr int linger_ms = 2000;
constexpr std::size_t linger_max_bytes = 1 << 20;

bool is_disconnect(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == ssl::error::stream_truncated;
}

template <class Stream>
class session final : public session_base, public std::enable_shared_from_this<session<Stream>> {
 public:
  template <class... Args>
  session(proxy_context& ctx, worker& w, Args&&... args)
      : ctx_(ctx), live_(ctx.snapshot()), worker_(w), stream_(std::forward<Args>(args)...), timer_(w.ioc) {
    // ctx_.sessions was counted by the listener at accept time.
    ctx_.metrics.connections.Increment();
    worker_.sessions.insert(this);
    buffer_.reserve(4096);
  }

  ~session() override {
    worker_.sessions.erase(this);
    if (request_active_) ctx_.metrics.in_flight.Decrement();
    if (stream_counted_) ctx_.metrics.streams_in_flight.Decrement();
    ctx_.metrics.connections.Decrement();
    ctx_.sessions.fetch_sub(1, std::memory_order_relaxed);
    if (ctx_.on_session_closed) ctx_.on_session_closed();
  }

  void run() {
    error_code ec;
    const auto ep = lowest().remote_endpoint(ec);
    if (ec) return;  // already gone
    peer_ = ep.address();
    peer_text_ = peer_.to_string();
    lowest().set_option(tcp::no_delay(true), ec);
    // Plain TCP: synchronous operations must not block (see "direct I/O").
    if constexpr (!is_tls) lowest().non_blocking(true, ec);
    if constexpr (is_tls) {
      set_deadline(phase::handshake, live_->cfg.limits.header_timeout_ms);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](error_code hec) {
                                if (hec) return self->do_close();
                                self->do_read();
                              });
    } else {
      do_read();
    }
  }

  void drain() override {
    // Between requests (or still waiting for a header): close now. In the
    // middle of a request: the response goes out with Connection: close.
    if (phase_ == phase::idle || phase_ == phase::header || phase_ == phase::handshake) {
      error_code ec;
      lowest().close(ec);
    }
  }

 private:
  static constexpr bool is_tls = !std::is_same_v<Stream, tcp::socket>;

  enum class phase {
    handshake, idle, header, body, delay, up_connect, up_write, up_header, up_body,
    client_write, linger, closed
  };
  enum class relay_mode { pass, sse_rewrite, json_rewrite };

  tcp::socket& lowest() {
    if constexpr (is_tls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  // ---- deadlines -------------------------------------------------------------
  // One timer per session. Each phase sets a deadline; the timer only re-arms
  // when the new deadline is earlier than the one it waits for, so moving a
  // deadline later costs no cancellation.
  void set_deadline(phase p, int ms) {
    phase_ = p;
    timed_out_ = false;
    deadline_ = steady::now() + std::chrono::milliseconds(ms);
    if (!timer_waiting_ || timer_at_ > deadline_) arm_timer(deadline_);
  }

  void cancel_timer() {
    timer_.cancel();
    timer_waiting_ = false;
  }

  void set_phase(phase p) {
    phase_ = p;
    timed_out_ = false;
    deadline_ = steady::time_point::max();
  }

  void arm_timer(steady::time_point at) {
    timer_at_ = at;
    timer_waiting_ = true;
    timer_.expires_at(at);
    timer_.async_wait([self = this->shared_from_this()](error_code ec) { self->on_timer(ec); });
  }

  void on_timer(error_code ec) {
    if (ec == asio::error::operation_aborted) return;  // re-armed or closing
    timer_waiting_ = false;
    if (phase_ == phase::closed || deadline_ == steady::time_point::max()) return;
    if (steady::now() < deadline_) return arm_timer(deadline_);
    on_timeout();
  }

  void on_timeout() {
    timed_out_ = true;
    error_code ec;
    switch (phase_) {
      case phase::header:
      case phase::body:
        lowest().cancel(ec);  // the read handler answers 408
        break;
      case phase::up_connect:
      case phase::up_write:
      case phase::up_header:
      case phase::up_body:
        if (up_) up_->close();  // the upstream handler answers 504 or ends the stream
        break;
      case phase::handshake:
      case phase::idle:
      case phase::client_write:
      case phase::linger:
        lowest().close(ec);
        break;
      case phase::delay:
      case phase::closed:
        break;
    }
  }

  // ---- direct I/O -----------------------------------------------------------------
  // Asio completes an operation that finished at once (a write the socket
  // took whole, a parse of bytes already buffered) by posting its handler:
  // one more trip through the scheduler and an epoll_wait(0) each. On plain
  // TCP (non-blocking) the session does such steps itself and goes on
  // directly; only a step that would block goes through Asio. The depth of
  // direct calls is bounded so that a stream whose data is always ready
  // cannot grow the stack.
  static constexpr int max_inline_depth = 8;

  void run_inline(void (session::*next)(error_code), error_code ec) {
    ++inline_depth_;
    (this->*next)(ec);
    --inline_depth_;
  }

  // ---- read -------------------------------------------------------------------
  void do_read() {
    if (ctx_.draining.load(std::memory_order_relaxed)) return do_close();
    live_ = ctx_.snapshot();  // limits of the next request from the config in force
    parser_.emplace();
    parser_->header_limit(live_->cfg.limits.max_header_bytes);
    parser_->body_limit(live_->cfg.limits.max_body_bytes);
    // The body that came with the header (a typical request) is parsed with
    // it: otherwise http::async_read found it buffered and posted its handler,
    // a round through the scheduler and an epoll_wait(0) per request.
    parser_->eager(true);
    if (buffer_.size() == 0) {
      // The first request must start within the header timeout; later ones
      // may wait the keep-alive timeout.
      set_deadline(phase::idle, requests_ == 0 ? live_->cfg.limits.header_timeout_ms
                                               : live_->cfg.limits.keepalive_timeout_ms);
      // The read that watched the client during the last response may still
      // be waiting: it reads this request.
      if (reading_) return;
      return read_more();
    }
    set_deadline(phase::header, live_->cfg.limits.header_timeout_ms);
    parse_header();  // a pipelined request may already be buffered
  }

  // At most one read of the client is outstanding (reading_); nothing else
  // touches buffer_ while it is.
  //
  // Asio tries a read at once before it waits (speculative). `expect_data`
  // false says the client is known to have nothing to send yet (it waits
  // for our response): on plain TCP the read then waits for readiness
  // first, saving a recv that would fail with EAGAIN on every request.
  void read_more(bool expect_data = true) {
    reading_ = true;
    if constexpr (!is_tls) {
      if (!expect_data) return wait_client_readable();
    }
    stream_.async_read_some(client_read_buffer(),
                            [self = this->shared_from_this()](error_code ec, std::size_t n) {
                              self->on_read_some(ec, n);
                            });
  }

  auto client_read_buffer() {
    const std::size_t room = std::max<std::size_t>(512, buffer_.capacity() - buffer_.size());
    return buffer_.prepare(std::min<std::size_t>(room, 65536));
  }

  void wait_client_readable() {
    lowest().async_wait(tcp::socket::wait_read, [self = this->shared_from_this()](error_code ec) {
      self->on_client_readable(ec);
    });
  }

  void on_client_readable(error_code ec) {
    std::size_t n = 0;
    if (!ec) {
      n = lowest().read_some(client_read_buffer(), ec);
      // Readiness without data (edge-triggered wake-ups can be spurious).
      if (ec == asio::error::would_block) return wait_client_readable();
    }
    on_read_some(ec, n);
  }

  void on_read_some(error_code ec, std::size_t n) {
    reading_ = false;
    if (phase_ == phase::linger) return on_linger_read(ec, n);
    if (request_active_) return on_watch_read(ec, n);
    if (ec) {
      if (timed_out_ && phase_ == phase::header) {
        return send_error(error_kind::request_timeout, "the request header took too long", true);
      }
      return do_close();  // idle timeout, or the client went away
    }
    buffer_.commit(n);
    if (phase_ == phase::idle) set_deadline(phase::header, live_->cfg.limits.header_timeout_ms);
    parse_header();
  }

  void parse_header() {
    const std::string_view data(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    const auto end = data.find("\r\n\r\n");
    if (end != std::string_view::npos && has_obs_fold(data.substr(0, end + 4))) {
      return send_error(error_kind::bad_request, "obsolete line folding in the request header",
                        true);
    }
    error_code ec;
    const std::size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    // need_more: the header is incomplete, or (eager) so is a chunk header of
    // the body after it, which read_body goes on with.
    if (ec == http::error::need_more) ec = {};
    if (ec) return refuse_framing(ec);
    if (!parser_->is_header_done()) return read_more();
    on_header();
  }

  void refuse_framing(error_code ec) {
    if (ec == http::error::header_limit) {
      return send_error(error_kind::headers_too_large, "the request header is too large", true);
    }
    if (ec == http::error::body_limit) {
      return send_error(error_kind::body_too_large, "the request body is too large", true);
    }
    send_error(error_kind::bad_request, "malformed request: " + ec.message(), true);
  }

  void on_header() {
    const auto& h = parser_->get();
    const std::string problem = check_request_framing(h.base(), h.version());
    if (!problem.empty()) return send_error(error_kind::bad_request, "malformed request: " + problem, true);
    if (h.method() == http::verb::trace && (h.chunked() || h.has_content_length())) {
      return send_error(error_kind::bad_request, "a TRACE request must not have a body", true);
    }
    if (parser_->is_done()) return on_request();
    set_deadline(phase::body, live_->cfg.limits.body_timeout_ms);
    auto expect = h.find(http::field::expect);
    if (expect != h.end() && beast::iequals(expect->value(), "100-continue") && h.version() >= 11) {
      static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(stream_, asio::buffer(cont.data(), cont.size()),
                               [self = this->shared_from_this()](error_code ec, std::size_t) {
                                 if (ec) return self->do_close();
                                 self->read_body();
                               });
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](error_code ec, std::size_t) {
                       self->on_body(ec);
                     });
  }

  void on_body(error_code ec) {
    if (ec) {
      if (timed_out_) {
        return send_error(error_kind::request_timeout, "the request body took too long", true);
      }
      if (is_disconnect(ec) || ec == asio::error::operation_aborted) return do_close();
      return refuse_framing(ec);
    }
    on_request();
  }

  // ---- the request's phases ---------------------------------------------------
  void on_request() {
    set_phase(phase::delay);
    // The request's config: one snapshot from here to its last byte, even if a
    // reload comes in between (a keep-alive wait may have spanned one).
    live_ = ctx_.snapshot();
    req_ = parser_->release();
    parser_.reset();
    ++requests_;
    request_active_ = true;
    ctx_.metrics.in_flight.Increment();
    start_ = steady::now();
    ts_micros_ = ctx_.clock.now();
    route_ = classify_route(req_.target());
    path_.assign(path_of(req_.target()));
    client_version_ = req_.version();
    keep_alive_ = req_.keep_alive();
    request_bytes_ = req_.body().size();
    status_ = 0;
    ttfb_micros_ = 0;
    response_bytes_ = 0;
    usage_ = {};
    streaming_ = false;
    shaped_ = false;
    client_gone_ = false;
    attempts_ = 0;
    original_body_.reset();
    rewriter_.reset();
    // Nothing of the previous response's relay state may leak into this one.
    mode_ = relay_mode::pass;
    is_sse_ = false;
    is_json_ = false;
    sse_.reset();
    tail_.clear();
    identify();
    admit();
  }

  // Phase 2: the credential becomes a client id (never kept itself).
  void identify() { who_ = live_->identity.identify(req_.base(), peer_, peer_text_); }

  // Phase 3: the client's verdict and buckets decide pass, delay or refuse.
  void admit() {
    adm_ = enforcement::admission{};
    if (ctx_.policy != nullptr) {
      const auto estimate = static_cast<std::uint32_t>(std::min<std::size_t>(req_.body().size() / 4, 1u << 20));
      adm_ = ctx_.policy->admit(who_.client_id, ts_micros_, estimate);
    }
    using act = enforcement::admission::action;
    if (adm_.act == act::refuse) {
      ctx_.metrics.requests_refused.Increment();
      return send_local(adm_.status > 0 ? adm_.status : 429, adm_.body, adm_.headers, false);
    }
    if (adm_.act == act::delay && adm_.delay_ms > 0) {
      set_phase(phase::delay);
      if (!delay_timer_) delay_timer_.emplace(worker_.ioc);
      delay_timer_->expires_after(std::chrono::milliseconds(adm_.delay_ms));
      start_watch();  // a client that gives up while tarpitted is noticed
      return delay_timer_->async_wait([self = this->shared_from_this()](error_code ec) {
        if (ec || self->client_gone_) return self->abandon();
        self->shape();
      });
    }
    shape();
  }

  // Phase 4: the policy's rewrite of the body, and include_usage for streams.
  void shape() {
    std::string& body = req_.body();
    if (ctx_.policy != nullptr && adm_.shape) {
      original_body_ = body;
      auto outcome = ctx_.policy->shape_request(adm_, body);
      shaped_ = outcome.changed;
      if (outcome.refuse) {
        ctx_.metrics.requests_refused.Increment();
        return send_local(outcome.status > 0 ? outcome.status : 400, outcome.body, {}, false);
      }
      if (!shaped_) original_body_.reset();
    }
    if (req_.method() == http::verb::post &&
        (route_ == route_kind::chat_completions || route_ == route_kind::completions) &&
        probably_streaming(body)) {
      std::string copy = body;
      if (add_include_usage(body, streaming_) && !original_body_) original_body_ = std::move(copy);
    } else if (route_ == route_kind::responses && probably_streaming(body)) {
      streaming_ = true;
    }
    if (ctx_.policy != nullptr && adm_.watermark) {
      rewriter_ = ctx_.policy->watermark(adm_, who_.client_id);
    }
    prepare_upstream_request();
    forward();
  }

  // Hop-by-hop headers go; X-Forwarded-* and the upstream's Host come in.
  void prepare_upstream_request() {
    std::string incoming_xff;
    const bool trusted = who_.via_trusted_proxy;
    if (trusted) incoming_xff = std::string(req_["x-forwarded-for"]);
    strip_hop_by_hop(req_.base());
    req_.erase(http::field::host);
    req_.erase(http::field::content_length);
    req_.erase(http::field::expect);
    req_.erase("x-forwarded-for");
    req_.erase("x-forwarded-proto");
    const auto& up = live_->cfg.upstream.parsed;
    req_.set(http::field::host, up.host_header);
    req_.set("x-forwarded-for", forwarded_for(incoming_xff, trusted, peer_text_));
    req_.set("x-forwarded-proto", ctx_.client_tls ? "https" : "http");
    if (!up.base_path.empty()) req_.target(up.base_path + std::string(req_.target()));
    req_.version(11);
    // Content-Length set by hand: prepare_payload() throws on some methods.
    const auto verb = req_.method();
    if (!req_.body().empty() || verb == http::verb::post || verb == http::verb::put ||
        verb == http::verb::patch) {
      req_.content_length(req_.body().size());
    }
  }

  // Phase 5: a pooled keep-alive connection, or a new one.
  // `fresh`: not a pooled connection (after a pooled one turned out closed).
  void forward(bool fresh = false) {
    ++attempts_;
    if (!fresh) up_ = worker_.pool->acquire();
    if (up_) {
      reused_ = true;
      ctx_.metrics.upstream_connections_reused.Increment();
      return send_upstream();
    }
    reused_ = false;
    set_deadline(phase::up_connect, live_->cfg.upstream.connect_timeout_ms);
    worker_.pool->connect(up_, [self = this->shared_from_this()](error_code ec, auto) {
      self->on_up_connect(ec);
    });
  }

  void on_up_connect(error_code ec) {
    if (client_gone_) return abandon();
    if (ec) {
      return fail_upstream(timed_out_ ? error_kind::upstream_timeout : error_kind::upstream_failed,
                           timed_out_ ? "connecting to the upstream timed out"
                                      : "cannot connect to the upstream: " + ec.message());
    }
    send_upstream();
  }

  void send_upstream() {
    up_start_ = steady::now();
    ++up_->requests;
    set_deadline(phase::up_write, live_->cfg.upstream.response_timeout_ms);
    start_watch();
    if (!up_->is_tls() && !req_.chunked()) return write_request_plain();
    req_sr_.emplace(req_);
    up_->visit([this](auto& s) {
      http::async_write(s, *req_sr_, [self = this->shared_from_this()](error_code ec, std::size_t) {
        self->on_up_write(ec);
      });
    });
  }

  // Plain TCP, a body of known length (the usual request): the header is
  // written out as Beast's serializer writes it, and goes with the body in one
  // gather write; what the socket does not take at once goes out through Asio.
  // Beast's serializer walked its buffer sequences for a sixth of the request
  // path's own instructions (callgrind).
  void write_request_plain() {
    std::string& head = up_head_;
    head.clear();
    const std::string_view method = req_.method_string(), target = req_.target();
    head.append(method.data(), method.size()).push_back(' ');
    head.append(target.data(), target.size()).push_back(' ');
    append_version(head, req_.version());
    head.append("\r\n", 2);
    append_fields(head, req_);
    gather_write(up_->socket(), head, req_.body(), &session::on_up_write);
  }

  // ---- headers and bodies written by the session (plain TCP) --------------------
  // "HTTP/x.y", as Beast writes a version.
  static void append_version(std::string& h, unsigned v) {
    h.append("HTTP/", 5).push_back(static_cast<char>('0' + v / 10));
    h.push_back('.');
    h.push_back(static_cast<char>('0' + v % 10));
  }
  // The fields in order, each "name: value", then the blank line that ends a header.
  template <class Fields>
  static void append_fields(std::string& h, const Fields& fields) {
    for (const auto& f : fields) {
      const std::string_view name = f.name_string(), value = f.value();
      h.append(name.data(), name.size()).append(": ", 2);
      h.append(value.data(), value.size()).append("\r\n", 2);
    }
    h.append("\r\n", 2);
  }

  // Writes `head` then `body` to `sock` in one gather write, then calls `done`:
  // at once when the socket took it all (or failed), else through Asio with
  // what it did not take. Both views must live until `done` runs.
  template <class Socket>
  void gather_write(Socket& sock, std::string_view head, std::string_view body,
                    void (session::*done)(error_code)) {
    const std::size_t total = head.size() + body.size();
    std::size_t n = 0;
    if (inline_depth_ < max_inline_depth) {
      error_code ec;
      if (total > 0) n = sock.write_some(std::array<asio::const_buffer, 2>{asio::buffer(head), asio::buffer(body)}, ec);
      if ((!ec && n == total) || (ec && ec != asio::error::would_block)) return run_inline(done, ec);
    }
    const std::size_t in_head = std::min(n, head.size());
    const std::array<asio::const_buffer, 2> rest{asio::buffer(head) + in_head, asio::buffer(body) + (n - in_head)};
    asio::async_write(sock, rest, [self = this->shared_from_this(), done](error_code ec, std::size_t) {
      ((*self).*done)(ec);
    });
  }

  // A pooled connection the upstream closed while idle fails before any byte
  // of a response: that request never reached it, so it is sent again, on a
  // new connection (the other idle ones may have been closed with it).
  bool retry_on_stale(error_code ec) {
    if (!reused_ || timed_out_ || attempts_ >= 3) return false;
    if (!is_disconnect(ec) && ec != http::error::end_of_stream) return false;
    up_->close();
    up_.reset();
    forward(/*fresh=*/true);
    return true;
  }

  void on_up_write(error_code ec) {
    if (client_gone_) return abandon();
    if (ec) {
      if (retry_on_stale(ec)) return;
      return fail_upstream(timed_out_ ? error_kind::upstream_timeout : error_kind::upstream_failed,
                           timed_out_ ? "the upstream did not answer in time"
                                      : "sending to the upstream failed: " + ec.message());
    }
    read_up_header();
  }

  void read_up_header() {
    up_parser_.emplace();
    up_parser_->header_limit(upstream_header_limit);
    up_parser_->body_limit(boost::none);
    if (req_.method() == http::verb::head) up_parser_->skip(true);
    if (phase_ != phase::up_write) {
      set_deadline(phase::up_header, live_->cfg.upstream.response_timeout_ms);
    } else {
      phase_ = phase::up_header;  // the deadline from sending still runs
    }
    if (!up_->is_tls()) return read_up_header_plain(/*wait_first=*/up_->buffer.size() == 0);
    up_->visit([this](auto& s) {
      http::async_read_header(s, up_->buffer, *up_parser_,
                              [self = this->shared_from_this()](error_code ec, std::size_t) {
                                self->on_up_header(ec);
                              });
    });
  }

  // The request was just sent, so the answer is rarely there yet: wait for
  // readiness, then read what came without blocking, instead of Asio's read
  // at once that fails with EAGAIN on nearly every request.
  void read_up_header_plain(bool wait_first) {
    if (!wait_first) {
      error_code ec;
      http::read_header(up_->socket(), up_->buffer, *up_parser_, ec);
      if (ec != asio::error::would_block) return on_up_header(ec);
    }
    up_->socket().async_wait(tcp::socket::wait_read, [self = this->shared_from_this()](error_code ec) {
      if (ec) return self->on_up_header(ec);
      self->read_up_header_plain(/*wait_first=*/false);
    });
  }

  void on_up_header(error_code ec) {
    if (client_gone_) return abandon();
    if (ec) {
      if (!up_parser_->got_some() && up_->buffer.size() == 0 && retry_on_stale(ec)) return;
      if (timed_out_) {
        return fail_upstream(error_kind::upstream_timeout, "the upstream did not answer in time");
      }
      if (is_disconnect(ec) || ec == asio::error::operation_aborted) {
        return fail_upstream(error_kind::upstream_failed, "the upstream closed the connection");
      }
      return fail_upstream(error_kind::upstream_failed,
                           "the upstream sent an invalid response: " + ec.message());
    }
    const unsigned status = up_parser_->get().result_int();
    if (status >= 100 && status < 200) {
      if (status == 101) {
        return fail_upstream(error_kind::upstream_failed, "the upstream switched protocols");
      }
      return read_up_header();  // an interim 1xx: the real response follows
    }
    ttfb_micros_ = micros_since(up_start_);
    ctx_.metrics.upstream_ttfb.Observe(static_cast<double>(ttfb_micros_) / 1e6);
    relay_header();
  }

  // Phase 6: the response header, then its body as it arrives.
  void relay_header() {
    auto& res = up_parser_->get();
    status_ = res.result_int();
    up_keep_alive_ = up_parser_->keep_alive();
    const std::string_view ctype = res[http::field::content_type];
    is_sse_ = ctype.size() >= 17 && beast::iequals(ctype.substr(0, 17), "text/event-stream");
    is_json_ = ctype.find("json") != std::string_view::npos;
    const auto length = up_parser_->content_length();
    const bool done = up_parser_->is_done();
    strip_hop_by_hop(res.base());
    client_keep_ = keep_alive_ && !ctx_.draining.load(std::memory_order_relaxed);
    res.version(client_version_);

    mode_ = relay_mode::pass;
    if (rewriter_ && !done && is_json_ && !is_sse_) mode_ = relay_mode::json_rewrite;
    if (rewriter_ && !done && is_sse_) mode_ = relay_mode::sse_rewrite;
    sse_.reset();
    flushed_ = false;
    tail_.clear();
    json_body_.clear();
    if (is_sse_) sse_.emplace(/*keep_raw=*/mode_ == relay_mode::sse_rewrite);
    if (is_sse_ && !stream_counted_) {
      stream_counted_ = true;
      ctx_.metrics.streams_in_flight.Increment();
    }

    if (!done) {
      if (mode_ == relay_mode::pass && length) {
        res.content_length(*length);
      } else if (client_version_ >= 11) {
        res.erase(http::field::content_length);
        res.chunked(true);
      } else {
        res.erase(http::field::content_length);
        client_keep_ = false;  // HTTP/1.0: the body ends when the connection does
      }
    }
    res.keep_alive(client_keep_);
    if (!relay_buf_) relay_buf_ = std::make_unique<char[]>(relay_buffer_bytes);
    if (mode_ == relay_mode::json_rewrite) return relay_read();

    // Plain TCP, the body passed as it comes and not chunked (the usual
    // answer): the session writes the header and the body bytes itself.
    raw_relay_ = !is_tls && mode_ == relay_mode::pass && !res.chunked();
    if (raw_relay_) {
      sr_.reset();
      head_pending_ = true;
      serialize_response_header(res);
    } else {
      sr_.emplace(res);
    }
    // When body bytes came with the header, they go out with it in one write
    // (one syscall and one packet for a typical answer); otherwise the header
    // goes now, so that a client sees a slow stream start at once.
    if (up_->buffer.size() > 0) return relay_read();
    set_deadline(phase::client_write, live_->cfg.upstream.idle_timeout_ms);
    if (raw_relay_) return raw_write({}, /*last=*/false);
    if (!is_tls && inline_depth_ < max_inline_depth) {
      error_code ec;
      http::write_header(stream_, *sr_, ec);
      if (ec != asio::error::would_block) return run_inline(&session::on_header_written, ec);
    }
    http::async_write_header(stream_, *sr_,
                             [self = this->shared_from_this()](error_code ec, std::size_t) {
                               self->on_header_written(ec);
                             });
  }

  void on_header_written(error_code ec) {
    if (ec) return client_gone();
    relay_read();
  }

  void relay_read() {
    auto& body = up_parser_->get().body();
    if (up_parser_->is_done()) {
      if (mode_ == relay_mode::json_rewrite) return send_rewritten_json();
      out_.clear();
      if (mode_ == relay_mode::sse_rewrite && !flushed_) out_ = rewriter_->flush_sse();
      flushed_ = true;
      body.data = out_.empty() ? nullptr : out_.data();
      body.size = out_.size();
      body.more = false;
      return relay_write();
    }
    body.data = relay_buf_.get();
    body.size = relay_buffer_bytes;
    set_deadline(phase::up_body, live_->cfg.upstream.idle_timeout_ms);
    // Bytes already buffered (the body that came with the header, the next
    // events of a stream) are parsed here; a read that would block goes to
    // Asio. With nothing buffered Asio reads at once, saving a failed recv.
    if (!up_->is_tls() && up_->buffer.size() > 0 && inline_depth_ < max_inline_depth) {
      error_code ec;
      http::read_some(up_->socket(), up_->buffer, *up_parser_, ec);
      if (ec != asio::error::would_block) return run_inline(&session::on_relay_read, ec);
    }
    up_->visit([this](auto& s) {
      http::async_read_some(s, up_->buffer, *up_parser_,
                            [self = this->shared_from_this()](error_code ec, std::size_t) {
                              self->on_relay_read(ec);
                            });
    });
  }

  void on_relay_read(error_code ec) {
    if (client_gone_) return abandon();
    if (ec == http::error::need_buffer) ec = {};
    auto& body = up_parser_->get().body();
    const std::size_t got = relay_buffer_bytes - body.size;
    if (ec) return relay_abort(ec);
    const std::string_view chunk(relay_buf_.get(), got);
    response_bytes_ += got;
    const bool last = up_parser_->is_done();
    switch (mode_) {
      case relay_mode::pass:
        scan_for_usage(chunk);
        // A zero-length buffer would go out as a zero-size chunk, which ends
        // a chunked body early: no data is a null buffer.
        body.data = got > 0 ? relay_buf_.get() : nullptr;
        body.size = got;
        break;
      case relay_mode::json_rewrite:
        json_body_.append(chunk);
        if (json_body_.size() > max_rewrite_body) return relay_read();  // too big to rewrite
        return relay_read();
      case relay_mode::sse_rewrite:
        rewrite_sse(chunk, last);
        body.data = out_.empty() ? nullptr : out_.data();
        body.size = out_.size();
        break;
    }
    body.more = !last;
    if (body.size == 0 && !last) return relay_read();  // nothing complete to send yet
    if (last) flushed_ = true;
    relay_write();
  }

  void relay_write() {
    set_deadline(phase::client_write, live_->cfg.upstream.idle_timeout_ms);
    if (raw_relay_) {
      const auto& body = up_parser_->get().body();
      return raw_write({static_cast<const char*>(body.data), body.data ? body.size : 0}, !body.more);
    }
    if (!is_tls && inline_depth_ < max_inline_depth) {
      error_code ec;
      http::write(stream_, *sr_, ec);
      if (ec != asio::error::would_block) return run_inline(&session::on_relay_write, ec);
    }
    http::async_write(stream_, *sr_, [self = this->shared_from_this()](error_code ec, std::size_t) {
      self->on_relay_write(ec);
    });
  }

  void on_relay_write(error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return client_gone();
    if (sr_->is_done()) return relay_done();
    relay_read();
  }

  // The response header as Beast's serializer writes it (status line, the
  // fields in order, a blank line), into head_. Beast walked its buffer
  // sequences for a tenth of the request path's own instructions (callgrind).
  template <class Body>
  void serialize_response_header(const http::response<Body>& res) {
    const unsigned code = res.result_int();
    std::string& h = res_head_;
    h.clear();
    append_version(h, res.version());
    h.push_back(' ');
    h.push_back(static_cast<char>('0' + code / 100));
    h.push_back(static_cast<char>('0' + (code / 10) % 10));
    h.push_back(static_cast<char>('0' + code % 10));
    h.push_back(' ');
    const std::string_view reason = res.reason();
    h.append(reason.data(), reason.size()).append("\r\n", 2);
    append_fields(h, res);
  }

  // Writes the header (the first time) and `body` to the client; then the
  // next read of the upstream, or the end of the response after `last`.
  void raw_write(std::string_view body, bool last) {
    if constexpr (!is_tls) {
      const std::string_view head = head_pending_ ? std::string_view(res_head_) : std::string_view();
      head_pending_ = false;
      raw_last_ = last;
      gather_write(stream_, head, body, &session::on_raw_written);
    } else {
      (void)body, (void)last;
    }
  }

  void on_raw_written(error_code ec) {
    if (ec) return client_gone();
    if (raw_last_) return relay_done();
    relay_read();
  }

  // Usage comes last: in the final SSE chunk, or at the end of a JSON body.
  void scan_for_usage(std::string_view chunk) {
    if (sse_) {
      sse_->feed(chunk, [this](sse_event& e) {
        if (e.data.find("\"usage\"") != std::string::npos) find_usage(e.data, usage_);
      });
      return;
    }
    if (!is_json_) return;
    if (chunk.size() >= usage_tail_bytes) {
      tail_.assign(chunk.substr(chunk.size() - usage_tail_bytes));
    } else {
      if (tail_.size() + chunk.size() > usage_tail_bytes) {
        tail_.erase(0, tail_.size() + chunk.size() - usage_tail_bytes);
      }
      tail_.append(chunk);
    }
  }

  // The watermark on a stream: each complete event's data is rewritten.
  void rewrite_sse(std::string_view chunk, bool last) {
    out_.clear();
    sse_->feed(chunk, [this](sse_event& e) {
      if (!e.has_data) {
        out_.append(e.raw);  // comments and keep-alives pass through
        return;
      }
      if (e.data.find("\"usage\"") != std::string::npos) find_usage(e.data, usage_);
      std::string data = rewriter_->rewrite_sse_data(e.data);
      // Whole events the rewriter held back go before this one.
      out_.append(rewriter_->flush_sse());
      if (data == e.data) {
        out_.append(e.raw);
      } else {
        e.data = std::move(data);
        out_.append(sse_parser::serialize(e));
      }
    });
    if (last && !flushed_) {
      out_.append(rewriter_->flush_sse());
      flushed_ = true;
    }
  }

  void send_rewritten_json() {
    std::string body = json_body_.size() > max_rewrite_body
                           ? std::move(json_body_)
                           : rewriter_->rewrite_json_body(json_body_);
    find_usage(body, usage_);
    json_body_.clear();
    auto& up = up_parser_->get();
    http::response<http::string_body> res{up.result(), client_version_};
    for (const auto& f : up) res.insert(f.name(), f.name_string(), f.value());
    res.body() = std::move(body);
    res.keep_alive(client_keep_);
    res.prepare_payload();
    release_upstream();
    write_local(std::move(res), false, /*direct=*/true);
  }

  // The upstream failed after the response header went out.
  void relay_abort(error_code ec) {
    ctx_.metrics.upstream_errors.Increment();
    log::warn("upstream response cut short",
              {{"client", who_.client_id}, {"path", path_}, {"error", timed_out_ ? "idle timeout" : ec.message()},
               {"bytes", response_bytes_}});
    up_->close();
    up_.reset();
    client_keep_ = false;
    if (is_sse_ && client_version_ >= 11 && sr_) {
      // End the stream cleanly with an error event the SDKs raise.
      out_ = "data: " +
             error_body(timed_out_ ? error_kind::upstream_timeout : error_kind::upstream_failed,
                        timed_out_ ? "the upstream stalled mid-stream" : "the upstream closed the stream early") +
             "\n\n";
      auto& body = up_parser_->get().body();
      body.data = out_.data();
      body.size = out_.size();
      body.more = false;
      set_deadline(phase::client_write, live_->cfg.upstream.idle_timeout_ms);
      return http::async_write(stream_, *sr_,
                               [self = this->shared_from_this()](error_code, std::size_t) {
                                 self->finish_request();
                                 self->do_close();
                               });
    }
    finish_request();
    do_close();  // the truncated body tells the client
  }

  void relay_done() {
    release_upstream();
    finish_request();
    if (client_keep_) return do_read();
    do_close();
  }

  void release_upstream() {
    if (!up_) return;
    ctx_.metrics.upstream_duration.Observe(static_cast<double>(micros_since(up_start_)) / 1e6);
    if (up_keep_alive_ && up_parser_ && up_parser_->is_done() && !client_gone_) {
      worker_.pool->release(std::move(up_));
    } else {
      up_->close();
    }
    up_.reset();
  }

  // ---- the client watch ---------------------------------------------------------
  // While the upstream works, a client that closes its end went away: the
  // upstream request is cancelled at once instead of at the next write.
  //
  // Plain TCP: the watch is an ordinary read of the client, left outstanding
  // when the response is done, where it reads the next request. Nothing is
  // cancelled or re-armed per request (a cancel cost a posted handler and an
  // epoll_wait(0), the readiness wait an epoll_ctl). Bytes it reads while the
  // request is under way are a pipelined request: kept in buffer_, read no
  // further until the response is done.
  //
  // TLS: a readable socket with nothing to read means the client went away
  // (an outstanding TLS read would decrypt the next request mid-response).
  void start_watch() {
    if constexpr (!is_tls) {
      // Bytes of a pipelined request wait in buffer_: not read further now.
      if (!reading_ && buffer_.size() == 0) read_more(/*expect_data=*/false);
      return;
    }
    if (watching_) return;
    watching_ = true;
    lowest().async_wait(tcp::socket::wait_read,
                        [self = this->shared_from_this(), gen = watch_gen_](error_code ec) {
                          self->on_watch(ec, gen);
                        });
  }

  void on_watch_read(error_code ec, std::size_t n) {
    if (!ec && n > 0) {
      buffer_.commit(n);  // a pipelined request: read after this response
      return;
    }
    if (ec == asio::error::operation_aborted) return;  // closing
    client_gone_ = true;
    if (up_) up_->close();  // pending upstream handlers see client_gone_
    if (delay_timer_) delay_timer_->cancel();
  }

  void stop_watch() {
    if constexpr (!is_tls) return;  // the read stays for the next request
    if (!watching_) return;
    watching_ = false;
    ++watch_gen_;
    error_code ec;
    lowest().cancel(ec);
  }

  void on_watch(error_code ec, std::uint64_t gen) {
    if (gen != watch_gen_) return;
    watching_ = false;
    if (ec || !request_active_) return;
    error_code aec;
    const std::size_t avail = lowest().available(aec);
    if (!aec && avail > 0) return;  // a pipelined request: read after this response
    client_gone_ = true;
    if (up_) up_->close();  // pending upstream handlers see client_gone_
    if (delay_timer_) delay_timer_->cancel();
  }

  void client_gone() {
    client_gone_ = true;
    abandon();
  }

  // The client went away mid-request: the upstream connection is closed (a
  // half-read response cannot go back to the pool) and counted.
  void abandon() {
    ctx_.metrics.client_disconnects.Increment();
    if (up_) {
      ctx_.metrics.upstream_duration.Observe(static_cast<double>(micros_since(up_start_)) / 1e6);
      up_->close();
      up_.reset();
    }
    if (status_ == 0) status_ = 499;  // nginx's "client closed request"
    finish_request();
    do_close();
  }

  void fail_upstream(error_kind kind, const std::string& message) {
    ctx_.metrics.upstream_errors.Increment();
    log::warn("upstream request failed", {{"client", who_.client_id}, {"path", path_}, {"error", message}});
    if (up_) up_->close();
    up_.reset();
    send_error(kind, message, false);
  }

  // ---- locally generated responses ---------------------------------------------
  void send_local(int status, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& headers, bool close) {
    http::response<http::string_body> res{static_cast<http::status>(status),
                                          client_version_ >= 10 ? client_version_ : 11};
    res.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) res.set(k, v);
    res.body() = body;
    write_local(std::move(res), close);
  }

  // `close`: the connection cannot be trusted for another request (framing
  // errors, timeouts) and is closed after the answer.
  void send_error(error_kind kind, const std::string& message, bool close) {
    const auto info = info_of(kind);
    if (!request_active_) {
      // Refused before a whole request arrived: counted, but there is no
      // client identity to record.
      ctx_.metrics.request_done(route_kind::other, info.status, 0);
      client_version_ = 11;
    }
    status_ = info.status;
    send_local(info.status, error_body(message, info.type, info.code), {}, close);
  }

  // `direct`: the caller does nothing after this call, so on plain TCP the
  // response is written at once (header and body in one gather write, as for
  // relayed answers) and what follows it runs here rather than from Asio.
  void write_local(http::response<http::string_body>&& res, bool close, bool direct = false) {
    stop_watch();
    status_ = res.result_int();
    local_close_ = close || !keep_alive_ || ctx_.draining.load(std::memory_order_relaxed);
    res.keep_alive(!local_close_);
    res.prepare_payload();
    response_bytes_ += res.body().size();
    local_res_ = std::move(res);
    set_deadline(phase::client_write, live_->cfg.upstream.idle_timeout_ms);
    if constexpr (!is_tls) {
      if (direct) {
        serialize_response_header(*local_res_);
        local_close_arg_ = close;
        return gather_write(stream_, res_head_, local_res_->body(), &session::on_direct_local_written);
      }
    }
    http::async_write(stream_, *local_res_,
                      [self = this->shared_from_this(), close](error_code ec, std::size_t) {
                        self->on_local_written(ec, close);
                      });
  }

  void on_direct_local_written(error_code ec) { on_local_written(ec, local_close_arg_); }
  void on_local_written(error_code ec, bool close) {
    local_res_.reset();
    finish_request();
    if (ec) return do_close();
    if (close) return linger_close();
    if (local_close_) return do_close();
    do_read();
  }

  // ---- account and record --------------------------------------------------------
  // Phases 7 and 8: tokens, timings and status become metrics, an access log
  // line and one QueryEvent for the analysis pipeline (which never blocks us).
  void finish_request() {
    if (!request_active_) return;
    request_active_ = false;
    stop_watch();
    ctx_.metrics.in_flight.Decrement();
    if (sse_ && mode_ == relay_mode::pass) sse_.reset();
    if (is_json_ && !tail_.empty()) find_usage(tail_, usage_);
    const micros duration = micros_since(start_);
    if (status_ == 0) status_ = 500;
    ctx_.metrics.request_done(route_, static_cast<int>(status_), static_cast<double>(duration) / 1e6);
    if (stream_counted_) {
      stream_counted_ = false;
      ctx_.metrics.streams_in_flight.Decrement();
    }
    ctx_.metrics.prompt_tokens.Increment(usage_.prompt_tokens);
    ctx_.metrics.completion_tokens.Increment(usage_.completion_tokens);
    const std::uint32_t tokens = usage_.prompt_tokens + usage_.completion_tokens;
    if (ctx_.policy != nullptr) ctx_.policy->settle(who_.client_id, adm_, tokens, ctx_.clock.now());
    if (live_->cfg.log.access_log) {
      log::info("access", {{"client", who_.client_id}, {"hint", who_.hint}, {"peer", who_.peer_address},
                           {"method", std::string(req_.method_string())}, {"path", path_},
                           {"status", status_}, {"duration_ms", static_cast<double>(duration) / 1000.0},
                           {"ttfb_ms", static_cast<double>(ttfb_micros_) / 1000.0},
                           {"prompt_tokens", usage_.prompt_tokens},
                           {"completion_tokens", usage_.completion_tokens},
                           {"verdict", enforcement::to_string(adm_.applied)}});
    }
    if (ctx_.sink != nullptr) record(duration);
  }

  void record(micros duration) {
    request_record r;
    r.ts_micros = ts_micros_;
    r.who = &who_;
    r.user_agent = std::string(req_[http::field::user_agent]);
    r.method = std::string(req_.method_string());
    r.route = path_;
    r.stream = streaming_;
    r.status = status_;
    r.prompt_tokens = usage_.prompt_tokens;
    r.completion_tokens = usage_.completion_tokens;
    r.ttfb_micros = ttfb_micros_;
    r.duration_micros = duration;
    r.applied = adm_.applied;
    r.shaped = shaped_;
    r.watermarked = rewriter_ != nullptr;
    r.request_bytes = request_bytes_;
    r.response_bytes = response_bytes_;
    // The analyzer sees the body the client sent, not our rewrite of it.
    r.request_body = original_body_ ? std::move(*original_body_) : std::move(req_.body());
    if (!submit_record(*ctx_.sink, std::move(r))) ctx_.metrics.events_dropped.Increment();
  }

  // ---- closing -------------------------------------------------------------------
  void do_close() {
    if (phase_ == phase::closed) return;
    finish_request();
    phase_ = phase::closed;
    cancel_timer();
    if (delay_timer_) delay_timer_->cancel();
    if (up_) {
      up_->close();
      up_.reset();
    }
    error_code ec;
    if constexpr (is_tls) {
      // A polite close_notify, bounded by a short deadline.
      set_deadline(phase::linger, 1000);
      stream_.async_shutdown([self = this->shared_from_this()](error_code) {
        error_code ec2;
        self->phase_ = phase::closed;
        self->cancel_timer();
        self->lowest().close(ec2);
      });
      return;
    }
    lowest().shutdown(tcp::socket::shutdown_send, ec);
    lowest().close(ec);
  }

  // After an error answer: stop sending, read and drop what the client still
  // sends for a moment, then close, so the answer is not lost to a reset.
  void linger_close() {
    error_code ec;
    if constexpr (is_tls) {
      return do_close();
    } else {
      lowest().shutdown(tcp::socket::shutdown_send, ec);
      set_deadline(phase::linger, linger_ms);
      linger_read();
    }
  }

  void linger_read() {
    if (reading_) return;  // the watch's read comes back to on_linger_read
    buffer_.clear();
    reading_ = true;
    lowest().async_read_some(buffer_.prepare(4096),
                             [self = this->shared_from_this()](error_code ec, std::size_t n) {
                               self->reading_ = false;
                               self->on_linger_read(ec, n);
                             });
  }

  void on_linger_read(error_code ec, std::size_t n) {
    lingered_ += n;
    if (ec || lingered_ > linger_max_bytes) {
      error_code ec2;
      phase_ = phase::closed;
      cancel_timer();
      lowest().close(ec2);
      return;
    }
    linger_read();
  }

  micros micros_since(steady::time_point t) const {
    return std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t).count();
  }

  proxy_context& ctx_;
  std::shared_ptr<const live_config> live_;  // the config of the current request
  worker& worker_;
  Stream stream_;
  asio::steady_timer timer_;
  steady::time_point deadline_ = steady::time_point::max();
  steady::time_point timer_at_{};
  bool timer_waiting_ = false;
  bool timed_out_ = false;
  phase phase_ = phase::idle;

  asio::ip::address peer_;
  std::string peer_text_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> req_;
  std::uint64_t requests_ = 0;

  // The request in flight.
  bool request_active_ = false;
  steady::time_point start_{};
  micros ts_micros_ = 0;
  route_kind route_ = route_kind::other;
  std::string path_;
  unsigned client_version_ = 11;
  bool keep_alive_ = true;
  bool client_keep_ = true;
  bool local_close_ = false;
  client_identity who_;
  enforcement::admission adm_;
  std::optional<asio::steady_timer> delay_timer_;
  std::optional<std::string> original_body_;
  std::unique_ptr<enforcement::response_rewriter> rewriter_;
  bool shaped_ = false;
  bool streaming_ = false;
  bool client_gone_ = false;
  std::uint64_t request_bytes_ = 0;
  std::uint64_t response_bytes_ = 0;
  unsigned status_ = 0;
  micros ttfb_micros_ = 0;
  token_usage usage_;

  // Upstream.
  std::unique_ptr<upstream_connection> up_;
  bool reused_ = false;
  int attempts_ = 0;
  steady::time_point up_start_{};
  std::optional<http::response_parser<http::buffer_body>> up_parser_;
  std::optional<http::response_serializer<http::buffer_body>> sr_;
  bool raw_relay_ = false;     // the session writes the response itself (relay_header)
  bool head_pending_ = false;  // res_head_ is not written yet
  bool raw_last_ = false;      // the write under way ends the response
  bool local_close_arg_ = false;  // write_local's `close`, for its direct write
  std::string res_head_;
  bool up_keep_alive_ = false;
  relay_mode mode_ = relay_mode::pass;
  bool is_sse_ = false;
  bool stream_counted_ = false;  // counted in streams_in_flight until finish_request
  bool is_json_ = false;
  bool flushed_ = false;
  std::unique_ptr<char[]> relay_buf_;
  std::optional<sse_parser> sse_;
  std::string out_;
  std::string tail_;
  std::string json_body_;
  std::optional<http::response<http::string_body>> local_res_;

  bool watching_ = false;  // TLS watch
  bool reading_ = false;   // a read of the client is outstanding
  int inline_depth_ = 0;
  std::optional<http::request_serializer<http::string_body>> req_sr_;
  std::string up_head_;  // the request header for the upstream (write_request_plain)
  std::uint64_t watch_gen_ = 0;
  std::size_t lingered_ = 0;
};

}  // namespace

void start_session(proxy_context& ctx, worker& w, tcp::socket socket, ssl::context* tls) {
  if (tls != nullptr) {
    std::make_shared<session<ssl::stream<tcp::socket>>>(ctx, w, std::move(socket), *tls)->run();
  } else {
    std::make_shared<session<tcp::socket>>(ctx, w, std::move(socket))->run();
  }
}

}  // namespace dg::server
