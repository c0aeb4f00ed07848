#include "enforcement/watermark_text.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "enforcement/watermark_key.h"

namespace dg::enforcement {

namespace {
bool space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
}  // namespace

namespace {
// The words after which a unit is no position (unit_may_precede), as constants: a list of
// string literals was measured by strlen at every call.
constexpr std::string_view unit_stoppers[] = {"not", "or", "and", "but", "nor", "than", "it"};
constexpr std::string_view participles[] = {
    "got", "had", "become", "come", "made", "left", "run", "put", "set", "lost", "found", "kept", "brought", "bought",
    "thought", "taught", "said", "told", "built", "sent", "spent", "won", "let", "led", "held", "heard", "paid", "met"};
}  // namespace

bool word_scanner::unit_may_precede(const synonym_table::unit& u, std::string_view next) {
  if (next.size() > max_word) return true;
  char low[max_word];
  for (std::size_t q = 0; q < next.size(); ++q)
    low[q] = next[q] >= 'A' && next[q] <= 'Z' ? static_cast<char>(next[q] + 32) : next[q];
  const std::string_view w(low, next.size());
  for (const std::string_view x : unit_stoppers)
    if (w == x) return false;
  if (u.contracted.ends_with("'s") || u.contracted.ends_with("'d")) {
    if (w.ends_with("ed") || w.ends_with("en") || w.ends_with("ne")) return false;  // been, taken, gone, done
    for (const std::string_view x : participles)
      if (w == x) return false;
  }
  return true;
}

bool word_scanner::list_marker(std::string_view r) {
  if (r == "-" || r == "*" || r == "+" || r == "\xE2\x80\xA2") return true;
  if (r.size() < 2 || r.size() > 4 || (r.back() != '.' && r.back() != ')')) return false;
  for (std::size_t q = 0; q + 1 < r.size(); ++q)
    if (r[q] < '0' || r[q] > '9') return false;
  return true;
}

namespace {
// Up to 8 lower-case letters packed into an integer (first letter lowest), so the
// words a list's segment may open with are found by a binary search of integers.
constexpr std::uint64_t pack8(std::string_view w) {
  std::uint64_t v = 0;
  for (std::size_t q = 0; q < w.size() && q < 8; ++q)
    v |= std::uint64_t{static_cast<unsigned char>(w[q])} << (8 * q);
  return v;
}
template <std::size_t N>
constexpr std::array<std::uint64_t, N> packed(const std::string_view (&words)[N]) {
  std::array<std::uint64_t, N> out{};
  for (std::size_t q = 0; q < N; ++q) out[q] = pack8(words[q]);
  std::sort(out.begin(), out.end());
  return out;
}
constexpr std::string_view pronouns[] = {"i",    "we",   "you",   "he",    "she",   "it",    "they",
                                         "this", "that", "these", "those", "there", "which", "who"};
// "including" and "therefore" (nine letters) are compared whole.
constexpr std::string_view connectives[] = {
    "such",    "as",    "like",    "during",   "when",   "while",   "if",      "after",
    "before",  "since", "because", "although", "though", "once",    "whether", "unless",
    "until",   "where", "in",      "on",       "at",     "for",     "with",    "by",
    "from",    "to",    "into",    "under",    "over",   "through", "within",  "without",
    "however", "also",  "then",    "thus",     "so",     "but",     "and",     "or",
    "nor",     "yet",   "instead", "finally",  "first",  "next",    "now",     "today"};
constexpr auto pronoun_keys = packed(pronouns);
constexpr auto connective_keys = packed(connectives);
constexpr std::array<std::uint64_t, 24> abbreviations = {
    pack8("etc"), pack8("inc"), pack8("ltd"), pack8("co"),   pack8("corp"), pack8("jr"),   pack8("sr"), pack8("vs"),
    pack8("al"),  pack8("eg"),  pack8("ie"),  pack8("approx"), pack8("misc"), pack8("esp"), pack8("dept"), pack8("dr"),
    pack8("mr"),  pack8("mrs"), pack8("ms"),  pack8("st"),   pack8("no"),   pack8("fig"),  pack8("viz"), pack8("cf")};
}  // namespace

int word_scanner::clause_opener(std::string_view r) {
  char low[9];
  std::size_t n = 0;
  while (n < r.size() && letter(r[n])) {
    if (n == sizeof low) return 0;  // longer than any of them
    low[n] = static_cast<char>(r[n] | 0x20);
    ++n;
  }
  if (n == 0) return 0;
  const std::string_view w(low, n);
  if (n == 9) return w == "including" || w == "therefore" ? 2 : 0;
  const std::uint64_t k = pack8(w);
  if (std::binary_search(pronoun_keys.begin(), pronoun_keys.end(), k)) return 1;
  if (std::binary_search(connective_keys.begin(), connective_keys.end(), k)) return 2;
  return 0;
}

bool word_scanner::abbreviation(std::string_view r) {
  // The letters, lower case, as one integer compared with each abbreviation's (the letters
  // are ASCII letters: no two words of at most 8 pack alike).
  if (r.size() > 8) return false;
  std::uint64_t w = 0;
  for (std::size_t q = 0; q < r.size(); ++q)
    w |= std::uint64_t{static_cast<unsigned char>(r[q] | 0x20)} << (8 * q);
  for (const std::uint64_t x : abbreviations)
    if (w == x) return true;
  return false;
}

bool word_scanner::next_word(std::string_view rest, char (&buf)[max_word], std::string_view& word) {
  std::size_t b = 0;
  while (b < rest.size() && space(rest[b])) ++b;
  if (b == rest.size()) return false;
  std::size_t e = b;
  while (e < rest.size() && letter(rest[e])) ++e;
  word = {};
  if (e - b > max_word) return true;
  for (std::size_t q = b; q < e; ++q) buf[q - b] = static_cast<char>(rest[q] | 0x20);
  word = std::string_view(buf, e - b);
  return true;
}

std::string text_marker::run(std::string_view text) {
  std::string out;
  scanner_.scan(text, out, [&](std::string_view prev, const synonym_table::hit& h, std::string_view) {
    return preferred_member(key_, prev, table_->group_seed(h.group), table_->group(h.group).size());
  });
  return out;
}

std::string text_marker::feed(std::string_view chunk) {
  if (pending_.empty()) {
    // Nothing held back (a whole text, or a delta after one that ended in a
    // space): the chunk is read where it is, and only its unfinished tail kept.
    std::size_t cut = chunk.size();
    while (cut > 0 && !space(chunk[cut - 1])) --cut;
    if (cut > 0) {
      std::string out = run(chunk.substr(0, cut));
      pending_.assign(chunk.substr(cut));
      return out;
    }
  }
  pending_.append(chunk);
  // Everything up to the last whitespace is complete; the rest may be half a word.
  std::size_t cut = pending_.size();
  while (cut > 0 && !space(pending_[cut - 1])) --cut;
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
  scanner_.last_piece();
  std::string out = run(pending_);
  pending_.clear();
  return out;
}

}  // namespace dg::enforcement
