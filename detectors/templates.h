// templates: near-duplicates and template reuse (SEAT; Chen, Carlini and Wagner
// 2019). Each prompt's b-bit MinHash and SimHash are compared with a bounded
// reservoir of the client's earlier prompts (16 most recent, 16 sampled from
// all history): a near-duplicate pair is an estimated Jaccard above the
// threshold or a near-equal SimHash. Skeleton reuse is counted with a
// space-saving top-8 of skeleton hashes. update() returns the distance of the
// prompt to its nearest earlier prompt (SimHash Hamming), which PRADA tests.
// Thread safety: a detector is immutable; states belong to the engine's thread.
#pragma once

#include <array>
#include <vector>

#include "detectors/detector_common.h"
#include "detectors/detector_options.h"
#include "detectors/minhash.h"
#include "detectors/population.h"
#include "detectors/state_codec.h"

namespace dg::detectors {

struct templates_state {
  static constexpr std::size_t recent = 16, sampled = 16;
  struct entry {
    std::uint64_t simhash = 0;
    bbit_signature bbit{};
  };
  struct top_skeleton {
    std::uint64_t hash = 0;
    std::uint32_t count = 0;
  };
  std::vector<entry> reservoir;        // [0, recent): ring of recent; [recent, recent+sampled): sample
  std::uint32_t next_recent = 0;
  std::uint32_t evicted = 0;           // prompts pushed out of the recent ring (sampling denominator)
  std::uint32_t prompts = 0;           // prompts with text signatures
  std::uint32_t near_dups = 0;         // prompts with a near-duplicate in the reservoir
  std::uint32_t skeleton_prompts = 0;  // prompts whose skeleton has enough fixed words to be a template
  std::array<top_skeleton, 8> skeletons{};  // starts of prompts
  std::array<top_skeleton, 8> tails{};      // ends of prompts

  void save(state_writer& w) const;
  bool load(state_reader& r);
  std::size_t heap_bytes() const { return reservoir.capacity() * sizeof(entry); }
  // Prompts carrying the client's top `k` skeletons (starts or ends, whichever cover more).
  std::uint32_t top_share_count(std::size_t k, std::size_t* templates = nullptr) const;
  static std::uint32_t top_count(const std::array<top_skeleton, 8>& tracked, std::uint32_t prompts, std::size_t k,
                                 std::size_t* templates);
};

class templates_detector {
 public:
  explicit templates_detector(const templates_options& o) : o_(o) {}
  // Returns the Hamming distance (0..64) to the nearest earlier prompt, or -1 when there were
  // too few earlier prompts to say.
  int update(templates_state& s, const event_view& e, population& pop) const;
  detector_result score(const templates_state& s, const population& pop, const client_facts& c,
                        bool explain = true) const;

 private:
  templates_options o_;
};

}  // namespace dg::detectors
