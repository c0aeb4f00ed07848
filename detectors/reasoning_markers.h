// reasoning_markers: finds the phrases that ask a model for its reasoning
// trace ("step by step", "show your reasoning", "explain your reasoning",
// "think carefully", "chain of thought", "let's think", <thinking> tags, ...)
// in a system prompt or a user turn. Matching is on normalised word hashes, so
// it costs one small-table lookup per word.
// Thread safety: a reasoning_matcher is immutable after construction.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "detectors/text_normalise.h"

namespace dg::detectors {

// Bits of Features.reasoning_markers / system_reasoning_markers.
enum reasoning_marker : std::uint32_t {
  marker_step_by_step = 1u << 0,
  marker_show_reasoning = 1u << 1,    // show your reasoning / work / steps
  marker_explain_reasoning = 1u << 2, // explain / justify your reasoning / answer / thinking
  marker_think_carefully = 1u << 3,   // think carefully / think through / think step
  marker_chain_of_thought = 1u << 4,
  marker_thinking_tag = 1u << 5,      // <think>, <thinking>, <reasoning>, <scratchpad>
  marker_lets_think = 1u << 6,
  marker_reasoning_process = 1u << 7, // reasoning process / thought process / detailed reasoning
  marker_before_answering = 1u << 8,
  marker_walk_through = 1u << 9,
  marker_rationale = 1u << 10,
};

class reasoning_matcher {
 public:
  explicit reasoning_matcher(std::uint64_t seed);
  // Marker bits found in `words` (normalised, hashed with the same seed) and in `raw` (tags).
  std::uint32_t match(std::span<const word> words, std::string_view raw) const;

 private:
  struct phrase {
    std::array<std::uint64_t, 4> words{};
    std::uint8_t size = 0;
    std::uint32_t bit = 0;
  };
  std::vector<phrase> phrases_;
  // Open-addressed table of first-word hashes (0 = empty) with the range of phrases starting there.
  static constexpr std::size_t table_size = 64;
  std::array<std::uint64_t, table_size> first_{};
  std::array<std::uint16_t, table_size> begin_{};
  std::array<std::uint16_t, table_size> end_{};
  // One bit per first word, indexed by the top bits of its hash: nearly every word of a prompt
  // starts no phrase, and this turns it away with one load and a branch that is rarely taken.
  static constexpr unsigned filter_bits = 12;
  std::array<std::uint64_t, (std::size_t{1} << filter_bits) / 64> filter_{};
  bool may_start(std::uint64_t h) const {
    const std::uint64_t i = h >> (64 - filter_bits);
    return (filter_[i / 64] >> (i % 64) & 1) != 0;
  }
};

}  // namespace dg::detectors
