// config_reload: what a live reload (SIGHUP, POST /admin/reload) may change.
//
// A reload re-reads the file the gateway started with and applies it whole or
// not at all. Most keys apply live (limits, upstream timeouts, identity header
// and trusted proxies, log, shutdown, the whole policy block, the detectors
// block). Some shape things that are built once at start (sockets, threads,
// TLS contexts, the upstream pool, the store, the feature hashes); a reload
// that changes any of them is refused, naming each key, and nothing is applied
// (deploy/distillguard.yaml marks them "restart").
#pragma once

#include <string>
#include <vector>

#include "server/config.h"

namespace dg::server {

// True if a change of `key` (dotted, as in the file: "upstream.url") needs a restart.
bool restart_only_key(const std::string& key);

// The restart-only keys whose effective values differ between the running
// config and the new one, dotted and sorted ("listen", "storage.path").
std::vector<std::string> restart_only_changes(const gateway_config& running, const gateway_config& next);

// Loads `file` for a reload: true and `out`, or false and one error a line
// (FILE:LINE:COL: key 'a.b': message).
bool load_config_for_reload(const std::string& file, gateway_config& out, std::vector<std::string>& errors);

}  // namespace dg::server
