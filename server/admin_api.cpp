#include "server/admin_api.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "server/admin_config_json.h"
#include "server/admin_json.h"
#include "server/admin_token.h"
#include "server/http_errors.h"

namespace dg::server {

using nlohmann::json;

namespace {

// Invalid UTF-8 (a prompt prefix cut mid-character, a user agent) must not
// make dump() throw: replace it.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

admin_response json_response(int status, const json& j) {
  admin_response r;
  r.status = status;
  r.body = dump(j);
  return r;
}

admin_response error_response(int status, std::string_view message, std::string_view code) {
  std::string_view type = "invalid_request_error";
  if (status == 401 || status == 403) type = "authentication_error";
  if (status >= 500) type = "server_error";
  admin_response r;
  r.status = status;
  r.body = error_body(message, type, code);
  return r;
}

admin_response method_not_allowed(std::string_view allow) {
  auto r = error_response(405, "method not allowed; use " + std::string(allow), "method_not_allowed");
  r.headers.emplace_back("allow", std::string(allow));
  return r;
}

admin_response not_wired(std::string_view what) {
  return error_response(501, std::string(what) + " is not available in this gateway", "not_wired");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of one path segment or query value ('+' is a space in a query).
bool url_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

// The value of `key` in a query string, decoded.
std::optional<std::string> query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    std::string k;
    if (url_decode(pair.substr(0, eq), k, true) && k == key) {
      std::string v;
      if (eq == std::string_view::npos) return std::string();
      if (url_decode(pair.substr(eq + 1), v, true)) return v;
      return std::nullopt;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// A count from the query: `fallback` when absent, an error message when malformed.
bool count_param(std::string_view query, std::string_view key, std::size_t fallback,
                 std::size_t max, std::size_t& out, std::string& error) {
  const auto v = query_param(query, key);
  out = fallback;
  if (!v) return true;
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n > max) {
    error = std::string(key) + " must be an integer between 0 and " + std::to_string(max);
    return false;
  }
  out = n;
  return true;
}

// Client ids are hex digests; anything else in the path is refused before any
// lookup (no path tricks, no huge keys).
bool valid_client_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_' || c == '.' || c == ':';
  });
}

}  // namespace

std::pair<status, std::shared_ptr<const admin_api>> admin_api::create(const std::string& token_file,
                                                                      admin_sources sources,
                                                                      const clock_source& clock) {
  std::string token;
  if (!token_file.empty()) {
    status s = load_admin_token(token_file, token);
    if (!s) return {s, nullptr};
  } else {
    log::warn("admin API disabled: admin.token_file is not set; /admin/* answers 403");
  }
  return {status::ok(), std::make_shared<const admin_api>(std::move(token), std::move(sources), clock)};
}

admin_response admin_api::handle(const admin_request& req) const {
  // Authentication comes before routing, so that an unauthenticated caller
  // learns nothing about which routes exist.
  if (token_.empty()) {
    return error_response(403, "the admin API is disabled: set admin.token_file", "admin_api_disabled");
  }
  if (bearer_token(req.authorization).empty()) {
    auto r = error_response(401, "missing admin token: send Authorization: Bearer <token of admin.token_file>",
                            "missing_admin_token");
    r.headers.emplace_back("www-authenticate", "Bearer realm=\"distillguard-admin\"");
    return r;
  }
  if (!bearer_matches(req.authorization, token_)) {
    auto r = error_response(401, "invalid admin token", "invalid_admin_token");
    r.headers.emplace_back("www-authenticate",
                           "Bearer realm=\"distillguard-admin\", error=\"invalid_token\"");
    return r;
  }
  try {
    return route(req);
  } catch (const std::exception& e) {
    // A source failing (a store read error thrown by a library) is ours, not the caller's.
    log::error("admin request failed", {{"target", std::string(req.target)}, {"error", e.what()}});
    return error_response(500, std::string("internal error: ") + e.what(), "internal_error");
  } catch (...) {
    return error_response(500, "internal error", "internal_error");
  }
}

admin_response admin_api::route(const admin_request& req) const {
  const auto qmark = req.target.find('?');
  const std::string_view path = req.target.substr(0, qmark);
  const std::string_view query =
      qmark == std::string_view::npos ? std::string_view() : req.target.substr(qmark + 1);
  const std::string_view m = req.method;

  auto only = [&](std::string_view allowed, auto&& fn) -> admin_response {
    if (m == allowed || (allowed == "GET" && m == "HEAD")) return fn();
    return method_not_allowed(allowed);
  };

  if (path == "/admin/clients" || path == "/admin/clients/") {
    return only("GET", [&] { return list_clients(query); });
  }
  if (path == "/admin/clusters") return only("GET", [&] { return list_clusters(query); });
  if (path == "/admin/reload") return only("POST", [&] { return reload(); });
  if (path == "/admin/config") return only("GET", [&] { return show_config(); });

  constexpr std::string_view clients_prefix = "/admin/clients/";
  if (path.starts_with(clients_prefix)) {
    std::string_view rest = path.substr(clients_prefix.size());
    constexpr std::string_view override_suffix = "/override";
    bool is_override = false;
    if (rest.ends_with(override_suffix)) {
      rest.remove_suffix(override_suffix.size());
      is_override = true;
    }
    std::string id;
    if (!url_decode(rest, id, false) || !valid_client_id(id)) {
      return error_response(400, "malformed client id", "invalid_client_id");
    }
    if (!is_override) return only("GET", [&] { return dossier(id, query); });
    if (m == "POST" || m == "PUT") return set_override(id, req.body);
    if (m == "DELETE") return clear_override(id);
    return method_not_allowed("POST, DELETE");
  }
  return error_response(404, "no such admin route: " + std::string(path), "not_found");
}

