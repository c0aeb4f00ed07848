#include "server/headers.h"

#include <algorithm>
#include <array>
#include <vector>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <nlohmann/json.hpp>

namespace dg::server {

namespace http = boost::beast::http;
using boost::beast::iequals;

std::string_view to_string(route_kind r) {
  switch (r) {
    case route_kind::chat_completions: return "chat_completions";
    case route_kind::completions: return "completions";
    case route_kind::embeddings: return "embeddings";
    case route_kind::responses: return "responses";
    case route_kind::models: return "models";
    case route_kind::other: return "other";
  }
  return "other";
}

std::string_view path_of(std::string_view target) {
  const auto q = target.find_first_of("?#");
  return q == std::string_view::npos ? target : target.substr(0, q);
}

route_kind classify_route(std::string_view target) {
  std::string_view p = path_of(target);
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  const auto v1 = p.find("/v1/");
  if (v1 == std::string_view::npos) return route_kind::other;
  const std::string_view rest = p.substr(v1 + 4);
  if (rest == "chat/completions") return route_kind::chat_completions;
  if (rest == "completions") return route_kind::completions;
  if (rest == "embeddings") return route_kind::embeddings;
  if (rest == "responses" || rest.starts_with("responses/")) return route_kind::responses;
  if (rest == "models" || rest.starts_with("models/")) return route_kind::models;
  return route_kind::other;
}

std::string check_request_framing(const http::fields& f, unsigned version) {
  int content_lengths = 0;
  int transfer_encodings = 0;
  for (const auto& field : f) {
    if (field.name() == http::field::content_length) {
      ++content_lengths;
      if (field.value().find(',') != std::string_view::npos) {
        return "a Content-Length list is ambiguous";
      }
    } else if (field.name() == http::field::transfer_encoding) {
      ++transfer_encodings;
    }
  }
  if (content_lengths > 1) return "more than one Content-Length";
  if (transfer_encodings > 1) return "more than one Transfer-Encoding";
  if (transfer_encodings == 1) {
    if (content_lengths == 1) return "both Content-Length and Transfer-Encoding";
    if (version < 11) return "Transfer-Encoding in an HTTP/1.0 request";
    std::string_view te = f[http::field::transfer_encoding];
    while (!te.empty() && (te.front() == ' ' || te.front() == '\t')) te.remove_prefix(1);
    while (!te.empty() && (te.back() == ' ' || te.back() == '\t')) te.remove_suffix(1);
    if (!iequals(te, "chunked")) return "only Transfer-Encoding: chunked is accepted";
  }
  return {};
}

bool has_obs_fold(std::string_view block) {
  for (std::size_t i = block.find('\n'); i != std::string_view::npos && i + 1 < block.size();
       i = block.find('\n', i + 1)) {
    const char c = block[i + 1];
    if (c == ' ' || c == '\t') return true;
  }
  return false;
}

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 6> names = {
      "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"};
  for (auto n : names) {
    if (iequals(name, n)) return true;
  }
  return name.size() >= 6 && iequals(name.substr(0, 6), "proxy-");
}

void strip_hop_by_hop(http::fields& f) {
  // Fields named by Connection are hop-by-hop too (RFC 9110 7.6.1).
  std::vector<std::string> named;
  for (auto it = f.find(http::field::connection); it != f.end() && it->name() == http::field::connection;
       ++it) {
    for (auto token : http::token_list(it->value())) named.emplace_back(token);
  }
  for (auto it = f.begin(); it != f.end();) {
    const std::string_view name = it->name_string();
    bool drop = is_hop_by_hop(name);
    for (std::size_t i = 0; !drop && i < named.size(); ++i) drop = iequals(name, named[i]);
    it = drop ? f.erase(it) : std::next(it);
  }
}

std::string forwarded_for(std::string_view incoming, bool peer_trusted, std::string_view peer) {
  std::string out;
  if (peer_trusted && !incoming.empty()) {
    out.reserve(incoming.size() + 2 + peer.size());
    out.append(incoming);
    out.append(", ");
  }
  out.append(peer);
  return out;
}

bool probably_streaming(std::string_view body) {
  for (std::size_t at = body.find("\"stream\""); at != std::string_view::npos;
       at = body.find("\"stream\"", at + 8)) {
    std::size_t i = at + 8;
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r')) ++i;
    if (i >= body.size() || body[i] != ':') continue;
    ++i;
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r')) ++i;
    if (body.substr(i, 4) == "true") return true;
  }
  return false;
}

bool json_deeper_than(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

bool add_include_usage(std::string& body, bool& streaming) {
  streaming = false;
  if (!probably_streaming(body)) return false;
  // A hostile body nested 100,000 deep would blow the stack when re-serialised.
  if (json_deeper_than(body, 256)) return false;
  // Parse once, preserving key order so the upstream sees the client's body.
  auto j = nlohmann::ordered_json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto s = j.find("stream");
  if (s == j.end() || !s->is_boolean() || !s->get<bool>()) return false;
  streaming = true;
  auto& opts = j["stream_options"];
  if (opts.is_null()) opts = nlohmann::ordered_json::object();
  if (!opts.is_object()) return false;  // the upstream will refuse it; not ours to fix
  auto u = opts.find("include_usage");
  if (u != opts.end() && u->is_boolean() && u->get<bool>()) return false;
  opts["include_usage"] = true;
  body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return true;
}

}  // namespace dg::server
