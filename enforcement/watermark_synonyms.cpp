#include "enforcement/watermark_synonyms.h"

#include <bit>
#include <fstream>
#include <cstring>
#include <iterator>
#include <sstream>

#include <unistd.h>

#include "common/crypto.h"

namespace dg::enforcement {

extern const char* const builtin_synonyms_tsv;  // generated from data/distillguard-synonyms.tsv

status synonym_table::parse(std::string_view text, synonym_table& out) {
  out = synonym_table{};
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos)
      return status::corruption("synonyms line " + std::to_string(line_no) + ": no tab");
    std::string_view pos = line.substr(0, tab);
    if (pos == "%contract" || pos.starts_with("%phrase")) {
      std::uint8_t rule_no = 0;
      if (pos.starts_with("%phrase@")) {
        for (std::size_t r = 0; r < out.rule_names_.size(); ++r)
          if (out.rule_names_[r] == pos.substr(8)) rule_no = static_cast<std::uint8_t>(r + 1);
        if (rule_no == 0)
          return status::corruption("synonyms line " + std::to_string(line_no) + ": unknown rule " +
                                    std::string(pos.substr(7)));
      } else if (pos != "%contract" && pos != "%phrase") {
        return status::corruption("synonyms line " + std::to_string(line_no) + ": unknown " +
                                  std::string(pos));
      }
      status st = parse_unit(line.substr(tab + 1), out, pos != "%contract", rule_no);
      if (!st) return status::corruption("synonyms line " + std::to_string(line_no) + ": " + st.message());
      continue;
    }
    if (pos == "%itemstop") {
      if (line.substr(tab + 1) != "." || out.has_item_stop())
        return status::corruption("synonyms line " + std::to_string(line_no) + ": %itemstop<TAB>. once");
      out.item_stop_ = static_cast<std::uint32_t>(out.groups_.size());
      out.seeds_.push_back(hash64("%itemstop,.,", 0x77a7e3a4c5d1ULL));
      out.mixed_.push_back(0);
      out.groups_.push_back({"(none)", "."});
      continue;
    }
    if (pos == "%serialcomma") {
      if (line.substr(tab + 1) != "," || out.has_serial_comma())
        return status::corruption("synonyms line " + std::to_string(line_no) +
                                  ": %serialcomma<TAB>, once");
      out.serial_comma_ = static_cast<std::uint32_t>(out.groups_.size());
      out.seeds_.push_back(hash64("%serialcomma,,,", 0x77a7e3a4c5d1ULL));
      out.mixed_.push_back(0);
      out.groups_.push_back({"(none)", ","});
      continue;
    }
    if (pos == "%listopener") {
      std::string_view rest = line.substr(tab + 1);
      while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view o = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        const std::size_t sp = o.find(' ');
        bool ok = !o.empty() && o.front() != ' ' && o.back() != ' ' &&
                  (sp == std::string_view::npos || o.find(' ', sp + 1) == std::string_view::npos);
        for (char c : o) ok = ok && ((c >= 'a' && c <= 'z') || c == ' ');
        if (!ok)
          return status::corruption("synonyms line " + std::to_string(line_no) +
                                    ": %listopener<TAB>word or two,...: " + std::string(o));
        out.list_openers_.emplace_back(o);
      }
      continue;
    }
    if (pos.starts_with('@')) {
      status st = parse_rule(pos.substr(1), line.substr(tab + 1), out);
      if (!st) return status::corruption("synonyms line " + std::to_string(line_no) + ": " + st.message());
      continue;
    }
    cue needs = cue::none;
    std::uint8_t rule_no = 0;
    if (const std::size_t at = pos.find('@'); at != std::string_view::npos) {
      const std::string_view name = pos.substr(at + 1);
      pos = pos.substr(0, at);
      for (std::size_t r = 0; r < out.rule_names_.size(); ++r)
        if (out.rule_names_[r] == name) rule_no = static_cast<std::uint8_t>(r + 1);
      if (rule_no == 0)
        return status::corruption("synonyms line " + std::to_string(line_no) + ": unknown rule @" +
                                  std::string(name));
    }
    if (pos.ends_with('!')) {
      pos.remove_suffix(1);
      needs = pos == "v"       ? cue::verb
              : pos == "v.s"   ? cue::verb_s
              : pos == "v.ed"  ? cue::verb_ed
              : pos == "v.ing" ? cue::verb_ing
              : pos == "n" || pos == "n.pl" ? cue::noun
              : pos == "a"     ? cue::adjective
                               : cue::none;
    }
    std::string_view rest = line.substr(tab + 1);
    std::vector<std::string> words;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string_view w = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      for (char c : w)
        if (c < 'a' || c > 'z')
          return status::corruption("synonyms line " + std::to_string(line_no) +
                                    ": not a lower-case word: " + std::string(w));
      if (w.empty()) return status::corruption("synonyms line " + std::to_string(line_no) + ": empty word");
      words.emplace_back(w);
    }
    if (words.size() < 2 || words.size() > 16)
      return status::corruption("synonyms line " + std::to_string(line_no) + ": needs 2 to 16 words");
    const auto g = static_cast<std::uint32_t>(out.groups_.size());
    std::string joined;
    for (std::size_t i = 0; i < words.size(); ++i) {
      const hit here{g, static_cast<std::uint8_t>(i), needs, rule_no};
      auto [it, inserted] = out.words_.emplace(words[i], here);
      if (!inserted) {
        // A word in a second group: only where each group says where it holds.
        if (rule_no == 0 || it->second.rule == 0 || out.alternates_.size() >= 0xffff)
          return status::corruption("synonyms line " + std::to_string(line_no) + ": '" + words[i] +
                                    "' is already in another group (and one of them has no rule)");
        out.alternates_.push_back(here);
        const auto idx = static_cast<std::uint16_t>(out.alternates_.size());
        hit* last = &it->second;
        while (last->alt != 0) last = &out.alternates_[last->alt - 1];
        last->alt = idx;
        continue;
      }
      if (words[i].size() < 2)
        return status::corruption("synonyms line " + std::to_string(line_no) + ": a word of one letter");
      const std::size_t b = prefilter_index(words[i]);
      out.prefilter_[b >> 6] |= std::uint64_t{1} << (b & 63);
      out.min_len_ = std::min(out.min_len_, words[i].size());
      out.max_len_ = std::max(out.max_len_, words[i].size());
      joined += words[i];
      joined += ',';
    }
    out.seeds_.push_back(hash64(joined, 0x77a7e3a4c5d1ULL));
    auto vowel = [](const std::string& w) { return std::string_view("aeiou").find(w[0]) != std::string_view::npos; };
    bool mixed = false;
    for (const auto& w : words) mixed = mixed || vowel(w) != vowel(words[0]);
    out.mixed_.push_back(mixed ? 1 : 0);
    out.groups_.push_back(std::move(words));
  }
  if (out.groups_.empty()) return status::corruption("synonyms: no groups");
  out.build_index();
  return status::ok();
}