admin_response admin_api::list_clients(std::string_view query) const {
  if (!sources_.clients) return not_wired("the client list");
  std::size_t limit = 0;
  std::string error;
  if (!count_param(query, "limit", default_limit, max_limit, limit, error)) {
    return error_response(400, error, "invalid_parameter");
  }
  const std::string sort = query_param(query, "sort").value_or("risk");
  if (sort != "risk" && sort != "events" && sort != "last_seen") {
    return error_response(400, "sort must be risk, events or last_seen", "invalid_parameter");
  }
  std::optional<enforcement::verdict> only_verdict;
  if (auto v = query_param(query, "verdict"); v && !v->empty()) {
    only_verdict = enforcement::parse_verdict(*v);
    if (!only_verdict) {
      return error_response(400, "verdict must be allow, watermark, throttle or block",
                            "invalid_parameter");
    }
  }

  auto reports = sources_.clients();
  if (only_verdict) {
    std::erase_if(reports, [&](const auto& r) { return r.verdict != *only_verdict; });
  }
  // Members of a cluster inherit its risk, each as it stood at the member's last scoring, so
  // their risks differ only in digits nobody is shown. Risks are compared at the precision the
  // list prints (two decimals); among those ties the member whose own traffic scores highest
  // comes first, then the busier one, then by id, so that the same state always lists the
  // same way.
  auto shown = [](double risk) { return std::lround(risk * 100); };
  auto by = [&](const detectors::client_report& a, const detectors::client_report& b) {
    if (sort == "events" && a.events != b.events) return a.events > b.events;
    if (sort == "last_seen" && a.last_seen_micros != b.last_seen_micros) {
      return a.last_seen_micros > b.last_seen_micros;
    }
    if (shown(a.risk) != shown(b.risk)) return shown(a.risk) > shown(b.risk);
    if (a.verdict != b.verdict) return a.verdict > b.verdict;
    if (a.own_risk != b.own_risk) return a.own_risk > b.own_risk;
    if (a.events != b.events) return a.events > b.events;
    return a.client_id < b.client_id;
  };
  const std::size_t n = std::min(limit, reports.size());
  std::partial_sort(reports.begin(), reports.begin() + static_cast<std::ptrdiff_t>(n), reports.end(), by);

  json list = json::array();
  for (std::size_t i = 0; i < n; ++i) list.push_back(client_summary_json(reports[i]));
  return json_response(200, {{"clients", std::move(list)}, {"total", reports.size()}, {"sort", sort}});
}

admin_response admin_api::dossier(const std::string& id, std::string_view query) const {
  if (!sources_.client) return not_wired("client reports");
  std::size_t history = 0;
  std::size_t events = 0;
  std::string error;
  if (!count_param(query, "history", 50, max_limit, history, error) ||
      !count_param(query, "events", 20, max_limit, events, error)) {
    return error_response(400, error, "invalid_parameter");
  }
  json d;
  std::string cluster;
  if (auto r = sources_.client(id)) {
    d = client_report_json(*r);
    cluster = r->cluster;
  } else if (auto rec = sources_.stored_client ? sources_.stored_client(id) : std::nullopt) {
    d = client_record_json(*rec);
    cluster = rec->cluster();
  } else {
    return error_response(404, "no such client: " + id, "client_not_found");
  }

  d["cluster_detail"] = nullptr;
  if (!cluster.empty() && sources_.clusters) {
    for (const auto& c : sources_.clusters()) {
      if (c.cluster == cluster) {
        d["cluster_detail"] = cluster_json(c);
        break;
      }
    }
  }
  d["override"] = nullptr;
  if (sources_.get_override) {
    if (auto o = sources_.get_override(id)) d["override"] = override_json(*o);
  }
  json hist = json::array();
  if (sources_.audit) {
    for (const auto& a : sources_.audit(id, history)) hist.push_back(audit_json(a));
  }
  d["history"] = std::move(hist);
  json recent = json::array();
  if (sources_.recent_events) {
    for (const auto& e : sources_.recent_events(id, events)) recent.push_back(event_json(e));
  }
  d["recent_events"] = std::move(recent);
  return json_response(200, d);
}

