#include "detectors/mmd.h"

#include <algorithm>
#include <bit>
#include <span>

#include "detectors/ngram_sketch.h"

namespace dg::detectors {
namespace {
constexpr std::size_t population_sample = 32;  // population prompts per MMD estimate
}

void mmd_state::save(state_writer& w) const {
  w.put_array(window.data(), window.size());
  w.put(next); w.put(prompts); w.put(computed_at); w.put(mmd2); w.put(computed);
}

bool mmd_state::load(state_reader& r) {
  std::array<sketch, capacity> buf;
  std::size_t n = 0;
  if (!r.get_array(buf.data(), buf.size(), n)) return false;
  window.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  return r.get(next) && r.get(prompts) && r.get(computed_at) && r.get(mmd2) && r.get(computed) &&
         (window.empty() || next < window.size());
}

void mmd_detector::update(mmd_state& s, const event_view& e, population& pop,
                          std::uint64_t client_events) const {
  mmd_state::sketch k;
  k.size = static_cast<std::uint8_t>(std::min<int>(e.f.ngram_sketch_size(), 8));
  for (int i = 0; i < k.size; ++i) k.v[static_cast<std::size_t>(i)] = e.f.ngram_sketch(i);
  const std::size_t cap = std::clamp<std::size_t>(o_.window, 4, mmd_state::capacity);
  if (s.window.size() < cap) {
    s.window.push_back(k);
  } else {
    s.window[s.next] = k;
    s.next = static_cast<std::uint16_t>((s.next + 1) % s.window.size());
  }
  ++s.prompts;
  // The population reservoir takes each client's 1st, 2nd, 4th, 8th, ... prompt.
  if (std::has_single_bit(client_events)) {
    ++pop.sketches_seen;
    if (pop.sketches.size() < o_.population) {
      pop.sketches.push_back(k.v);
      pop.sketch_sizes.push_back(k.size);
    } else {
      std::uint64_t j = pop.next_random() % pop.sketches_seen;
      if (j < pop.sketches.size()) {
        pop.sketches[j] = k.v;
        pop.sketch_sizes[j] = k.size;
      }
    }
  }
}

void mmd_detector::refresh(mmd_state& s, population& pop) const {
  if (s.window.size() < 4 || pop.sketches.size() < 8) return;
  if (s.computed && s.prompts - s.computed_at < std::max<std::size_t>(4, s.window.size())) return;
  // The population sample: retaken when the reservoir has seen a quarter of its size in new prompts.
  if (pop.sample.empty() || pop.sketches_seen >= pop.sample_taken_at + std::max<std::size_t>(8, pop.sketches.size() / 4)) {
    const std::size_t n = std::min(population_sample, pop.sketches.size());
    const std::size_t start = pop.next_random() % pop.sketches.size();
    std::vector<std::span<const std::uint32_t>> y;
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t j = (start + i) % pop.sketches.size();
      y.emplace_back(pop.sketches[j].data(), pop.sketch_sizes[j]);
    }
    pop.sample.assign(y);
    pop.sample_taken_at = pop.sketches_seen;
  }
  std::vector<std::span<const std::uint32_t>> x;
  x.reserve(s.window.size());
  for (const auto& k : s.window) x.emplace_back(k.v.data(), k.size);
  s.mmd2 = static_cast<float>(mmd2_given_y(x, pop.sample));
  s.computed = true;
  s.computed_at = s.prompts;
}

detector_result mmd_detector::score(const mmd_state& s, const population&,
                                    const client_facts& c, bool explain) const {
  detector_result r;
  if (c.events < o_.min_events || !s.computed) return r;
  r.score = ramp(s.mmd2, o_.mmd_start, o_.mmd_full);
  if (explain && r.score > 0) {
    r.reason = format("the last %zu prompts differ from the population's (n-gram MMD^2 %.2f)",
                      s.window.size(), s.mmd2);
  }
  return r;
}

}  // namespace dg::detectors