void synonym_table::build_index() {
  std::size_t size = 16;
  while (size < 2 * words_.size()) size *= 2;  // at most half full: short probe runs
  index_.assign(size, index_slot{});
  bloom_.assign(bloom_words, 0);
  index_shift_ = static_cast<unsigned>(64 - std::countr_zero(size));
  entries_.assign(words_.begin(), words_.end());
  for (std::size_t pair = 0; pair < 26 * 26; ++pair) {
    const char w[2] = {static_cast<char>('a' + pair / 26), static_cast<char>('a' + pair % 26)};
    std::uint64_t bits = 0;
    for (std::size_t n = 1; n < 32; ++n) {
      if (n >= 2 && may_hold_lower(w, n)) bits |= std::uint64_t{1} << n;
      if (n < 8 && (n > 1 || w[1] == 'a') && unit_start_lower(w, n)) bits |= std::uint64_t{1} << (32 + n);
    }
    pair_filter_[pair] = bits;
  }
  for (std::size_t e = 0; e < entries_.size(); ++e) {
    const std::uint64_t h = word_key(entries_[e].first);
    std::size_t i = h >> index_shift_;
    while (index_[i].entry != index_slot::empty) i = (i + 1) & (size - 1);
    const std::size_t len = entries_[e].first.size();
    index_[i] = {h, static_cast<std::uint32_t>(e), static_cast<std::uint8_t>(len < 256 ? len : 0)};
    bloom_[(h >> 6) & (bloom_words - 1)] |= std::uint64_t{1} << (h & 63);
  }
}

