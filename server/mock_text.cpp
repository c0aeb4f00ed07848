#include "server/mock_text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <numbers>
#include <string_view>

namespace dg::server::mock {

namespace {

// Regular nouns only: plurals are made by rule (see plural()).
constexpr std::array<std::string_view, 96> nouns = {
    "system",     "model",       "process",    "approach",  "result",     "method",
    "question",   "answer",      "example",    "pattern",   "structure",  "factor",
    "decision",   "strategy",    "framework",  "signal",    "network",    "resource",
    "design",     "constraint",  "benefit",    "risk",      "tradeoff",   "change",
    "problem",    "solution",    "feature",    "component", "interface",  "layer",
    "request",    "response",    "record",     "policy",    "budget",     "schedule",
    "team",       "customer",    "market",     "product",   "service",    "platform",
    "project",    "goal",        "metric",     "baseline",  "estimate",   "outcome",
    "experiment", "assumption",  "theory",     "argument",  "concept",    "principle",
    "idea",       "detail",      "context",    "perspective", "history",  "culture",
    "language",   "sentence",    "paragraph",  "document",  "source",     "reference",
    "value",      "variable",    "function",   "parameter", "input",      "output",
    "sample",     "dataset",     "measurement", "error",    "trend",      "cycle",
    "season",     "region",      "city",       "river",     "forest",     "habitat",
    "habit",      "routine",     "skill",      "teacher",   "student",    "lesson",
    "step",       "stage",       "phase",      "option",    "choice",     "priority",
};

// (base form, third person singular) of transitive verbs.
struct verb {
  std::string_view base;
  std::string_view third;
};
constexpr std::array<verb, 60> verbs = {{
    {"affect", "affects"},       {"improve", "improves"},     {"reduce", "reduces"},
    {"increase", "increases"},   {"require", "requires"},     {"describe", "describes"},
    {"define", "defines"},       {"measure", "measures"},     {"explain", "explains"},
    {"shape", "shapes"},         {"limit", "limits"},         {"change", "changes"},
    {"support", "supports"},     {"combine", "combines"},     {"compare", "compares"},
    {"balance", "balances"},     {"protect", "protects"},     {"connect", "connects"},
    {"organize", "organizes"},   {"transform", "transforms"}, {"guide", "guides"},
    {"capture", "captures"},     {"reflect", "reflects"},     {"strengthen", "strengthens"},
    {"simplify", "simplifies"},  {"extend", "extends"},       {"produce", "produces"},
    {"create", "creates"},       {"influence", "influences"}, {"determine", "determines"},
    {"represent", "represents"}, {"maintain", "maintains"},   {"evaluate", "evaluates"},
    {"encourage", "encourages"}, {"highlight", "highlights"}, {"reveal", "reveals"},
    {"enable", "enables"},       {"drive", "drives"},         {"control", "controls"},
    {"provide", "provides"},     {"include", "includes"},     {"follow", "follows"},
    {"use", "uses"},             {"build", "builds"},         {"handle", "handles"},
    {"share", "shares"},         {"test", "tests"},           {"track", "tracks"},
    {"store", "stores"},         {"process", "processes"},    {"clarify", "clarifies"},
    {"replace", "replaces"},     {"prevent", "prevents"},     {"predict", "predicts"},
    {"summarize", "summarizes"}, {"adjust", "adjusts"},       {"separate", "separates"},
    {"identify", "identifies"},  {"outline", "outlines"},     {"prioritize", "prioritizes"},
}};

constexpr std::array<std::string_view, 64> adjectives = {
    "simple",      "complex",     "important",   "useful",      "common",     "rare",
    "clear",       "careful",     "practical",   "reliable",    "efficient",  "flexible",
    "consistent",  "specific",    "general",     "broad",       "narrow",     "small",
    "large",       "early",       "late",        "recent",      "modern",     "traditional",
    "stable",      "dynamic",     "critical",    "basic",       "advanced",   "typical",
    "unusual",     "obvious",     "subtle",      "direct",      "indirect",   "careful",
    "robust",      "fragile",     "accurate",    "rough",       "detailed",   "strong",
    "weak",        "healthy",     "natural",     "social",      "economic",   "technical",
    "local",       "global",      "long-term",   "short-term",  "reasonable", "significant",
    "measurable",  "relevant",    "effective",   "structured",  "informal",   "steady",
    "gradual",     "predictable", "transparent", "sustainable",
};

constexpr std::array<std::string_view, 24> adverbs = {
    "quickly",    "carefully",   "gradually",  "directly",    "often",      "usually",
    "rarely",     "consistently", "clearly",   "naturally",   "reliably",   "steadily",
    "effectively", "slowly",     "simply",     "mostly",      "largely",    "partly",
    "explicitly", "implicitly",  "early",      "regularly",   "sometimes",  "efficiently",
};

constexpr std::array<std::string_view, 18> prepositions = {
    "in", "across", "within", "for", "around", "through", "beyond", "under", "between",
    "alongside", "toward", "without", "during", "after", "before", "among", "behind", "over",
};

constexpr std::array<std::string_view, 20> openers = {
    "However,",       "In practice,",   "For example,",    "As a result,",   "In general,",
    "At the same time,", "By contrast,", "In short,",      "Over time,",     "In many cases,",
    "First,",         "Second,",        "Finally,",        "Importantly,",   "In addition,",
    "On the other hand,", "For this reason,", "Put simply,", "Still,",       "Similarly,",
};

// Slots: {C} opener, {N} noun, {Ns} plural noun, {A} adjective, {V} verb
// (third person), {Vb} verb (base), {Adv} adverb, {P} preposition, {T} a topic
// word from the prompt (or a noun), {K} a small number written out.
constexpr std::array<std::string_view, 30> sentences = {
    "{C} the {A} {N} {V} {Ns} {P} the {N}.",
    "A {A} {N} {V} the {N} when {Ns} {Vb} {Adv}.",
    "This {V} how {T} {V} {A} {Ns} {P} most {Ns}.",
    "{C} it is {A} to {Vb} the {N} before you {Vb} any {Ns}.",
    "In the case of {T}, the {N} {V} {Adv} {P} the {A} {N}.",
    "Most {Ns} {Vb} {T} because it {V} {Ns} and {V} the {N}.",
    "You can {Vb} the {N} by comparing {A} {Ns} {Adv}.",
    "The {N} of {T} {V} {A} {Ns}, not just {A} {Ns}.",
    "If the {N} {V} the {N}, {Ns} {Vb} {Adv}.",
    "{T} {V} {A} {Ns} that {Vb} {P} the {N}.",
    "One {A} way to think about {T} is as a {N} that {V} {Ns}.",
    "There are {K} {A} {Ns} to consider here.",
    "{C} {Ns} {Vb} the {A} {N} {Adv}.",
    "The key is that {T} {V} the {N} {P} each {N}.",
    "{C} a {A} {N} {Adv} {V} the {N}.",
    "It helps to {Vb} the {A} {Ns} {P} {T} first.",
    "When {Ns} {Vb} {T}, the {N} {Adv} {V} {A} {Ns}.",
    "{C} this {N} {V} why {A} {Ns} {Vb} {Ns} {P} {T}.",
    "Researchers often {Vb} {T} to {Vb} the {A} {N}.",
    "A {A} {N} rarely {V} {Ns} on its own.",
    "{C} the {N} and the {N} together {Vb} {A} {Ns}.",
    "That is why {A} {Ns} {Vb} {T} {P} the {N}.",
    "Each {N} {V} a {A} {N}, which {V} the {N}.",
    "{C} the {A} {Ns} {Vb} {Adv}, so the {N} {V} {Ns}.",
    "Think of {T} as a {A} {N} {P} the {N}.",
    "The {A} {N} {V} {T}, and the {N} {V} the rest.",
    "{C} {T} {Adv} {V} the {A} {Ns}.",
    "Without a {A} {N}, {Ns} {Vb} the {N} {Adv}.",
    "The {N} {V} {K} {A} {Ns} and one {A} {N}.",
    "In most {Ns}, {T} {V} the {N} {Adv}.",
};

constexpr std::array<std::string_view, 6> list_intros = {
    "Here are the main {Ns} to keep in mind:",
    "A {A} way to approach {T} looks like this:",
    "The {Ns} that matter most are:",
    "{C} consider these {Ns}:",
    "In practice, the steps are:",
    "The {A} {Ns} break down as follows:",
};

constexpr std::array<std::string_view, 8> list_items = {
    "The {A} {N} {V} {Ns} {P} the {N}.",
    "{A} {Ns} {Vb} the {N} {Adv}.",
    "Check how {T} {V} the {N}.",
    "Keep the {N} {A} and the {Ns} {A}.",
    "Use a {A} {N} to {Vb} {Ns}.",
    "The {N} {V} {T} {Adv}.",
    "{Vb} the {A} {Ns} before the {N}.",
    "Watch for {A} {Ns} {P} the {N}.",
};

constexpr std::array<std::string_view, 9> small_numbers = {
    "two", "three", "four", "five", "several", "a few", "many", "six", "two or three",
};

constexpr std::array<std::string_view, 62> stop_words = {
    "about",   "above",    "after",   "again",   "against", "because", "before",  "being",
    "below",   "between",  "could",   "doing",   "during",  "every",   "further", "having",
    "should",  "their",    "there",   "these",   "those",   "through", "under",   "until",
    "where",   "which",    "while",   "would",   "yourself", "please", "explain", "describe",
    "detail",  "detailed", "answer",  "question", "write",  "written", "provide", "following",
    "within",  "without",  "another", "something", "anything", "everything", "reasoning",
    "step-by-step", "briefly", "simple", "words", "really", "thing", "things", "other",
    "others",  "whether",  "might",   "given",   "think",   "include", "including",
};

template <typename Array>
const typename Array::value_type& pick(rng& r, const Array& a) {
  return a[static_cast<std::size_t>(r.below(a.size()))];
}

std::string plural(std::string_view noun) {
  std::string s(noun);
  const auto ends = [&](std::string_view suffix) { return s.ends_with(suffix); };
  if (ends("y") && s.size() > 1 && std::string_view("aeiou").find(s[s.size() - 2]) == std::string_view::npos) {
    s.pop_back();
    s += "ies";
  } else if (ends("s") || ends("x") || ends("ch") || ends("sh")) {
    s += "es";
  } else {
    s += "s";
  }
  return s;
}

}  // namespace

std::uint64_t rng::next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double rng::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::vector<std::string> topic_words(std::string_view prompt, std::size_t limit) {
  std::vector<std::string> out;
  std::string word;
  const auto flush = [&] {
    if (word.size() >= 6 && out.size() < limit &&
        std::find(stop_words.begin(), stop_words.end(), word) == stop_words.end() &&
        std::find(out.begin(), out.end(), word) == out.end()) {
      out.push_back(word);
    }
    word.clear();
  };
  for (const char c : prompt) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalpha(u) || (c == '-' && !word.empty())) {
      word += static_cast<char>(std::tolower(u));
    } else {
      flush();
    }
  }
  flush();
  return out;
}

