// watermark_reference_v8: the word scanner and text marker of
// enforcement/watermark_text.{h,cpp} as they were on main at 2fc39d2 (session 8,
// after table v7: serial commas, phrase units, >+word rules, the unmatched
// backtick; item stops, contraction units, rules and alternates as before),
// before the bitmask scanner and its fast path (plain_run) were merged onto
// them. Kept verbatim (the namespace renamed, the .cpp made inline below), so
// that a unit test, the watermark fuzz target and the watermark_work bench hold
// the fast scanner to the output, counters and positions of main's scanner on
// every table. Test-only; not built into the gateway. (watermark_reference.h is
// the older one, of the -v3 table's features.)
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "enforcement/watermark_key.h"
#include "enforcement/watermark_synonyms.h"

namespace dg::enforcement::reference_v8 {

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
  // Item stops written or taken away (not words: changed() does not count them).
  std::uint64_t stops_changed() const { return stops_changed_; }
  // Serial commas written or taken away (not words either).
  std::uint64_t commas_changed() const { return commas_changed_; }

  // The next scan() ends the whole text: its last line ends with it.
  void last_piece() { last_piece_ = true; }
  // Whitespace as the scanner reads it: a word ends before it.
  static bool space(char c) { return (cls(c) & c_space) != 0; }

  // The next scan() continues a run that was cut without whitespace (a forced
  // flush of a very long run): its first run is copied verbatim.
  void continue_run() { mid_run_ = true; }
  // For the detector: a JSON/XML-looking text is read like any other. The
  // marker leaves one whole, so its words are unmarked positions that cost a
  // little, but a leading '{' (an answer at the head of many joined together,
  // or one an evader put there) must not hide the rest of a text.
  void read_json_looking() { read_all_ = true; }

 private:
  // Character classes, one table lookup per byte: the scanner reads each run
  // once to find its end and learn what it holds.
  enum : std::uint8_t {
    c_space = 1, c_letter = 2, c_digit = 4, c_unsafe = 8, c_tick = 16, c_dot = 32, c_upper = 64,
    c_other = 128  // any byte not a letter or a space
  };
  static constexpr std::array<std::uint8_t, 256> classes = [] {
    std::array<std::uint8_t, 256> t{};
    t.fill(c_other);
    for (const char c : {' ', '\n', '\t', '\r', '\f', '\v'}) t[static_cast<unsigned char>(c)] = c_space;
    for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = c_letter;
    for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = c_letter | c_upper;
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = c_other | c_digit | c_unsafe;
    for (const char c : {'/', '\\', '_', '@', '#', '$', '%', '^', '&', '=', '+', '<', '>', '{', '}', '[', ']', '|', '~'})
      t[static_cast<unsigned char>(c)] = c_other | c_unsafe;
    t['`'] = c_other | c_tick;
    t['.'] = c_other | c_dot;
    t[':'] = c_other | c_dot;
    return t;
  }();
  static std::uint8_t cls(char c) { return classes[static_cast<unsigned char>(c)]; }
  static bool letter(char c) { return (cls(c) & c_letter) != 0; }

  // The rewritten text is the scanned text with a few words replaced: it is
  // copied in spans, up to each replacement and after the last.
  struct writer {
    std::string_view text;
    std::string& out;
    std::size_t copied = 0;  // text[0, copied) is in out
    // Copies what precedes text[b, e) and skips it; append its replacement to the result.
    std::string& replace(std::size_t b, std::size_t e) {
      out.append(text.data() + copied, b - copied);
      copied = e;
      return out;
    }
    void finish() { out.append(text.data() + copied, text.size() - copied); }
  };

