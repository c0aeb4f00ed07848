#include "server/admin_client.h"

#include <charconv>
#include <cstdio>
#include <filesystem>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/admin_token.h"
#include "server/config.h"

namespace dg::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr const char* default_config = "/etc/distillguard/distillguard.yaml";

bool parse_host_port(std::string_view s, std::string& host, std::uint16_t& port) {
  std::string_view port_text;
  if (s.starts_with("[")) {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    host = std::string(s.substr(1, close - 1));
    port_text = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    host = std::string(s.substr(0, colon));
    port_text = s.substr(colon + 1);
  }
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || p == 0 || p > 65535) return false;
  port = static_cast<std::uint16_t>(p);
  return true;
}

}  // namespace

status resolve_admin_endpoint(const command_args& args, admin_endpoint& out) {
  admin_endpoint ep;
  std::optional<std::string> config = args.value("config");
  std::error_code ec;  // a default that cannot be checked (no search permission) is as if absent
  if (!config && !args.value("admin") && std::filesystem::exists(default_config, ec)) config = default_config;
  if (config) {
    try {
      const gateway_config c = load_config(*config);
      ep.host = c.admin.host;
      ep.port = c.admin.port;
      ep.token_file = c.admin.token_file;
    } catch (const std::exception& e) {
      return status::invalid_argument(std::string("cannot read the gateway config: ") + e.what());
    }
  }
  if (auto a = args.value("admin")) {
    if (!parse_host_port(*a, ep.host, ep.port)) {
      return status::invalid_argument("--admin must be HOST:PORT (got '" + *a + "')");
    }
  }
  if (auto t = args.value("token-file")) ep.token_file = *t;
  if (ep.token_file.empty()) {
    return status::invalid_argument(
        "no admin token: give --token-file FILE, or --config FILE whose admin.token_file is set");
  }
  status s = load_admin_token(ep.token_file, ep.token);
  if (!s) return s;
  out = std::move(ep);
  return status::ok();
}

std::string url_encode_segment(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

status admin_client::call(std::string_view method, std::string_view target, std::string_view body,
                          admin_reply& reply) const {
  const std::string where = ep_.host + ":" + std::to_string(ep_.port);
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  const auto endpoints = resolver.resolve(ep_.host, std::to_string(ep_.port), ec);
  if (ec) return status::unavailable("cannot resolve the admin address " + where + ": " + ec.message());
  stream.expires_after(timeout_);
  stream.connect(endpoints, ec);
  if (ec) {
    return status::unavailable("cannot reach the admin API at " + where + ": " + ec.message() +
                               " (is distillguard running? is admin.listen " + where + "?)");
  }
  http::request<http::string_body> req{http::string_to_verb(method), std::string(target), 11};
  req.set(http::field::host, where);
  req.set(http::field::user_agent, "distillguard-cli");
  req.set(http::field::authorization, "Bearer " + ep_.token);
  req.set(http::field::accept, "application/json");
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  req.prepare_payload();
  stream.expires_after(timeout_);
  http::write(stream, req, ec);
  if (ec) return status::io_error("sending to the admin API at " + where + ": " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  http::read(stream, buffer, parser, ec);
  if (ec) {
    return status::io_error("reading the admin API's answer from " + where + ": " + ec.message());
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  auto res = parser.release();
  reply.status = static_cast<int>(res.result_int());
  reply.raw = std::move(res.body());
  reply.body = nlohmann::json::parse(reply.raw, nullptr, /*allow_exceptions=*/false);
  if (reply.body.is_discarded()) reply.body = nullptr;
  return status::ok();
}

std::string admin_client::describe_error(const admin_reply& reply) const {
  std::string message;
  std::string code;
  if (reply.body.is_object() && reply.body.contains("error") && reply.body["error"].is_object()) {
    const auto& e = reply.body["error"];
    if (e.contains("message") && e["message"].is_string()) message = e["message"].get<std::string>();
    if (e.contains("code") && e["code"].is_string()) code = e["code"].get<std::string>();
  }
  if (reply.status == 401) {
    return "the admin API refused the token from " + ep_.token_file + " (" +
           (code.empty() ? "401" : code) +
           "): it must be the gateway's admin.token_file";
  }
  if (reply.status == 403) {
    return message.empty() ? "forbidden (403)" : message + " (403)";
  }
  if (message.empty()) message = reply.raw.substr(0, 300);
  return message + " (HTTP " + std::to_string(reply.status) + ")";
}

bool call_admin(const command_args& args, std::string_view method, const std::string& target,
                const std::string& body, admin_reply& reply) {
  admin_endpoint ep;
  if (status s = resolve_admin_endpoint(args, ep); !s) {
    std::fprintf(stderr, "distillguard: %s\n", s.message().c_str());
    return false;
  }
  admin_client client(std::move(ep));
  if (status s = client.call(method, target, body, reply); !s) {
    std::fprintf(stderr, "distillguard: %s\n", s.message().c_str());
    return false;
  }
  if (reply.status < 200 || reply.status > 299) {
    std::fprintf(stderr, "distillguard: %s\n", client.describe_error(reply).c_str());
    return false;
  }
  return true;
}

}  // namespace dg::server
