#include "detectors/skeleton.h"

#include <array>
#include <bit>

#include "detectors/text_normalise.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace dg::detectors {
namespace {

constexpr std::size_t head_tokens = 10;
constexpr std::size_t tail_tokens = 6;
constexpr std::size_t max_quote = 400;
// The tail is read from the last this many bytes of a long prompt (six tokens take far fewer).
constexpr std::size_t tail_scan_bytes = 160;

// Byte classes, one lookup per byte: word bytes ([0-9A-Za-z] and UTF-8), and among them digits and
// non-ASCII bytes, which mask the word.
constexpr std::uint8_t cls_word = 1, cls_digit = 2, cls_high = 4;
constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool digit = c >= '0' && c <= '9', high = c >= 0x80;
    const bool word = digit || high || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>((word ? cls_word : 0) | (digit ? cls_digit : 0) |
                                                               (high ? cls_high : 0));
  }
  return t;
}
constexpr auto classes = make_classes();

inline bool is_word_byte(unsigned char c) { return (classes[c] & cls_word) != 0; }

// The end of the word starting at i: word bytes, and an apostrophe or hyphen between two word
// bytes ("don't", "well-known"). `seen` gets the classes of its bytes, or-ed. Sixteen bytes are
// classified at a time while they lie inside raw; the rest byte by byte.
std::size_t word_end(std::string_view raw, std::size_t i, std::uint8_t& seen) {
  const std::size_t len = raw.size();
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  std::size_t j = i;
  seen = 0;
  for (;;) {
#if defined(__SSE2__)
    while (j + 16 <= len) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j));
      // v in [lo, lo + width): (v - lo + 0x80) as signed is below -128 + width (SSE2 compares signed).
      auto in_range = [&](char lo, char width) {
        const __m128i t = _mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(0x80 - lo)));
        return _mm_cmplt_epi8(t, _mm_set1_epi8(static_cast<char>(-128 + width)));
      };
      const __m128i high = _mm_cmplt_epi8(v, _mm_setzero_si128());
      const __m128i digit = in_range('0', 10);
      const __m128i word =
          _mm_or_si128(_mm_or_si128(high, digit), _mm_or_si128(in_range('a', 26), in_range('A', 26)));
      const auto word_bits = static_cast<std::uint32_t>(_mm_movemask_epi8(word));
      const int run = std::countr_zero(~word_bits);  // at most 16: bits 16 and up of ~word_bits are set
      const std::uint32_t in_word = (std::uint32_t{1} << run) - 1;
      if (static_cast<std::uint32_t>(_mm_movemask_epi8(digit)) & in_word) seen |= cls_digit;
      if (static_cast<std::uint32_t>(_mm_movemask_epi8(high)) & in_word) seen |= cls_high;
      j += static_cast<std::size_t>(run);
      if (run < 16) break;
    }
#endif
    while (j < len) {
      const std::uint8_t k = classes[p[j]];
      if (!(k & cls_word)) break;
      seen |= k;
      ++j;
    }
    if (j + 1 < len && (p[j] == '\'' || p[j] == '-') && is_word_byte(p[j + 1])) {
      ++j;
      continue;
    }
    return j;
  }
}

// Writes raw[i, i + n) lower-cased (ASCII) to out, which has room for n rounded up to 16. Bytes
// of out past n may be anything: the hash masks them.
inline void lower_ascii(std::string_view raw, std::size_t i, std::size_t n, char* out) {
#if defined(__SSE2__)
  if (i + ((n + 15) & ~std::size_t{15}) <= raw.size()) {
    for (std::size_t k = 0; k < n; k += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(raw.data() + i + k));
      const __m128i t = _mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(0x80 - 'A')));
      const __m128i upper = _mm_cmplt_epi8(t, _mm_set1_epi8(static_cast<char>(-128 + 26)));
      const __m128i lowered = _mm_add_epi8(v, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k), lowered);
    }
    return;
  }
#endif
  for (std::size_t k = 0; k < n; ++k) {
    const char ch = raw[i + k];
    out[k] = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch + ('a' - 'A')) : ch;
  }
}

// Mask token ids (kept words carry their hash instead).
constexpr std::uint64_t slot = 0x2a2a2a2a2a2a2a2aULL;

}  // namespace

