#include "detectors/text_normalise.h"

#include <algorithm>
#include <array>
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
  out.clear();
  out.reserve(raw.size());
  bool pending_space = false;
  for (unsigned char c : raw) {
    std::uint8_t k = char_class[c];
    if (k == 0) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      out.push_back(' ');
      pending_space = false;
    }
    out.push_back(static_cast<char>(k == 2 ? c + ('a' - 'A') : c));
  }
}

std::uint64_t word_hash(std::string_view w, std::uint64_t seed) {
  // Eight bytes at a time (a word is short), then the splitmix finaliser.
  std::uint64_t h = seed ^ (w.size() * 0x9e3779b97f4a7c15ULL);
  std::size_t i = 0;
  for (; i + 8 <= w.size(); i += 8) {
    std::uint64_t v;
    std::memcpy(&v, w.data() + i, 8);
    h = mix64(h ^ v);
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, w.data() + i, w.size() - i);
  return mix64(h ^ tail ^ 0x5555555555555555ULL);
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
      out.push_back({w, word_hash(w, seed)});
    }
    i = j + 1;
  }
}

bool is_common_word(std::string_view w) {
  return std::binary_search(std::begin(common_words), std::end(common_words), w);
}

}  // namespace dg::detectors
