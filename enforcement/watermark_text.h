// watermark_text: finds the words of a response that can carry the watermark
// and, for the marker, rewrites them. Shared by the rewriter (embedding) and
// the detector, so both see the same positions.
//
// A word is a run of ASCII letters. It is eligible when it is in the synonym
// table (after its cue word, for a group marked as needing one), is lower
// case, or Capitalised as the first word of a sentence (a capital elsewhere
// is a name or a title: "the United Nations"; ALL CAPS is a code keyword or
// an acronym: "SELECT * FROM"), is not joined to a hyphen,
// a digit or a non-ASCII letter, and lies outside:
//   * fenced code (``` or ~~~ at the start of a line, to the closing fence),
//   * inline code (between backticks, reset at a line end),
//   * any whitespace-separated run holding a digit, one of / \ _ @ # $ % ^ & = + < > { } [ ] | ~,
//     or a '.' or ':' followed by a letter (URLs, domains, paths, file names, identifiers,
//     numbers, markup),
//   * a text whose first non-blank character is { [ or < (JSON, XML: left whole).
// The context of a position is the previous word (lower case, as written out).
//
// Thread safety: one scanner per text (it carries the state of a stream).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "enforcement/watermark_key.h"
#include "enforcement/watermark_synonyms.h"

namespace dg::enforcement {

class word_scanner {
 public:
  static constexpr std::size_t max_word = 32;

  explicit word_scanner(const synonym_table& table) : table_(&table) {}

  // Scans `text`, which must end at a word boundary (whitespace) or be the end
  // of the whole text, appending the rewritten text to *out. For every eligible
  // word calls choose(prev_lower, hit, word) -> member index to write.
  template <class Choose>
  void scan(std::string_view text, std::string& out, Choose&& choose);

  // Counters since construction.
  std::uint64_t words() const { return words_; }
  std::uint64_t eligible() const { return eligible_; }
  std::uint64_t changed() const { return changed_; }

  // The next scan() continues a run that was cut without whitespace (a forced
  // flush of a very long run): its first run is copied verbatim.
  void continue_run() { mid_run_ = true; }

 private:
  static bool space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
  static bool letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
  static bool unsafe(char c) {
    if (c >= '0' && c <= '9') return true;
    switch (c) {
      case '/': case '\\': case '_': case '@': case '#': case '$': case '%': case '^': case '&':
      case '=': case '+': case '<': case '>': case '{': case '}': case '[': case ']': case '|':
      case '~':
        return true;
      default:
        return false;
    }
  }
  template <class Choose>
  void scan_run(std::string_view run, std::string& out, Choose&& choose);

  const synonym_table* table_;
  bool decided_ = false;      // the first non-blank character was seen
  bool verbatim_ = false;     // JSON/XML-looking text: left whole
  bool line_start_ = true;
  bool sentence_start_ = true;  // the next word begins a sentence (or a line, or a list item)
  bool in_fence_ = false;
  bool in_inline_ = false;
  bool mid_run_ = false;
  std::string prev_;          // the previous word, lower case
  std::uint64_t words_ = 0, eligible_ = 0, changed_ = 0;
};

// Streams text through the marker, holding back the last unfinished run (at
// most one word; a run longer than max_holdback bytes is released as is).
class text_marker {
 public:
  static constexpr std::size_t max_holdback = 256;

  text_marker(const synonym_table& table, const mark_key& key)
      : scanner_(table), table_(&table), key_(key) {}

  // Returns the text that can be released now.
  std::string feed(std::string_view chunk);
  // Releases what is held back (end of the text).
  std::string finish();
  // Marks a whole text at once.
  std::string mark(std::string_view text) {
    std::string out = feed(text);
    out += finish();
    return out;
  }
  const word_scanner& scanner() const { return scanner_; }

 private:
  std::string run(std::string_view text);

