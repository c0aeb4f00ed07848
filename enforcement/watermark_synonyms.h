// watermark_synonyms: the synonym groups the watermark chooses among, from the
// table generated from WordNet 3.0 by tools/make_synonyms.py (WordNet 3.0
// Copyright 2006 by Princeton University; WordNet 3.0 licence, see
// data/distillguard-synonyms.tsv). The table is compiled into the binary; a
// config may point at another file (watermark.synonyms_file).
//
// A group is usable everywhere its words are (lower case or opening a
// sentence), or only after a part-of-speech cue ('!'), or only where a named
// rule holds ('@name': "Moreover," opening a sentence, "make sure", "the verb
// use"), so that a swap never turns one reading of a word into another.
//
// Thread safety: immutable after load; share it freely.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace dg::enforcement {

class synonym_table {
 public:
  // A group whose words also have another part of speech ("the need", "to
  // need") is only used after a word that fixes the part of speech: its cue.
  enum class cue : std::uint8_t { none, verb, verb_s, verb_ed, verb_ing, noun, adjective };

  struct hit {
    std::uint32_t group = 0;
    std::uint8_t member = 0;
    cue needs = cue::none;
    std::uint8_t rule = 0;  // a named context rule (index + 1), 0 = none
    std::uint16_t alt = 0;  // the word's next group (alternate(): index + 1), 0 = none
  };

  // A named context rule: where the words of a group may be swapped, beyond
  // their part of speech. Written `@name<TAB>token,token,...`, a token being
  //   word   the previous word may be this one (any previous word when the
  //          rule lists none and no ^),
  //   -word  the previous word must not be this one,
  //   ^      the word may also be the first of a sentence, whatever precedes,
  //   +comma the word must be followed directly by a comma,
  //   >-word the next word must not be this one ("need to" / "require to"):
  //          where the text at hand does not show the next word (a stream's
  //          delta), the word is no position,
  //   >+word the next word must be one of these (any of the rule's >+words),
  //          likewise shown ("help to reduce" / "help reduce"),
  //   >!word (table v8 on) the group's part-of-speech cue ('!') is not needed
  //          before this word: "Volunteering provides an", "Desktops offer
  //          more", the verb before its object; likewise shown.
  // ("@lead<TAB>^,+comma": a sentence's opening connective, "Moreover, ...";
  //  "@for<TAB>for": "for example" / "for instance".)
  struct rule {
    std::vector<std::string> after;       // sorted
    std::vector<std::string> not_after;   // sorted
    std::vector<std::string> not_before;  // sorted
    std::vector<std::string> before;      // sorted (>+word)
    std::vector<std::string> waive;       // sorted (>!word)
    bool lead = false, comma = false;
  };

  // Whether `prev` (lower case) is a cue of the kind `c`.
  static bool cued(cue c, std::string_view prev);
  // Whether a word of hit `h` may carry the mark here: its part-of-speech cue
  // and its rule hold after `prev`, at the start of a sentence or not,
  // followed by the character `after` and then, when `after` is a space, by
  // the word `next` (lower case; empty: not a word), `next_known` false when
  // the text at hand ends before it.
  bool allowed(const hit& h, std::string_view prev, bool sentence_start, char after, std::string_view next = {},
               bool next_known = true) const {
    if (h.needs != cue::none && !cued(h.needs, prev) &&
        !(h.rule != 0 && waived(rules_[h.rule - 1], after, next, next_known)))
      return false;
    return h.rule == 0 || rule_holds(rules_[h.rule - 1], prev, sentence_start, after, next, next_known);
  }
  // A word in two groups or more, each with its rule ("also" opening a sentence
  // among "Moreover," and "Furthermore,", "also" after "can" beside "additionally"):
  // find() gives its first group; this, the next one (nullptr: none). The scanner
  // takes the first whose rule holds, so every member of a group sees the same.
  const hit* alternate(const hit& h) const { return h.alt == 0 ? nullptr : &alternates_[h.alt - 1]; }
  // Whether allowed() looks at the next word for a word of hit `h`.
  bool reads_next(const hit& h) const {
    return h.rule != 0 && (!rules_[h.rule - 1].not_before.empty() || !rules_[h.rule - 1].before.empty() ||
                           !rules_[h.rule - 1].waive.empty());
  }