std::size_t count_words(std::string_view text) {
  std::size_t n = 0;
  bool in_word = false;
  for (const char c : text) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

std::size_t prompt_tokens_for_words(std::size_t words) {
  return static_cast<std::size_t>(std::ceil(static_cast<double>(words) * 1.3));
}

std::string random_vocabulary_token(rng& r) {
  switch (r.below(4)) {
    case 0: return " " + std::string(pick(r, nouns));
    case 1: return " " + std::string(pick(r, verbs).third);
    case 2: return " " + std::string(pick(r, adjectives));
    default: return " " + std::string(pick(r, adverbs));
  }
}

prose_generator::prose_generator(std::uint64_t seed, std::vector<std::string> topics)
    : rng_(seed), topics_(std::move(topics)) {
  const double len = std::exp(std::log(180.0) + 0.6 * rng_.normal());
  natural_length_ = static_cast<std::size_t>(std::clamp(len, 24.0, 900.0));
  paragraph_target_ = 2 + rng_.below(4);
}

std::string prose_generator::topic() {
  if (!topics_.empty() && rng_.below(10) < 6) return topics_[rng_.below(topics_.size())];
  return std::string(pick(rng_, nouns));
}

std::string prose_generator::expand(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() * 2);
  std::size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] != '{') {
      out += pattern[i++];
      continue;
    }
    const std::size_t close = pattern.find('}', i);
    const std::string_view slot = pattern.substr(i + 1, close - i - 1);
    i = close + 1;
    if (slot == "C") out += pick(rng_, openers);
    else if (slot == "N") out += pick(rng_, nouns);
    else if (slot == "Ns") out += plural(pick(rng_, nouns));
    else if (slot == "A") out += pick(rng_, adjectives);
    else if (slot == "V") out += pick(rng_, verbs).third;
    else if (slot == "Vb") out += pick(rng_, verbs).base;
    else if (slot == "Adv") out += pick(rng_, adverbs);
    else if (slot == "P") out += pick(rng_, prepositions);
    else if (slot == "T") out += topic();
    else if (slot == "K") out += pick(rng_, small_numbers);
  }
  // "a" before a vowel sound reads wrong; fix the common case.
  // A template that starts with a slot may start lower-case.
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  for (std::size_t p = 0; p + 2 < out.size(); ++p) {
    const bool article = (out[p] == 'a' || out[p] == 'A') && out[p + 1] == ' ';
    const bool word_start = p == 0 || out[p - 1] == ' ';
    if (article && word_start && std::string_view("aeiou").find(out[p + 2]) != std::string_view::npos) {
      out.insert(p + 1, "n");
    }
  }
  return out;
}

