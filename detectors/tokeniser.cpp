#include "detectors/tokeniser.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "common/bits.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace dg::detectors {
namespace {

constexpr std::size_t block = 64;  // bytes per word_bits_ entry
constexpr std::size_t padding = 16;  // a word's last 8-byte load may reach this far past the text

#if !defined(__SSE2__)
// What normalise_text makes of each byte: ASCII lower-cased, UTF-8 bytes kept, separators as ' '.
constexpr std::array<unsigned char, 256> make_lowered() {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) {
    bool keep = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c >= 0x80;
    bool upper = c >= 'A' && c <= 'Z';
    t[static_cast<std::size_t>(c)] =
        static_cast<unsigned char>(upper ? c + ('a' - 'A') : keep ? c : ' ');
  }
  return t;
}
constexpr auto lowered_byte = make_lowered();
#endif

// Lower-cases one block of 64 bytes from `in` into `out` and returns its word-byte mask.
inline std::uint64_t classify_block(const unsigned char* in, unsigned char* out) {
#if defined(__SSE2__)
  // A byte v is in [lo, lo + width) exactly when (v - lo + 0x80), read as signed, is below
  // -128 + width: SSE2 has only signed compares.
  auto in_range = [](__m128i v, char lo, char width) {
    __m128i t = _mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(0x80 - lo)));
    return _mm_cmplt_epi8(t, _mm_set1_epi8(static_cast<char>(-128 + width)));
  };
  std::uint64_t bits = 0;
  for (std::size_t k = 0; k < block; k += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + k));
    __m128i high = _mm_cmplt_epi8(v, _mm_setzero_si128());  // UTF-8 bytes (>= 0x80)
    __m128i upper = in_range(v, 'A', 26);
    __m128i keep = _mm_or_si128(_mm_or_si128(high, upper),
                                _mm_or_si128(in_range(v, 'a', 26), in_range(v, '0', 10)));
    __m128i lowered = _mm_add_epi8(v, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
    __m128i res = _mm_or_si128(_mm_and_si128(keep, lowered), _mm_andnot_si128(keep, _mm_set1_epi8(' ')));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k), res);
    bits |= static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(keep))) << k;
  }
  return bits;
#else
  std::uint64_t bits = 0;
  for (std::size_t k = 0; k < block; ++k) {
    unsigned char c = lowered_byte[in[k]];
    out[k] = c;
    bits |= static_cast<std::uint64_t>(c != ' ') << k;
  }
  return bits;
#endif
}

}  // namespace

token_counts tokeniser::split(std::string_view raw, std::uint64_t seed, std::size_t max_words) {
  const std::size_t n = raw.size();
  // At most one word per two bytes (a word and its separator), and at most max_words.
  const std::size_t most = std::min(max_words, n / 2 + 1);
  if (words_.size() < most) words_.resize(most);
  word* const out = words_.data();
  std::size_t count = 0;
  const std::size_t blocks = (n + block - 1) / block;
  lowered_.resize(blocks * block + padding);
  word_bits_.resize(blocks);
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  unsigned char* low = lowered_.data();
  std::size_t whole = n / block;
  for (std::size_t b = 0; b < whole; ++b) word_bits_[b] = classify_block(in + b * block, low + b * block);
  if (whole < blocks) {
    // The last, partial block: copied into a block of separators first (never read past raw).
    alignas(16) unsigned char last[block];
    std::memset(last, ' ', block);
    std::memcpy(last, in + whole * block, n - whole * block);
    word_bits_[whole] = classify_block(last, low + whole * block);
  }

  // Word boundaries: a bit of word_bits ^ (word_bits << 1) is a word's first byte or the first
  // byte after it, alternately.
  const common_hashes& common = common_hashes::for_seed(seed);
  std::uint64_t carry = 0;  // the previous block's last bit
  std::size_t start = 0;
  bool in_word = false;
  auto emit = [&](std::size_t from, std::size_t to) {
    const unsigned char* p = low + from;
    const std::uint64_t h = word_hash_padded(p, to - from, seed);
    out[count++] = {std::string_view(reinterpret_cast<const char*>(p), to - from), h, common.contains(h)};
  };
  for (std::size_t b = 0; b < blocks && count < most; ++b) {
    const std::uint64_t bits = word_bits_[b];
    std::uint64_t edges = bits ^ ((bits << 1) | carry);
    carry = bits >> 63;
    for (; edges != 0 && count < most; edges &= edges - 1) {
      const std::size_t at = b * block + static_cast<std::size_t>(std::countr_zero(edges));
      if (in_word) emit(start, at);
      start = at;
      in_word = !in_word;
    }
  }
  // A text that fills its last block ends inside a word.
  if (in_word && count < most && start < n && word_bits_[blocks - 1] >> 63) emit(start, n);
  count_ = count;

  // The counts of the whole text, from the masks: a word starts where a word byte follows a separator.
  token_counts counts;
  carry = 0;
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::uint64_t bits = word_bits_[b];
    counts.words += static_cast<std::size_t>(bit_count(bits & ~((bits << 1) | carry)));
    counts.chars += static_cast<std::size_t>(bit_count(bits));
    carry = bits >> 63;
  }
  if (counts.words > 0) counts.chars += counts.words - 1;
  return counts;
}

}  // namespace dg::detectors
