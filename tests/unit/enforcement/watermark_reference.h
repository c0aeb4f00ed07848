// watermark_reference: the word scanner and text marker as they were before
// the one-pass scanner (session 5), kept verbatim so that a unit test holds
// the fast scanner to the output, counters and positions of the one it
// replaced (WatermarkFastScan.*). Test-only; not built into the gateway.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "enforcement/watermark_key.h"
#include "enforcement/watermark_synonyms.h"

namespace dg::enforcement::reference {


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
  // For the detector: a JSON/XML-looking text is read like any other. The
  // marker leaves one whole, so its words are unmarked positions that cost a
  // little, but a leading '{' (an answer at the head of many joined together,
  // or one an evader put there) must not hide the rest of a text.
  void read_json_looking() { read_all_ = true; }

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
  // A contraction unit (synonym_table::unit) starting with the run `r`, which
  // ends at text[i]: marks it, advances i past it and returns true; false
  // (nothing consumed) when `r` starts none that is a position here.
  // Whether the word `next` may follow the unit `u` where it is a position:
  // not "not" ("it is not" / "it isn't"), not a conjunction or "it" after
  // which a contraction would be elided ("whether it is or not", "what is
  // it"), and, after "'s" or "'d", not a participle that makes it "has" or
  // "had" ("it's been", "I'd seen").
  static bool unit_may_precede(const synonym_table::unit& u, std::string_view next);
  template <class Choose>
  bool scan_unit(std::string_view text, std::size_t& i, std::string_view r, std::string& out, Choose&& choose);