skeleton make_skeleton(std::string_view raw, std::uint64_t seed, std::string* text) {
  // Only the first head_tokens and the last tail_tokens matter: a fixed array and a ring, no heap.
  // Both are written at every word and advanced only when the word is a token, so that whether a
  // word is kept, masked, an article or the continuation of a masked run (which alternate as
  // unpredictably as the words of a text) decides counts, not branches. The head's extra slot
  // takes writes past it; the ring has room for two more than the tail, so the slot written
  // ahead of a token never holds one of the last tail_tokens.
  constexpr std::size_t ring_size = 8;
  static_assert(ring_size >= tail_tokens + 2 && std::has_single_bit(ring_size));
  std::array<std::uint64_t, head_tokens + 1> head{};
  std::array<std::uint8_t, head_tokens + 1> head_kept{};
  std::array<std::uint64_t, ring_size> ring{};
  std::array<std::uint8_t, ring_size> ring_kept{};
  std::size_t n = 0;
  bool last_kept = true;
  if (text) text->clear();
  // `skip`: an article, or a masked word after a masked token (a run of masks is one slot).
  auto push = [&](std::uint64_t h, bool k, bool skip, std::string_view w) __attribute__((always_inline)) {
    skip |= !k & (n > 0) & !last_kept;
    const std::size_t at = std::min(n, head_tokens);
    head[at] = h;
    head_kept[at] = k;
    ring[n % ring_size] = h;
    ring_kept[n % ring_size] = k;
    n += !skip;
    last_kept = (skip & last_kept) | (!skip & k);  // arithmetic: a ?: here compiles to a branch
    if (text && !skip) {
      if (!text->empty()) text->push_back(' ');
      text->append(k ? w : std::string_view("*"));
    }
  };
  const common_hashes& common = common_hashes::for_seed(seed);
  bool sentence_start = true;
  std::array<char, 24 + 8> lower{};  // 8 bytes past the longest word: hashed by whole loads
  const std::size_t len = raw.size();
  std::size_t i = 0;
  std::size_t jump_at = len > 2 * tail_scan_bytes ? len - tail_scan_bytes : 0;
  std::uint8_t seen = 0;
  while (i < len) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == '"' || c == '`') {
      std::size_t close = raw.find(static_cast<char>(c), i + 1);
      if (close != std::string_view::npos && close - i <= max_quote) {
        push(slot, false, false, {});
        i = close + 1;
        continue;
      }
      ++i;
      continue;
    }
    if (c == 0xE2 && raw.substr(i, 3) == "\xE2\x80\x9C") {  // “ ... ”
      std::size_t close = raw.find("\xE2\x80\x9D", i + 3);
      if (close != std::string_view::npos && close - i <= max_quote) {
        push(slot, false, false, {});
        i = close + 3;
        continue;
      }
    }
    if (!is_word_byte(c)) {
      if (c == '.' || c == '!' || c == '?' || c == ':' || c == '\n' || c == ';') sentence_start = true;
      ++i;
      continue;
    }
    const std::size_t j = word_end(raw, i, seen);
    const bool digit = (seen & cls_digit) != 0, ascii_only = (seen & cls_high) == 0;
    const std::size_t size = j - i;
    const bool capital = c >= 'A' && c <= 'Z';
    bool kept = false, article = false;
    std::uint64_t lw_hash = slot;
    if (!digit && !(capital && !sentence_start) && ascii_only && size <= lower.size() - 8) {
      lower_ascii(raw, i, size, lower.data());
      const std::uint64_t h = word_hash_padded(reinterpret_cast<const unsigned char*>(lower.data()), size, seed);
      kept = common.contains(h);
      // An article goes with whatever fills a slot ("of Rome", "of the Ming dynasty"): not a template word.
      article = common.is_article(h);
      lw_hash = slot ^ ((h ^ slot) & (std::uint64_t{0} - kept));  // h when kept, without a branch
    }
    push(lw_hash, kept, article & kept, std::string_view(lower.data(), kept ? size : 0));
    sentence_start = false;
    i = j;
    // Only the first head_tokens and the last tail_tokens count: once the head is complete, skip
    // to the last tail_scan_bytes (at a word boundary) instead of reading the middle of a long
    // prompt. The skipped middle is one more masked slot, as a run of masks would be.
    if (n >= head_tokens && jump_at > i) {
      i = jump_at;
      while (i < len && is_word_byte(static_cast<unsigned char>(raw[i]))) ++i;  // finish the cut word
      push(slot, false, false, {});
      jump_at = 0;
    }
  }
  skeleton out;
  out.tokens = static_cast<std::uint32_t>(n);
  if (n == 0) return out;
  // Token k of the prompt (valid for k < head_tokens or k >= n - tail_tokens).
  auto token = [&](std::size_t k, bool& kept) {
    if (k < head_tokens) {
      kept = head_kept[k];
      return head[k];
    }
    kept = ring_kept[k % ring_size];
    return ring[k % ring_size];
  };
  auto hash_range = [&](std::size_t from, std::size_t to, std::uint64_t salt, std::uint32_t& constant) {
    std::uint64_t h = seed ^ salt;
    for (std::size_t k = from; k < to; ++k) {
      bool kept = false;
      h = mix64(h ^ token(k, kept));
      constant += kept ? 1u : 0u;
    }
    return h | 1u;
  };
  if (n <= head_tokens + tail_tokens) {
    out.hash = hash_range(0, n, 0x736b656c65746f6eULL, out.constant);
    out.tail_hash = out.hash;
    out.tail_constant = out.constant;
  } else {
    out.hash = hash_range(0, head_tokens, 0x736b656c65746f6eULL ^ 1, out.constant);
    out.tail_hash = hash_range(n - tail_tokens, n, 0x736b656c65746f6eULL ^ 2, out.tail_constant);
  }
  return out;
}

}  // namespace dg::detectors
