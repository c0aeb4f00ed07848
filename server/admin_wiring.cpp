#include "server/admin_wiring.h"

#include <limits>

#include "detectors/analyzer.h"
#include "enforcement/policy.h"
#include "server/admin_server.h"
#include "storage/event_store.h"

namespace dg::server {

admin_sources make_admin_sources(const admin_parts& p) {
  admin_sources s;
  if (auto* a = p.analyzer) {
    s.clients = [a] { return a->reports(); };
    s.client = [a](std::string_view id) { return a->report(id); };
    s.clusters = [a] { return a->clusters(); };
  }
  if (const auto* st = p.store) {
    s.audit = [st](std::string_view id, std::size_t limit) {
      std::vector<pb::AuditEntry> out;
      if (limit == 0) return out;
      // A read error leaves the dossier without history rather than failing it.
      (void)st->scan_audit(id, limit, [&](pb::AuditEntry&& e) {
        out.push_back(std::move(e));
        return out.size() < limit;
      });
      return out;
    };
    s.recent_events = [st](std::string_view id, std::size_t limit) {
      std::vector<pb::QueryEvent> out;
      if (limit == 0) return out;
      (void)st->scan_client(id, 0, std::numeric_limits<micros>::max(), limit, /*reverse=*/true,
                            [&](pb::QueryEvent&& e) {
                              out.push_back(std::move(e));
                              return out.size() < limit;
                            });
      return out;
    };
    s.stored_client = [st](std::string_view id) -> std::optional<pb::ClientRecord> {
      pb::ClientRecord r;
      if (!st->get_client(id, r)) return std::nullopt;
      return r;
    };
  }
  if (auto* pol = p.policy; pol && p.clock) {
    const clock_source* clock = p.clock;
    s.get_override = [pol, clock](std::string_view id) -> std::optional<verdict_override> {
      const micros now = clock->now();
      for (const auto& o : pol->overrides()) {
        if (o.client_id != id) continue;
        if (o.expires_micros != 0 && o.expires_micros <= now) return std::nullopt;
        return verdict_override{o.to, o.expires_micros, o.reason, o.set_micros};
      }
      return std::nullopt;
    };
    s.set_override = [pol, clock](std::string_view id, const verdict_override& o) {
      return pol->set_override(id, o.verdict, o.expires_micros, o.reason, clock->now());
    };
    s.clear_override = [pol, clock](std::string_view id) {
      return pol->clear_override(id, clock->now(), "cleared through the admin API")
                 ? status::ok()
                 : status::not_found("no override");
    };
  }
  s.reload = p.reload;
  s.config = p.config;
  return s;
}

void mount_admin_api(admin_server& server, std::shared_ptr<const admin_api> api) {
  auto h = [api = std::move(api)](const admin_http_request& r) {
    admin_response res = api->handle({r.method, r.target, r.authorization, r.body});
    admin_http_response out;
    out.status = res.status;
    out.body = std::move(res.body);
    out.content_type = std::move(res.content_type);
    out.headers = std::move(res.headers);
    return out;
  };
  // "/admin" alone too, so that it gets a 401/404 from the API rather than the listener's 404.
  server.route("/admin", h);
  server.route_prefix("/admin/", std::move(h));
}

}  // namespace dg::server
