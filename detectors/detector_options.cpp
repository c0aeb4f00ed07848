#include "detectors/detector_options.h"

#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace dg::detectors {
namespace {

// The keys every detector block has.
void read_common(config_node& n, detector_common& d) {
  n.read("enabled", d.enabled);
  n.read("weight", d.weight, 0.0, 1.0);
  n.read("min_events", d.min_events, 0u, 1u << 30);
}

// Records an error on `key` when it is in the file, else on the block (a default may clash with a
// value the file set).
void fail_on(config_node& n, const char* key, const std::string& message) {
  if (n.has(key)) n.fail(key, message);
  else n.fail("", std::string(key) + ": " + message);
}

void check_ramp(config_node& n, const char* key, double from, double to) {
  if (from >= to) fail_on(n, key, "must be above the corresponding start value");
}

}  // namespace

void read_detector_options(config_node& node, detector_options& out) {
  node.read("queue_capacity", out.queue_capacity, 16, 1u << 24);
  std::int64_t seed = static_cast<std::int64_t>(out.seed & 0x7fffffffffffffffULL);
  node.read("seed", seed, 0, std::numeric_limits<std::int64_t>::max());
  out.seed = static_cast<std::uint64_t>(seed);
  node.read("max_body_bytes", out.max_body_bytes, 1024, 1u << 30);
  node.read("max_clients", out.max_clients, 1, 1u << 30);

  {
    auto n = node.child("scoring");
    auto& s = out.scoring;
    n.read_choice("method", s.method, {"weighted", "fisher"});
    n.read("stateless_gate", s.stateless_gate);
    n.read("harvest_floor", s.harvest_floor, 0.0, 1.0);
    n.read("harvest_tokens_low", s.harvest_tokens_low, 0.0, 1e6);
    n.read("harvest_tokens_full", s.harvest_tokens_full, 0.0, 1e6);
    check_ramp(n, "harvest_tokens_full", s.harvest_tokens_low, s.harvest_tokens_full);
    n.read("cluster_inherit", s.cluster_inherit, 0.0, 1.0);
    n.read("cluster_min_members", s.cluster_min_members, 2, 1u << 30);
    n.read("rescore_every_events", s.rescore_every_events, 1, 1u << 20);
    n.read("rescore_interval_seconds", s.rescore_interval_seconds, 0.001, 86400.0);
    n.read("hold_idle_seconds", s.hold_idle_seconds, 0.0, 365 * 86400.0);
    n.read("hold_refresh_seconds", s.hold_refresh_seconds, 1.0, 86400.0);
    n.read("watermark_at", s.watermark_at, 0.0, 1.0);
    n.read("throttle_at", s.throttle_at, 0.0, 1.0);
    n.read("block_at", s.block_at, 0.0, 1.0);
    if (!(s.watermark_at <= s.throttle_at && s.throttle_at <= s.block_at)) {
      fail_on(n, "block_at", "thresholds must satisfy watermark_at <= throttle_at <= block_at");
    }
    n.read("reason_min_score", s.reason_min_score, 0.0, 1.0);
    n.finish();
  }
  {
    auto n = node.child("volume");
    auto& d = out.volume;
    read_common(n, d);
    n.read("z_start", d.z_start, 0.0, 100.0);
    n.read("z_full", d.z_full, 0.0, 100.0);
    check_ramp(n, "z_full", d.z_start, d.z_full);
    n.read("min_daily_requests", d.min_daily_requests, 0.0, 1e9);
    n.read("cusum_k", d.cusum_k, 0.0, 100.0);
    n.read("cusum_h", d.cusum_h, 0.1, 1e6);
    n.finish();
  }
  {
    auto n = node.child("cadence");
    auto& d = out.cadence;
    read_common(n, d);
    n.read("regular_cv", d.regular_cv, 0.01, 10.0);
    n.read("sleep_hours", d.sleep_hours, 1, 23);
    n.read("min_days", d.min_days, 1, 7);
    n.finish();
  }
  {
    auto n = node.child("coverage");
    auto& d = out.coverage;
    read_common(n, d);
    n.read("new_rate_full", d.new_rate_full, 0.16, 1.0);
    n.read("distinct_start", d.distinct_start, 0.0, 1e6);
    n.read("distinct_full", d.distinct_full, 0.0, 1e6);
    check_ramp(n, "distinct_full", d.distinct_start, d.distinct_full);
    n.read("min_mean_output_tokens", d.min_mean_output_tokens, 0.0, 1e6);
    n.finish();
  }
  {
    auto n = node.child("templates");
    auto& d = out.templates;
    read_common(n, d);
    n.read("near_dup_jaccard", d.near_dup_jaccard, 0.05, 1.0);
    n.read("skeleton_share_start", d.skeleton_share_start, 0.0, 1.0);
    n.read("skeleton_share_full", d.skeleton_share_full, 0.0, 1.0);
    check_ramp(n, "skeleton_share_full", d.skeleton_share_start, d.skeleton_share_full);
    n.finish();
  }
  {
    auto n = node.child("prada");
    auto& d = out.prada;
    read_common(n, d);
    n.read("w_threshold", d.w_threshold, 0.2, 1.0);
    n.read("window", d.window, 8, 256);
    n.finish();
  }
  {
    auto n = node.child("mmd");
    auto& d = out.mmd;
    read_common(n, d);
    n.read("window", d.window, 4, 64);
    n.read("population", d.population, 8, 65536);
    n.read("mmd_start", d.mmd_start, 0.0, 2.0);
    n.read("mmd_full", d.mmd_full, 0.0, 2.0);
    check_ramp(n, "mmd_full", d.mmd_start, d.mmd_full);
    n.finish();
  }
  {
    auto n = node.child("reasoning");
    auto& d = out.reasoning;
    read_common(n, d);
    n.read("share_start", d.share_start, 0.0, 1.0);
    n.read("share_full", d.share_full, 0.0, 1.0);
    check_ramp(n, "share_full", d.share_start, d.share_full);
    n.read("ratio_full", d.ratio_full, 1.01, 1e6);
    n.finish();
  }
  {
    auto n = node.child("conversation");
    auto& d = out.conversation;
    read_common(n, d);
    n.read("single_turn_start", d.single_turn_start, 0.0, 1.0);
    n.read("single_turn_full", d.single_turn_full, 0.0, 1.0);
    check_ramp(n, "single_turn_full", d.single_turn_start, d.single_turn_full);
    n.finish();
  }
  {
    auto n = node.child("extraction");
    auto& d = out.extraction;
    read_common(n, d);
    n.read("tiny_max_tokens", d.tiny_max_tokens, 0, 1u << 20);
    n.read("share_start", d.share_start, 0.0, 1.0);
    n.read("share_full", d.share_full, 0.0, 1.0);
    check_ramp(n, "share_full", d.share_start, d.share_full);
    n.finish();
  }
  {
    auto n = node.child("linking");
    auto& d = out.linking;
    read_common(n, d);
    n.read("by_system_prompt", d.by_system_prompt);
    n.read("by_skeleton", d.by_skeleton);
    n.read("by_address_range", d.by_address_range);
    n.read("by_user_agent", d.by_user_agent);
    n.read("by_parameters", d.by_parameters);
    n.read("min_system_prompt_chars", d.min_system_prompt_chars, 0, 1u << 20);
    n.read("max_key_clients", d.max_key_clients, 2, 1u << 30);
    n.read("min_shared", d.min_shared, 1, 65535);
    n.read("index_capacity", d.index_capacity, 1024, 1u << 30);
    n.finish();
  }
  node.finish();
}

