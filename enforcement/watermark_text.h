// watermark_text: finds the words of a response that can carry the watermark
// and, for the marker, rewrites them. Shared by the rewriter (embedding) and
// the detector, so both see the same positions.
//
// A word is a run of ASCII letters. It is eligible when it is in the synonym
// table (after its cue word, for a group marked as needing one, and where its
// group's rule holds: synonym_table::allowed; a word in two groups takes the
// first whose rule holds), is lower case, or Capitalised
// as the first word of a sentence (a capital elsewhere is a name or a title:
// "the United Nations"; ALL CAPS is a code keyword or an acronym: "SELECT *
// FROM"), is not joined to a hyphen, a digit or a non-ASCII letter, is not
// next to a quote or an apostrophe (a word mentioned, "the word 'large'"; a
// possessive or a contraction, "people's"), and lies outside:
//   * fenced code (``` or ~~~ at the start of a line, to the closing fence),
//   * inline code (between backticks, reset at a line end; from table v7 on, a
//     backtick that none closes on its line opens none),
//   * any whitespace-separated run holding a digit, one of / \ _ @ # $ % ^ & = + < > { } [ ] | ~,
//     or a '.' or ':' followed by a letter (URLs, domains, paths, file names, identifiers,
//     numbers, markup),
//   * a text whose first non-blank character is { [ or < (JSON, XML: left whole).
// The context of a position is the previous word (lower case, as written out)
// on the same line: none for a line's first word, so that a text marked alone
// reads the same at its head when it is joined after another (it did not: one
// position in a hundred of joined answers missed its mark).
// With the table's item stops (synonym_table::has_item_stop), the last run of a
// list item's line, a word of two letters or more with or without one period
// after it, is a position too: the period is written or not as the key prefers
// after that word (lower case, as written out). The item is a line opened by a
// list marker ("-", "*", "+", "\u2022", "1." to "999)") that holds no sentence end
// before its last run; an abbreviation ("etc.", "Inc.") is no position. A
// stream knows a run is the line's last only when a line break follows it in
// the text at hand, or the text ends there (finish()).
// With the table's serial comma (synonym_table::has_serial_comma), the run
// before an "and" or "or" that ends a list is a position too: a comma is
// written after it or not as the key prefers after that run's last word
// ("apples, pears, and plums" / "apples, pears and plums"). A list is read the
// same whichever way it is written: in the sentence (or the part of it since a
// ';') a comma closed an earlier segment of at most four runs, not a first
// segment of one run ("However, we left and slept") nor one opened by a
// preposition or a conjunction ("During the day, the stars and moon"), and the
// last item is one to three runs that do not open with a pronoun, a
// contraction unit, a preposition or a conjunction ("..., we left and slept",
// "..., such as icons and widgets"); the run itself ends in a letter, holds no
// digit, code or dot, and " and " or " or " follows it on its line. After the position
// the list goes on as if the comma were there.
// A contraction unit of the table ("do not" / "don't", synonym_table::unit) is
// one position over both its words, keyed on the word before it; the word after
// it sees the unit's last word ("not") whichever way it is written. A stream
// only sees what has arrived: a contraction whole in its run can be written out
// in full there, but two words are contracted only when the text at hand holds
// both and the word after them (the whole text of a JSON body; rarely an SSE
// delta), so a stream holds back no more than one word.
//
// A phrase unit ("such as" / "like", "help to" / "help": synonym_table::unit,
// phrase) is read the same way, in lower case only and where its rule holds
// (the word before it, the word after it). From table v8 on a phrase may have
// three words or another form of two or three ("in order to" / "so as to",
// "each other" / "one another": synonym_table::long_unit, the longest that the
// text at hand holds), or be its two words joined by a hyphen ("long term" /
// "long-term"); the word after it sees the last word of its first form.
//
// Thread safety: one scanner per text (it carries the state of a stream).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

#if defined(__SSE2__)
  // A byte v is in [lo, lo + width) exactly when (v - lo + 0x80), read as signed, is below
  // -128 + width: SSE2 has only signed compares (as detectors/tokeniser.cpp).
  static __m128i in_range(__m128i v, char lo, char width) {
    const __m128i t = _mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(0x80 - lo)));
    return _mm_cmplt_epi8(t, _mm_set1_epi8(static_cast<char>(-128 + width)));
  }