status synonym_table::parse_rule(std::string_view name, std::string_view tokens, synonym_table& out) {
  if (name.empty()) return status::corruption("a rule without a name");
  for (const auto& n : out.rule_names_)
    if (n == name) return status::corruption("rule @" + std::string(name) + " defined twice");
  if (out.rules_.size() >= 255) return status::corruption("more than 255 rules");
  rule r;
  while (!tokens.empty()) {
    const std::size_t comma = tokens.find(',');
    std::string_view t = tokens.substr(0, comma);
    tokens = comma == std::string_view::npos ? std::string_view{} : tokens.substr(comma + 1);
    if (t == "+comma") {
      r.comma = true;
      continue;
    }
    if (t == "^") {
      r.lead = true;
      continue;
    }
    const bool must_before = t.starts_with(">+");
    const bool waive = t.starts_with(">!");
    const bool before = must_before || waive || t.starts_with(">-");
    if (before) t.remove_prefix(2);
    const bool negated = !before && t.front() == '-';
    if (negated) t.remove_prefix(1);
    if (t.empty()) return status::corruption("rule @" + std::string(name) + ": an empty word");
    for (char c : t)
      if (c < 'a' || c > 'z')
        return status::corruption("rule @" + std::string(name) + ": not a lower-case word: " + std::string(t));
    auto& list = waive ? r.waive : must_before ? r.before : before ? r.not_before : negated ? r.not_after : r.after;
    list.emplace_back(t);
  }
  std::sort(r.after.begin(), r.after.end());
  std::sort(r.not_after.begin(), r.not_after.end());
  std::sort(r.not_before.begin(), r.not_before.end());
  std::sort(r.before.begin(), r.before.end());
  std::sort(r.waive.begin(), r.waive.end());
  out.rules_.push_back(std::move(r));
  out.rule_names_.emplace_back(name);
  return status::ok();
}

