// crypto: the few primitives distillguard needs, over OpenSSL.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace dg {

using sha256_digest = std::array<std::uint8_t, 32>;

sha256_digest sha256(std::string_view data);
sha256_digest hmac_sha256(std::string_view key, std::string_view data);

// Lower-case hex of the first `bytes` bytes of a digest (all of it by default).
std::string to_hex(const std::uint8_t* data, std::size_t size);
std::string to_hex(const sha256_digest& d, std::size_t bytes = 32);

// Cryptographically random bytes (RAND_bytes). Throws std::runtime_error if the
// generator fails, which only happens at start-up.
std::string random_bytes(std::size_t n);

// Compares without leaking where the first difference is.
bool constant_time_equal(std::string_view a, std::string_view b);

// A fast non-cryptographic 64-bit hash (for sketches and bucket ids, never secrets).
std::uint64_t hash64(std::string_view data, std::uint64_t seed = 0);

}  // namespace dg
