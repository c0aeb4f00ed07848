// admin_server: the second, small HTTP server on admin.listen. It answers
// /healthz (the process serves), /readyz (200 "ready", or 503 with what is
// degraded) and /metrics (Prometheus text from the gateway's registry through
// prometheus-cpp's TextSerializer; no civetweb exposer), plus any route other
// parts add: an exact path or a prefix (the operations API adds "/admin/").
//
// Routes are added before start(); handlers run on the admin thread, one
// request at a time per connection, and must be thread safe against the
// proxy's threads for whatever they read.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <prometheus/registry.h>

#include "server/readiness.h"

namespace dg::server {

struct admin_http_request {
  std::string_view method;         // "GET", "POST", ...
  std::string_view target;         // path and query
  std::string_view authorization;  // the Authorization header, or empty
  std::string_view body;
};

struct admin_http_response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

class admin_server {
 public:
  using handler = std::function<admin_http_response(const admin_http_request&)>;

  admin_server(boost::asio::io_context& ioc, prometheus::Registry& registry, readiness& ready);
  ~admin_server();

  // An exact path ("/healthz"); replaces a route of the same path.
  void route(std::string path, handler h);
  // Every path starting with `prefix` ("/admin/"); the longest prefix wins.
  void route_prefix(std::string prefix, handler h);

  // Binds and starts accepting; throws on a bind failure. Returns the bound port.
  std::uint16_t start(const std::string& host, std::uint16_t port);
  void stop();

  // Finds the handler for a target (exposed for tests).
  admin_http_response dispatch(const admin_http_request& req) const;

 private:
  void do_accept();

  boost::asio::io_context& ioc_;
  prometheus::Registry& registry_;
  readiness& ready_;
  std::map<std::string, handler, std::less<>> exact_;
  std::vector<std::pair<std::string, handler>> prefixes_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
};

}  // namespace dg::server