  word_scanner scanner_;
  const synonym_table* table_;
  mark_key key_;
  std::string pending_;
};

// ---- implementation of the template ---------------------------------------

template <class Choose>
void word_scanner::scan(std::string_view text, std::string& out, Choose&& choose) {
  out.reserve(out.size() + text.size());
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const char c = text[i];
    if (space(c)) {
      out.push_back(c);
      if (c == '\n') {
        line_start_ = true;
        sentence_start_ = true;
        in_inline_ = false;
      }
      ++i;
      mid_run_ = false;
      continue;
    }
    std::size_t j = i + 1;
    while (j < n && !space(text[j])) ++j;
    const std::string_view r = text.substr(i, j - i);
    i = j;
    if (!decided_) {
      decided_ = true;
      verbatim_ = r[0] == '{' || r[0] == '[' || r[0] == '<';
    }
    if (verbatim_ || mid_run_) {
      out.append(r);
      continue;
    }
    if (line_start_ && (r.starts_with("```") || r.starts_with("~~~"))) {
      in_fence_ = !in_fence_;
      line_start_ = false;
      sentence_start_ = true;
      prev_.clear();
      out.append(r);
      continue;
    }
    line_start_ = false;
    if (in_fence_) {
      out.append(r);
      continue;
    }
    scan_run(r, out, choose);
    // A run with a letter or digit ends a sentence when it ends in . ! ? or :
    // (closing quotes and brackets aside); one of punctuation only (a list
    // bullet, a dash) leaves the state as it was.
    std::size_t end = r.size();
    while (end > 0 && (r[end - 1] == '"' || r[end - 1] == '\'' || r[end - 1] == ')' || r[end - 1] == '*' ||
                       r[end - 1] == '_'))
      --end;
    bool alnum = false;
    for (char ch : r) alnum = alnum || letter(ch) || (ch >= '0' && ch <= '9');
    if (alnum)
      sentence_start_ = end > 0 && (r[end - 1] == '.' || r[end - 1] == '!' || r[end - 1] == '?' || r[end - 1] == ':');
  }
}

template <class Choose>
void word_scanner::scan_run(std::string_view r, std::string& out, Choose&& choose) {
  bool bad = false;
  for (std::size_t q = 0; q < r.size(); ++q) {
    const char c = r[q];
    if (c == '`') {
      in_inline_ = !in_inline_;
      bad = true;
    } else if (unsafe(c)) {
      bad = true;
    } else if ((c == '.' || c == ':') && q + 1 < r.size() && letter(r[q + 1])) {
      bad = true;  // a domain, a file name, an abbreviation: www.large.com, main.py, e.g.
    }
  }
  if (bad || in_inline_) {
    out.append(r);
    prev_.clear();
    return;
  }
  const std::size_t n = r.size();
  std::size_t first_letter = 0;
  while (first_letter < n && !letter(r[first_letter])) ++first_letter;
  std::size_t k = 0;
  while (k < n) {
    if (!letter(r[k])) {
      out.push_back(r[k]);
      ++k;
      continue;
    }
    std::size_t e = k + 1;
    while (e < n && letter(r[e])) ++e;
    const std::string_view w = r.substr(k, e - k);
    ++words_;
    const char before = k > 0 ? r[k - 1] : ' ';
    const char after = e < n ? r[e] : ' ';
    const bool joined = before == '-' || after == '-' || static_cast<unsigned char>(before) >= 0x80 ||
                        static_cast<unsigned char>(after) >= 0x80;
    char lower[max_word];
    const synonym_table::hit* h = nullptr;
    // Case pattern: 0 lower, 1 Capitalised, 2 ALL CAPS, 3 other (not eligible).
    int pattern = 3;
    if (w.size() <= max_word) {
      bool all_lower = true, rest_lower = true, all_upper = true;
      for (std::size_t q = 0; q < w.size(); ++q) {
        const char ch = w[q];
        const bool up = ch >= 'A' && ch <= 'Z';
        lower[q] = up ? static_cast<char>(ch + 32) : ch;
        if (up) {
          all_lower = false;
          if (q > 0) rest_lower = false;
        } else {
          all_upper = false;
        }
      }
      pattern = all_lower ? 0 : (rest_lower ? 1 : ((all_upper && w.size() > 1) ? 2 : 3));
      // Only the first word of a run that starts a sentence may be Capitalised.
      const bool first_of_sentence = sentence_start_ && k == first_letter;
      if (pattern == 2 || (pattern == 1 && !first_of_sentence)) pattern = 3;
      if (!joined && pattern != 3) {
        h = table_->find(std::string_view(lower, w.size()));
        if (h && h->needs != synonym_table::cue::none && !synonym_table::cued(h->needs, prev_)) h = nullptr;
        // "an important" must not become "an significant".
        if (h && (prev_ == "a" || prev_ == "an") && table_->mixed_article(h->group)) h = nullptr;
      }
    }
    if (h) {
      ++eligible_;
      const std::uint32_t m = choose(std::string_view(prev_), *h, w);
      const std::string& pick = table_->group(h->group)[m];
      if (m != h->member) {
        ++changed_;
        const std::size_t at = out.size();
        out.append(pick);
        if (pattern == 1) {
          out[at] = static_cast<char>(out[at] - 32);
        } else if (pattern == 2) {
          for (std::size_t q = at; q < out.size(); ++q) out[q] = static_cast<char>(out[q] - 32);
        }
      } else {
        out.append(w);
      }
      prev_.assign(pick);
    } else {
      out.append(w);
      prev_.assign(lower, std::min(w.size(), max_word));
      if (w.size() > max_word) prev_.clear();
    }
    k = e;
  }
}

}  // namespace dg::enforcement
