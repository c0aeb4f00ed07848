// verdict: what distillguard does to a client, ordered allow < watermark < throttle < block.
// The numbering matches pb::Verdict in proto/query_event.proto.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dg::enforcement {

enum class verdict : std::uint8_t { allow = 0, watermark = 1, throttle = 2, block = 3 };

constexpr std::string_view to_string(verdict v) {
  switch (v) {
    case verdict::allow: return "allow";
    case verdict::watermark: return "watermark";
    case verdict::throttle: return "throttle";
    case verdict::block: return "block";
  }
  return "allow";
}

constexpr std::optional<verdict> parse_verdict(std::string_view s) {
  for (verdict v : {verdict::allow, verdict::watermark, verdict::throttle, verdict::block}) {
    if (s == to_string(v)) return v;
  }
  return std::nullopt;
}

}  // namespace dg::enforcement