status synonym_table::parse_unit(std::string_view tokens, synonym_table& out, bool phrase,
                                 std::uint8_t rule) {
  const std::size_t comma = tokens.find(',');
  if (comma == std::string_view::npos) return status::corruption("%contract: words,contraction");
  const std::string_view words = tokens.substr(0, comma), contracted = tokens.substr(comma + 1);
  auto lower_word = [](std::string_view w) {
    if (w.empty() || w.size() > 7) return false;
    for (char c : w)
      if (c < 'a' || c > 'z') return false;
    return true;
  };
  unit u;
  std::size_t space = words.find(' ');
  u.first = std::string(words.substr(0, space));
  if (space != std::string_view::npos) u.second = std::string(words.substr(space + 1));
  // A long phrase (table v8 on): three words, or another form of two or three.
  const bool long_phrase =
      phrase && (u.second.find(' ') != std::string::npos || contracted.find(' ') != std::string_view::npos);
  if (long_phrase) {
    auto plain = [](std::string_view w) {
      if (w.empty() || w.size() > 32) return false;
      for (char c : w)
        if (c < 'a' || c > 'z') return false;
      return true;
    };
    // Words: "a b" or "a b c"; the other form: "x", "x y" or "x y z".
    if (const std::size_t sp = u.second.find(' '); sp != std::string::npos) {
      u.third = u.second.substr(sp + 1);
      u.second.resize(sp);
    }
    const std::size_t csp = contracted.find(' ');
    if (csp != std::string_view::npos) u.rest = std::string(contracted.substr(csp + 1));
    const std::string_view head = contracted.substr(0, csp);
    const std::size_t rest_sp = u.rest.find(' ');
    const bool ok = lower_word(u.first) && lower_word(head) && lower_word(u.second) &&
                    (u.third.empty() || plain(u.third)) &&
                    (u.rest.empty() || (plain(std::string_view(u.rest).substr(0, rest_sp)) &&
                                        (rest_sp == std::string::npos ||
                                         plain(std::string_view(u.rest).substr(rest_sp + 1)))));
    if (!ok || space == std::string_view::npos || words == contracted)
      return status::corruption("%phrase: not two or three words and one to three other words: " +
                                std::string(tokens));
    u.first_key = word_key7(u.first);
    u.second_key = word_key7(u.second);
    u.contracted = std::string(head);
    u.phrase = true;
    u.rule = rule;
    for (const auto& v : out.units_)
      if (v.written(false) == u.written(false) || v.written(true) == u.written(true))
        return status::corruption("%phrase: " + std::string(tokens) + " given twice");
    u.group = static_cast<std::uint32_t>(out.groups_.size());
    const std::string joined = std::string(words) + "," + std::string(contracted) + ",";
    out.seeds_.push_back(hash64(joined, 0x77a7e3a4c5d1ULL));
    out.mixed_.push_back(0);
    out.groups_.push_back({std::string(words), std::string(contracted)});
    if (out.units_.size() >= 255) return status::corruption("%contract: more than 255 units");
    for (const std::size_t b : {unit_index(u.first.data(), u.first.size()), unit_index(head.data(), head.size())})
      out.unit_filter_[b >> 6] |= std::uint64_t{1} << (b & 63);
    out.units_by_letter_[u.first[0] - 'a'].push_back(static_cast<std::uint8_t>(out.units_.size()));
    if (head[0] != u.first[0])
      out.units_by_letter_[head[0] - 'a'].push_back(static_cast<std::uint8_t>(out.units_.size()));
    out.has_long_units_ = true;
    out.units_.push_back(std::move(u));
    return status::ok();
  }
  if (!lower_word(u.first) || (space != std::string_view::npos && !lower_word(u.second)))
    return status::corruption("%contract: not one or two lower-case words of at most 7 letters: " +
                              std::string(words));
  std::size_t apos = contracted.find('\'');
  if (phrase) {
    // Two words, or one other word without an apostrophe; or the two words
    // joined by a hyphen (table v8 on: "long term" / "long-term").
    if (const std::size_t hy = contracted.find('-'); hy != std::string_view::npos) {
      if (space == std::string_view::npos || contracted.substr(0, hy) != u.first ||
          contracted.substr(hy + 1) != u.second)
        return status::corruption("%phrase: a hyphen joins its two words: " + std::string(tokens));
      apos = hy;
    } else {
      if (space == std::string_view::npos || !lower_word(contracted))
        return status::corruption("%phrase: not two words and one other word: " +
                                  std::string(tokens));
      apos = contracted.size();
    }
    out.has_hyphen_units_ = out.has_hyphen_units_ || apos < contracted.size();
  } else if (apos == 0 || apos == std::string_view::npos || apos + 1 == contracted.size() ||
             !lower_word(contracted.substr(0, apos)) || !lower_word(contracted.substr(apos + 1))) {
    return status::corruption("%contract: not a contraction: " + std::string(contracted));
  }
  u.phrase = phrase;
  u.rule = rule;
  u.contracted = std::string(contracted);
  u.first_key = word_key7(u.first);
  u.second_key = word_key7(u.second);
  for (const auto& v : out.units_)
    if ((v.first == u.first && v.second == u.second) || v.contracted == u.contracted)
      return status::corruption("%contract: " + std::string(tokens) + " given twice");
  u.group = static_cast<std::uint32_t>(out.groups_.size());
  std::string joined = std::string(words) + "," + u.contracted + ",";
  out.seeds_.push_back(hash64(joined, 0x77a7e3a4c5d1ULL));
  out.mixed_.push_back(0);
  out.groups_.push_back({std::string(words), u.contracted});
  if (out.units_.size() >= 255) return status::corruption("%contract: more than 255 units");
  for (const std::size_t b : {unit_index(u.first.data(), u.first.size()), unit_index(u.contracted.data(), apos)})
    out.unit_filter_[b >> 6] |= std::uint64_t{1} << (b & 63);
  out.units_by_letter_[u.first[0] - 'a'].push_back(static_cast<std::uint8_t>(out.units_.size()));
  if (u.contracted[0] != u.first[0])
    out.units_by_letter_[u.contracted[0] - 'a'].push_back(static_cast<std::uint8_t>(out.units_.size()));
  out.units_.push_back(std::move(u));
  return status::ok();
}

bool synonym_table::rule_holds(const rule& r, std::string_view prev, bool sentence_start, char after,
                               std::string_view next, bool next_known) {
  if (r.comma && after != ',') return false;
  if (!r.not_before.empty() && (!next_known || std::binary_search(r.not_before.begin(), r.not_before.end(), next)))
    return false;
  if (!r.before.empty() &&
      (!next_known || !std::binary_search(r.before.begin(), r.before.end(), next)))
    return false;
  if (std::binary_search(r.not_after.begin(), r.not_after.end(), prev)) return false;
  if (r.after.empty() && !r.lead) return true;
  return (r.lead && sentence_start) || std::binary_search(r.after.begin(), r.after.end(), prev);
}

