#include "enforcement/watermark_text.h"

#include "enforcement/watermark_key.h"

namespace dg::enforcement {

std::string text_marker::run(std::string_view text) {
  std::string out;
  scanner_.scan(text, out, [&](std::string_view prev, const synonym_table::hit& h, std::string_view) {
    return preferred_member(key_, prev, table_->group_seed(h.group), table_->group(h.group).size());
  });
  return out;
}

std::string text_marker::feed(std::string_view chunk) {
  pending_.append(chunk);
  // Everything up to the last whitespace is complete; the rest may be half a word.
  std::size_t cut = pending_.size();
  while (cut > 0) {
    const char c = pending_[cut - 1];
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v') break;
    --cut;
  }
  if (cut == 0 && pending_.size() > max_holdback) {
    // A very long run (a URL, base64): release it, cut on a UTF-8 boundary,
    // and copy its continuation verbatim.
    cut = pending_.size();
    while (cut > 0 && (static_cast<unsigned char>(pending_[cut - 1]) & 0xC0) == 0x80) --cut;
    if (cut > 0 && static_cast<unsigned char>(pending_[cut - 1]) >= 0xC0) --cut;
    if (cut == 0) return {};
    std::string out = run(std::string_view(pending_).substr(0, cut));
    pending_.erase(0, cut);
    scanner_.continue_run();
    return out;
  }
  if (cut == 0) return {};
  std::string out = run(std::string_view(pending_).substr(0, cut));
  pending_.erase(0, cut);
  return out;
}

std::string text_marker::finish() {
  std::string out = run(pending_);
  pending_.clear();
  return out;
}

}  // namespace dg::enforcement
