#include "detectors/minhash.h"

#include <algorithm>

#include "detectors/text_normalise.h"

namespace dg::detectors {

minhasher::minhasher(std::uint64_t seed) {
  std::uint64_t s = seed;
  for (std::size_t k = 0; k < minhash_size; ++k) {
    s = mix64(s + 0x9e3779b97f4a7c15ULL);
    xor_[k] = static_cast<std::uint32_t>(s);
    mul_[k] = static_cast<std::uint32_t>(s >> 32) | 1u;  // odd: a bijection mod 2^32
  }
}

void minhasher::sign(std::span<const std::uint32_t> shingles, minhash_signature& out) const {
  alignas(64) std::array<std::uint32_t, minhash_size> lanes;
  lanes.fill(0xffffffffu);
  for (std::uint32_t s : shingles) {
    for (std::size_t k = 0; k < minhash_size; ++k) {
      std::uint32_t v = (s ^ xor_[k]) * mul_[k];
      v ^= v >> 15;
      lanes[k] = std::min(lanes[k], v);
    }
  }
  out = lanes;
}

double jaccard(const minhash_signature& a, const minhash_signature& b) {
  std::size_t eq = 0;
  for (std::size_t k = 0; k < minhash_size; ++k) eq += a[k] == b[k];
  return static_cast<double>(eq) / minhash_size;
}

bbit_signature to_bbit(std::span<const std::uint32_t> sig) {
  bbit_signature out{};
  for (std::size_t k = 0; k < bbit_size && k < sig.size(); ++k) {
    out[k] = static_cast<std::uint8_t>(sig[k] ^ (sig[k] >> 8) ^ (sig[k] >> 16));
  }
  return out;
}

double jaccard_bbit(const bbit_signature& a, const bbit_signature& b) {
  std::size_t eq = 0;
  for (std::size_t k = 0; k < bbit_size; ++k) eq += a[k] == b[k];
  constexpr double chance = 1.0 / 256;
  double p = static_cast<double>(eq) / bbit_size;
  return std::clamp((p - chance) / (1 - chance), 0.0, 1.0);
}

}  // namespace dg::detectors
