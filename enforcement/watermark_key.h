// watermark_key: the per-client key of the watermark and the keyed choice.
//
// A client's key is HMAC-SHA256(secret, "distillguard-watermark:" + client
// id), cut to the 128-bit key of SipHash-2-4, a PRF fast enough to run once
// per eligible word. The preferred member of a synonym group at one position
// is SipHash(client key, previous word) mixed with the group's seed, modulo
// the group's size: context-conditioned synonym choice in the manner of CATER
// (He et al., 2022). Old secrets keep their key id so that text marked before
// a rotation can still be checked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dg::enforcement {

std::uint64_t siphash24(std::uint64_t k0, std::uint64_t k1, std::string_view data);

struct mark_key {
  std::uint64_t k0 = 0, k1 = 0;
  std::uint32_t key_id = 0;
};

mark_key derive_mark_key(std::string_view secret, std::string_view client_id, std::uint32_t key_id);

// The member (index < size) that `key` prefers after `prev` (lower case) in a group.
inline std::uint32_t preferred_member(const mark_key& key, std::string_view prev,
                                      std::uint64_t group_seed, std::size_t size) {
  std::uint64_t h = siphash24(key.k0, key.k1 ^ group_seed, prev);
  return static_cast<std::uint32_t>(h % size);
}

}  // namespace dg::enforcement