#endif
  // The run starting at p (not a blank; 16 bytes readable from p) when it ends
  // within 16 bytes: its length, its leading letters and the classes it holds,
  // from bit masks of 16 bytes at once rather than a lookup per byte. False
  // for a longer run (the byte loop reads it).
  static bool short_run(const char* p, std::size_t& len, std::size_t& lead, unsigned& flags) {
#if defined(__SSE2__)
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const auto mask = [](__m128i m) { return static_cast<unsigned>(_mm_movemask_epi8(m)); };
    const unsigned blank = mask(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), in_range(v, '\t', 5)));
    if (blank == 0) return false;
    len = static_cast<std::size_t>(std::countr_zero(blank));
    const unsigned in_run = (1u << len) - 1;
    const unsigned letters = mask(in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 26)) & in_run;
    const unsigned upper = mask(in_range(v, 'A', 26)) & in_run;
    unsigned others = ~letters & in_run;
    lead = others ? static_cast<std::size_t>(std::countr_zero(others)) : len;
    flags = (letters ? unsigned{c_letter} : 0u) | (upper ? unsigned{c_upper} : 0u);
    for (; others; others &= others - 1) flags |= cls(p[std::countr_zero(others)]);
    return true;
#else
    (void)p, (void)len, (void)lead, (void)flags;
    return false;
