#include "detectors/skeleton.h"

#include <array>
#include <vector>

#include "detectors/text_normalise.h"

namespace dg::detectors {
namespace {

constexpr std::size_t head_tokens = 10;
constexpr std::size_t tail_tokens = 6;
constexpr std::size_t max_quote = 400;

bool is_word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

// Mask token ids (kept words carry their hash instead).
constexpr std::uint64_t slot = 0x2a2a2a2a2a2a2a2aULL;

}  // namespace

skeleton make_skeleton(std::string_view raw, std::uint64_t seed, std::string* text) {
  // Token hashes after collapsing runs of masks; `kept` marks unmasked tokens.
  std::vector<std::uint64_t> toks;
  std::vector<bool> kept;
  toks.reserve(64);
  kept.reserve(64);
  if (text) text->clear();
  auto push = [&](std::uint64_t h, bool k, std::string_view w) {
    if (!k && !toks.empty() && !kept.back()) return;  // a run of masks is one slot
    toks.push_back(h);
    kept.push_back(k);
    if (text) {
      if (!text->empty()) text->push_back(' ');
      text->append(k ? w : std::string_view("*"));
    }
  };
  bool sentence_start = true;
  std::array<char, 24> lower{};
  const std::size_t n = raw.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == '"' || c == '`') {
      std::size_t close = raw.find(static_cast<char>(c), i + 1);
      if (close != std::string_view::npos && close - i <= max_quote) {
        push(slot, false, {});
        i = close + 1;
        continue;
      }
      ++i;
      continue;
    }
    if (c == 0xE2 && raw.substr(i, 3) == "\xE2\x80\x9C") {  // “ ... ”
      std::size_t close = raw.find("\xE2\x80\x9D", i + 3);
      if (close != std::string_view::npos && close - i <= max_quote) {
        push(slot, false, {});
        i = close + 3;
        continue;
      }
    }
    if (!is_word_byte(c)) {
      if (c == '.' || c == '!' || c == '?' || c == ':' || c == '\n' || c == ';') sentence_start = true;
      ++i;
      continue;
    }
    std::size_t j = i;
    bool digit = false, ascii_only = true;
    while (j < n) {
      unsigned char d = static_cast<unsigned char>(raw[j]);
      if (is_word_byte(d)) {
        digit |= d >= '0' && d <= '9';
        ascii_only &= d < 0x80;
        ++j;
      } else if ((d == '\'' || d == '-') && j + 1 < n &&
                 is_word_byte(static_cast<unsigned char>(raw[j + 1]))) {
        ++j;
      } else {
        break;
      }
    }
    std::string_view w = raw.substr(i, j - i);
    bool capital = c >= 'A' && c <= 'Z';
    bool masked = true;
    std::string_view lw;
    if (!digit && !(capital && !sentence_start) && ascii_only && w.size() <= lower.size()) {
      for (std::size_t k = 0; k < w.size(); ++k) {
        char ch = w[k];
        lower[k] = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch + ('a' - 'A')) : ch;
      }
      lw = std::string_view(lower.data(), w.size());
      masked = !is_common_word(lw);
    }
    if (!masked && (lw == "a" || lw == "an" || lw == "the")) {
      // Articles go with whatever fills a slot ("of Rome", "of the Ming dynasty"): not template words.
      sentence_start = false;
      i = j;
      continue;
    }
    if (masked) push(slot, false, {});
    else push(word_hash(lw, seed), true, lw);
    sentence_start = false;
    i = j;
  }
  skeleton out;
  out.tokens = static_cast<std::uint32_t>(toks.size());
  if (toks.empty()) return out;
  std::uint64_t h = seed ^ 0x736b656c65746f6eULL;
  auto fold = [&](std::size_t k) {
    h = mix64(h ^ toks[k]);
    out.constant += kept[k] ? 1u : 0u;
  };
  if (toks.size() <= head_tokens + tail_tokens) {
    for (std::size_t k = 0; k < toks.size(); ++k) fold(k);
  } else {
    for (std::size_t k = 0; k < head_tokens; ++k) fold(k);
    h = mix64(h ^ slot);  // the elided middle
    for (std::size_t k = toks.size() - tail_tokens; k < toks.size(); ++k) fold(k);
  }
  out.hash = h | 1u;
  return out;
}

}  // namespace dg::detectors