#define DG_F(j, o, f) (j)[#f] = (o).f

namespace {

nlohmann::json common_json(const detector_common& d) {
  nlohmann::json j;
  DG_F(j, d, enabled);
  DG_F(j, d, weight);
  DG_F(j, d, min_events);
  return j;
}

}  // namespace

nlohmann::json detector_options_json(const detector_options& o) {
  nlohmann::json j;
  DG_F(j, o, queue_capacity);
  DG_F(j, o, seed);
  DG_F(j, o, max_body_bytes);
  DG_F(j, o, max_clients);
  auto& s = j["scoring"];
  const auto& sc = o.scoring;
  DG_F(s, sc, method);
  DG_F(s, sc, stateless_gate);
  DG_F(s, sc, harvest_floor);
  DG_F(s, sc, harvest_tokens_low);
  DG_F(s, sc, harvest_tokens_full);
  DG_F(s, sc, cluster_inherit);
  DG_F(s, sc, cluster_min_members);
  DG_F(s, sc, rescore_every_events);
  DG_F(s, sc, rescore_interval_seconds);
  DG_F(s, sc, hold_idle_seconds);
  DG_F(s, sc, hold_refresh_seconds);
  DG_F(s, sc, watermark_at);
  DG_F(s, sc, throttle_at);
  DG_F(s, sc, block_at);
  DG_F(s, sc, reason_min_score);
  auto v = common_json(o.volume);
  DG_F(v, o.volume, z_start);
  DG_F(v, o.volume, z_full);
  DG_F(v, o.volume, min_daily_requests);
  DG_F(v, o.volume, cusum_k);
  DG_F(v, o.volume, cusum_h);
  j["volume"] = v;
  auto ca = common_json(o.cadence);
  DG_F(ca, o.cadence, regular_cv);
  DG_F(ca, o.cadence, sleep_hours);
  DG_F(ca, o.cadence, min_days);
  j["cadence"] = ca;
  auto co = common_json(o.coverage);
  DG_F(co, o.coverage, new_rate_full);
  DG_F(co, o.coverage, distinct_start);
  DG_F(co, o.coverage, distinct_full);
  DG_F(co, o.coverage, min_mean_output_tokens);
  j["coverage"] = co;
  auto t = common_json(o.templates);
  DG_F(t, o.templates, near_dup_jaccard);
  DG_F(t, o.templates, skeleton_share_start);
  DG_F(t, o.templates, skeleton_share_full);
  j["templates"] = t;
  auto p = common_json(o.prada);
  DG_F(p, o.prada, w_threshold);
  DG_F(p, o.prada, window);
  j["prada"] = p;
  auto m = common_json(o.mmd);
  DG_F(m, o.mmd, window);
  DG_F(m, o.mmd, population);
  DG_F(m, o.mmd, mmd_start);
  DG_F(m, o.mmd, mmd_full);
  j["mmd"] = m;
  auto r = common_json(o.reasoning);
  DG_F(r, o.reasoning, share_start);
  DG_F(r, o.reasoning, share_full);
  DG_F(r, o.reasoning, ratio_full);
  j["reasoning"] = r;
  auto cv = common_json(o.conversation);
  DG_F(cv, o.conversation, single_turn_start);
  DG_F(cv, o.conversation, single_turn_full);
  j["conversation"] = cv;
  auto e = common_json(o.extraction);
  DG_F(e, o.extraction, tiny_max_tokens);
  DG_F(e, o.extraction, share_start);
  DG_F(e, o.extraction, share_full);
  j["extraction"] = e;
  auto l = common_json(o.linking);
  DG_F(l, o.linking, by_system_prompt);
  DG_F(l, o.linking, by_skeleton);
  DG_F(l, o.linking, by_address_range);
  DG_F(l, o.linking, by_user_agent);
  DG_F(l, o.linking, by_parameters);
  DG_F(l, o.linking, min_system_prompt_chars);
  DG_F(l, o.linking, max_key_clients);
  DG_F(l, o.linking, min_shared);
  DG_F(l, o.linking, index_capacity);
  j["linking"] = l;
  return j;
}

#undef DG_F

}  // namespace dg::detectors