#endif
  }

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

  // The common run, in running text (not a line's first run, nor code, nor
  // text left whole: plain_state(); in a list item, not the line's last run):
  // a word of lower-case letters, the first perhaps a capital, with perhaps one
  // of , ; : . ! ? after it, that is no unit's first word (nor a phrase's one
  // word) and, with the table's serial comma, not a word before " and" or " or"
  // that may end a list. Such a run is a word of the table at a position
  // (marked here as scan_run marks it), or it only becomes the context and one
  // more run of the list's segment (or ends the sentence's list). Reads the
  // run at text[i] (not a blank); when it is such a run, does what scan() does
  // for it and moves i past it and one space after it, and goes on so while
  // the runs are such and one space apart; leaves i at the first run it does
  // not take, or at a blank, or at the end. Four runs of an answer in five are
  // taken here, at a fraction of the instructions of the general path.
  template <class Choose>
  void plain_run(std::string_view text, std::size_t& i, writer& w, Choose&& choose);
  bool plain_state() const {
    return decided_ && !verbatim_ && !mid_run_ && !line_start_ && !in_fence_ && !in_inline_;
  }
  // The group the word of the table p[0, lead) (lower case, found as `first`) carries the mark
  // for here, or nullptr (most words of the table are no position: their cue or rule does not
  // hold), plain_run reading it as the run p[0, len) (the word and perhaps one mark),
  // followed by `rest`: scan_run's choice for that one shape of run (nothing joined to it,
  // lower case or Capitalised, the first word of its run).
  const synonym_table::hit* plain_position(const synonym_table::hit* first, const char* p, std::size_t lead,
                                           std::size_t len, std::string_view rest) {
    const char after = lead < len ? p[lead] : ' ';
    for (const synonym_table::hit* c = first; c; c = table_->alternate(*c)) {
      char nbuf[max_word];
      std::string_view next;
      const bool known = !table_->reads_next(*c) || lead < len || next_word(rest, nbuf, next);
      if (table_->allowed(*c, prev(), sentence_start_, after, next, known)) {
        if (!table_->mixed_article(c->group)) return c;
        const std::string_view b = prev();
        return b != "a" && b != "an" ? c : nullptr;  // "an important" must not become "an significant"
      }
    }
    return nullptr;
  }
  // The words of the run `r`, followed in the text at hand by `rest`.
  // `lead`: the number of letters `r` starts with.
  template <class Choose>
  void scan_run(std::string_view r, unsigned flags, std::size_t lead, std::string_view rest, writer& w,
                Choose&& choose);
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
  // Whether " and" or " or" starts text[at...] (whatever follows it): a superset of
  // conjunction_follows(text.substr(at)).
  static bool and_or_at(std::string_view text, std::size_t at) {
    const std::string_view rest = text.substr(at);
    return rest.starts_with(" and") || rest.starts_with(" or");
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
  // 3: a word that opens a list's first item (synonym_table::list_opener_words,
  // table v8 on: "such as apples, pears, and plums").
  std::uint8_t segment_opener() {
    if (seg_opener_ == unknown_opener) {
      seg_opener_ = static_cast<std::uint8_t>(clause_opener(seg_run_));
      if (seg_opener_ == 2 && table_->has_list_openers()) {
        const std::size_t words = table_->list_opener_words(seg_run_);
        if (words > 0) seg_opener_ = static_cast<std::uint8_t>(2 + words);
      }
    }
    return seg_opener_;
  }
  // The run `r` (a word, not a sentence's end nor a ';') is one more of the list's segment.
  void list_run(std::string_view r) {
    if (seg_runs_ < 0xff && ++seg_runs_ == 1) {
      seg_run_ = r;  // clause_opener() of it when a comma or an "and" asks (segment_opener())
      seg_opener_ = unknown_opener;
    }
  }
  // Whether a run that list_run() would count next may be a serial comma's position, by the
  // state of the list alone (serial_comma() also asks the run and what follows it).
  bool list_may_end() const {
    return list_commas_ > 0 && seg_runs_ < 3 && last_seg_runs_ <= 4;
  }
  // A comma after the segment's last run, at no position: it closes the segment, or what
  // came before it was no list item.
  void list_comma() {
    if (segment_opener() > 2) {
      // "..., such as apples, pears, and plums": the words after the opener are the list's
      // first item (table v8 on).
      const std::uint8_t opener_words = static_cast<std::uint8_t>(segment_opener() - 2);
      seg_runs_ = static_cast<std::uint8_t>(seg_runs_ > opener_words ? seg_runs_ - opener_words : 0);
      close_segment();
      return;
    }
    if ((seg_first_ && seg_runs_ == 1) || segment_opener() == 2) {
      // "However, ...", "During the day, ...", "..., and as a result, ...": a sentence's
      // opening word, or a phrase that a preposition or a conjunction opens, is no list
      // item; a list starts after it.
      list_commas_ = 0;
      last_seg_runs_ = 0xff;
      seg_runs_ = 0;
      seg_first_ = false;
      return;
    }
    close_segment();
  }
  // The segment ends with its comma (written or not, at a position).
  void close_segment() {
    if (list_commas_ < 0xff) ++list_commas_;
    last_seg_runs_ = seg_runs_;
    seg_runs_ = 0;
    seg_first_ = false;
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
  // A word of the text being scanned, lower-case letters: no lowering, only a copy when
  // scan() ends (keep_prev()).
  void set_prev_lower(const char* w, std::size_t n) {
    prev_ext_ = w;
    prev_len_ = n;
    prev_raw_ = false;
  }
  // When scan() ends: a previous word in `text` (which may not outlive the call) is copied.
  void keep_prev(std::string_view text) {
    if (prev_raw_) {
      prev();
    } else if (prev_ext_) {
      const auto at = reinterpret_cast<std::uintptr_t>(prev_ext_), b = reinterpret_cast<std::uintptr_t>(text.data());
      if (at >= b && at < b + text.size()) {
        std::memcpy(prev_buf_, prev_ext_, prev_len_);
        prev_ext_ = nullptr;
      }
    }
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
    if (plain_state()) {
      plain_run(text, i, w, choose);  // past the plain runs at i, if any: then a blank, the end, or another run
      if (i == n || space(text[i])) continue;
    }
    // The run: its end, and the classes of the bytes it holds.
    // Its leading letters, counted on the way (a contraction unit starts with them).
    std::size_t j = i, lead = 0, len = 0;
    unsigned flags = 0;
    if (n - i >= 16 && short_run(text.data() + i, len, lead, flags)) {
      j = i + len;
    } else {
      do {
        const std::uint8_t k = cls(text[j]);
        if (k & c_space) break;
        flags |= k;
        if (flags == (flags & (c_letter | c_upper))) ++lead;
      } while (++j < n);
    }
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
    scan_run(r, flags, lead, text.substr(i), w, choose);
    // A run with a letter or digit ends a sentence when it ends in . ! ? or :
    // (closing quotes and brackets aside); one of punctuation only (a list
    // bullet, a dash) leaves the state as it was.
    bool ends_sentence = false;
    if (!(flags & c_other)) {
      sentence_start_ = false;  // letters alone: the run ends in a letter
    } else if (flags & (c_letter | c_digit)) {
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
  keep_prev(text);  // a word of `text` is kept lower case: `text` may not outlive this call
  segment_opener();  // and the run that opens a list's segment is read
}

template <class Choose>
void word_scanner::plain_run(std::string_view text, std::size_t& i, writer& w, Choose&& choose) {
#if defined(__SSE2__)
  const std::size_t n = text.size();
  const bool serial = table_->has_serial_comma();
  // One run after another while they are plain and one space apart (the state
  // plain_state() asks for does not change over them).
  while (n - i >= 16) {
    const char* p = text.data() + i;
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned blank = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), in_range(v, '\t', 5))));
    if (blank == 0 || (blank & 1) != 0) break;  // a run of 16 bytes or more; none
    const auto len = static_cast<std::size_t>(std::countr_zero(blank));
    const __m128i up = in_range(v, 'A', 26);
    // Lower-case letters, the first one perhaps a capital.
    const bool cap = (_mm_movemask_epi8(up) & 1) != 0;
    const unsigned letters = static_cast<unsigned>(_mm_movemask_epi8(in_range(v, 'a', 26))) | (cap ? 1u : 0u);
    const unsigned in_run = (1u << len) - 1;
    std::size_t lead = len;
    const char mark = p[len - 1];
    if ((letters & in_run) != in_run) {
      // Those letters, then one mark that ends the run.
      if (len < 2 || (letters & (in_run >> 1)) != (in_run >> 1)) break;
      if (mark != ',' && mark != '.' && mark != ';' && mark != ':' && mark != '!' && mark != '?') break;
      lead = len - 1;
    }
    // The word in lower case, padded (find_padded reads at most 16 bytes from it).
    const char* word = p;
    alignas(16) char low[16];
    if (cap) {
      _mm_store_si128(reinterpret_cast<__m128i*>(low), _mm_add_epi8(v, _mm_and_si128(up, _mm_set1_epi8(0x20))));
      word = low;
    }
    // In a list item, the line's last run is a position (scan()): a run is plain there only
    // when another follows it on its line.
    if (item_ && (len + 1 >= 16 || p[len] != ' ' || space(p[len + 1]))) break;
    // A unit's first word, perhaps (scan_unit, which has no effect when it finds none): the
    // unit is marked here as scan() marks it, or the run is read as any other.
    const unsigned filter = table_->word_filter_lower(word, lead);
    if (filter & 2) {
      std::size_t end = i + len;
      if (scan_unit(text, end, std::string_view(p, len), lead, w, choose)) {
        sentence_start_ = false;
        if (serial) list_unit_run();
        i = end;
        if (i < n && text[i] == ' ') ++i;
        if (i >= n || space(text[i])) break;
        continue;
      }
    }
    // With the table's serial comma, a word before " and" or " or" may be its position
    // (serial_comma() decides); any other run here only keeps the list's state.
    const bool list_word = serial && (lead == len || mark == ',');
    if (list_word && list_may_end() && and_or_at(text, i + len)) break;
    // A word of the table (scan_run): a position when its group's cue and rule hold here. A
    // capital is a position's only at the start of a sentence.
    const synonym_table::hit* h = nullptr;
    if ((!cap || sentence_start_) && (filter & 1)) {
      if (const synonym_table::hit* found = table_->find_padded(word, lead))
        h = plain_position(found, p, lead, len, text.substr(i + len));
    }
    ++words_;
    if (h) {
      ++eligible_;
      const std::uint32_t m = choose(prev(), *h, std::string_view(p, lead));
      if (m != h->member) {
        const std::string& pick = table_->group(h->group)[m];
        ++changed_;
        std::string& out = w.replace(i, i + lead);
        const std::size_t at = out.size();
        out.append(pick);
        if (cap) out[at] = static_cast<char>(out[at] - 32);
        set_prev(pick);
      } else if (cap) {
        set_prev_raw(std::string_view(p, lead));
      } else {
        set_prev_lower(p, lead);
      }
    } else if (cap) {
      set_prev_raw(std::string_view(p, lead));
    } else {
      set_prev_lower(p, lead);
    }
    // A run ending in . : ! ? ends a sentence; one of letters alone, or with , or ;, does not.
    sentence_start_ = lead < len && mark != ',' && mark != ';';
    if (sentence_start_) item_ = false;  // a sentence that ends before the line's last run ends the item
    if (list_word) {
      list_run(std::string_view(p, len));
      if (lead < len) list_comma();
    } else if (serial) {
      reset_list();  // . : ! ? end the sentence, ; its part
    }
    i += len;
    if (i < n && p[len] == ' ') ++i;  // the usual single space (the loop of scan() takes others)
    if (i >= n || space(text[i])) break;
  }
