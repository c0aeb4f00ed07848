#include "detectors/text_normalise.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace dg::detectors {
namespace {

// 0: separator, 1: keep as is, 2: upper-case ASCII (lower it).
constexpr std::array<std::uint8_t, 256> make_class_table() {
  std::array<std::uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = 1;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = 1;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = 2;
  for (int c = 0x80; c < 0x100; ++c) t[static_cast<std::size_t>(c)] = 1;
  return t;
}
constexpr auto char_class = make_class_table();

// Most frequent English words plus the verbs and nouns of instructions ("write", "explain",
// "following"): a template's fixed words are mostly these, a topic's words mostly not.
constexpr std::string_view common_words[] = {
    "a", "about", "above", "after", "again", "against", "all", "also", "always", "am", "an",
    "analyze", "and", "answer", "any", "are", "as", "at", "be", "because", "been", "before",
    "being", "below", "best", "better", "between", "both", "brief", "but", "by", "can", "case",
    "change", "check", "classify", "come", "compare", "complete", "consider", "contain",
    "convert", "correct", "could", "create", "describe", "detail", "detailed", "did", "do",
    "does", "doing", "down", "during", "each", "edit", "even", "every", "example", "examples",
    "explain", "fact", "few", "find", "first", "following", "for", "format", "from", "further",
    "generate", "get", "give", "given", "go", "good", "had", "has", "have", "having", "he",
    "help", "her", "here", "hers", "herself", "him", "himself", "his", "how", "however", "i",
    "identify", "if", "in", "include", "information", "input", "into", "is", "it", "its",
    "itself", "just", "know", "label", "last", "least", "less", "let", "like", "list", "long",
    "make", "many", "may", "me", "might", "more", "most", "much", "must", "my", "myself", "name",
    "need", "never", "new", "no", "nor", "not", "now", "number", "of", "off", "on", "once",
    "one", "only", "or", "other", "our", "ours", "ourselves", "out", "output", "over", "own",
    "paragraph", "part", "people", "please", "point", "provide", "question", "questions",
    "rewrite", "right", "same", "say", "sentence", "sentences", "several", "shall", "she",
    "short", "should", "show", "similar", "since", "so", "some", "something", "state", "step",
    "still", "such", "suggest", "summarize", "summary", "take", "task", "tell", "text", "than",
    "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they",
    "thing", "things", "think", "this", "those", "though", "three", "through", "time", "to",
    "too", "topic", "translate", "true", "two", "type", "under", "until", "up", "use", "used",
    "using", "very", "want", "was", "way", "we", "well", "were", "what", "when", "where",
    "whether", "which", "while", "who", "whom", "whose", "why", "will", "with", "within",
    "without", "word", "words", "would", "write", "year", "years", "yes", "you", "your",
    "yours", "yourself", "yourselves"};

}  // namespace

void normalise_text(std::string_view raw, std::string& out) {
  out.resize(raw.size());  // the result is never longer than the input
  char* o = out.data();
  char* const begin = o;
  bool pending_space = false;
  for (unsigned char c : raw) {
    std::uint8_t k = char_class[c];
    if (k == 0) {
      pending_space = o != begin;
      continue;
    }
    if (pending_space) {
      *o++ = ' ';
      pending_space = false;
    }
    *o++ = static_cast<char>(k == 2 ? c + ('a' - 'A') : c);
  }
  out.resize(static_cast<std::size_t>(o - begin));
}

std::uint64_t word_hash(std::string_view w, std::uint64_t seed) {
  // word_hash_padded's definition, reading no byte past the word: the last chunk is copied into
  // a zeroed buffer first.
  using namespace word_hash_detail;
  const auto* p = reinterpret_cast<const unsigned char*>(w.data());
  std::size_t n = w.size();
  const std::uint64_t s = seed ^ (n * k0);
  std::uint64_t h = s, v1, v2;
  for (; n > 16; n -= 16, p += 16) {
    std::memcpy(&v1, p, 8);
    std::memcpy(&v2, p + 8, 8);
    h = step(h, v1, v2, s);
  }
  unsigned char last[16] = {};
  if (n > 0) std::memcpy(last, p, n);
  std::memcpy(&v1, last, 8);
  std::memcpy(&v2, last + 8, 8);
  return finish(h, v1, v2, s);
}