  // The words of the run `r`, followed in the text at hand by `rest`.
  template <class Choose>
  void scan_run(std::string_view r, unsigned flags, std::string_view rest, writer& w, Choose&& choose);
  // The word that starts `rest` after its blanks, lower case into buf (empty:
  // not a word, or longer than max_word); false when `rest` ends first.
  static bool next_word(std::string_view rest, char (&buf)[max_word], std::string_view& word);
  // A contraction unit (synonym_table::unit) starting with the run `r`, which
  // ends at text[i]: marks it, advances i past it and returns true; false
  // (nothing consumed) when `r` starts none that is a position here. `lead`:
  // the number of letters `r` starts with.
  // Whether the word `next` may follow the unit `u` where it is a position:
  // not "not" ("it is not" / "it isn't"), not a conjunction or "it" after
  // which a contraction would be elided ("whether it is or not", "what is
  // it"), and, after "'s" or "'d", not a participle that makes it "has" or
  // "had" ("it's been", "I'd seen").
  static bool unit_may_precede(const synonym_table::unit& u, std::string_view next);
  // Whether the run `r` opens a list item: "-", "*", "+", a bullet, or one to three digits and "." or ")".
  static bool list_marker(std::string_view r);
  // Whether the run `r` is a word that opens a clause or a phrase rather than a list
  // item: 1, a pronoun ("we", "It", "this,"); 2, a preposition, a conjunction or a
  // connective ("such", "During", "and", "however,"); 0, neither.
  static int clause_opener(std::string_view r);
  // Whether `rest` (the text after a run) starts with " and" or " or" and a blank.
  bool conjunction_follows(std::string_view rest) const {
    std::size_t n = 0;
    if (rest.size() >= 4 && rest[0] == ' ' && rest[1] == 'a' && rest[2] == 'n' && rest[3] == 'd')
      n = 4;
    else if (rest.size() >= 3 && rest[0] == ' ' && rest[1] == 'o' && rest[2] == 'r')
      n = 3;
    if (n == 0) return false;
    return rest.size() > n ? space(rest[n]) : last_piece_;
  }
  // Whether the letters `r` are an abbreviation whose period stays ("etc."), or that
  // never takes one: no position, whether the period is there or not.
  static bool abbreviation(std::string_view r);
  // The run `r`, which ends the line of a list item: its closing period as the key prefers.
  template <class Choose>
  void item_stop(std::string_view r, writer& w, Choose&& choose);
  // The serial comma after the run `r` (see above), followed by `rest`; keeps
  // the state of the list in this sentence. `ends_sentence`: `r` ends one.
  template <class Choose>
  void serial_comma(std::string_view r, unsigned flags, std::string_view rest, bool ends_sentence,
                    writer& w, Choose&& choose);
  void reset_list() {
    list_commas_ = 0;
    seg_runs_ = 0;
    last_seg_runs_ = 0xff;
    seg_first_ = true;
  }
  std::uint8_t segment_opener() {
    if (seg_opener_ == unknown_opener)
      seg_opener_ = static_cast<std::uint8_t>(clause_opener(seg_run_));
    return seg_opener_;
  }
  // A contraction unit (or the first word of any unit) is one run of the list's segment.
  void list_unit_run() {
    if (seg_runs_ < 0xff && ++seg_runs_ == 1) seg_opener_ = 1;
  }
  template <class Choose>
  bool scan_unit(std::string_view text, std::size_t& i, std::string_view r, std::size_t lead, writer& w,
                 Choose&& choose);

  // The previous word, lower case. Most words are never a position's context,
  // so a word of the text is kept as written (a view into the text being
  // scanned, prev_raw_) and lowered only when asked for, or when scan() ends.
  std::string_view prev() {
    if (prev_raw_) {
      for (std::size_t q = 0; q < prev_len_; ++q)
        prev_buf_[q] = static_cast<char>(prev_ext_[q] | ((cls(prev_ext_[q]) & c_upper) ? 0x20 : 0));
      prev_ext_ = nullptr;
      prev_raw_ = false;
    }
    return {prev_ext_ ? prev_ext_ : prev_buf_, prev_len_};
  }
  // A lower-case word that outlives the scan (one of the table's).
  void set_prev(const std::string& lower) {
    prev_ext_ = lower.data();
    prev_len_ = lower.size();
    prev_raw_ = false;
  }
  // A word of the text being scanned, as written (letters only).
  void set_prev_raw(std::string_view w) {
    if (w.size() > max_word) return clear_prev();
    prev_ext_ = w.data();
    prev_len_ = w.size();
    prev_raw_ = true;
  }
  void clear_prev() {
    prev_ext_ = nullptr;
    prev_len_ = 0;
    prev_raw_ = false;
  }

