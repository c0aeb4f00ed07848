// skeleton: the template a prompt was made from. Numbers, quoted strings,
// capitalised names inside a sentence and every word outside the common-word
// list are masked, and a run of masks becomes one slot, so "Explain the history
// of Rome in 300 words" and "Explain the history of the Ming dynasty in 50
// words" share a skeleton. A long prompt has two: its first tokens (templates
// whose slot, often a long input, comes last) and its last tokens (templates
// whose slot comes first); a short one has one, twice. `constant` counts the
// unmasked tokens hashed, so a short question ("what is the * of *") is not
// mistaken for a template.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dg::detectors {

struct skeleton {
  std::uint64_t hash = 0;          // the start (0 for an empty text)
  std::uint32_t constant = 0;      // unmasked tokens among those hashed
  std::uint64_t tail_hash = 0;     // the end
  std::uint32_t tail_constant = 0;
  std::uint32_t tokens = 0;        // tokens after collapsing slots
};

// `text`, if not null, receives the skeleton as words and slots ("explain the * of *").
skeleton make_skeleton(std::string_view raw, std::uint64_t seed, std::string* text = nullptr);

}  // namespace dg::detectors