  const synonym_table* table_;
  bool decided_ = false;      // the first non-blank character was seen
  bool verbatim_ = false;     // JSON/XML-looking text: left whole
  bool line_start_ = true;
  bool sentence_start_ = true;  // the next word begins a sentence (or a line, or a list item)
  bool in_fence_ = false;
  bool in_inline_ = false;
  bool mid_run_ = false;
  bool read_all_ = false;     // read_json_looking()
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
        prev_.clear();  // a line's first word has no previous word
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
      verbatim_ = !read_all_ && (r[0] == '{' || r[0] == '[' || r[0] == '<');
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
    if (table_->has_units() && !in_inline_ && scan_unit(text, i, r, out, choose)) {
      sentence_start_ = false;
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
bool word_scanner::scan_unit(std::string_view text, std::size_t& i, std::string_view r, std::string& out,
                             Choose&& choose) {
  // Most runs are turned away by their first letter and the length of their
  // leading letters (a unit's first word, or a contraction up to its apostrophe).
  if (r.size() > 16) return false;
  std::size_t lead = 0;
  while (lead < r.size() && letter(r[lead])) ++lead;
  if (lead == 0 || !table_->unit_start(r.data(), lead)) return false;
  // The run's letters, lower case, with one apostrophe (' or U+2019) at most.
  char low[16];
  std::size_t n = 0, apos = 0;
  for (std::size_t q = 0; q < r.size(); ++q) {
    const char c = r[q];
    if (letter(c)) {
      if (q > 0 && c >= 'A' && c <= 'Z') return false;  // only the first letter may be a capital
      low[n++] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
    } else if (apos == 0 && c == '\'') {
      apos = n;
      low[n++] = '\'';
    } else if (apos == 0 && q + 2 < r.size() && r.substr(q, 3) == "\xE2\x80\x99") {
      apos = n;
      low[n++] = '\'';
      q += 2;
    } else {
      return false;
    }
  }
  const std::string_view lower(low, n);
  const synonym_table::unit* u = nullptr;
  std::size_t end = i;  // the end of the unit in `text`
  if (apos > 0) {
    u = table_->unit_by_contraction(lower);
  } else {
    u = table_->unit_by_words(lower, {});
    if (!u && i + 1 < text.size() && text[i] == ' ' && text[i + 1] >= 'a' && text[i + 1] <= 'z') {
      std::size_t e = i + 1;
      while (e < text.size() && text[e] >= 'a' && text[e] <= 'z') ++e;
      if (e == text.size() || space(text[e])) {
        u = table_->unit_by_words(lower, text.substr(i + 1, e - i - 1));
        end = e;
      }
    }
  }
  if (!u) return false;
  // A capital opens a sentence, or is the pronoun I.
  const bool capital = r[0] >= 'A' && r[0] <= 'Z';
  if (capital && !sentence_start_ && u->first != "i") return false;
  // "it is not", "it isn't": the word before would make a unit with this one's first word.
  if (table_->unit_by_words(prev_, u->first)) return false;
  // What follows: a word other than "not" (a position); something else (none);
  // or the end of what is here, where a contraction may still be written out
  // in full but nothing is contracted.
  bool known = false;
  if (end + 1 == text.size() && text[end] != ' ') return false;
  if (end + 1 < text.size()) {
    if (text[end] != ' ' || !letter(text[end + 1])) return false;
    std::size_t e = end + 1;
    while (e < text.size() && letter(text[e])) ++e;
    if (!unit_may_precede(*u, text.substr(end + 1, e - end - 1))) return false;
    known = true;
  }
  const std::uint32_t observed = apos > 0 ? 1 : 0;
  if (!known && observed == 0) return false;
  ++eligible_;
  words_ += apos == 0 && u->second.empty() ? 1 : 2;
  const std::uint32_t m = choose(std::string_view(prev_), synonym_table::hit{u->group, static_cast<std::uint8_t>(observed)},
                                 std::string_view(text.data() + (i - r.size()), end - (i - r.size())));
  if (m == observed || (m == 1 && !known)) {
    out.append(text.substr(i - r.size(), end - (i - r.size())));
  } else {
    ++changed_;
    const std::size_t at = out.size();
    if (m == 1) {
      out.append(u->contracted);
    } else {
      out.append(u->first);
      if (!u->second.empty()) {
        out.push_back(' ');
        out.append(u->second);
      }
    }
    if (capital) out[at] = static_cast<char>(out[at] - 32);
  }
  prev_.assign(u->second.empty() ? u->first : u->second);
  i = end;
  return true;
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
    // Joined to a hyphen or a non-ASCII letter, or quoted or with an apostrophe
    // (a word mentioned rather than used, "the word 'large'"; a possessive or
    // a contraction, "people's"): not a position.
    const bool joined = before == '-' || after == '-' || before == '\'' || after == '\'' || before == '"' ||
                        after == '"' || static_cast<unsigned char>(before) >= 0x80 ||
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
        if (h && !table_->allowed(*h, prev_, first_of_sentence, after)) h = nullptr;
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



inline bool word_scanner::unit_may_precede(const synonym_table::unit& u, std::string_view next) {
  if (next.size() > max_word) return true;
  char low[max_word];
  for (std::size_t q = 0; q < next.size(); ++q)
    low[q] = next[q] >= 'A' && next[q] <= 'Z' ? static_cast<char>(next[q] + 32) : next[q];
  const std::string_view w(low, next.size());
  for (std::string_view x : {"not", "or", "and", "but", "nor", "than", "it"})
    if (w == x) return false;
  if (u.contracted.ends_with("'s") || u.contracted.ends_with("'d")) {
    if (w.ends_with("ed") || w.ends_with("en") || w.ends_with("ne")) return false;  // been, taken, gone, done
    for (std::string_view x : {"got", "had", "become", "come", "made", "left", "run", "put", "set", "lost",
                               "found", "kept", "brought", "bought", "thought", "taught", "said", "told",
                               "built", "sent", "spent", "won", "let", "led", "held", "heard", "paid", "met"})
      if (w == x) return false;
  }
  return true;
}

inline std::string text_marker::run(std::string_view text) {
  std::string out;
  scanner_.scan(text, out, [&](std::string_view prev, const synonym_table::hit& h, std::string_view) {
    return preferred_member(key_, prev, table_->group_seed(h.group), table_->group(h.group).size());
  });
  return out;
}

inline std::string text_marker::feed(std::string_view chunk) {
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

inline std::string text_marker::finish() {
  std::string out = run(pending_);
  pending_.clear();
  return out;
}

}  // namespace dg::enforcement::reference