  const synonym_table* table_;
  bool decided_ = false;      // the first non-blank character was seen
  bool verbatim_ = false;     // JSON/XML-looking text: left whole
  bool line_start_ = true;
  bool sentence_start_ = true;  // the next word begins a sentence (or a line, or a list item)
  bool in_fence_ = false;
  bool in_inline_ = false;
  bool mid_run_ = false;
  bool read_all_ = false;     // read_json_looking()
  bool item_ = false;         // this line is a list item, no sentence ended in it so far
  bool last_piece_ = false;   // last_piece(): the text at hand ends the whole text
  bool prev_raw_ = false;     // prev_ext_ is the text as written, not yet lowered
  const char* prev_ext_ = nullptr;  // the previous word outside prev_buf_ (nullptr: in prev_buf_)
  std::size_t prev_len_ = 0;
  char prev_buf_[max_word] = {};
  // The list in this sentence (serial comma): commas that closed a segment, the runs
  // of this segment and of the one before (0xff: none), whether this one is the
  // sentence's first and opens with a pronoun.
  std::uint8_t list_commas_ = 0, seg_runs_ = 0, last_seg_runs_ = 0xff;
  static constexpr std::uint8_t unknown_opener = 0xff;
  // clause_opener() of the segment's first run (unknown_opener: not yet read), and
  // that run while it is not (a view into the text being scanned).
  std::uint8_t seg_opener_ = 0;
  std::string_view seg_run_;
  bool seg_first_ = true;
  std::uint64_t words_ = 0, eligible_ = 0, changed_ = 0, stops_changed_ = 0, commas_changed_ = 0;
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
    // A text that ends in a blank is read whole by feed(): its last line ends there.
    if (pending_.empty() && !text.empty() && word_scanner::space(text.back())) scanner_.last_piece();
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
  writer w{text, out};
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const char c = text[i];
    if (space(c)) {
      if (c == '\n') {
        // A line's first word has no previous word: answers joined one after
        // another (a distiller's data set) keep the context they were marked with.
        clear_prev();
        line_start_ = true;
        item_ = false;
        sentence_start_ = true;
        in_inline_ = false;
        reset_list();
      }
      ++i;
      mid_run_ = false;
      continue;
    }
    // The run: its end, and the classes of the bytes it holds.
    // Its leading letters, counted on the way (a contraction unit starts with them).
    std::size_t j = i, lead = 0;
    unsigned flags = 0;
    do {
      const std::uint8_t k = cls(text[j]);
      if (k & c_space) break;
      flags |= k;
      if (flags == (flags & (c_letter | c_upper))) ++lead;
    } while (++j < n);
    const std::string_view r = text.substr(i, j - i);
    i = j;
    if (!decided_) {
      decided_ = true;
      verbatim_ = !read_all_ && (r[0] == '{' || r[0] == '[' || r[0] == '<');
    }
    if (verbatim_ || mid_run_) continue;
    if (line_start_ && (r.starts_with("```") || r.starts_with("~~~"))) {
      in_fence_ = !in_fence_;
      line_start_ = false;
      sentence_start_ = true;
      clear_prev();
      reset_list();
      continue;
    }
    const bool line_first = line_start_;
    line_start_ = false;
    if (in_fence_) continue;
    const bool opens_item = line_first && table_->has_item_stop() && list_marker(r);
    if (line_first) item_ = opens_item;
    if ((flags & c_letter) && !in_inline_ && table_->has_units() && scan_unit(text, i, r, lead, w, choose)) {
      sentence_start_ = false;
      if (table_->has_serial_comma()) list_unit_run();
      continue;
    }
    scan_run(r, flags, text.substr(i), w, choose);
    // A run with a letter or digit ends a sentence when it ends in . ! ? or :
    // (closing quotes and brackets aside); one of punctuation only (a list
    // bullet, a dash) leaves the state as it was.
    bool ends_sentence = false;
    if (flags & (c_letter | c_digit)) {
      std::size_t end = r.size();
      while (end > 0 && (r[end - 1] == '"' || r[end - 1] == '\'' || r[end - 1] == ')' || r[end - 1] == '*' ||
                         r[end - 1] == '_'))
        --end;
      ends_sentence = end > 0 && (r[end - 1] == '.' || r[end - 1] == '!' || r[end - 1] == '?' || r[end - 1] == ':');
      sentence_start_ = ends_sentence;
    }
    if (table_->has_serial_comma())
      serial_comma(r, flags, text.substr(i), ends_sentence, w, choose);
    if (item_ && !opens_item) {
      // The line's last run (a line break, or the end of the whole text, after
      // it) is a position; a sentence that ends before it ends the item.
      std::size_t q = i;
      while (q < n && space(text[q]) && text[q] != '\n') ++q;
      if (q < n ? text[q] == '\n' : last_piece_) {
        if (!in_inline_) item_stop(r, w, choose);
        item_ = false;
      } else if (ends_sentence) {
        item_ = false;
      }
    }
  }
  w.finish();
  prev();  // a word of `text` is kept lower case: `text` may not outlive this call
  segment_opener();  // and the run that opens a list's segment is read
}