void prose_generator::fill_sentence() {
  std::string sentence;
  std::string first_prefix = first_ ? "" : " ";
  if (list_items_left_ > 0) {
    --list_items_left_;
    ++list_number_;
    sentence = expand(pick(rng_, list_items));
    first_prefix = "\n" + std::to_string(list_number_) + ". ";
    if (list_items_left_ == 0) sentences_in_paragraph_ = paragraph_target_;  // end the list
  } else {
    if (!first_ && sentences_in_paragraph_ >= paragraph_target_) {
      first_prefix = "\n\n";
      sentences_in_paragraph_ = 0;
      paragraph_target_ = 2 + rng_.below(4);
    }
    // Now and then a paragraph is a numbered list, as chat answers often are.
    if (!first_ && sentences_in_paragraph_ == 0 && rng_.below(5) == 0) {
      sentence = expand(pick(rng_, list_intros));
      list_items_left_ = 3 + rng_.below(3);
      list_number_ = 0;
    } else {
      sentence = expand(pick(rng_, sentences));
    }
    ++sentences_in_paragraph_;
  }
  first_ = false;
  // One token per word; the separator before a word belongs to that word.
  std::size_t start = 0;
  bool first_word = true;
  while (start < sentence.size()) {
    std::size_t end = sentence.find(' ', start);
    if (end == std::string::npos) end = sentence.size();
    std::string token = first_word ? first_prefix : " ";
    token.append(sentence, start, end - start);
    pending_.push_back(std::move(token));
    first_word = false;
    start = end + 1;
  }
}

std::string prose_generator::next_token() {
  if (pending_.empty()) fill_sentence();
  std::string t = std::move(pending_.front());
  pending_.pop_front();
  return t;
}

}  // namespace dg::server::mock
