// detector_options: the `detectors:` block of the config (analysis queue, scoring,
// and one sub-block per detector). Every field has a default that suits a
// gateway in front of one model; deploy/distillguard.yaml documents each key.
// A plain struct, copied into the engine at construction (immutable afterwards).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/config_node.h"

namespace dg::detectors {

// What every detector block has.
struct detector_common {
  bool enabled = true;
  // Part of the detector's score in the combined risk (see scoring_options::method).
  double weight = 0.5;
  // Events a client must have sent before this detector may score above zero.
  std::uint32_t min_events = 30;
};

struct volume_options : detector_common {
  // Robust z (median/MAD of log daily rates over active clients) where the score starts / saturates.
  double z_start = 3.0;
  double z_full = 6.0;
  // Requests per day below which volume never scores (a person's working day of queries).
  double min_daily_requests = 500;
  // Page's CUSUM on the hourly request rate: slack k and decision level h, in multiples of the
  // client's own baseline rate.
  double cusum_k = 0.5;
  double cusum_h = 8.0;
  volume_options() { weight = 0.4; min_events = 100; }
};

struct cadence_options : detector_common {
  // Coefficient of variation of inter-arrival gaps below which traffic is machine-regular.
  double regular_cv = 0.35;
  // Hours of a day without any request that count as sleep.
  std::uint32_t sleep_hours = 4;
  // Days of activity seen before "never sleeps" may score.
  std::uint32_t min_days = 2;
  cadence_options() { weight = 0.3; min_events = 200; }
};

struct coverage_options : detector_common {
  // Rate of new topic buckets per query (over the client's recent window) that saturates the score.
  double new_rate_full = 0.6;
  // Distinct topic buckets (estimated) needed before coverage scores at all / fully.
  double distinct_start = 150;
  double distinct_full = 1500;
  // Mean completion tokens below which the harvest is too small to matter (scales the score down).
  double min_mean_output_tokens = 48;
  coverage_options() { weight = 0.6; min_events = 100; }
};

struct templates_options : detector_common {
  // Estimated Jaccard similarity at or above which two prompts are near-duplicates.
  double near_dup_jaccard = 0.5;
  // Share of prompts whose skeleton repeats one of the client's top skeletons, scoring start/full.
  double skeleton_share_start = 0.5;
  double skeleton_share_full = 0.9;
  templates_options() { weight = 0.35; min_events = 50; }
};

struct prada_options : detector_common {
  // Shapiro-Wilk W below which the min-distance distribution is not normal (PRADA's delta).
  double w_threshold = 0.90;
  // Minimum distances kept (the test's sample; ring buffer).
  std::uint32_t window = 64;
  prada_options() { weight = 0.2; min_events = 50; }
};

struct mmd_options : detector_common {
  // Prompts in the client's window (ring of n-gram sketches).
  std::uint32_t window = 16;
  // Prompts kept in the population reservoir.
  std::uint32_t population = 256;
  // MMD^2 at which the score starts / saturates.
  double mmd_start = 0.3;
  double mmd_full = 0.8;
  mmd_options() { weight = 0.15; min_events = 64; }
};

struct reasoning_options : detector_common {
  // Share of prompts (user turn or system prompt) demanding reasoning traces: start / full.
  double share_start = 0.3;
  double share_full = 0.8;
  // Completion/prompt token ratio that adds to the score (long traces from short prompts).
  double ratio_full = 8.0;
  reasoning_options() { weight = 0.8; min_events = 30; }
};

struct conversation_options : detector_common {
  // Share of stateless single-turn queries (no assistant turn in the request): start / full.
  double single_turn_start = 0.8;
  double single_turn_full = 0.97;
  conversation_options() { weight = 0.5; min_events = 100; }
};

struct extraction_options : detector_common {
  // max_tokens at or below this is "tiny" (a probe for one token's logits).
  std::uint32_t tiny_max_tokens = 4;
  // Share of requests carrying logprobs/top_logprobs with logit_bias: start / full.
  double share_start = 0.2;
  double share_full = 0.6;
  extraction_options() { weight = 0.95; min_events = 20; }
};

struct linking_options : detector_common {
  // What links two clients.
  bool by_system_prompt = true;
  bool by_skeleton = true;
  bool by_address_range = true;  // IPv4 /24, IPv6 /48
  bool by_user_agent = true;     // the address range links only together with the same user agent
  // The address range also links together with the same request parameters (model, sampling,
  // max_tokens, stream, logprobs, tools): one script driving many accounts behind rotating agents.
  bool by_parameters = true;
  // System prompts shorter than this ("You are a helpful assistant.") are too common to link.
  std::uint32_t min_system_prompt_chars = 64;
  // A key shared by more clients than this is too common to link (a public template, a browser).
  std::uint32_t max_key_clients = 5000;
  // Observations of a shared key before two clients are linked by it.
  std::uint32_t min_shared = 3;
  // Inverted-index capacity (keys kept), bounded memory.
  std::uint32_t index_capacity = 1u << 20;
  linking_options() { weight = 1.0; min_events = 5; }
};

struct scoring_options {
  // weighted: risk = 1 - prod(1 - weight_i * score_i) (noisy-OR: one strong detector suffices).
  // fisher: Fisher's method on p_i = 1 - weight_i * score_i, risk = chi-square CDF.
  std::string method = "weighted";
  // Breadth detectors (volume, cadence, coverage, mmd, prada) count only as far as the traffic
  // is stateless single-turn querying: a multi-turn product backend is broad but not a harvest.
  bool stateless_gate = true;
  // Breadth counts fully when the mean answer is at least harvest_tokens_full tokens, and only
  // harvest_floor of itself when answers are tiny (batch classification): distillation wants answers.
  double harvest_floor = 0.4;
  double harvest_tokens_low = 16;
  double harvest_tokens_full = 128;
  // A cluster's risk passes to its members (times this factor) once the cluster has this many members.
  double cluster_inherit = 1.0;
  std::uint32_t cluster_min_members = 2;
  // Rescore a client every this many of its events, or this much event time, whichever first.
  std::uint32_t rescore_every_events = 8;
  double rescore_interval_seconds = 60;
  // A flagged client that pauses keeps its verdict while its evidence stands: every
  // hold_refresh_seconds of event time, flagged clients idle for less than hold_idle_seconds are
  // rescored from their state (so the policy's decay does not relax a sweep overnight); idle
  // longer, they are left to the policy's decay. hold_idle_seconds 0 turns this off.
  double hold_idle_seconds = 129600;
  double hold_refresh_seconds = 1800;
  // Verdict thresholds on the risk when no enforcement policy is attached (the same defaults as
  // the policy's thresholds, so replay without a policy decides as the gateway does).
  double watermark_at = 0.5;
  double throttle_at = 0.75;
  double block_at = 0.92;
  // Detector scores at or above this contribute their reason to the report.
  double reason_min_score = 0.2;
};

struct detector_options {
  // Events waiting for the analyzer thread; beyond this they are dropped and counted.
  std::uint32_t queue_capacity = 65536;
  // Seed for every hash in the features (MinHash, SimHash, sketches): change it and exported
  // features no longer match, so it is recorded in pb::Features::version's companion field.
  std::uint64_t seed = 0x64697374696c6cULL;
  // Requests whose body is larger than this are not parsed (counted, scored without text).
  std::uint32_t max_body_bytes = 4u << 20;
  // Clients tracked; beyond this the least recently seen are evicted (their state saved first).
  std::uint32_t max_clients = 4u << 20;

  scoring_options scoring;
  volume_options volume;
  cadence_options cadence;
  coverage_options coverage;
  templates_options templates;
  prada_options prada;
  mmd_options mmd;
  reasoning_options reasoning;
  conversation_options conversation;
  extraction_options extraction;
  linking_options linking;
};

// Reads the `detectors:` block. Errors are recorded in the node (check-config lists them all).
void read_detector_options(config_node& node, detector_options& out);

// The effective `detectors:` block, key for key as in the file (GET /admin/config).
nlohmann::json detector_options_json(const detector_options& o);

}  // namespace dg::detectors