template <class Choose>
bool word_scanner::scan_unit(std::string_view text, std::size_t& i, std::string_view r, std::size_t lead,
                             writer& w, Choose&& choose) {
  // Most runs are turned away by their first letter and the length of their
  // leading letters (a unit's first word, or a contraction up to its apostrophe).
  if (r.size() > 16) return false;
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
  bool one_word = false;  // a phrase's one word
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
    if (!u) {
      // A phrase written as its one word ("like").
      u = table_->unit_by_contraction(lower);
      if (u && !u->phrase) u = nullptr;
      one_word = u != nullptr;
      end = i;
    }
  }
  if (!u) return false;
  // A capital opens a sentence, or is the pronoun I.
  const bool capital = r[0] >= 'A' && r[0] <= 'Z';
  if (capital && !sentence_start_ && u->first != "i") return false;
  // "it is not", "it isn't": the word before would make a unit with this one's first word.
  if (table_->unit_by_words(prev(), u->first)) return false;
  // What follows: a word other than "not" (a position); something else (none);
  // or the end of what is here, where a contraction may still be written out
  // in full but nothing is contracted.
  bool known = false;
  std::string_view next;
  if (end + 1 == text.size() && text[end] != ' ') return false;
  if (end + 1 < text.size()) {
    if (text[end] != ' ' || !letter(text[end + 1])) return false;
    std::size_t e = end + 1;
    while (e < text.size() && letter(text[e])) ++e;
    next = text.substr(end + 1, e - end - 1);
    if (!unit_may_precede(*u, next)) return false;
    known = true;
  }
  // A phrase: lower case, the word after it at hand, and its rule.
  if (u->phrase && (capital || !known || !table_->phrase_allowed(*u, prev(), next))) return false;
  const std::uint32_t observed = apos > 0 || one_word ? 1 : 0;
  if (!known && observed == 0) return false;
  ++eligible_;
  words_ += (apos == 0 && u->second.empty()) || one_word ? 1 : 2;
  const std::size_t begin = i - r.size();
  const std::uint32_t m = choose(prev(), synonym_table::hit{u->group, static_cast<std::uint8_t>(observed)},
                                 text.substr(begin, end - begin));
  if (m != observed && !(m == 1 && !known)) {
    ++changed_;
    std::string& out = w.replace(begin, end);
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
  set_prev(u->second.empty() ? u->first : u->second);
  i = end;
  return true;
}

template <class Choose>
void word_scanner::serial_comma(std::string_view r, unsigned flags, std::string_view rest,
                                bool ends_sentence, writer& w, Choose&& choose) {
  if (ends_sentence || in_inline_ || r.back() == ';') return reset_list();
  if (!(flags & (c_letter | c_digit))) return;  // a dash, a bullet
  const bool comma = r.back() == ',';
  if (seg_runs_ < 0xff && ++seg_runs_ == 1) {
    seg_run_ = r;  // clause_opener() of it when a comma or an "and" asks (segment_opener())
    seg_opener_ = unknown_opener;
  }
  const std::size_t core = r.size() - (comma ? 1 : 0);
  if (core > 0 && letter(r[core - 1]) && !(flags & (c_unsafe | c_tick | c_dot | c_digit)) &&
      list_commas_ > 0 && seg_runs_ <= 3 && last_seg_runs_ <= 4 && conjunction_follows(rest) &&
      segment_opener() == 0) {
    ++eligible_;
    const std::uint32_t observed = comma ? 1 : 0;
    const std::uint32_t m = choose(
        prev(),
        synonym_table::hit{table_->serial_comma_group(), static_cast<std::uint8_t>(observed)}, r);
    if (m != observed) {
      ++commas_changed_;
      const auto at = static_cast<std::size_t>(r.data() - w.text.data()) + core;
      if (m == 1)
        w.replace(at, at).push_back(',');
      else
        w.replace(at, at + 1);
    }
  } else if (!comma) {
    return;
  } else if ((seg_first_ && seg_runs_ == 1) || segment_opener() == 2) {
    // "However, ...", "During the day, ...", "..., and as a result, ...": a sentence's
    // opening word, or a phrase that a preposition or a conjunction opens, is no list
    // item; a list starts after it.
    list_commas_ = 0;
    last_seg_runs_ = 0xff;
    seg_runs_ = 0;
    seg_first_ = false;
    return;
  }
  // The segment ends with its comma (written or not, at a position).
  if (list_commas_ < 0xff) ++list_commas_;
  last_seg_runs_ = seg_runs_;
  seg_runs_ = 0;
  seg_first_ = false;
}

