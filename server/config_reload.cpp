#include "server/config_reload.h"

#include <algorithm>
#include <array>
#include <map>
#include <string_view>

#include <nlohmann/json.hpp>

#include "detectors/detector_options.h"
#include "server/admin_config_json.h"

namespace dg::server {

namespace {

// Built once at start: see the header. A prefix ending in '.' covers a block.
constexpr std::array<std::string_view, 14> restart_only = {
    "listen",                    // the proxy socket
    "threads",                   // the I/O workers
    "state_dir",                 // the secret and the store live there
    "admin.",                    // the admin socket and the token read at start
    "tls.",                      // the listener's TLS context
    "upstream.url",              // the pools' host, port and TLS context
    "upstream.ca_file",
    "upstream.verify",
    "upstream.pool_size",
    "identity.secret_file",      // every client id derives from it
    "storage.",                  // the open database
    "detectors.seed",            // the features of every stored state
    "detectors.queue_capacity",  // the analysis queue is allocated once
    "detectors.max_body_bytes",  // the analyzer's parse limits
};
// The account linker keeps its options: only linking.weight (read by scoring) is live.
constexpr std::string_view linking_prefix = "detectors.linking.";
constexpr std::string_view linking_live = "detectors.linking.weight";

void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, nlohmann::json>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    }
    return;
  }
  out[prefix] = j;
}

}  // namespace

bool restart_only_key(const std::string& key) {
  if (key.starts_with(linking_prefix)) return key != linking_live;
  for (std::string_view p : restart_only) {
    if (p.ends_with('.') ? key.starts_with(p) : key == p) return true;
  }
  return false;
}

std::vector<std::string> restart_only_changes(const gateway_config& running, const gateway_config& next) {
  // The effective configs (defaults included) key by key: a key left out of
  // the file and one set to its default compare equal, and a field added to a
  // block is covered as soon as GET /admin/config shows it.
  // The detectors block comes from its owner's own JSON, which a test keeps
  // in step with every documented key.
  auto effective = [](const gateway_config& c) {
    nlohmann::json j = effective_config_json(c);
    j["detectors"] = detectors::detector_options_json(c.detectors);
    return j;
  };
  std::map<std::string, nlohmann::json> a, b;
  flatten(effective(running), "", a);
  flatten(effective(next), "", b);
  std::vector<std::string> out;
  auto check = [&](const std::string& key) {
    if (!restart_only_key(key)) return;
    auto ia = a.find(key);
    auto ib = b.find(key);
    const bool same = ia != a.end() && ib != b.end() && ia->second == ib->second;
    if (!same) out.push_back(key);
  };
  for (const auto& [key, v] : a) check(key);
  for (const auto& [key, v] : b)
    if (!a.count(key)) check(key);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool load_config_for_reload(const std::string& file, gateway_config& out, std::vector<std::string>& errors) {
  try {
    out = load_config(file);
    return true;
  } catch (const config_error& e) {
    const std::string all = e.what();
    for (std::size_t start = 0; start < all.size();) {
      const std::size_t end = std::min(all.find('\n', start), all.size());
      if (end > start) errors.push_back(all.substr(start, end - start));
      start = end + 1;
    }
    if (errors.empty()) errors.push_back(file + ": invalid config");
    return false;
  }
}

}  // namespace dg::server
