#include "detectors/minhash.h"

#include <algorithm>
#include <cstring>

#include "detectors/text_normalise.h"

namespace dg::detectors {

minhasher::minhasher(std::uint64_t seed) {
  std::uint64_t s = mix64(seed + 0x9e3779b97f4a7c15ULL);
  xor_ = static_cast<std::uint32_t>(s);
  mul_ = static_cast<std::uint32_t>(s >> 32) | 1u;  // odd: a bijection mod 2^32
  probe_seed_ = mix64(s);
  for (std::uint32_t lane = 0; lane < minhash_size; ++lane) {
    std::uint64_t h = probe_seed_ ^ lane;
    for (std::uint32_t attempt = 0; attempt < probes_kept; ++attempt) {
      h = mix64(h + attempt);
      probes_[lane][attempt] = static_cast<std::uint8_t>(h & (minhash_size - 1));
    }
  }
}

std::uint32_t minhasher::borrow(std::uint32_t lane, std::uint64_t filled) const {
  for (std::uint8_t from : probes_[lane]) {
    if (filled >> from & 1) return from;
  }
  // Past the kept start of the sequence (a prompt of a shingle or two): continue it.
  std::uint64_t h = probe_seed_ ^ lane;
  for (std::uint32_t attempt = 0;; ++attempt) {
    h = mix64(h + attempt);
    const auto from = static_cast<std::uint32_t>(h & (minhash_size - 1));
    if (attempt >= probes_kept && (filled >> from & 1)) return from;
  }
}

void minhasher::sign(std::span<const std::uint32_t> shingles, minhash_signature& out) const {
  constexpr std::uint32_t empty = 0xffffffffu;
  out.fill(empty);
  std::uint64_t filled = 0;
  for (std::uint32_t s : shingles) {
    std::uint32_t v = (s ^ xor_) * mul_;
    v ^= v >> 15;
    v *= 0x2c1b3c6du;
    v ^= v >> 12;
    const std::uint32_t lane = v >> 26;  // top 6 bits: one of 64 lanes
    const std::uint32_t value = v & 0x03ffffffu;
    out[lane] = std::min(out[lane], value);  // no branch: which lane gets a new minimum is random
    filled |= 1ULL << lane;
  }
  if (filled == 0 || filled == ~0ULL) return;
  // Optimal densification: each empty lane takes the value of the first filled lane on its own
  // seeded probe sequence (the same sequence for every prompt, so equal sets stay equal).
  const minhash_signature dense = out;
  for (std::uint32_t lane = 0; lane < minhash_size; ++lane) {
    if (filled >> lane & 1) continue;
    out[lane] = dense[borrow(lane, filled)] | (lane << 26);  // borrowed values stay distinct per lane
  }
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

double jaccard_from_equal_lanes(std::size_t equal) {
  constexpr double chance = 1.0 / 256;
  double p = static_cast<double>(equal) / bbit_size;
  return std::clamp((p - chance) / (1 - chance), 0.0, 1.0);
}

double jaccard_bbit(const bbit_signature& a, const bbit_signature& b) {
  return jaccard_from_equal_lanes(equal_bbit_lanes(a, b));
}

}  // namespace dg::detectors
