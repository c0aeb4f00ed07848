// policy_options: the `policy:` block of the config: verdict thresholds,
// lists, shadow switches, and the sub-blocks of each action (rate_limits,
// shape, block, watermark). A plain struct in the manner of LevelDB's Options:
// every field has a default and says what it does. deploy/distillguard.yaml
// documents the same keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config_node.h"

namespace dg::enforcement {

// Token buckets per client: requests and tokens per minute. 0 = no limit.
struct bucket_limits {
  double requests_per_minute = 0;
  double tokens_per_minute = 0;
};

struct rate_limit_options {
  // Limits for every client, whatever its verdict (0 = none): the "base limits".
  bucket_limits base;
  // Limits of a throttled client at risk == thresholds.throttle; they shrink
  // linearly to `min_scale` of these at risk 1 (a riskier client gets less).
  bucket_limits throttled{60, 40000};
  double min_scale = 0.1;
  // Buckets hold this many seconds of their rate (burst).
  double burst_seconds = 10;
  // Tarpit: a throttled request that is admitted waits this long first (0 = no delay).
  std::int64_t tarpit_ms = 0;
  // Clients tracked at once; the idlest are evicted beyond this (their buckets refill anyway).
  std::uint32_t max_clients = 1000000;
  // Estimate of completion tokens when a request sets no max_tokens (reserved at admission).
  std::uint32_t default_max_tokens = 1024;
};

// What shaping does to the requests of clients at one verdict level or above.
struct shape_level {
  bool strip_logprobs = false;    // logprobs, top_logprobs (chat, completions, responses' include)
  bool strip_logit_bias = false;  // logit_bias
  std::uint32_t max_n = 0;        // cap n (and best_of); 0 = no cap
  std::uint32_t max_tokens = 0;   // cap max_tokens / max_completion_tokens / max_output_tokens; 0 = no cap
};

struct shape_options {
  // Levels from the lowest that applies: a throttled client gets throttle's
  // rules if set, else watermark's (each level is read as a whole).
  shape_level watermark{true, true, 1, 0};
  shape_level throttle{true, true, 1, 1024};
  // Refuse (400) any request combining logit_bias with logprobs/top_logprobs,
  // for every client: the logit-extraction attack needs both.
  bool refuse_logit_bias_with_logprobs = false;
  // A body that is not a JSON object: pass it untouched (the upstream will
  // answer), or refuse it with 400.
  std::string invalid_json = "pass";  // pass | refuse
};

struct block_options {
  // 403 (forbidden) or 429 with x-should-retry: false (the SDKs do not retry it).
  int status = 403;
  std::string message = "This client has been blocked by the API gateway's usage policy.";
};

// An older watermark secret kept so that text marked before a rotation can still be checked.
struct watermark_key {
  std::uint32_t id = 0;
  std::string secret_file;  // file with the secret (its bytes, trailing newline stripped)
  std::string secret;       // or inline (tests); secret_file wins when both are set
};

struct watermark_options {
  // Watermark every client's responses, not only those at verdict watermark or above.
  bool everyone = false;
  // The synonym table (generated from WordNet by tools/; see enforcement/watermark_synonyms.h).
  // Empty = "distillguard-synonyms.tsv" next to the executable, then ../share/distillguard/,
  // then the source tree's enforcement/data/.
  std::string synonyms_file;
  // The current key: id and secret. Empty secret and secret_file = derived from the
  // identity secret (derive_watermark_secret() in live_policy.h).
  watermark_key current;
  // Old keys, still used by `watermark detect`.
  std::vector<watermark_key> previous;
};

struct policy_options {
  // enforce: act on verdicts. shadow: decide, record and count, enforce nothing.
  std::string mode = "enforce";
  // Per action: enforce or shadow (shadow = counted, not done). mode: shadow overrides all.
  std::string watermark_mode = "enforce";
  std::string shape_mode = "enforce";
  std::string throttle_mode = "enforce";
  std::string block_mode = "enforce";

  // Risk at or above which each verdict starts.
  double watermark_threshold = 0.5;
  double throttle_threshold = 0.75;
  double block_threshold = 0.92;
  // A verdict falls only when the risk is below its threshold minus this margin ...
  double hysteresis_margin = 0.1;
  // ... and it has held at least this long (seconds of event time).
  std::int64_t min_hold_s = 900;
  // The last risk halves every this many seconds of event time without a new
  // score, so a client that stops relaxes. 0 = no decay.
  std::int64_t decay_half_life_s = 6 * 3600;

  // Never acted on (by client id, or by raw credential hashed at load).
  std::vector<std::string> allow_clients;
  std::vector<std::string> allow_keys;
  // Always blocked.
  std::vector<std::string> deny_clients;
  std::vector<std::string> deny_keys;

  rate_limit_options rate_limits;
  shape_options shape;
  block_options block;
  watermark_options watermark;

  bool shadow() const { return mode == "shadow"; }
};

void read_policy_options(config_node& node, policy_options& out);

}  // namespace dg::enforcement
