#include "storage/privacy.h"

#include <cstdint>
#include <cstring>

#include "common/crypto.h"

namespace dg::storage {
namespace {

pb::PromptTextMode mode_of(const storage_options& o) {
  if (o.prompt_text == "full") return pb::PROMPT_TEXT_FULL;
  if (o.prompt_text == "prefix") return pb::PROMPT_TEXT_PREFIX;
  return pb::PROMPT_TEXT_HASH;
}

void keep(std::string& text, pb::PromptTextMode mode, std::size_t prefix_chars) {
  switch (mode) {
    case pb::PROMPT_TEXT_FULL:
      return;
    case pb::PROMPT_TEXT_PREFIX:
      text.resize(utf8_prefix(text, prefix_chars).size());
      return;
    default:
      text.clear();
      text.shrink_to_fit();
      return;
  }
}

// Length of the well-formed UTF-8 sequence at s[i], or 0 if it is ill-formed
// (RFC 3629 table: no overlongs, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const std::size_t left = s.size() - i;
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  const auto cont = [&](std::size_t k) { return k < left && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

void fix(std::string& s) {
  if (!is_valid_utf8(s)) s = make_valid_utf8(s);
}

}  // namespace

std::string_view utf8_prefix(std::string_view s, std::size_t max_chars) {
  std::size_t i = 0;
  for (std::size_t chars = 0; i < s.size() && chars < max_chars; ++chars) {
    std::size_t n = utf8_sequence(s, i);
    if (n == 0) n = 1;  // a stray byte counts as one character
    i += n;
  }
  return s.substr(0, i);
}

bool is_valid_utf8(std::string_view s) {
  // Nearly everything stored is ASCII: skip it eight bytes at a time (this
  // check ran on every string of every event the writer stores).
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if ((w & 0x8080808080808080ULL) != 0) break;
  }
  for (; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string make_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

void apply_prompt_privacy(pb::QueryEvent& e, const storage_options& options) {
  if (e.prompt_text_hash().empty()) {
    const sha256_digest d = sha256(e.prompt_text());
    e.set_prompt_text_hash(d.data(), d.size());
  }
  const pb::PromptTextMode mode = mode_of(options);
  const auto chars = static_cast<std::size_t>(options.prompt_prefix_chars);
  keep(*e.mutable_prompt_text(), mode, chars);
  keep(*e.mutable_system_prompt(), mode, chars);
  e.set_prompt_text_mode(mode);
}

void sanitize_utf8(pb::QueryEvent& e) {
  fix(*e.mutable_client_id());
  fix(*e.mutable_client_hint());
  fix(*e.mutable_peer_address());
  fix(*e.mutable_user_agent());
  fix(*e.mutable_method());
  fix(*e.mutable_route());
  fix(*e.mutable_model());
  fix(*e.mutable_system_prompt());
  fix(*e.mutable_prompt_text());
}

}  // namespace dg::storage
