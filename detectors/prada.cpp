#include "detectors/prada.h"

#include <algorithm>
#include <vector>

#include "detectors/shapiro_wilk.h"

namespace dg::detectors {

void prada_state::save(state_writer& wr) const {
  wr.put_array(ring.data(), ring.size());
  wr.put(next); wr.put(distances); wr.put(tested_at); wr.put(w); wr.put(p);
}

bool prada_state::load(state_reader& r) {
  std::array<std::uint8_t, capacity> buf;
  std::size_t n = 0;
  if (!r.get_array(buf.data(), buf.size(), n)) return false;
  ring.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  return r.get(next) && r.get(distances) && r.get(tested_at) && r.get(w) && r.get(p) &&
         (ring.empty() || next < ring.size());
}

void prada_detector::update(prada_state& s, int distance) const {
  if (distance < 0) return;
  const std::size_t window = std::clamp<std::size_t>(o_.window, 8, prada_state::capacity);
  auto d = static_cast<std::uint8_t>(std::min(distance, 64));
  if (s.ring.size() < window) {
    s.ring.push_back(d);
  } else {
    s.ring[s.next] = d;
    s.next = static_cast<std::uint16_t>((s.next + 1) % s.ring.size());
  }
  ++s.distances;
}

void prada_detector::refresh(prada_state& s) const {
  if (s.ring.size() < 8 || s.distances - s.tested_at < std::max<std::size_t>(8, s.ring.size() / 8)) return;
  std::vector<double> x(s.ring.begin(), s.ring.end());
  sw_result r = shapiro_wilk(x);
  s.w = static_cast<float>(r.valid ? r.w : 1.0);
  s.p = static_cast<float>(r.valid ? r.p : 1.0);
  s.tested_at = s.distances;
}

detector_result prada_detector::score(const prada_state& s, const population&,
                                      const client_facts& c, bool explain) const {
  detector_result r;
  if (c.events < o_.min_events || s.ring.size() < std::min<std::size_t>(o_.window, 32)) return r;
  if (s.p < 0.001 && s.w < o_.w_threshold) r.score = ramp(s.w, o_.w_threshold, o_.w_threshold - 0.15);
  if (explain && r.score > 0) {
    r.reason = format("distances to the nearest earlier prompt are not normal (Shapiro-Wilk W %.3f, "
                      "p %.1e, over %zu prompts)", s.w, s.p, s.ring.size());
  }
  return r;
}

}  // namespace dg::detectors