  // Parses the TSV format (POS[!|@rule]<TAB>word,word[,...]; @rule lines;
  // '#' comments; a '!' after the part of speech marks a group that needs its
  // cue, '@name' one that needs the rule `name`, defined above it). A word in
  // two groups of which one has no rule, a group of fewer than two words, a
  // non-lower-case word or an unknown rule is corruption.
  static status parse(std::string_view text, synonym_table& out);
  static status load_file(const std::string& path, synonym_table& out);
  // The table compiled into the binary.
  static std::shared_ptr<const synonym_table> builtin();

  // `lower` must be lower case ASCII letters.
  const hit* find(std::string_view lower) const {
    if (lower.size() < min_len_ || lower.size() > max_len_) return nullptr;
    // Most words of a text are in no group: a bitmap of (first letter, second
    // letter, length) turns them away before the hash lookup.
    const std::size_t b = prefilter_index(lower);
    if ((prefilter_[b >> 6] >> (b & 63) & 1) == 0) return nullptr;
    // An open-addressed table of a power-of-two size: the unordered_map's hash and modulo were a
    // twentieth of the gateway's CPU with every answer watermarked.
    const std::uint64_t h = word_key(lower);
    for (std::size_t i = h >> index_shift_;; i = (i + 1) & (index_.size() - 1)) {
      const index_slot& e = index_[i];
      if (e.entry == index_slot::empty) return nullptr;
      if (e.hash == h && entries_[e.entry].first == lower) return &entries_[e.entry].second;
    }
  }
  // find() for the scanner, which has asked may_hold() already: `lower`, `n`
  // lower case ASCII letters, may be read up to 8 bytes past n (the bytes
  // there are not part of the word and need not be zero).
  [[gnu::always_inline]] const hit* find_padded(const char* lower, std::size_t n) const {
    const std::uint64_t h = word_key_padded(lower, n);
    // Most words that pass may_hold() are in no group: a bit per hash (8 KB, in the
    // first-level cache) turns nine in ten of them away before the index (256 KB) is read.
    if ((bloom_[(h >> 6) & (bloom_words - 1)] >> (h & 63) & 1) == 0) return nullptr;
    for (std::size_t i = h >> index_shift_;; i = (i + 1) & (index_.size() - 1)) {
      const index_slot& e = index_[i];
      if (e.entry == index_slot::empty) return nullptr;
      // Of two words of at most 8 bytes and one length, word_key() is the same only for the
      // same bytes (each of its steps is a bijection of the state: xor with the bytes, a
      // multiplication by an odd constant, an xor-shift), so those are not compared again.
      if (e.hash == h && (e.len == n || e.len == 0) &&
          (e.len != 0 && n <= 8 ? true : entries_[e.entry].first == std::string_view(lower, n)))
        return &entries_[e.entry].second;
    }
  }
  // Whether find() may find the lower case of `w`, ASCII letters in any case:
  // by its length and the prefilter (so a word is lowered only when it might be in a group).
  bool may_hold(std::string_view w) const {
    if (w.size() < min_len_ || w.size() > max_len_) return false;
    const std::size_t b = (static_cast<std::size_t>((w[0] | 0x20) - 'a') * 26 +
                           static_cast<std::size_t>((w[1] | 0x20) - 'a')) * 32 +
                          std::min<std::size_t>(w.size(), 31);
    return (prefilter_[b >> 6] >> (b & 63) & 1) != 0;
  }
  // may_hold() of `n` lower-case letters.
  bool may_hold_lower(const char* w, std::size_t n) const {
    if (n < min_len_ || n > max_len_) return false;
    const std::size_t b = prefilter_index(std::string_view(w, n));
    return (prefilter_[b >> 6] >> (b & 63) & 1) != 0;
  }
  // ---- contractions ("%contract<TAB>do not,don't"): a unit written either as
  // its words or contracted, both as plain words (no code, a single space),
  // the head Capitalised only opening a sentence ("I" always). A unit is a
  // position only where a word follows it (a contraction does not end a
  // clause: "as it is."), and that word is not "not" ("it is not": neither "it
  // is" nor "is not" is one, whichever of "it's not", "it isn't" is written).
  // Its group has the members {words, contraction}; the context is the word
  // before the unit and the word after it sees the unit's last word ("is").
  struct unit {
    std::string first, second;  // second empty: one word ("cannot")
    std::string contracted;  // lower case, ASCII apostrophe: "don't" (a phrase's: one word, "like")
    std::uint32_t group = 0;
    std::uint64_t first_key = 0, second_key = 0;  // word_key7() of first and second
    bool phrase = false;    // "%phrase": two words or one, lower case only, where its rule holds
    std::uint8_t rule = 0;  // a named context rule (index + 1), 0 = none
    // A long phrase (table v8 on): its words have a third ("in order to"), or its
    // other form more than one word ("so as to", "one another": contracted is the
    // first of them, rest the others). Found by long_unit() only, never by
    // unit_by_words() or unit_by_contraction().
    std::string third;  // "" none
    std::string rest;   // "" none ("as to" of "so as to")
    bool long_form() const { return !third.empty() || !rest.empty(); }
    // The words of either form, as written out; the form's number of words.
    std::string written(bool other) const {
      std::string w = other ? contracted : first;
      for (const std::string* x : {other ? &rest : &second, other ? nullptr : &third})
        if (x && !x->empty()) (w += ' ') += *x;
      return w;
    }
  };
  // ---- phrases ("%phrase@rule<TAB>such as,like"): a unit written as its two
  // words or as one other word, without an apostrophe, read like a contraction
  // (a position only where a word follows it) but only in lower case and where
  // the rule holds: after one of the rule's words ("tools such as" / "tools
  // like", never "it looks like" or "feel like"), not before its >-words.
  // Whether the phrase `u` may carry the mark after `prev`, before the word `next` (any case).
  bool phrase_allowed(const unit& u, std::string_view prev, std::string_view next) const {
    if (u.rule == 0) return true;
    char low[32];
    if (next.size() > sizeof low) return false;
    for (std::size_t q = 0; q < next.size(); ++q) low[q] = static_cast<char>(next[q] | 0x20);
    return rule_holds(rules_[u.rule - 1], prev, false, ' ', std::string_view(low, next.size()),
                      true);
  }
  // A word of at most 7 bytes packed with its length into an integer (all ones
  // for a longer word, which is no unit's): units are compared by it.
  static std::uint64_t word_key7(std::string_view w) {
    if (w.size() > 7) return ~std::uint64_t{0};
    std::uint64_t v = 0;
    // Byte by byte (little-endian, as a memcpy would lay them out on x86): a memcpy of a
    // variable size is a call into libc.
    for (std::size_t k = 0; k < w.size(); ++k) {
      const auto byte = std::uint64_t{static_cast<unsigned char>(w[k])};
      v |= std::endian::native == std::endian::little ? byte << (8 * k) : byte << (8 * (7 - k));
    }
    return v | std::uint64_t{w.size()} << 56;
  }
  bool has_units() const { return !units_.empty(); }
  // Whether a phrase is written joined by a hyphen ("long term" / "long-term", table v8 on).
  bool has_hyphen_units() const { return has_hyphen_units_; }
  // Whether a unit's first word, or the letters before a contraction's
  // apostrophe, may be the `n` letters at `w` (any case): by their first two
  // letters and their number, which turns most words away before any lookup.
  bool unit_start(const char* w, std::size_t n) const {
    const std::size_t b = unit_index(w, n);
    return b != SIZE_MAX && (unit_filter_[b >> 6] >> (b & 63) & 1) != 0;
  }
  // unit_start() of `n` >= 1 lower-case letters.
  bool unit_start_lower(const char* w, std::size_t n) const {
    if (n > 7 || units_.empty()) return false;
    const std::size_t b = (static_cast<std::size_t>(w[0] - 'a') * 26 +
                           (n > 1 ? static_cast<std::size_t>(w[1] - 'a') : 0)) * 8 + n;
    return (unit_filter_[b >> 6] >> (b & 63) & 1) != 0;
  }
  // may_hold_lower() and unit_start_lower() at once, of `n` (1 to 16) lower-case letters at `w`:
  // bit 0, the table may hold the word; bit 1, a unit may start with it. One lookup.
  unsigned word_filter_lower(const char* w, std::size_t n) const {
    const std::uint64_t bits =
        pair_filter_[static_cast<std::size_t>(w[0] - 'a') * 26 + (n > 1 ? static_cast<std::size_t>(w[1] - 'a') : 0)];
    return static_cast<unsigned>((bits >> n & 1) | (bits >> (31 + n) & 2));
  }
  // The unit written as the words `lower` `second` (`second` empty: one word), or nullptr.
  const unit* unit_by_words(std::string_view lower, std::string_view second) const {
    if (lower.empty() || !unit_start(lower.data(), lower.size())) return nullptr;
    const std::uint64_t a = word_key7(lower), b = word_key7(second);
    for (const std::uint8_t x : units_by_letter_[lower[0] - 'a'])
      if (units_[x].first_key == a && units_[x].second_key == b && !units_[x].long_form()) return &units_[x];
    return nullptr;
  }
  // The unit contracted as `lower` (an ASCII apostrophe, or a hyphen), or nullptr.
  const unit* unit_by_contraction(std::string_view lower) const {
    if (lower.empty() || lower[0] < 'a' || lower[0] > 'z') return nullptr;
    for (const std::uint8_t x : units_by_letter_[lower[0] - 'a'])
      if (units_[x].contracted == lower && !units_[x].long_form()) return &units_[x];
    return nullptr;
  }
  // A long phrase (unit::long_form) whose either form starts with the word
  // `lower` and goes on in `text` from `at` (a space, then its other words,
  // lower case, one space apart, the last followed by a blank or the end of
  // `text`): the unit, with *end the end of its words in `text` and *other
  // whether they are its other form; nullptr when none does. The longest wins.
  const unit* long_unit(std::string_view lower, std::string_view text, std::size_t at, std::size_t* end,
                        bool* other) const {
    if (!has_long_units_ || lower.empty() || lower[0] < 'a' || lower[0] > 'z') return nullptr;
    const unit* best = nullptr;
    std::size_t best_end = 0;
    auto follows = [&](const std::string& a, const std::string& b) -> std::size_t {
      std::size_t q = at;
      for (const std::string* w : {&a, &b}) {
        if (w->empty()) break;
        if (q + 1 + w->size() > text.size() || text[q] != ' ' || text.compare(q + 1, w->size(), *w) != 0)
          return 0;
        q += 1 + w->size();
      }
      if (q < text.size() && text[q] != ' ' && text[q] != '\n' && text[q] != '\t' && text[q] != '\r')
        return 0;
      return q;
    };
    for (const std::uint8_t x : units_by_letter_[lower[0] - 'a']) {
      const unit& u = units_[x];
      if (!u.long_form()) continue;
      for (const bool alt : {false, true}) {
        if ((alt ? u.contracted : u.first) != lower) continue;
        const std::size_t e = alt ? (u.rest.empty() ? at : follows(u.rest, {})) : follows(u.second, u.third);
        if (e != 0 && e > best_end) {
          best = &u;
          best_end = e;
          *other = alt;
        }
      }
    }
    if (best) *end = best_end;
    return best;
  }

