#include "server/mock_upstream.h"

#include <atomic>
#include <charconv>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "server/mock_answer.h"
#include "server/mock_cache.h"

namespace dg::server::mock {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto idle_timeout = std::chrono::minutes(5);  // longer than any gateway pool keeps a connection
constexpr auto write_timeout = std::chrono::seconds(60);
constexpr std::size_t body_limit = 64 * 1024 * 1024;
constexpr std::size_t batch_bytes = 16 * 1024;  // events coalesced per write when not paced

struct counters {
  std::atomic<std::uint64_t> accepts{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::int64_t> streams_active{0};
  std::atomic<std::uint64_t> streams_completed{0};
  std::atomic<std::uint64_t> streams_aborted{0};
  std::atomic<std::uint64_t> serial{0};
};

struct shared_state {
  explicit shared_state(upstream_options o)
      : options(std::move(o)), cache(static_cast<std::size_t>(std::max(0, options.cache_entries))) {}
  upstream_options options;
  counters stats;
  answer_cache cache;
};

int header_int(const http::request<http::string_body>& req, std::string_view name, int fallback) {
  const auto it = req.find(name);
  if (it == req.end()) return fallback;
  const std::string_view v = it->value();
  int out = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < 0) return fallback;
  return out;
}

// One client connection: read a request, answer it (whole or as a paced
// event stream), and read the next while the client keeps the connection.
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, std::shared_ptr<shared_state> state)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), state_(std::move(state)) {}

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(body_limit);
    stream_.expires_after(idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec) return close();
    // curl and others wait for this before sending a large body.
    const auto expect = parser_->get().find(http::field::expect);
    if (expect != parser_->get().end() && beast::iequals(expect->value(), "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code e, std::size_t) {
        if (e) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return write_plain(413, error_body("Request body too large", "invalid_request_error"));
    }
    if (ec) return close();
    state_->stats.requests.fetch_add(1, std::memory_order_relaxed);
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    delay_ms_ = header_int(req, "x-mock-token-delay-ms", state_->options.token_delay_ms);
    if (req.find("x-mock-close") != req.end()) return close();
    const int hang = header_int(req, "x-mock-hang-ms", 0);
    if (hang > 0) {
      timer_.expires_after(std::chrono::milliseconds(hang));
      timer_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (e) return self->close();
        self->handle();
      });
      return;
    }
    handle();
  }

  void handle() {
    const auto& req = parser_->get();
    const int forced = header_int(req, "x-mock-status", 0);
    if (forced >= 200 && forced <= 599) {
      return write_plain(static_cast<unsigned>(forced),
                         error_body("mock-upstream was asked to fail with status " + std::to_string(forced),
                                    forced == 429 ? "rate_limit_exceeded" : "server_error"));
    }
    if (req.method() == http::verb::get && req.target() == "/_mock/stats") return write_plain(200, stats_json());

    request_context ctx;
    ctx.created = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    ctx.serial = state_->stats.serial.fetch_add(1, std::memory_order_relaxed);
    // Only POSTs: a GET's answer (the model list) has ids that are not ours to rewrite.
    const bool cacheable = req.method() == http::verb::post;
    if (cacheable) {
      if (auto hit = state_->cache.find(req.method_string(), req.target(), req.body(), ctx)) {
        return write_plain(hit->status, std::move(hit->body));
      }
    }
    reply r = answer(req.method_string(), req.target(), req.body(), ctx);
    if (cacheable) state_->cache.remember(req.method_string(), req.target(), req.body(), r);
    if (!r.stream) return write_plain(r.status, std::move(r.body));
    events_ = std::move(r.stream);
    if (version_ < 11) {
      // HTTP/1.0 has no chunked encoding: send the whole stream, then close.
      std::string all;
      while (events_->next(all)) {
      }
      events_.reset();
      keep_alive_ = false;
      return write_plain(200, std::move(all), "text/event-stream; charset=utf-8");
    }
    start_stream();
  }

  std::string stats_json() const {
    const counters& c = state_->stats;
    const nlohmann::json j = {{"accepts", c.accepts.load()},
                              {"requests", c.requests.load()},
                              {"streams_active", c.streams_active.load()},
                              {"streams_completed", c.streams_completed.load()},
                              {"streams_aborted", c.streams_aborted.load()}};
    return j.dump();
  }

  void write_plain(unsigned status, std::string body, std::string_view type = "application/json") {
    res_.emplace(static_cast<http::status>(status), version_ == 0 ? 11 : version_);
    res_->set(http::field::server, "distillguard-mock");
    res_->set(http::field::content_type, type);
    res_->set("x-request-id", "req_" + std::to_string(state_->stats.serial.load(std::memory_order_relaxed)));
    res_->body() = std::move(body);
    res_->keep_alive(keep_alive_);
    res_->prepare_payload();
    stream_.expires_after(write_timeout);
    http::async_write(stream_, *res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->res_.reset();
      self->after_response(ec);
    });
  }

  void after_response(beast::error_code ec) {
    if (ec || !keep_alive_) return close();
    do_read();
  }

  void start_stream() {
    state_->stats.streams_active.fetch_add(1, std::memory_order_relaxed);
    head_.emplace(http::status::ok, 11);
    head_->set(http::field::server, "distillguard-mock");
    head_->set(http::field::content_type, "text/event-stream; charset=utf-8");
    head_->set(http::field::cache_control, "no-cache");
    head_->set("x-request-id", "req_" + std::to_string(state_->stats.serial.load(std::memory_order_relaxed)));
    head_->keep_alive(keep_alive_);
    head_->chunked(true);
    head_sr_.emplace(*head_);
    stream_.expires_after(write_timeout);
    http::async_write_header(stream_, *head_sr_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->end_stream(false);
      self->send_events(true);
    });
  }

  // Writes the next event (paced) or, unpaced, as many as fill a batch.
  void send_events(bool first) {
    if (delay_ms_ > 0 && !first) {
      timer_.expires_after(std::chrono::milliseconds(delay_ms_));
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec) return self->end_stream(false);
        self->write_events();
      });
      return;
    }
    write_events();
  }

  void write_events() {
    chunk_.clear();
    if (delay_ms_ > 0) {
      events_->next(chunk_);
    } else {
      while (chunk_.size() < batch_bytes && events_->next(chunk_)) {
      }
    }
    stream_.expires_after(write_timeout);
    if (chunk_.empty()) {
      net::async_write(stream_, http::make_chunk_last(), [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->end_stream(!ec);
        self->after_response(ec);
      });
      return;
    }
    net::async_write(stream_, http::make_chunk(net::buffer(chunk_)),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->end_stream(false);
                       self->send_events(false);
                     });
  }

  void end_stream(bool completed) {
    if (!events_) return;
    events_.reset();
    head_sr_.reset();
    head_.reset();
    chunk_ = std::string();
    state_->stats.streams_active.fetch_sub(1, std::memory_order_relaxed);
    (completed ? state_->stats.streams_completed : state_->stats.streams_aborted)
        .fetch_add(1, std::memory_order_relaxed);
    if (!completed) close();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    timer_.cancel();
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::shared_ptr<shared_state> state_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::unique_ptr<event_source> events_;
  std::optional<http::response<http::empty_body>> head_;
  std::optional<http::response_serializer<http::empty_body>> head_sr_;
  std::string chunk_;
  unsigned version_ = 11;
  int delay_ms_ = 0;
  bool keep_alive_ = true;
};

}  // namespace

