#include "server/admin_server.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/text_serializer.h>

#include "common/log.h"
#include "server/headers.h"
#include "server/http_errors.h"

namespace dg::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// One admin connection: read, dispatch, write, repeat (keep-alive).
class admin_session : public std::enable_shared_from_this<admin_session> {
 public:
  admin_session(tcp::socket s, const admin_server& server) : stream_(std::move(s)), server_(server) {}

  void run() { do_read(); }

 private:
  void do_read() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(1 << 20);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    if (ec) return close();
    const auto& req = parser_->get();
    admin_http_request r;
    r.method = req.method_string();
    r.target = req.target();
    r.authorization = req[http::field::authorization];
    r.body = req.body();
    admin_http_response out = server_.dispatch(r);
    res_.emplace(static_cast<http::status>(out.status), req.version());
    res_->set(http::field::content_type, out.content_type);
    res_->set(http::field::cache_control, "no-store");
    for (const auto& [k, v] : out.headers) res_->set(k, v);
    res_->body() = std::move(out.body);
    res_->keep_alive(req.keep_alive());
    res_->prepare_payload();
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *res_, [self = shared_from_this()](error_code wec, std::size_t) {
      const bool keep = self->res_->keep_alive();
      self->res_.reset();
      if (wec || !keep) return self->close();
      self->do_read();
    });
  }

  void close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const admin_server& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
};

admin_http_response text(int status, std::string body) {
  admin_http_response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = "text/plain; charset=utf-8";
  return r;
}

}  // namespace

admin_server::admin_server(asio::io_context& ioc, prometheus::Registry& registry, readiness& ready)
    : ioc_(ioc), registry_(registry), ready_(ready) {
  route("/healthz", [](const admin_http_request&) { return text(200, "ok\n"); });
  route("/readyz", [this](const admin_http_request&) {
    const auto degraded = ready_.degraded();
    if (degraded.empty()) return text(200, "ready\n");
    nlohmann::json j = {{"ready", false}, {"degraded", nlohmann::json::object()}};
    for (const auto& [name, why] : degraded) j["degraded"][name] = why;
    admin_http_response r;
    r.status = 503;
    r.body = j.dump();
    return r;
  });
  route("/metrics", [this](const admin_http_request&) {
    prometheus::TextSerializer serializer;
    admin_http_response r = text(200, serializer.Serialize(registry_.Collect()));
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  });
}

admin_server::~admin_server() { stop(); }

void admin_server::route(std::string path, handler h) { exact_[std::move(path)] = std::move(h); }

void admin_server::route_prefix(std::string prefix, handler h) {
  prefixes_.emplace_back(std::move(prefix), std::move(h));
  std::sort(prefixes_.begin(), prefixes_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

admin_http_response admin_server::dispatch(const admin_http_request& req) const {
  const std::string_view path = path_of(req.target);
  auto it = exact_.find(path);
  if (it != exact_.end()) return it->second(req);
  for (const auto& [prefix, h] : prefixes_) {
    if (path.starts_with(prefix)) return h(req);
  }
  admin_http_response r;
  r.status = 404;
  r.body = error_body("no such admin route: " + std::string(path), "invalid_request_error", "not_found");
  return r;
}

std::uint16_t admin_server::start(const std::string& host, std::uint16_t port) {
  const tcp::endpoint ep(asio::ip::make_address(host), port);
  acceptor_ = std::make_unique<tcp::acceptor>(ioc_);
  acceptor_->open(ep.protocol());
  acceptor_->set_option(asio::socket_base::reuse_address(true));
  acceptor_->bind(ep);
  acceptor_->listen(asio::socket_base::max_listen_connections);
  do_accept();
  return acceptor_->local_endpoint().port();
}

void admin_server::stop() {
  if (!acceptor_) return;
  error_code ec;
  acceptor_->close(ec);
}

void admin_server::do_accept() {
  acceptor_->async_accept([this](error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
    if (!ec) std::make_shared<admin_session>(std::move(s), *this)->run();
    do_accept();
  });
}

}  // namespace dg::server