template <class Choose>
void word_scanner::item_stop(std::string_view r, writer& w, Choose&& choose) {
  const std::size_t stop = r.size() - (r.back() == '.' ? 1 : 0);
  if (stop < 2 || stop > max_word) return;
  for (std::size_t q = 0; q < stop; ++q)
    if (!letter(r[q])) return;
  if (abbreviation(r.substr(0, stop))) return;
  ++eligible_;
  const std::uint32_t observed = stop < r.size() ? 1 : 0;
  const std::uint32_t m = choose(prev(), synonym_table::hit{table_->item_stop_group(), static_cast<std::uint8_t>(observed)}, r);
  if (m == observed) return;
  ++stops_changed_;
  const auto at = static_cast<std::size_t>(r.data() - w.text.data()) + stop;
  if (m == 1) w.replace(at, at).push_back('.');
  else w.replace(at, at + 1);
}

template <class Choose>
void word_scanner::scan_run(std::string_view r, unsigned flags, std::string_view rest, writer& w,
                            Choose&& choose) {
  bool bad = (flags & c_unsafe) != 0;
  if (flags & c_tick) {
    for (const char c : r)
      if (c == '`') in_inline_ = !in_inline_;
    // A backtick that no other closes on its line is a backtick, not code (as in
    // Markdown): the rest of the line is read. Tables from v7 on (those with a
    // serial comma); a stream that has not seen the line's end reads code.
    if (in_inline_ && table_->has_serial_comma()) {
      const std::size_t nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      if (line.find('`') == std::string_view::npos && (nl != std::string_view::npos || last_piece_))
        in_inline_ = false;
    }
    bad = true;
  }
  if (!bad && (flags & c_dot)) {
    for (std::size_t q = 0; q + 1 < r.size(); ++q)
      if ((r[q] == '.' || r[q] == ':') && letter(r[q + 1])) bad = true;  // www.large.com, main.py, e.g.
  }
  if (bad || in_inline_) {
    clear_prev();
    return;
  }
  if (!(flags & c_letter)) return;
  const std::size_t n = r.size();
  std::size_t first_letter = 0;
  while (!letter(r[first_letter])) ++first_letter;
  std::size_t k = first_letter;
  while (k < n) {
    if (!letter(r[k])) {
      ++k;
      continue;
    }
    std::size_t e = k + 1;
    while (e < n && letter(r[e])) ++e;
    const std::string_view wd = r.substr(k, e - k);
    ++words_;
    const synonym_table::hit* h = nullptr;
    // Case pattern: 0 lower, 1 Capitalised, 2 ALL CAPS, 3 other (not eligible).
    int pattern = 3;
    // Most words are in no group: the table's prefilter turns them away as written.
    if (wd.size() <= max_word && table_->may_hold(wd)) {
      const char before = k > 0 ? r[k - 1] : ' ';
      const char after = e < n ? r[e] : ' ';
      // Joined to a hyphen or a non-ASCII letter, or quoted or with an apostrophe
      // (a word mentioned rather than used, "the word 'large'"; a possessive or
      // a contraction, "people's"): not a position.
      const bool joined = before == '-' || after == '-' || before == '\'' || after == '\'' || before == '"' ||
                          after == '"' || static_cast<unsigned char>(before) >= 0x80 ||
                          static_cast<unsigned char>(after) >= 0x80;
      char lower[max_word];
      bool all_lower = true, rest_lower = true, all_upper = true;
      for (std::size_t q = 0; q < wd.size(); ++q) {
        const char ch = wd[q];
        const bool up = ch >= 'A' && ch <= 'Z';
        lower[q] = up ? static_cast<char>(ch + 32) : ch;
        if (up) {
          all_lower = false;
          if (q > 0) rest_lower = false;
        } else {
          all_upper = false;
        }
      }
      pattern = all_lower ? 0 : (rest_lower ? 1 : ((all_upper && wd.size() > 1) ? 2 : 3));
      // Only the first word of a run that starts a sentence may be Capitalised.
      const bool first_of_sentence = sentence_start_ && k == first_letter;
      if (pattern == 2 || (pattern == 1 && !first_of_sentence)) pattern = 3;
      if (!joined && pattern != 3) {
        // The word's first group whose rule holds here (most words have one group).
        for (const synonym_table::hit* c = table_->find(std::string_view(lower, wd.size())); c;
             c = table_->alternate(*c)) {
          // The next word, for a rule that reads it: only a word that ends the run has one.
          char nbuf[max_word];
          std::string_view next;
          const bool known = !table_->reads_next(*c) || e < n || next_word(rest, nbuf, next);
          if (table_->allowed(*c, prev(), first_of_sentence, after, next, known)) {
            h = c;
            break;
          }
        }
        // "an important" must not become "an significant".
        if (h && table_->mixed_article(h->group)) {
          const std::string_view p = prev();
          if (p == "a" || p == "an") h = nullptr;
        }
      }
    }
    if (h) {
      ++eligible_;
      const std::uint32_t m = choose(prev(), *h, wd);
      const std::string& pick = table_->group(h->group)[m];
      if (m != h->member) {
        ++changed_;
        const auto b = static_cast<std::size_t>(wd.data() - w.text.data());
        std::string& out = w.replace(b, b + wd.size());
        const std::size_t at = out.size();
        out.append(pick);
        if (pattern == 1) {
          out[at] = static_cast<char>(out[at] - 32);
        } else if (pattern == 2) {
          for (std::size_t q = at; q < out.size(); ++q) out[q] = static_cast<char>(out[q] - 32);
        }
      }
      set_prev(pick);
    } else {
      set_prev_raw(wd);
    }
    k = e;
  }
}

