#include "enforcement/policy_options.h"

namespace dg::enforcement {

namespace {

void read_buckets(config_node node, bucket_limits& out) {
  node.read("requests_per_minute", out.requests_per_minute, 0, 1e9);
  node.read("tokens_per_minute", out.tokens_per_minute, 0, 1e12);
  node.finish();
}

void read_rate_limits(config_node node, rate_limit_options& out) {
  read_buckets(node.child("base"), out.base);
  read_buckets(node.child("throttled"), out.throttled);
  node.read("min_scale", out.min_scale, 0.0, 1.0);
  node.read("burst_seconds", out.burst_seconds, 1.0, 3600.0);
  node.read("tarpit_ms", out.tarpit_ms, 0, 60000);
  node.read("max_clients", out.max_clients, 1000, 100000000);
  node.read("default_max_tokens", out.default_max_tokens, 1, 10000000);
  node.finish();
}

void read_shape_level(config_node node, shape_level& out) {
  node.read("strip_logprobs", out.strip_logprobs);
  node.read("strip_logit_bias", out.strip_logit_bias);
  node.read("max_n", out.max_n, 0, 1024);
  node.read("max_tokens", out.max_tokens, 0, 10000000);
  node.finish();
}

void read_shape(config_node node, shape_options& out) {
  read_shape_level(node.child("watermark"), out.watermark);
  read_shape_level(node.child("throttle"), out.throttle);
  node.read("refuse_logit_bias_with_logprobs", out.refuse_logit_bias_with_logprobs);
  node.read_choice("invalid_json", out.invalid_json, {"pass", "refuse"});
  node.finish();
}

void read_block(config_node node, block_options& out) {
  node.read("status", out.status, 403, 429);
  if (out.status != 403 && out.status != 429) node.fail("status", "must be 403 or 429");
  node.read("message", out.message);
  node.finish();
}

void read_key(config_node& node, watermark_key& out) {
  std::int64_t id = out.id;
  node.read("id", id, 0, 1000000);
  out.id = static_cast<std::uint32_t>(id);
  node.read("secret_file", out.secret_file);
  node.read("secret", out.secret);
  node.finish();
}

void read_watermark(config_node node, watermark_options& out) {
  node.read("everyone", out.everyone);
  node.read("synonyms_file", out.synonyms_file);
  auto cur = node.child("key");
  read_key(cur, out.current);
  for (auto& k : node.child_list("previous_keys")) {
    watermark_key key;
    read_key(k, key);
    if (key.secret.empty() && key.secret_file.empty())
      k.fail("", "a previous key needs secret or secret_file");
    out.previous.push_back(std::move(key));
  }
  node.finish();
}

}  // namespace

void read_policy_options(config_node& node, policy_options& out) {
  node.read_choice("mode", out.mode, {"enforce", "shadow"});
  auto actions = node.child("actions");
  actions.read_choice("watermark", out.watermark_mode, {"enforce", "shadow"});
  actions.read_choice("shape", out.shape_mode, {"enforce", "shadow"});
  actions.read_choice("throttle", out.throttle_mode, {"enforce", "shadow"});
  actions.read_choice("block", out.block_mode, {"enforce", "shadow"});
  actions.finish();

  auto th = node.child("thresholds");
  th.read("watermark", out.watermark_threshold, 0.0, 1.0);
  th.read("throttle", out.throttle_threshold, 0.0, 1.0);
  th.read("block", out.block_threshold, 0.0, 1.0);
  th.finish();
  if (!(out.watermark_threshold <= out.throttle_threshold &&
        out.throttle_threshold <= out.block_threshold))
    node.fail("thresholds", "must satisfy watermark <= throttle <= block");
  node.read("hysteresis_margin", out.hysteresis_margin, 0.0, 0.5);
  node.read("min_hold_s", out.min_hold_s, 0, 30LL * 86400);
  node.read("decay_half_life_s", out.decay_half_life_s, 0, 365LL * 86400);

  node.read("allow_clients", out.allow_clients);
  node.read("allow_keys", out.allow_keys);
  node.read("deny_clients", out.deny_clients);
  node.read("deny_keys", out.deny_keys);

  read_rate_limits(node.child("rate_limits"), out.rate_limits);
  read_shape(node.child("shape"), out.shape);
  read_block(node.child("block"), out.block);
  read_watermark(node.child("watermark"), out.watermark);
  node.finish();
}

}  // namespace dg::enforcement