struct upstream_server::impl {
  explicit impl(upstream_options o)
      : ioc(std::max(1, o.threads)), acceptor(net::make_strand(ioc)),
        state(std::make_shared<shared_state>(std::move(o))) {}

  void do_accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        state->stats.accepts.fetch_add(1, std::memory_order_relaxed);
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<session>(std::move(socket), state)->run();
      } else {
        // Out of descriptors, most likely: back off instead of spinning.
        dg::log::warn("accept failed", {{"error", ec.message()}});
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      do_accept();
    });
  }

  net::io_context ioc;
  tcp::acceptor acceptor;
  std::shared_ptr<shared_state> state;
  std::vector<std::thread> threads;
};

upstream_server::upstream_server(upstream_options options) : impl_(std::make_unique<impl>(std::move(options))) {}

upstream_server::~upstream_server() {
  stop();
  wait();
}

bool upstream_server::start(std::string& error) {
  beast::error_code ec;
  const auto address = net::ip::make_address(impl_->state->options.host, ec);
  if (ec) {
    error = "bad address '" + impl_->state->options.host + "': " + ec.message();
    return false;
  }
  const tcp::endpoint ep(address, impl_->state->options.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen on " + impl_->state->options.host + ":" +
            std::to_string(impl_->state->options.port) + ": " + ec.message();
    return false;
  }
  impl_->do_accept();
  const int n = std::max(1, impl_->state->options.threads);
  for (int i = 0; i < n; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  return true;
}

std::string upstream_server::endpoint() const {
  beast::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return {};
  const auto addr = ep.address();
  const std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}

void upstream_server::stop() {
  net::post(impl_->acceptor.get_executor(), [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->ioc.stop();
}

void upstream_server::wait() {
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

}  // namespace dg::server::mock
