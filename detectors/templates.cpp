#include "detectors/templates.h"

#include <algorithm>

#include "detectors/simhash.h"

namespace dg::detectors {
namespace {
// Skeletons with fewer fixed words than this are ordinary short sentences, not templates.
constexpr std::uint32_t min_constant = 5;
// SimHash distance at or below which two prompts are the same text, give or take a word.
constexpr int near_equal_bits = 3;
// Earlier prompts needed before a nearest distance means anything.
constexpr std::size_t min_reservoir = 8;
}  // namespace

std::uint32_t templates_state::top_share_count(std::size_t k, std::size_t* templates) const {
  std::size_t nh = 0, nt = 0;
  std::uint32_t h = top_count(skeletons, prompts, k, &nh), t = top_count(tails, prompts, k, &nt);
  if (templates) *templates = h >= t ? nh : nt;
  return std::max(h, t);
}

std::uint32_t templates_state::top_count(const std::array<top_skeleton, 8>& tracked, std::uint32_t prompts,
                                         std::size_t k, std::size_t* templates) {
  std::array<std::uint32_t, 8> counts{};
  for (std::size_t i = 0; i < tracked.size(); ++i) counts[i] = tracked[i].count;
  std::sort(counts.begin(), counts.end(), std::greater<>());
  std::uint32_t sum = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < k && i < counts.size(); ++i) {
    if (counts[i] < 3 || counts[i] * 20 < prompts) break;  // under 5% of prompts: not a template
    sum += counts[i];
    ++n;
  }
  if (templates) *templates = n;
  return sum;
}

void templates_state::save(state_writer& w) const {
  w.put_array(reservoir.data(), reservoir.size());
  w.put(next_recent); w.put(evicted); w.put(prompts); w.put(near_dups); w.put(skeleton_prompts);
  w.put(skeletons);
  w.put(tails);
}

bool templates_state::load(state_reader& r) {
  std::array<entry, recent + sampled> buf;
  std::size_t n = 0;
  if (!r.get_array(buf.data(), buf.size(), n)) return false;
  reservoir.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  return r.get(next_recent) && r.get(evicted) && r.get(prompts) && r.get(near_dups) &&
         r.get(skeleton_prompts) && r.get(skeletons) && r.get(tails) && next_recent < recent;
}

int templates_detector::update(templates_state& s, const event_view& e, population& pop) const {
  int nearest = -1;
  if (e.f.minhash_size() >= static_cast<int>(bbit_size)) {
    templates_state::entry cur;
    cur.simhash = e.f.simhash();
    cur.bbit = to_bbit({e.f.minhash().data(), static_cast<std::size_t>(e.f.minhash_size())});
    std::size_t best_eq = 0;
    int best_h = 65;
    for (const auto& x : s.reservoir) {
      best_eq = std::max(best_eq, equal_bbit_lanes(cur.bbit, x.bbit));
      best_h = std::min(best_h, hamming(cur.simhash, x.simhash));
    }
    const double best_j = s.reservoir.empty() ? 0.0 : jaccard_from_equal_lanes(best_eq);
    if (!s.reservoir.empty() && (best_j >= o_.near_dup_jaccard || best_h <= near_equal_bits)) ++s.near_dups;
    if (s.reservoir.size() >= min_reservoir) nearest = best_h;
    ++s.prompts;
    // Insert: fill the recent ring, then the sample; afterwards the prompt leaving the ring
    // replaces a sampled one with probability sampled / evicted (reservoir sampling).
    if (s.reservoir.size() < templates_state::recent + templates_state::sampled) {
      if (s.reservoir.capacity() == 0) s.reservoir.reserve(4);
      s.reservoir.push_back(cur);
    } else {
      auto& slot = s.reservoir[s.next_recent];
      ++s.evicted;
      std::uint64_t rnd = pop.next_random();
      if (rnd % (s.evicted + templates_state::sampled) < templates_state::sampled) {
        s.reservoir[templates_state::recent + rnd / 7 % templates_state::sampled] = slot;
      }
      slot = cur;
      s.next_recent = (s.next_recent + 1) % templates_state::recent;
    }
    if (s.prompts >= 0x40000000u) {  // keep shares, bound counters
      s.prompts /= 2;
      s.near_dups /= 2;
      s.skeleton_prompts /= 2;
      for (auto& k : s.skeletons) k.count /= 2;
      for (auto& k : s.tails) k.count /= 2;
    }
  }
  // Space-saving: increment if tracked, else replace the smallest.
  auto track = [](std::array<templates_state::top_skeleton, 8>& tracked, std::uint64_t hash) {
    auto it = std::find_if(tracked.begin(), tracked.end(), [&](const auto& k) { return k.hash == hash; });
    if (it == tracked.end()) {
      it = std::min_element(tracked.begin(), tracked.end(),
                            [](const auto& a, const auto& b) { return a.count < b.count; });
      it->hash = hash;
    }
    ++it->count;
  };
  bool counted = false;
  if (e.f.skeleton_hash() != 0 && e.f.skeleton_constant() >= min_constant) {
    track(s.skeletons, e.f.skeleton_hash());
    counted = true;
  }
  if (e.f.skeleton_tail_hash() != 0 && e.f.skeleton_tail_constant() >= min_constant &&
      e.f.skeleton_tail_hash() != e.f.skeleton_hash()) {
    track(s.tails, e.f.skeleton_tail_hash());
    counted = true;
  }
  if (counted) ++s.skeleton_prompts;
  return nearest;
}

detector_result templates_detector::score(const templates_state& s, const population&,
                                          const client_facts& c, bool explain) const {
  detector_result r;
  if (c.events < o_.min_events || s.prompts == 0) return r;
  std::size_t n_templates = 0;
  std::uint32_t in_top = s.top_share_count(3, &n_templates);
  // Space-saving overestimates a count by at most the smallest tracked count.
  double share = std::min(1.0, static_cast<double>(in_top) / s.prompts);
  double dup_share = static_cast<double>(s.near_dups) / s.prompts;
  r.score = std::max(ramp(share, o_.skeleton_share_start, o_.skeleton_share_full), ramp(dup_share, 0.3, 0.8));
  if (explain && r.score > 0) {
    r.reason = format("%.0f%% of %u prompts share %zu template%s; %.0f%% are near-duplicates of an earlier prompt",
                      100 * share, s.prompts, n_templates, n_templates == 1 ? "" : "s", 100 * dup_share);
  }
  return r;
}

}  // namespace dg::detectors