  // ---- the closing period of a list item ("%itemstop<TAB>."): a line that
  // opens with a list marker ("-", "*", "+", "•", "1.", "12)") and holds
  // one sentence may end with a period or without one, as the item's last word
  // is written ("- Fix any leaks." / "- Fix any leaks"): a position whose
  // context is that word (see word_scanner). Its group has the members
  // {"(none)", "."}. A table without the line has no such position.
  bool has_item_stop() const { return item_stop_ != UINT32_MAX; }
  std::uint32_t item_stop_group() const { return item_stop_; }

  // ---- the serial comma ("%serialcomma<TAB>,"): the last item of a list is
  // joined by "and" or "or" with a comma before it or without one ("apples,
  // pears, and plums" / "apples, pears and plums"), as the key prefers after
  // the word before the comma (see word_scanner). Its group has the members
  // {"(none)", ","}. A table without the line has no such position.
  bool has_serial_comma() const { return serial_comma_ != UINT32_MAX; }
  // ---- list openers ("%listopener<TAB>such as,including,like", table v8 on): a
  // list's first item may follow one of these in its segment ("..., such as
  // apples, pears, and plums"); a table without the line reads the words that
  // open a phrase as before (the list starts after the phrase's comma).
  bool has_list_openers() const { return !list_openers_.empty(); }
  // The number of words of the list opener that the run `r` (any case, perhaps
  // followed by more of the text at hand: only its first word is read) starts,
  // 0 if none. An opener of two words counts both ("such as"), whatever follows.
  std::size_t list_opener_words(std::string_view r) const {
    std::size_t n = 0;
    while (n < r.size() && ((r[n] | 0x20) >= 'a' && (r[n] | 0x20) <= 'z')) ++n;
    for (const auto& o : list_openers_) {
      const std::size_t sp = o.find(' ');
      const std::string_view head = std::string_view(o).substr(0, sp);
      if (head.size() != n) continue;
      bool same = true;
      for (std::size_t q = 0; q < n && same; ++q) same = (r[q] | 0x20) == head[q];
      if (same) return sp == std::string::npos ? 1 : 2;
    }
    return 0;
  }
  std::uint32_t serial_comma_group() const { return serial_comma_; }

