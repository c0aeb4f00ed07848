#include "detectors/reasoning_markers.h"

#include <algorithm>
#include <string>
#include <utility>

namespace dg::detectors {
namespace {

struct phrase_def {
  std::string_view text;  // normalised words
  std::uint32_t bit;
};

constexpr phrase_def phrase_defs[] = {
    {"step by step", marker_step_by_step},
    {"one step at a time", marker_step_by_step},
    {"show your reasoning", marker_show_reasoning},
    {"show your work", marker_show_reasoning},
    {"show all your work", marker_show_reasoning},
    {"show the steps", marker_show_reasoning},
    {"show all steps", marker_show_reasoning},
    {"explain your reasoning", marker_explain_reasoning},
    {"explain your answer", marker_explain_reasoning},
    {"explain your thinking", marker_explain_reasoning},
    {"justify your answer", marker_explain_reasoning},
    {"explain the reasoning", marker_explain_reasoning},
    {"think carefully", marker_think_carefully},
    {"think through", marker_think_carefully},
    {"think step", marker_think_carefully},
    {"think it through", marker_think_carefully},
    {"chain of thought", marker_chain_of_thought},
    {"let s think", marker_lets_think},
    {"lets think", marker_lets_think},
    {"reasoning process", marker_reasoning_process},
    {"thought process", marker_reasoning_process},
    {"detailed reasoning", marker_reasoning_process},
    {"reasoning trace", marker_reasoning_process},
    {"your reasoning", marker_reasoning_process},
    {"before answering", marker_before_answering},
    {"before you answer", marker_before_answering},
    {"walk me through", marker_walk_through},
    {"walk through", marker_walk_through},
    {"rationale", marker_rationale},
};

}  // namespace

reasoning_matcher::reasoning_matcher(std::uint64_t seed) {
  std::vector<std::pair<std::uint64_t, phrase>> all;
  std::vector<word> ws;
  for (const auto& d : phrase_defs) {
    split_words(d.text, seed, ws);
    phrase p;
    p.size = static_cast<std::uint8_t>(std::min<std::size_t>(ws.size(), 4));
    for (std::size_t i = 0; i < p.size; ++i) p.words[i] = ws[i].hash;
    p.bit = d.bit;
    all.emplace_back(p.words[0], p);
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) phrases_.push_back(all[j++].second);
    std::size_t slot = all[i].first % table_size;
    while (first_[slot] != 0) slot = (slot + 1) % table_size;
    first_[slot] = all[i].first;
    const std::uint64_t f = all[i].first >> (64 - filter_bits);
    filter_[f / 64] |= std::uint64_t{1} << (f % 64);
    begin_[slot] = static_cast<std::uint16_t>(phrases_.size() - (j - i));
    end_[slot] = static_cast<std::uint16_t>(phrases_.size());
    i = j;
  }
}

std::uint32_t reasoning_matcher::match(std::span<const word> words, std::string_view raw) const {
  std::uint32_t bits = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::uint64_t h = words[i].hash;
    if (!may_start(h)) [[likely]] continue;
    std::size_t slot = h % table_size;
    while (first_[slot] != 0 && first_[slot] != h) slot = (slot + 1) % table_size;
    if (first_[slot] == 0) continue;
    for (std::size_t p = begin_[slot]; p < end_[slot]; ++p) {
      const phrase& ph = phrases_[p];
      if (i + ph.size > words.size()) continue;
      bool ok = true;
      for (std::size_t k = 1; k < ph.size && ok; ++k) ok = words[i + k].hash == ph.words[k];
      if (ok) bits |= ph.bit;
    }
  }
  // Tags survive only in the raw text.
  for (std::size_t at = raw.find('<'); at != std::string_view::npos; at = raw.find('<', at + 1)) {
    std::string_view rest = raw.substr(at + 1, 12);
    std::string low;
    for (char c : rest) low.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
    if (low.starts_with("think") || low.starts_with("reasoning") || low.starts_with("scratchpad")) {
      bits |= marker_thinking_tag;
      break;
    }
  }
  return bits;
}

}  // namespace dg::detectors