#else
  (void)text, (void)i, (void)w, (void)choose;
#endif
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
    } else if (apos == 0 && c == '-' && q > 0 && q + 1 < r.size() && table_->has_hyphen_units()) {
      apos = n;  // a phrase joined by a hyphen ("long-term"), read like a contraction
      low[n++] = '-';
    } else {
      return false;
    }
  }
  const std::string_view lower(low, n);
  const synonym_table::unit* u = nullptr;
  bool one_word = false;  // a phrase's one word
  bool long_other = false;  // a long phrase written as its other form ("so as to")
  std::size_t end = i;  // the end of the unit in `text`
  if (apos > 0) {
    u = table_->unit_by_contraction(lower);
  } else if ((u = table_->long_unit(lower, text, i, &end, &long_other)) != nullptr) {
    // A long phrase ("in order to" / "so as to"): its words are at hand.
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
  const std::uint32_t observed = apos > 0 || one_word || long_other ? 1 : 0;
  if (!known && observed == 0) return false;
  ++eligible_;
  if (u->long_form()) {
    const std::string form = u->written(long_other);
    words_ += 1 + static_cast<std::uint64_t>(std::count(form.begin(), form.end(), ' '));
  } else {
    words_ += (apos == 0 && u->second.empty()) || one_word ? 1 : 2;
  }
  const std::size_t begin = i - r.size();
  const std::uint32_t m = choose(prev(), synonym_table::hit{u->group, static_cast<std::uint8_t>(observed)},
                                 text.substr(begin, end - begin));
  if (m != observed && !(m == 1 && !known)) {
    ++changed_;
    std::string& out = w.replace(begin, end);
    const std::size_t at = out.size();
    if (u->long_form()) {
      out.append(u->written(m == 1));
    } else if (m == 1) {
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
  set_prev(!u->third.empty() ? u->third : u->second.empty() ? u->first : u->second);
  i = end;
  return true;
}

template <class Choose>
void word_scanner::serial_comma(std::string_view r, unsigned flags, std::string_view rest,
                                bool ends_sentence, writer& w, Choose&& choose) {
  if (ends_sentence || in_inline_ || r.back() == ';') return reset_list();
  if (!(flags & (c_letter | c_digit))) return;  // a dash, a bullet
  const bool comma = r.back() == ',';
  const bool may_end = list_may_end();  // before list_run(): seg_runs_ < 3 then, <= 3 after
  list_run(r);
  const std::size_t core = r.size() - (comma ? 1 : 0);
  if (may_end && core > 0 && letter(r[core - 1]) &&
      !(flags & (c_unsafe | c_tick | c_dot | c_digit)) && conjunction_follows(rest) &&
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
    close_segment();
  } else if (comma) {
    list_comma();
  }
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
void word_scanner::scan_run(std::string_view r, unsigned flags, std::size_t lead, std::string_view rest,
                            writer& w, Choose&& choose) {
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
    // The run's leading letters are its first word (most runs are one word and a mark or none).
    std::size_t e = k == 0 && lead > 0 ? lead : k + 1;
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
      // Lower case, padded for synonym_table::find_padded.
      alignas(16) char lower[max_word + 8];
      bool all_lower = true, rest_lower = true, all_upper = true;
#if defined(__SSE2__)
      if (wd.size() <= 16 && w.text.data() + w.text.size() - wd.data() >= 16) {
        // The 16 bytes from the word's first at once: its capitals as a bit mask.
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wd.data()));
        const __m128i up = in_range(v, 'A', 26);
        _mm_store_si128(reinterpret_cast<__m128i*>(lower), _mm_add_epi8(v, _mm_and_si128(up, _mm_set1_epi8(0x20))));
        _mm_store_si128(reinterpret_cast<__m128i*>(lower + 16), _mm_setzero_si128());
        const unsigned in_word = (1u << wd.size()) - 1;
        const unsigned caps = static_cast<unsigned>(_mm_movemask_epi8(up)) & in_word;
        all_lower = caps == 0;
        rest_lower = (caps & ~1u) == 0;
        all_upper = caps == in_word;
      } else
#endif
      {
        std::memset(lower + wd.size(), 0, 8);
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
      }
      pattern = all_lower ? 0 : (rest_lower ? 1 : ((all_upper && wd.size() > 1) ? 2 : 3));
      // Only the first word of a run that starts a sentence may be Capitalised.
      const bool first_of_sentence = sentence_start_ && k == first_letter;
      if (pattern == 2 || (pattern == 1 && !first_of_sentence)) pattern = 3;
      if (!joined && pattern != 3) {
        // The word's first group whose rule holds here (most words have one group).
        const synonym_table::hit* first = table_->find_padded(lower, wd.size());
        for (const synonym_table::hit* c = first; c;
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
      if (m == h->member) {
        // The word stays; it is its group's member h->member, so the context it leaves is itself,
        // lowered (as set_prev(group[m]) would give, without reading the group: a cache miss
        // or two in the gateway, for every position).
        set_prev_raw(wd);
      } else {
        const std::string& pick = table_->group(h->group)[m];
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
        set_prev(pick);
      }
    } else {
      set_prev_raw(wd);
    }
    k = e;
  }
}

}  // namespace dg::enforcement
