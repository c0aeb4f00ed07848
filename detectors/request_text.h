// request_text: the small rules both readers of a request body share (the
// one-pass reader of raw bodies in request_body_reader.cpp, the reader of
// parsed JSON in request_parser.cpp for replay), so that they fill an event
// alike: role names, how message texts are joined and capped, and how the
// system prompt and the prompt become the event's texts and hashes.
// Thread safety: pure functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "detectors/request_parser.h"

namespace dg::detectors {

inline pb::MessageRole role_of(std::string_view r) {
  if (r == "system") return pb::ROLE_SYSTEM;
  if (r == "user") return pb::ROLE_USER;
  if (r == "assistant") return pb::ROLE_ASSISTANT;
  if (r == "tool" || r == "function") return pb::ROLE_TOOL;
  if (r == "developer") return pb::ROLE_DEVELOPER;
  return pb::ROLE_OTHER;
}

// The role of a responses-API item without one (function_call, function_call_output, ...).
inline pb::MessageRole role_of_item_type(std::string_view type) {
  return type == "function_call_output" ? pb::ROLE_TOOL
         : type == "function_call"      ? pb::ROLE_ASSISTANT
                                        : pb::ROLE_OTHER;
}

// Appends one text part to `out` (a newline between parts), keeping `out` within `max` bytes
// without splitting a UTF-8 sequence.
inline void add_text(std::string& out, std::string_view t, std::size_t max) {
  if (out.size() >= max) return;
  if (!out.empty()) out.push_back('\n');
  std::size_t n = std::min(t.size(), max - std::min(max, out.size()));
  while (n > 0 && n < t.size() && (static_cast<unsigned char>(t[n]) & 0xC0) == 0x80) --n;
  out.append(t.substr(0, n));
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
inline void utf8_truncate(std::string& s, std::size_t max) {
  if (s.size() <= max) return;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
}

inline std::uint32_t clamp_u32(double v) {
  if (!(v > 0)) return 0;
  if (v > 4294967295.0) return 4294967295u;
  return static_cast<std::uint32_t>(v);
}

// The system prompt and the prompt, capped, hashed and moved into the event.
inline void set_request_texts(std::string system, std::string prompt, pb::QueryEvent& ev,
                              const parse_limits& limits) {
  utf8_truncate(system, limits.max_text_bytes);
  utf8_truncate(prompt, limits.max_text_bytes);
  if (!system.empty()) {
    ev.set_system_prompt_hash(hash64(system, system_prompt_hash_seed) | 1u);  // 0 means none
    ev.set_system_prompt(std::move(system));
  }
  auto digest = sha256(prompt);
  ev.set_prompt_text_hash(std::string(reinterpret_cast<const char*>(digest.data()), digest.size()));
  ev.set_prompt_text(std::move(prompt));
}

}  // namespace dg::detectors
