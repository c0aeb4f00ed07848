// Fuzz target: the request framing of the proxy listener, exactly as
// server/session.cpp reads a client's bytes:
//   - Beast's request_parser<string_body> with the config's header_limit and
//     body_limit (limits_options defaults);
//   - the obsolete-line-folding check on the raw header block;
//   - check_request_framing() once the header is in (smuggling shapes);
//   - the body, then pipelined requests on the same connection;
// and then what the session does with a parsed request: identity (with and
// without a trusted proxy), route classification, include_usage for streams,
// and prepare_upstream_request (hop-by-hop stripping, X-Forwarded-For,
// prepare_payload). The bytes arrive in chunks whose size the first input byte
// chooses, as reads from a socket would.
//
// Oracles beyond "no crash": the request forwarded upstream must itself parse
// back as one unambiguous request with the same body (a proxy must never turn
// one request into two), and an untrusted peer's X-Forwarded-For must never
// change its identity.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "server/config.h"
#include "server/headers.h"
#include "server/identity.h"

namespace {

namespace http = boost::beast::http;
namespace ip = boost::asio::ip;
using boost::system::error_code;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what);
  std::abort();
}

// The client's byte stream, handed out in fixed-size reads.
struct socket_sim {
  std::string_view input;
  std::size_t pos = 0;
  std::size_t chunk = 1;
  bool read_more(std::string& buffer) {
    if (pos >= input.size()) return false;
    const std::size_t n = std::min(chunk, input.size() - pos);
    buffer.append(input.substr(pos, n));
    pos += n;
    return true;
  }
};

const dg::server::identity_resolver& resolver() {
  static const dg::server::identity_resolver r(
      "fuzz-secret", "x-user-id",
      {*dg::server::cidr::parse("127.0.0.0/8"), *dg::server::cidr::parse("10.0.0.0/8")});
  return r;
}

// What the session forwards: see session::prepare_upstream_request.
void check_forwarded(http::request<http::string_body> req, const dg::server::client_identity& who) {
  std::string incoming_xff;
  if (who.via_trusted_proxy) incoming_xff = std::string(req["x-forwarded-for"]);
  dg::server::strip_hop_by_hop(req.base());
  req.erase(http::field::host);
  req.erase(http::field::content_length);
  req.erase(http::field::expect);
  req.erase("x-forwarded-for");
  req.erase("x-forwarded-proto");
  req.set(http::field::host, "upstream.test:8000");
  req.set("x-forwarded-for", dg::server::forwarded_for(incoming_xff, who.via_trusted_proxy, "127.0.0.1"));
  req.set("x-forwarded-proto", "http");
  req.version(11);
  if (req.method() == http::verb::trace && !req.body().empty()) {
    // Beast's prepare_payload throws std::invalid_argument here, and the
    // session does not guard it (an uncaught exception on an I/O thread).
    // Reported; tests/integration/hardening covers it end to end. Skipped so
    // that fuzzing can go on past it.
    return;
  }
  req.prepare_payload();
  std::ostringstream os;
  os << req;
  const std::string wire = os.str();

  http::request_parser<http::string_body> back;
  back.header_limit(1u << 24);
  back.body_limit(boost::none);
  back.eager(true);
  error_code ec;
  std::size_t used = 0;
  while (!ec && !back.is_done() && used < wire.size()) {
    const std::size_t n = back.put(boost::asio::buffer(wire.data() + used, wire.size() - used), ec);
    used += n;
    if (n == 0 && !ec) break;
  }
  if ((!ec || ec == http::error::need_more) && !back.is_done()) back.put_eof(ec);
  if (ec) finding("the request sent upstream does not parse");
  if (!back.is_done()) finding("the request sent upstream is incomplete");
  if (used != wire.size()) finding("the request sent upstream has trailing bytes (a second request)");
  if (back.get().body() != req.body()) finding("the body sent upstream differs");
  if (!dg::server::check_request_framing(back.get().base(), back.get().version()).empty()) {
    finding("the request sent upstream has ambiguous framing");
  }
}

void handle(http::request<http::string_body>&& req) {
  using dg::server::client_identity;
  const auto untrusted = ip::make_address("203.0.113.7");
  const client_identity stranger = resolver().identify(req.base(), untrusted);
  if (stranger.via_trusted_proxy || stranger.peer_address != "203.0.113.7") {
    finding("an untrusted peer's X-Forwarded-For changed its identity");
  }
  const client_identity who = resolver().identify(req.base(), ip::make_address("127.0.0.1"));
  if (who.client_id.size() != 32) finding("client id is not 32 hex characters");

  const auto route = dg::server::classify_route(req.target());
  (void)dg::server::path_of(req.target());
  (void)dg::server::json_deeper_than(req.body(), 64);
  bool streaming = false;
  if (req.method() == http::verb::post &&
      (route == dg::server::route_kind::chat_completions || route == dg::server::route_kind::completions) &&
      dg::server::probably_streaming(req.body())) {
    dg::server::add_include_usage(req.body(), streaming);
  }
  check_forwarded(std::move(req), who);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const dg::server::limits_options limits;  // the server's defaults
  socket_sim sock;
  // Read sizes 1, 2, 4, ... 32768: byte-at-a-time slowloris to whole requests.
  sock.chunk = std::size_t{1} << (data[0] % 16);
  sock.input = std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string buffer;

  for (int request = 0; request < 64; ++request) {  // keep-alive: pipelined requests
    http::request_parser<http::string_body> parser;
    parser.header_limit(limits.max_header_bytes);
    parser.body_limit(limits.max_body_bytes);
    if (buffer.empty() && !sock.read_more(buffer)) return 0;
    // The header (session::parse_header).
    for (;;) {
      const auto end = buffer.find("\r\n\r\n");
      if (end != std::string::npos &&
          dg::server::has_obs_fold(std::string_view(buffer).substr(0, end + 4))) {
        return 0;  // 400 and close
      }
      error_code ec;
      const std::size_t used = parser.put(boost::asio::buffer(buffer), ec);
      buffer.erase(0, used);
      if (ec == http::error::need_more) {
        if (!sock.read_more(buffer)) return 0;  // the client went away
        continue;
      }
      if (ec) return 0;  // 400 / 431 and close
      if (parser.is_header_done()) break;
      if (!sock.read_more(buffer)) return 0;
    }
    // session::on_header
    if (!dg::server::check_request_framing(parser.get().base(), parser.get().version()).empty()) {
      return 0;  // 400 and close
    }
    // The body (http::async_read's loop).
    while (!parser.is_done()) {
      error_code ec;
      const std::size_t used = buffer.empty() ? 0 : parser.put(boost::asio::buffer(buffer), ec);
      buffer.erase(0, used);
      if (ec && ec != http::error::need_more) return 0;  // 400 / 413 and close
      if (parser.is_done()) break;
      if (used == 0 || ec == http::error::need_more) {
        if (!sock.read_more(buffer)) {
          parser.put_eof(ec);
          if (ec || !parser.is_done()) return 0;
        }
      }
    }
    const bool keep_alive = parser.keep_alive();
    handle(parser.release());
    if (!keep_alive) return 0;
  }
  return 0;
}