admin_response admin_api::set_override(const std::string& id, std::string_view body) const {
  if (!sources_.set_override) return not_wired("overrides");
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return error_response(400, "the body must be a JSON object {\"verdict\", \"expires_in_s\" or "
                               "\"expires_at\", \"reason\"}", "invalid_body");
  }
  for (const auto& [k, v] : j.items()) {
    if (k != "verdict" && k != "expires_in_s" && k != "expires_at" && k != "reason") {
      return error_response(400, "unknown field '" + k + "'", "invalid_body");
    }
  }
  verdict_override o;
  const auto v = j.find("verdict");
  if (v == j.end() || !v->is_string()) {
    return error_response(400, "verdict is required: allow, watermark, throttle or block", "invalid_body");
  }
  const auto parsed = enforcement::parse_verdict(v->get<std::string>());
  if (!parsed) {
    return error_response(400, "verdict must be allow, watermark, throttle or block", "invalid_body");
  }
  o.verdict = *parsed;
  const auto reason = j.find("reason");
  if (reason == j.end() || !reason->is_string() || reason->get<std::string>().empty()) {
    return error_response(400, "reason is required (it goes to the audit log)", "invalid_body");
  }
  o.reason = reason->get<std::string>();
  if (o.reason.size() > 1000) return error_response(400, "reason is longer than 1000 bytes", "invalid_body");

  const micros now = clock_.now();
  o.set_micros = now;
  const auto in_s = j.find("expires_in_s");
  const auto at = j.find("expires_at");
  if (in_s != j.end() && at != j.end()) {
    return error_response(400, "give expires_in_s or expires_at, not both", "invalid_body");
  }
  if (in_s != j.end()) {
    if (!in_s->is_number() || in_s->get<double>() <= 0 || in_s->get<double>() > 10.0 * 365 * 86400) {
      return error_response(400, "expires_in_s must be a number of seconds > 0 (at most ten years)",
                            "invalid_body");
    }
    o.expires_micros = now + static_cast<micros>(in_s->get<double>() * 1e6);
  } else if (at != j.end()) {
    micros t = 0;
    bool ok = false;
    if (at->is_number() && at->get<double>() > 0) {
      t = static_cast<micros>(at->get<double>() * 1e6);
      ok = true;
    } else if (at->is_string()) {
      ok = parse_time(at->get<std::string>(), t);
    }
    if (!ok) {
      return error_response(400, "expires_at must be seconds since the epoch or an RFC 3339 time",
                            "invalid_body");
    }
    if (t <= now) return error_response(400, "expires_at is in the past", "invalid_body");
    o.expires_micros = t;
  }

  const status s = sources_.set_override(id, o);
  if (!s) {
    return error_response(s.error_code() == status::code::invalid_argument ? 400 : 500, s.message(),
                          "override_failed");
  }
  log::info("admin: override set", {{"client_id", id},
                                     {"verdict", std::string(enforcement::to_string(o.verdict))},
                                     {"expires_at", time_json(o.expires_micros)},
                                     {"reason", o.reason}});
  return json_response(200, {{"ok", true}, {"client_id", id}, {"override", override_json(o)}});
}

admin_response admin_api::clear_override(const std::string& id) const {
  if (!sources_.clear_override) return not_wired("overrides");
  const status s = sources_.clear_override(id);
  if (s.error_code() == status::code::not_found) {
    return error_response(404, "client " + id + " has no override", "override_not_found");
  }
  if (!s) return error_response(500, s.message(), "override_failed");
  log::info("admin: override cleared", {{"client_id", id}});
  return json_response(200, {{"ok", true}, {"client_id", id}});
}

admin_response admin_api::list_clusters(std::string_view query) const {
  if (!sources_.clusters) return not_wired("clusters");
  std::size_t limit = 0;
  std::string error;
  if (!count_param(query, "limit", 100, max_limit, limit, error)) {
    return error_response(400, error, "invalid_parameter");
  }
  auto clusters = sources_.clusters();
  std::stable_sort(clusters.begin(), clusters.end(), [](const auto& a, const auto& b) {
    if (a.risk != b.risk) return a.risk > b.risk;
    return a.cluster < b.cluster;
  });
  json list = json::array();
  for (std::size_t i = 0; i < clusters.size() && i < limit; ++i) list.push_back(cluster_json(clusters[i]));
  return json_response(200, {{"clusters", std::move(list)}, {"total", clusters.size()}});
}

admin_response admin_api::reload() const {
  if (!sources_.reload) return not_wired("reload");
  const reload_result r = sources_.reload();
  if (r.ok) {
    log::info("admin: config reloaded");
    return json_response(200, {{"ok", true}});
  }
  log::warn("admin: reload refused, the running config stays", {{"errors", r.errors}});
  return json_response(422, {{"ok", false}, {"errors", r.errors}});
}

admin_response admin_api::show_config() const {
  if (!sources_.config) return not_wired("the config");
  const auto c = sources_.config();
  if (!c) return not_wired("the config");
  return json_response(200, effective_config_json(*c));
}

}  // namespace dg::server
