// admin_api: the operators' API on the admin listener (next to /healthz,
// /readyz and /metrics). Every /admin/* route needs `Authorization: Bearer
// <token>` with the token of admin.token_file; anything else is a 401 with an
// OpenAI-shaped body (403 when no token file is configured).
//
//   GET    /admin/clients?sort=risk|events|last_seen&limit=N&verdict=V
//                                      the top suspects
//   GET    /admin/clients/{id}?history=N&events=N
//                                      a dossier: risk, every detector's score
//                                      and reason, cluster, override, verdict
//                                      history (audit log), recent events
//   POST   /admin/clients/{id}/override  {"verdict":"block","expires_in_s":3600,
//                                      "reason":"..."} (or "expires_at": unix
//                                      seconds or RFC 3339; neither = no expiry)
//   DELETE /admin/clients/{id}/override
//   GET    /admin/clusters             linked accounts, riskiest first
//   POST   /admin/reload               re-read the config file: {"ok":true} or
//                                      422 {"ok":false,"errors":[...]}
//   GET    /admin/config               the effective config, secrets redacted
//
// The API owns no state: it is built from the pieces it reads and calls, each
// a std::function, so that it depends on no concrete analyzer, store or
// policy, and tests can hand it real parts or small in-memory ones.
//
// Wiring it in `serve` (once the analyzer, store, policy and reload exist):
//
//   dg::server::admin_sources src;
//   src.clients  = [&] { return analyzer.reports(); };
//   src.client   = [&](std::string_view id) { return analyzer.report(id); };
//   src.clusters = [&] { return analyzer.clusters(); };
//   src.audit    = [&](std::string_view id, std::size_t n) { ...store.scan_audit... };
//   src.recent_events = [&](std::string_view id, std::size_t n) { ...store.scan_client... };
//   src.get_override / set_override / clear_override = ... live policy's overrides ...
//   src.reload   = [&] { return reload_now(); };            // the SIGHUP path
//   src.config   = [&] { return current_config(); };        // shared_ptr<const gateway_config>
//   auto api = dg::server::admin_api::create(cfg.admin.token_file, std::move(src), clock);
//   if (!api) -> refuse to start with api.error().to_string()
//   admin_listener.route_prefix("/admin/", [a = api.value()](const admin_request& r) {
//     return a->handle(r); });
//
// Any source left empty makes its routes answer 501 (not wired), never crash.
//
// Thread safety: handle() is const and may run on many threads at once; the
// sources must be thread safe themselves (the analyzer's snapshot is).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "detectors/engine.h"
#include "enforcement/verdict.h"
#include "proto/query_event.pb.h"
#include "server/config.h"

namespace dg::server {

// One HTTP request as the admin listener hands it over.
struct admin_request {
  std::string_view method;         // "GET", "POST", ...
  std::string_view target;         // path and query: "/admin/clients?limit=5"
  std::string_view authorization;  // the Authorization header, or empty
  std::string_view body;
};

struct admin_response {
  int status = 200;
  std::string body;  // JSON
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra: www-authenticate, allow
};

// A manual override of a client's verdict.
struct verdict_override {
  enforcement::verdict verdict = enforcement::verdict::allow;
  micros expires_micros = 0;  // 0 = never
  std::string reason;
  micros set_micros = 0;      // when it was set (0 if unknown)
};

// The outcome of a reload: ok, or every error (file:line:col: key: message).
struct reload_result {
  bool ok = false;
  std::vector<std::string> errors;
};

struct admin_sources {
  // Every tracked client's latest report.
  std::function<std::vector<detectors::client_report>()> clients;
  // One client's report, or nullopt when it is not tracked.
  std::function<std::optional<detectors::client_report>(std::string_view id)> client;
  // Clusters of linked accounts.
  std::function<std::vector<detectors::cluster_report>()> clusters;
  // A client's verdict changes, newest first, at most `limit`.
  std::function<std::vector<pb::AuditEntry>(std::string_view id, std::size_t limit)> audit;
  // A client's events, newest first, at most `limit`.
  std::function<std::vector<pb::QueryEvent>(std::string_view id, std::size_t limit)> recent_events;
  // A client saved in the store (for a dossier of a client no longer in memory).
  std::function<std::optional<pb::ClientRecord>(std::string_view id)> stored_client;
  // The override in force for a client, if any.
  std::function<std::optional<verdict_override>(std::string_view id)> get_override;
  std::function<status(std::string_view id, const verdict_override& o)> set_override;
  // not_found when the client had no override.
  std::function<status(std::string_view id)> clear_override;
  // Re-reads the config file and swaps it in (or keeps the running one).
  std::function<reload_result()> reload;
  // The config in force.
  std::function<std::shared_ptr<const gateway_config>()> config;
};

class admin_api {
 public:
  // Reads the token from `token_file` (see load_admin_token: a world-readable
  // file is refused). An empty `token_file` builds an API that refuses every
  // route with 403, as admin.token_file documents. `clock` must outlive the API.
  static std::pair<status, std::shared_ptr<const admin_api>> create(const std::string& token_file,
                                                                    admin_sources sources,
                                                                    const clock_source& clock);

  admin_api(std::string token, admin_sources sources, const clock_source& clock)
      : token_(std::move(token)), sources_(std::move(sources)), clock_(clock) {}

  // Answers one request whose path starts with /admin. Never throws.
  admin_response handle(const admin_request& req) const;

  // Limits on what one request may ask for.
  static constexpr std::size_t max_limit = 1000;
  static constexpr std::size_t default_limit = 20;

 private:
  admin_response route(const admin_request& req) const;
  admin_response list_clients(std::string_view query) const;
  admin_response dossier(const std::string& id, std::string_view query) const;
  admin_response set_override(const std::string& id, std::string_view body) const;
  admin_response clear_override(const std::string& id) const;
  admin_response list_clusters(std::string_view query) const;
  admin_response reload() const;
  admin_response show_config() const;

  std::string token_;  // empty: the API is disabled (403)
  admin_sources sources_;
  const clock_source& clock_;
};

}  // namespace dg::server
