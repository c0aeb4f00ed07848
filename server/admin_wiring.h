// admin_wiring: builds the admin API's sources from the gateway's real parts
// and mounts it on the admin listener, so that `serve` wires operations in a
// few lines:
//
//   dg::server::admin_parts parts;
//   parts.analyzer = &analyzer;   parts.store = &store;   parts.policy = &policy;
//   parts.reload = ops.counted([&] { return reload_config(); });   // same function as SIGHUP's
//   parts.config = [&] { return current_config(); };
//   parts.clock = &clock;
//   auto [st, api] = dg::server::admin_api::create(cfg.admin.token_file,
//                                                  dg::server::make_admin_sources(parts), clock);
//   if (!st) { log + exit 1 }                 // e.g. a world-readable token file
//   dg::server::mount_admin_api(gw.admin(), api);
//
// Any part left null leaves its routes answering 501. Thread safety: the
// sources call the analyzer's snapshot methods, the store's scans and the
// policy's override methods, all thread safe.
#pragma once

#include <functional>
#include <memory>

#include "server/admin_api.h"

namespace dg::detectors {
class analyzer;
}
namespace dg::storage {
class event_store;
}
namespace dg::enforcement {
class policy;
}

namespace dg::server {

class admin_server;

struct admin_parts {
  detectors::analyzer* analyzer = nullptr;
  const storage::event_store* store = nullptr;
  enforcement::policy* policy = nullptr;
  std::function<reload_result()> reload;
  std::function<std::shared_ptr<const gateway_config>()> config;
  const clock_source* clock = nullptr;  // for override times; required when policy is set
};

admin_sources make_admin_sources(const admin_parts& parts);

// Routes every /admin/ path of the admin listener to `api`.
void mount_admin_api(admin_server& server, std::shared_ptr<const admin_api> api);

}  // namespace dg::server