// ---- what was watermark_text.cpp ------------------------------------------

namespace detail {
inline bool space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
}  // namespace detail
using detail::space;

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

inline bool word_scanner::list_marker(std::string_view r) {
  if (r == "-" || r == "*" || r == "+" || r == "\xE2\x80\xA2") return true;
  if (r.size() < 2 || r.size() > 4 || (r.back() != '.' && r.back() != ')')) return false;
  for (std::size_t q = 0; q + 1 < r.size(); ++q)
    if (r[q] < '0' || r[q] > '9') return false;
  return true;
}

namespace detail {
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
inline constexpr std::string_view pronouns[] = {"i",    "we",   "you",   "he",    "she",   "it",    "they",
                                         "this", "that", "these", "those", "there", "which", "who"};
// "including" and "therefore" (nine letters) are compared whole.
inline constexpr std::string_view connectives[] = {
    "such",    "as",    "like",    "during",   "when",   "while",   "if",      "after",
    "before",  "since", "because", "although", "though", "once",    "whether", "unless",
    "until",   "where", "in",      "on",       "at",     "for",     "with",    "by",
    "from",    "to",    "into",    "under",    "over",   "through", "within",  "without",
    "however", "also",  "then",    "thus",     "so",     "but",     "and",     "or",
    "nor",     "yet",   "instead", "finally",  "first",  "next",    "now",     "today"};
inline constexpr auto pronoun_keys = packed(pronouns);
inline constexpr auto connective_keys = packed(connectives);
}  // namespace detail
using detail::pack8;
using detail::pronoun_keys;
using detail::connective_keys;

inline int word_scanner::clause_opener(std::string_view r) {
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

inline bool word_scanner::abbreviation(std::string_view r) {
  char low[8];
  const std::size_t n = r.size();
  if (n > sizeof low) return false;
  for (std::size_t q = 0; q < n; ++q) low[q] = static_cast<char>(r[q] | 0x20);
  const std::string_view w(low, n);
  for (std::string_view x : {"etc", "inc", "ltd", "co", "corp", "jr", "sr", "vs", "al", "eg", "ie", "approx",
                             "misc", "esp", "dept", "dr", "mr", "mrs", "ms", "st", "no", "fig", "viz", "cf"})
    if (w == x) return true;
  return false;
}

inline bool word_scanner::next_word(std::string_view rest, char (&buf)[max_word], std::string_view& word) {
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

inline std::string text_marker::run(std::string_view text) {
  std::string out;
  scanner_.scan(text, out, [&](std::string_view prev, const synonym_table::hit& h, std::string_view) {
    return preferred_member(key_, prev, table_->group_seed(h.group), table_->group(h.group).size());
  });
  return out;
}

inline std::string text_marker::feed(std::string_view chunk) {
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

inline std::string text_marker::finish() {
  scanner_.last_piece();
  std::string out = run(pending_);
  pending_.clear();
  return out;
}

}  // namespace dg::enforcement::reference_v8