  const std::vector<std::string>& group(std::uint32_t g) const { return groups_[g]; }
  // A stable seed per group (from its words), so adding groups moves no key.
  std::uint64_t group_seed(std::uint32_t g) const { return seeds_[g]; }
  // Members start with a vowel and a consonant both: unusable after "a"/"an".
  bool mixed_article(std::uint32_t g) const { return mixed_[g] != 0; }
  std::size_t groups() const { return groups_.size(); }
  std::size_t words() const { return words_.size(); }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static status parse_rule(std::string_view name, std::string_view tokens, synonym_table& out);
  // The index find() probes, built from words_ once parsing is done.
  void build_index();
  static std::uint64_t word_key(std::string_view w) {
    std::uint64_t h = w.size() * 0x9e3779b97f4a7c15ULL;
    std::size_t i = 0;
    for (; i + 8 <= w.size(); i += 8) {
      std::uint64_t v;
      std::memcpy(&v, w.data() + i, 8);
      h = (h ^ v) * 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    std::uint64_t tail = 0;
    for (std::size_t k = i; k < w.size(); ++k) {
      tail |= std::uint64_t{static_cast<unsigned char>(w[k])} << (8 * (k - i));
    }
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
  }
  // word_key() of the n bytes at p, which may be read up to 8 bytes past n: its tail in one load.
  static std::uint64_t word_key_padded(const char* p, std::size_t n) {
    std::uint64_t h = n * 0x9e3779b97f4a7c15ULL;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t v;
      std::memcpy(&v, p + i, 8);
      h = (h ^ v) * 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    std::uint64_t tail = 0;
    if (i < n) {
      std::memcpy(&tail, p + i, 8);
      if constexpr (std::endian::native == std::endian::little) {
        tail &= ~std::uint64_t{0} >> (8 * (8 - (n - i)));
      } else {
        tail = 0;
        for (std::size_t k = i; k < n; ++k) tail |= std::uint64_t{static_cast<unsigned char>(p[k])} << (8 * (k - i));
      }
    }
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
  }
  struct index_slot {
    static constexpr std::uint32_t empty = 0xffffffffu;
    std::uint64_t hash = 0;
    std::uint32_t entry = empty;
    std::uint8_t len = 0;  // the word's length (0: 256 or more: compared whole)
  };
  std::vector<index_slot> index_ = std::vector<index_slot>(2);  // empty: finds nothing
  static constexpr std::size_t bloom_words = 1024;             // 65,536 bits
  std::vector<std::uint64_t> bloom_ = std::vector<std::uint64_t>(bloom_words, 0);  // bit word_key() of every word
  unsigned index_shift_ = 63;                                   // h >> shift: a slot of index_
  std::vector<std::pair<std::string, hit>> entries_;
  std::vector<hit> alternates_;  // a word's second group and after (hit::alt)
  static bool rule_holds(const rule& r, std::string_view prev, bool sentence_start, char after,
                         std::string_view next, bool next_known);
  // Whether the rule `r` waives the cue before `next` (>!word), a space `after` the word.
  static bool waived(const rule& r, char after, std::string_view next, bool next_known) {
    return !r.waive.empty() && after == ' ' && next_known &&
           std::binary_search(r.waive.begin(), r.waive.end(), next);
  }

  static status parse_unit(std::string_view tokens, synonym_table& out, bool phrase = false,
                           std::uint8_t rule = 0);

  std::vector<std::vector<std::string>> groups_;
  std::vector<unit> units_;
  std::uint32_t item_stop_ = UINT32_MAX;
  std::uint32_t serial_comma_ = UINT32_MAX;
  std::vector<std::string> list_openers_;  // %listopener
  static std::size_t unit_index(const char* w, std::size_t n) {  // SIZE_MAX: no unit starts so
    const unsigned a = static_cast<unsigned>(w[0] | 0x20) - 'a';
    const unsigned b = n > 1 ? static_cast<unsigned>(w[1] | 0x20) - 'a' : 0;
    if (a >= 26 || b >= 26 || n == 0 || n > 7) return SIZE_MAX;
    return (a * 26 + b) * 8 + n;
  }
  // Bit unit_index(w): a unit's first word, or a contraction's letters before the apostrophe, is w.
  std::uint64_t unit_filter_[26 * 26 * 8 / 64 + 1] = {};
  std::vector<std::uint8_t> units_by_letter_[26];  // indices into units_ by first letter
  bool has_long_units_ = false;                      // a unit::long_form() among units_
  bool has_hyphen_units_ = false;                    // a phrase joined by a hyphen ("long-term")
  std::vector<rule> rules_;
  std::vector<std::string> rule_names_;
  std::vector<std::uint64_t> seeds_;
  std::vector<std::uint8_t> mixed_;
  static std::size_t prefilter_index(std::string_view w) {  // REQUIRES: w.size() >= 2, a-z
    return (static_cast<std::size_t>(w[0] - 'a') * 26 + static_cast<std::size_t>(w[1] - 'a')) * 32 +
           std::min<std::size_t>(w.size(), 31);
  }
  std::vector<std::uint64_t> prefilter_ = std::vector<std::uint64_t>(26 * 26 * 32 / 64 + 1, 0);
  // By the first two letters (the first and 'a' for a word of one): bit n (n < 32), may_hold_lower()
  // of a word of n letters; bit 32 + n (n < 8), unit_start_lower(). Built by build_index().
  std::uint64_t pair_filter_[26 * 26] = {};
  std::unordered_map<std::string, hit, string_hash, std::equal_to<>> words_;
  std::size_t min_len_ = SIZE_MAX, max_len_ = 0;
};

// The default file locations tried when watermark.synonyms_file is empty
// (the table compiled in is used when none exists).
std::vector<std::string> default_synonym_paths();

}  // namespace dg::enforcement
