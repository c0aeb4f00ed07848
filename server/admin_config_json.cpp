#include "server/admin_config_json.h"

namespace dg::server {

using nlohmann::json;

namespace {

// One line per field, so that a field added to a struct is one line added here
// (tests/unit/ops checks that every key documented in deploy/distillguard.yaml appears).
#define DG_F(j, o, f) (j)[#f] = (o).f

json to_json(const upstream_options& u) {
  json j;
  DG_F(j, u, url);
  DG_F(j, u, ca_file);
  DG_F(j, u, verify);
  DG_F(j, u, connect_timeout_ms);
  DG_F(j, u, response_timeout_ms);
  DG_F(j, u, idle_timeout_ms);
  DG_F(j, u, pool_size);
  return j;
}

json to_json(const admin_options& a) {
  json j;
  DG_F(j, a, listen);
  DG_F(j, a, token_file);  // the path; the token itself is never shown
  return j;
}

json to_json(const limits_options& l) {
  json j;
  DG_F(j, l, max_header_bytes);
  DG_F(j, l, max_body_bytes);
  DG_F(j, l, header_timeout_ms);
  DG_F(j, l, body_timeout_ms);
  DG_F(j, l, keepalive_timeout_ms);
  DG_F(j, l, max_connections);
  return j;
}

json to_json(const tls_options& t) {
  json j;
  DG_F(j, t, cert_file);
  DG_F(j, t, key_file);  // the path only
  return j;
}

json to_json(const identity_options& i) {
  json j;
  DG_F(j, i, secret_file);  // the path only
  DG_F(j, i, header);
  DG_F(j, i, trusted_proxies);
  return j;
}

json to_json(const log_options& l) {
  json j;
  DG_F(j, l, level);
  DG_F(j, l, access_log);
  return j;
}

json to_json(const storage::storage_options& s) {
  json j;
  DG_F(j, s, enabled);
  DG_F(j, s, path);
  DG_F(j, s, flush_interval_ms);
  DG_F(j, s, retention_days);
  DG_F(j, s, prompt_text);
  DG_F(j, s, prompt_prefix_chars);
  DG_F(j, s, queue_capacity);
  return j;
}

#undef DG_F

}  // namespace

std::string redact_credential(std::string_view v) {
  if (v.size() < 12) return "...";
  std::string prefix;
  const auto dash = v.find('-');
  if (dash != std::string_view::npos && dash <= 4) prefix = std::string(v.substr(0, dash + 1));
  return prefix + "..." + std::string(v.substr(v.size() - 4));
}

json effective_config_json(const gateway_config& c) {
  json j;
  j["file"] = c.file;
  j["listen"] = c.listen;
  j["threads"] = c.threads;
  j["state_dir"] = c.state_dir;
  j["upstream"] = to_json(c.upstream);
  j["admin"] = to_json(c.admin);
  j["limits"] = to_json(c.limits);
  j["tls"] = to_json(c.tls);
  j["identity"] = to_json(c.identity);
  j["log"] = to_json(c.log);
  j["shutdown"] = {{"drain_ms", c.shutdown.drain_ms}};
  j["storage"] = to_json(c.storage);
  j["detectors"] = {{"queue_capacity", c.detectors.queue_capacity}};
  j["policy"] = {{"mode", c.policy.mode}};
  return j;
}

}  // namespace dg::server
