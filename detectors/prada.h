// prada: PRADA's test (Juuti et al. 2019). A benign client's queries are
// unrelated to each other, so the distance of each to its nearest earlier
// query is roughly normal; a synthetic campaign (perturbations of seeds,
// templated sweeps mixed with fresh prompts) bends that distribution. The
// state is a ring of the last `window` nearest distances (SimHash Hamming,
// 0..64, from the templates detector); refresh() runs Shapiro-Wilk on it.
// Thread safety: a detector is immutable; states belong to the engine's thread.
#pragma once

#include <array>
#include <vector>

#include "detectors/detector_common.h"
#include "detectors/detector_options.h"
#include "detectors/population.h"
#include "detectors/state_codec.h"

namespace dg::detectors {

struct prada_state {
  static constexpr std::size_t capacity = 256;
  std::vector<std::uint8_t> ring;  // grows to the window, then wraps
  std::uint16_t next = 0;
  std::uint32_t distances = 0;     // distances seen
  std::uint32_t tested_at = 0;     // `distances` when W was last computed
  float w = 1, p = 1;

  void save(state_writer& w) const;
  bool load(state_reader& r);
  std::size_t heap_bytes() const { return ring.capacity(); }
};

class prada_detector {
 public:
  explicit prada_detector(const prada_options& o) : o_(o) {}
  // `distance`: from templates_detector::update (-1: none).
  void update(prada_state& s, int distance) const;
  // Recomputes W when enough new distances arrived.
  void refresh(prada_state& s) const;
  detector_result score(const prada_state& s, const population& pop, const client_facts& c,
                        bool explain = true) const;

 private:
  prada_options o_;
};

}  // namespace dg::detectors