status synonym_table::load_file(const std::string& path, synonym_table& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return status::not_found("cannot open synonyms file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  status st = parse(ss.str(), out);
  if (!st) return status::corruption(path + ": " + st.message());
  return st;
}

std::shared_ptr<const synonym_table> synonym_table::builtin() {
  static const std::shared_ptr<const synonym_table> table = [] {
    auto t = std::make_shared<synonym_table>();
    status st = parse(builtin_synonyms_tsv, *t);
    (void)st;  // the build checks the table (a unit test parses it)
    return std::shared_ptr<const synonym_table>(std::move(t));
  }();
  return table;
}

namespace {
// The cue words of each kind (cued()), read once into a table of a bit per kind by word.
constexpr std::string_view cue_words[][26] = {
    {},
    // verb: to need, can help, will show, we need
    {"to", "can", "could", "will", "would", "should", "may", "might", "must", "not", "cannot", "also", "i",
     "you", "we", "they", "often", "usually", "always", "never", "please", "and", "or", "help", "let", "lets"},
    // verb_s: it needs, which shows
    {"he", "she", "it", "this", "that", "which", "who", "also", "often", "usually", "always", "never", "only",
     "still", "and"},
    // verb_ed: has helped, was shown
    {"has", "have", "had", "was", "were", "been", "be", "is", "are", "he", "she", "it", "they", "we", "i", "you",
     "also", "and", "often", "recently", "then"},
    // verb_ing: by helping, is showing
    {"is", "are", "was", "were", "be", "been", "by", "for", "of", "in", "about", "while", "when", "without",
     "before", "after", "keep", "keeps", "and", "also"},
    // noun: the need, a show
    {"a", "an", "the", "this", "that", "these", "those", "its", "their", "his", "her", "our", "your", "my",
     "each", "every", "any", "no", "some", "many", "few", "several", "such", "other", "another"},
    // adjective: is common, very hard
    {"very", "more", "most", "is", "are", "was", "were", "be", "been", "so", "too", "quite", "less", "least",
     "extremely", "highly", "become", "becomes", "remain", "remains", "seem", "seems", "fairly", "rather",
     "really", "relatively"},
};

// A word of at most 16 bytes as two integers (its bytes, zero beyond its end) and its cue bits,
// in an open-addressed table of 256 slots: one multiply and one probe or two per word asked.
struct cue_table {
  struct slot {
    std::uint64_t lo = 0, hi = 0;
    std::uint8_t len = 0, mask = 0;  // len 0: empty
  };
  slot slots[256];
  static bool key(std::string_view w, std::uint64_t& lo, std::uint64_t& hi) {
    if (w.empty() || w.size() > 16) return false;
    char b[16] = {};
    std::memcpy(b, w.data(), w.size());
    std::memcpy(&lo, b, 8);
    std::memcpy(&hi, b + 8, 8);
    return true;
  }
  static std::size_t home(std::uint64_t lo, std::uint64_t hi) {
    return static_cast<std::size_t>(((lo ^ (hi * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL) >> 56);
  }
  cue_table() {
    for (std::size_t c = 1; c < std::size(cue_words); ++c) {
      for (const std::string_view w : cue_words[c]) {
        if (w.empty()) continue;
        std::uint64_t lo = 0, hi = 0;
        key(w, lo, hi);
        std::size_t i = home(lo, hi);
        while (slots[i].len != 0 && !(slots[i].lo == lo && slots[i].hi == hi && slots[i].len == w.size()))
          i = (i + 1) & 255;
        slots[i].lo = lo;
        slots[i].hi = hi;
        slots[i].len = static_cast<std::uint8_t>(w.size());
        slots[i].mask = static_cast<std::uint8_t>(slots[i].mask | (1u << c));
      }
    }
  }
  std::uint8_t mask(std::string_view w) const {
    std::uint64_t lo = 0, hi = 0;
    if (!key(w, lo, hi)) return 0;
    for (std::size_t i = home(lo, hi);; i = (i + 1) & 255) {
      const slot& s = slots[i];
      if (s.len == 0) return 0;
      if (s.lo == lo && s.hi == hi && s.len == w.size()) return s.mask;
    }
  }
};
}  // namespace

bool synonym_table::cued(cue c, std::string_view p) {
  if (c == cue::none) return true;
  static const cue_table cues;
  return (cues.mask(p) >> static_cast<unsigned>(c) & 1) != 0;
}

std::vector<std::string> default_synonym_paths() {
  std::vector<std::string> out;
  // Next to the executable, then the installed share directory.
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    std::string exe(buf, static_cast<std::size_t>(n));
    const std::string dir = exe.substr(0, exe.rfind('/'));
    out.push_back(dir + "/distillguard-synonyms.tsv");
    out.push_back(dir + "/../share/distillguard/distillguard-synonyms.tsv");
  }
  out.push_back("/usr/share/distillguard/distillguard-synonyms.tsv");
  return out;
}

}  // namespace dg::enforcement