void split_words(std::string_view normalised, std::uint64_t seed, std::vector<word>& out,
                 std::size_t max_words) {
  out.clear();
  std::size_t i = 0, n = normalised.size();
  while (i < n && out.size() < max_words) {
    std::size_t j = normalised.find(' ', i);
    if (j == std::string_view::npos) j = n;
    if (j > i) {
      std::string_view w = normalised.substr(i, j - i);
      const std::uint64_t h = word_hash(w, seed);
      out.push_back({w, h, is_common_hash(h, seed)});
    }
    i = j + 1;
  }
}

namespace {

// Open-addressed set of the common words (all ASCII, at most 16 bytes), keyed by their bytes packed
// into two integers: a multiply-shift and an integer compare per lookup, no string hashing (this
// runs for every word of every prompt).
struct common_word_table {
  static constexpr std::size_t bits = 10;
  static constexpr std::size_t size = std::size_t{1} << bits;  // four times the words
  struct key {
    std::uint64_t lo = 0, hi = 0;
    bool operator==(const key&) const = default;
  };
  static key pack(std::string_view w) {
    key k;
    for (std::size_t i = 0; i < w.size() && i < 8; ++i) k.lo |= static_cast<std::uint64_t>(static_cast<unsigned char>(w[i])) << (8 * i);
    for (std::size_t i = 8; i < w.size(); ++i) k.hi |= static_cast<std::uint64_t>(static_cast<unsigned char>(w[i])) << (8 * (i - 8));
    return k;
  }
  static std::size_t slot_of(const key& k) {
    return static_cast<std::size_t>(((k.lo ^ (k.hi * 0xff51afd7ed558ccdULL)) * 0x9e3779b97f4a7c15ULL) >> (64 - bits));
  }
  std::array<key, size> slots{};
  std::size_t longest = 0;
  common_word_table() {
    for (std::string_view w : common_words) {
      longest = std::max(longest, w.size());
      key k = pack(w);
      std::size_t i = slot_of(k);
      while (slots[i].lo != 0) i = (i + 1) & (size - 1);
      slots[i] = k;
    }
  }
  bool contains(std::string_view w) const {
    if (w.size() > longest || w.empty()) return false;
    key k = pack(w);
    for (std::size_t i = slot_of(k);; i = (i + 1) & (size - 1)) {
      if (slots[i] == k) return true;
      if (slots[i].lo == 0) return false;
    }
  }
};
static_assert(sizeof("yourselves") <= 17, "common words must fit the packed key");

}  // namespace

bool is_common_word(std::string_view w) {
  static const common_word_table table;
  return table.contains(w);
}

}  // namespace dg::detectors

namespace dg::detectors {

bool common_hashes::try_build(std::uint64_t seed, int rotation) {
  std::fill(std::begin(slots_), std::end(slots_), 0u);
  rotation_ = rotation;
  bool all = true;
  for (std::string_view w : common_words) {
    const std::uint64_t h = word_hash(w, seed);
    std::uint32_t* s = slots_ + (std::rotl(h, rotation) >> (64 - bits));
    std::size_t k = 0;
    while (k < probes && s[k] != 0 && s[k] != fingerprint(h)) ++k;
    if (k < probes) s[k] = fingerprint(h);
    else all = false;  // five words crowd one slot's four places
  }
  return all;
}

void common_hashes::build(std::uint64_t seed) {
  seed_ = seed;
  built_ = true;
  articles_[0] = word_hash("a", seed);
  articles_[1] = word_hash("an", seed);
  articles_[2] = word_hash("the", seed);
  // An eighth full: a crowded slot is rare, and another choice of high bits (kept above the
  // fingerprint's low 32, so a false yes still needs a 64-bit collision) clears it. Should every
  // choice fail, the last table stands and the words that found no room count as content words.
  for (int rotation : {0, 5, 11, 17, 22}) {
    if (try_build(seed, rotation)) return;
  }
}

const common_hashes& common_hashes::for_seed(std::uint64_t seed) {
  thread_local common_hashes table;
  if (!table.built_ || table.seed_ != seed) table.build(seed);
  return table;
}

}  // namespace dg::detectors
