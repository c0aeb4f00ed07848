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
  DG_F(j, s, queue_max_mb);
  DG_F(j, s, max_batch_events);
  DG_F(j, s, compression);
  DG_F(j, s, write_buffer_mb);
  DG_F(j, s, block_cache_mb);
  DG_F(j, s, max_open_files);
  DG_F(j, s, retention_check_interval_s);
  return j;
}

json to_json(const enforcement::bucket_limits& b) {
  return {{"requests_per_minute", b.requests_per_minute}, {"tokens_per_minute", b.tokens_per_minute}};
}

json to_json(const enforcement::shape_level& l) {
  json j;
  DG_F(j, l, strip_logprobs);
  DG_F(j, l, strip_logit_bias);
  DG_F(j, l, max_n);
  DG_F(j, l, max_tokens);
  return j;
}

// A watermark key: its id and where the secret lives; an inline secret is never shown.
json to_json(const enforcement::watermark_key& k) {
  json j;
  DG_F(j, k, id);
  DG_F(j, k, secret_file);
  if (!k.secret.empty()) j["secret"] = "(set inline, not shown)";
  return j;
}

json redacted_list(const std::vector<std::string>& keys) {
  json out = json::array();
  for (const auto& k : keys) out.push_back(redact_credential(k));
  return out;
}

// The YAML's key names (the struct's differ in places: thresholds, actions, key).
json to_json(const enforcement::policy_options& p) {
  json j;
  DG_F(j, p, mode);
  j["actions"] = {{"watermark", p.watermark_mode},
                  {"shape", p.shape_mode},
                  {"throttle", p.throttle_mode},
                  {"block", p.block_mode}};
  j["thresholds"] = {{"watermark", p.watermark_threshold},
                     {"throttle", p.throttle_threshold},
                     {"block", p.block_threshold}};
  DG_F(j, p, hysteresis_margin);
  DG_F(j, p, min_hold_s);
  DG_F(j, p, decay_half_life_s);
  // Client ids are pseudonyms already; raw keys are credentials.
  DG_F(j, p, allow_clients);
  DG_F(j, p, deny_clients);
  j["allow_keys"] = redacted_list(p.allow_keys);
  j["deny_keys"] = redacted_list(p.deny_keys);
  auto& r = j["rate_limits"];
  r["base"] = to_json(p.rate_limits.base);
  r["throttled"] = to_json(p.rate_limits.throttled);
  DG_F(r, p.rate_limits, min_scale);
  DG_F(r, p.rate_limits, burst_seconds);
  DG_F(r, p.rate_limits, tarpit_ms);
  DG_F(r, p.rate_limits, max_clients);
  DG_F(r, p.rate_limits, default_max_tokens);
  auto& sh = j["shape"];
  sh["watermark"] = to_json(p.shape.watermark);
  sh["throttle"] = to_json(p.shape.throttle);
  DG_F(sh, p.shape, refuse_logit_bias_with_logprobs);
  DG_F(sh, p.shape, invalid_json);
  j["block"] = {{"status", p.block.status}, {"message", p.block.message}};
  auto& w = j["watermark"];
  DG_F(w, p.watermark, everyone);
  DG_F(w, p.watermark, synonyms_file);
  w["key"] = to_json(p.watermark.current);
  w["previous_keys"] = json::array();
  for (const auto& k : p.watermark.previous) w["previous_keys"].push_back(to_json(k));
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
  // The detectors part keeps its own JSON next to its options (one list to
  // keep in step with the YAML reader, shared with the reload diff).
  j["detectors"] = detectors::detector_options_json(c.detectors);
  j["policy"] = to_json(c.policy);
  return j;
}

}  // namespace dg::server
