// The one-pass word scanner and text marker (enforcement/watermark_text.h)
// held to the ones they replaced (watermark_reference.h, kept verbatim, with
// the -v3 table; watermark_reference_v8.h, main's scanner of table v7 before
// the fast path, with every table): the same output, counters and positions on
// every Alpaca answer, whole and cut into stream deltas, on the watermark fuzz
// corpus and on awkward texts.
#include <filesystem>
#include <memory>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "enforcement/watermark_text.h"
#include "tests/eval/watermark_trials.h"
#include "tests/support/datasets.h"
#include "tests/unit/enforcement/watermark_reference.h"
#include "tests/unit/enforcement/watermark_reference_v8.h"

namespace dg::enforcement {
namespace {

// Every choice the scanner offers: (context, group, member seen, word as written).
using call = std::tuple<std::string, std::uint32_t, std::uint8_t, std::string>;

template <class Scanner>
std::vector<call> positions(const synonym_table& t, std::string_view text, std::uint64_t& words) {
  std::vector<call> out;
  Scanner s(t);
  s.read_json_looking();
  std::string sink;
  s.scan(text, sink, [&](std::string_view prev, const synonym_table::hit& h, std::string_view w) {
    out.emplace_back(std::string(prev), h.group, h.member, std::string(w));
    return static_cast<std::uint32_t>(h.member);
  });
  EXPECT_EQ(sink, text);  // choosing what is there leaves the text as it is
  words = s.words();
  return out;
}

// Marks `text` with both markers, whole and in deltas cut at random, and
// compares everything they give out.
template <class Ref = reference::text_marker, class RefScanner = reference::word_scanner>
void expect_same(const synonym_table& t, const mark_key& k, std::string_view text, std::mt19937_64& rng) {
  text_marker fast(t, k);
  Ref ref(t, k);
  ASSERT_EQ(fast.mark(text), ref.mark(text)) << text;
  EXPECT_EQ(fast.scanner().words(), ref.scanner().words());
  EXPECT_EQ(fast.scanner().eligible(), ref.scanner().eligible());
  EXPECT_EQ(fast.scanner().changed(), ref.scanner().changed());

  text_marker fs(t, k);
  Ref rs(t, k);
  std::uniform_int_distribution<std::size_t> len(1, 24);
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = std::min(len(rng), text.size() - i);
    ASSERT_EQ(fs.feed(text.substr(i, n)), rs.feed(text.substr(i, n))) << text;
    i += n;
  }
  ASSERT_EQ(fs.finish(), rs.finish()) << text;
  EXPECT_EQ(fs.scanner().changed(), rs.scanner().changed());
  EXPECT_EQ(fs.scanner().words(), rs.scanner().words());
  EXPECT_EQ(fs.scanner().eligible(), rs.scanner().eligible());
  if constexpr (requires { rs.scanner().stops_changed(); }) {
    EXPECT_EQ(fast.scanner().stops_changed(), ref.scanner().stops_changed());
    EXPECT_EQ(fs.scanner().stops_changed(), rs.scanner().stops_changed());
  }
  if constexpr (requires { rs.scanner().commas_changed(); }) {
    EXPECT_EQ(fast.scanner().commas_changed(), ref.scanner().commas_changed());
    EXPECT_EQ(fs.scanner().commas_changed(), rs.scanner().commas_changed());
  }

  std::uint64_t fw = 0, rw = 0;
  EXPECT_EQ(positions<word_scanner>(t, text, fw), positions<RefScanner>(t, text, rw)) << text;
  EXPECT_EQ(fw, rw);
}

std::shared_ptr<const synonym_table> old_table(const char* version) {
  auto t = std::make_shared<synonym_table>();
  EXPECT_TRUE(synonym_table::load_file(std::string(DG_SOURCE_DIR) + "/enforcement/data/distillguard-synonyms" +
                                           version + ".tsv", *t)
                  .is_ok());
  return t;
}

TEST(WatermarkFastScan, SameAsBeforeOnEveryAlpacaAnswer) {
  DG_REQUIRE_DATASETS();
  const auto outputs = eval::load_texts(test_data::dataset_path("alpaca_5000.jsonl"), "output");
  ASSERT_GT(outputs.size(), 4000u);
  const auto table = old_table("-v3");
  std::mt19937_64 rng(5);
  std::uint64_t changed = 0;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const mark_key k = derive_mark_key("s", "client-" + std::to_string(i % 97), 1);
    expect_same(*table, k, outputs[i], rng);
    text_marker m(*table, k);
    m.mark(outputs[i]);
    changed += m.scanner().changed();
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(changed, 1000u);  // the comparison covered rewritten words, not only copies
  // Answers joined, as one long text (the benchmark's case) and with every old table.
  std::string all;
  for (std::size_t i = 0; i < 300; ++i) all += outputs[i] + "\n\n";
  expect_same(*table, derive_mark_key("s", "joined", 1), all, rng);
  for (const char* v : {"-v1", "-v2"}) expect_same(*old_table(v), derive_mark_key("s", "old", 1), all, rng);
}

// Texts that reach every branch of the scanners: units, rules, item stops,
// code, quotes, case, non-ASCII; random mixes of the table's words; the
// watermark fuzz corpus.
std::vector<std::string> awkward_texts(std::mt19937_64& rng) {
  std::vector<std::string> texts = {
      "Additionally, it is important to use big cars. We don't know; it's large. I am here and they are there.",
      "IMPORTANT: Use BIG cars. Use big `cars and` trucks.\n```\nuse big cars\n```\nThen use big cars.",
      "it's been a while, I'd seen it. It is not big. what is it? whether it is or not. do not\n",
      "Don\xE2\x80\x99t use big cars. It\xE2\x80\x99s large.\xE2\x80\x99" "big\xE2\x80\x99 caf\xC3\xA9 big",
      "www.big.com main.py e.g. big: a/b big_car x=big #big @big big-car 'big' \"big\" big's 12 big",
      "Supercalifragilisticexpialidociousness is a very long word that is big, and AbcdefghijklmnopqrstuvwxyzAbcdefg big",
      "{\"a\": \"use big cars\"} and then it is big",
      "  \n\n* it is big\n- Moreover, it is big.\n1. First, make sure it is large.\n> it is big\n",
      "it is", "it", "do not", "I", "", " ", "\n", "cannot go", "can't", "a an the big",
      "~~~\nbig\n~~~\nuse big cars\n`unterminated big\nbig cars",
  };
  // Random words of the table and around it, in random case, with random punctuation.
  const std::vector<std::string> pieces = {"it", "is", "not", "do", "big", "large", "use", "utilize", "I", "am",
                                           "cannot", "don't", "it's", "Moreover,", "make", "sure", "a", "an",
                                           "important", ".", ",", "\n", "```", "`", "'", "\"", "-", "3", "\xE2\x80\x99"};
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1), coin(0, 5);
  for (int t = 0; t < 300; ++t) {
    std::string s;
    for (int w = 0; w < 40; ++w) {
      std::string p = pieces[pick(rng)];
      if (coin(rng) == 0 && !p.empty()) p[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(p[0])));
      s += p;
      if (coin(rng) != 0) s += coin(rng) == 0 ? "\n" : " ";
    }
    texts.push_back(std::move(s));
  }
  const std::filesystem::path corpus = std::string(DG_SOURCE_DIR) + "/tests/fuzz/corpus/watermark";
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(corpus)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    texts.push_back(ss.str());
    ++files;
  }
  EXPECT_GT(files, 5u);
  return texts;
}

TEST(WatermarkFastScan, SameAsBeforeOnTheFuzzCorpusAndAwkwardTexts) {
  const auto table = old_table("-v3");
  const mark_key k = derive_mark_key("s", "awkward", 1);
  std::mt19937_64 rng(9);
  for (const auto& s : awkward_texts(rng)) {
    expect_same(*table, k, s, rng);
    if (HasFatalFailure()) return;
  }
}

// The bitmask scanner and its fast path (plain_run) held to main's scanner of
// table v7 (watermark_reference_v8.h, a snapshot of it at 2fc39d2: serial
// commas, phrase units, >+word rules, the unmatched backtick), with the
// table v7 (the built-in one until v8, whose phrases it does not know) and
// every older one.
void expect_same_v8(const synonym_table& t, const mark_key& k, std::string_view text, std::mt19937_64& rng) {
  expect_same<reference_v8::text_marker, reference_v8::word_scanner>(t, k, text, rng);
}

constexpr const char* older_tables[] = {"-v1", "-v2", "-v3", "-v4", "-v5", "-v6"};

TEST(WatermarkFastScan, SameAsTableV7ScannerOnEveryAlpacaAnswer) {
  DG_REQUIRE_DATASETS();
  const auto outputs = eval::load_texts(test_data::dataset_path("alpaca_5000.jsonl"), "output");
  ASSERT_GT(outputs.size(), 4000u);
  const auto table = old_table("-v7");  // the table of its features (v8 reads more: not this scanner's)
  ASSERT_TRUE(table->has_serial_comma());
  std::mt19937_64 rng(7);
  std::uint64_t changed = 0, stops = 0, commas = 0;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const mark_key k = derive_mark_key("s", "client-" + std::to_string(i % 97), 1);
    expect_same_v8(*table, k, outputs[i], rng);
    text_marker m(*table, k);
    m.mark(outputs[i]);
    changed += m.scanner().changed();
    stops += m.scanner().stops_changed();
    commas += m.scanner().commas_changed();
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(changed, 1000u);  // the comparison covered rewritten words, not only copies
  EXPECT_GT(stops, 50u);      // and item stops
  EXPECT_GT(commas, 50u);     // and serial commas
  std::string all;
  for (std::size_t i = 0; i < 300; ++i) all += outputs[i] + "\n\n";
  expect_same_v8(*table, derive_mark_key("s", "joined", 1), all, rng);
  for (const char* v : older_tables)
    expect_same_v8(*old_table(v), derive_mark_key("s", "old", 1), all, rng);
}

TEST(WatermarkFastScan, SameAsTableV7ScannerOnTheFuzzCorpusAndAwkwardTexts) {
  const auto table = old_table("-v7");  // the table of its features (v8 reads more: not this scanner's)
  const mark_key k = derive_mark_key("s", "awkward", 1);
  std::mt19937_64 rng(11);
  auto texts = awkward_texts(rng);
  // List items, abbreviations and sentence ends around item stops.
  texts.push_back("Steps:\n- Fix any leaks.\n- Fix any leaks\n* Use etc.\n1. It is big. Use it\n2) make sure\n"
                  "\xE2\x80\xA2 also large\n- Mr. Big\n-   spaced out  \n- `code` here\n- last one");
  texts.push_back("- a\n- ab\n- abc.\n- Ab.\n- AB\n12. x y z.\n1000. not an item\n- it is\n- do not");
  texts.push_back(std::string(300, 'a') + " big " + std::string(70, 'B') + "\tlarge\r\nuse\fbig\vcars " +
                  std::string(40, 'x') + "'s big." + std::string(33, 'q') + " it is big");
  // Random mixes of what lists, sentences and blanks are made of.
  const std::vector<std::string> pieces = {"\n- ", "\n* ", "\n1. ", "\n12) ", "\n\xE2\x80\xA2 ", "etc.", "Inc.", "big.",
                                           "big", "Big", "large.", "it", "is", "not", "don't", "do", "cannot", "I",
                                           "also", "Also,", "Moreover,", "use", "need", "to", "the", "a", ".", "!",
                                           "?", ":", ")", "\"", "'", "`", "```", "\t", "\r\n", "  ", "\n\n",
                                           "x1", "e.g.", "www.big.com", "caf\xC3\xA9", "\xE2\x80\x99s", "-"};
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1), coin(0, 3);
  for (int t = 0; t < 500; ++t) {
    std::string s;
    for (int w = 0; w < 50; ++w) {
      s += pieces[pick(rng)];
      if (coin(rng) != 0) s += ' ';
    }
    texts.push_back(std::move(s));
  }
  // Lists with and without their serial comma, phrases, "help to", backticks that none closes,
  // in runs of plain words (the fast path's) and around them.
  texts.push_back(
      "We bought apples, pears, and plums. We bought apples, pears and plums, and then we "
      "left and slept. However, we left and slept; red, green or blue, or none at all. During "
      "the day, the stars and moon. Use tools such as icons and widgets, or tools like icons "
      "and widgets. It can help to reduce costs, and it helps reduce the costs and risks.");
  texts.push_back(
      "a `b, c, and d\nthe cats, the dogs, and the birds `and\ne, f, and g `h` i, j, and k\n"
      "one two three four five, six seven, eight nine and ten. x, y, z, w, v and u");
  const std::vector<std::string> words = {
      "apples", "pears",   "plums",     "red",      "green", "blue",  "stars", "moon",
      "icons",  "widgets", "we",        "they",     "such",  "as",    "like",  "during",
      "the",    "day",     "however",   "tools",    "help",  "helps", "to",    "reduce",
      "costs",  "risks",   "different", "distinct", "are",   "and",   "or",    "it",
      "is",     "quickly", "including", "Apples",   "big",   "large", "etc",   "x1"};
  const std::vector<std::string> seps = {" ",    " ",      " ",     " ",  ", ", ", ",     " and ",
                                         " or ", ", and ", ", or ", ". ", "; ", ": ",     "! ",
                                         "\n",   "\n- ",   " `",    "` ", "  ", ",  and "};
  std::uniform_int_distribution<std::size_t> word(0, words.size() - 1), sep(0, seps.size() - 1);
  for (int t = 0; t < 1000; ++t) {
    std::string s;
    for (int w = 0; w < 40; ++w) s += words[word(rng)] + seps[sep(rng)];
    if (coin(rng) == 0) s += words[word(rng)];  // ending in a word, not a blank
    texts.push_back(std::move(s));
  }
  for (const auto& s : texts) {
    expect_same_v8(*table, k, s, rng);
    if (HasFatalFailure()) return;
  }
  // Tables without serial commas, phrases or the backtick rule (v6 and before) and with them.
  for (const char* v : older_tables) {
    const auto older = old_table(v);
    for (const auto& s : texts) {
      expect_same_v8(*older, k, s, rng);
      if (HasFatalFailure()) return;
    }
  }
}

// Running text of the table's own words (lower case, Capitalised opening a sentence or not),
// their cues and the words their rules name, one space apart as in most answers: the fast
// path (plain_run) marks the positions among them and passes over the rest, and must choose
// as the general path did.
std::vector<std::string> running_texts(const synonym_table& t, std::mt19937_64& rng, int count) {
  std::vector<std::string> words;
  for (std::size_t g = 0; g < t.groups(); ++g)
    for (const auto& w : t.group(g))
      if (w.find_first_not_of("abcdefghijklmnopqrstuvwxyz") == std::string::npos) words.push_back(w);
  const std::vector<std::string> cues = {"the", "a",    "an",   "to",    "can",  "will", "is",   "are",   "was",
                                         "it",  "this", "very", "more",  "by",   "for",  "of",   "in",    "and",
                                         "or",  "also", "we",   "they",  "has",  "been", "so",   "not",   "such",
                                         "as",  "for",  "make", "sure",  "help", "need", "each", "their", "often"};
  const std::vector<std::string> marks = {"", "", "", "", "", "", ",", ".", ";", ":", "!", "?"};
  std::uniform_int_distribution<std::size_t> word(0, words.size() - 1), cue(0, cues.size() - 1),
      mark(0, marks.size() - 1), coin(0, 9);
  std::vector<std::string> texts;
  for (int n = 0; n < count; ++n) {
    std::string s;
    bool sentence = true;
    for (int w = 0; w < 80; ++w) {
      std::string x = coin(rng) < 5 ? words[word(rng)] : cues[cue(rng)];
      if ((sentence && coin(rng) < 8) || coin(rng) == 0) x[0] = static_cast<char>(x[0] - 32);
      const std::string& m = marks[mark(rng)];
      sentence = m == "." || m == "!" || m == "?" || m == ":";
      s += x + m;
      s += coin(rng) == 0 ? (coin(rng) < 5 ? "\n" : "  ") : " ";
    }
    texts.push_back(std::move(s));
  }
  return texts;
}

TEST(WatermarkFastScan, SameAsTableV7ScannerOnRunningTextOfTheTablesWords) {
  std::mt19937_64 rng(13);
  const auto table = old_table("-v7");  // the table the reference knows (v8 reads more)
  std::uint64_t changed = 0, capitals = 0;
  for (const auto& s : running_texts(*table, rng, 400)) {
    const mark_key k = derive_mark_key("s", "running-" + std::to_string(changed % 31), 1);
    expect_same_v8(*table, k, s, rng);
    if (HasFatalFailure()) return;
    text_marker m(*table, k);
    m.mark(s);
    changed += m.scanner().changed();
    // Capitalised words at the head of a sentence among the positions.
    word_scanner scanner(*table);
    std::string sink;
    scanner.scan(s, sink, [&](std::string_view, const synonym_table::hit& h, std::string_view w) {
      if (w[0] >= 'A' && w[0] <= 'Z') ++capitals;
      return static_cast<std::uint32_t>(h.member);
    });
  }
  EXPECT_GT(changed, 4000u);  // the comparison covered many positions, not only copies
  EXPECT_GT(capitals, 500u);  // Capitalised ones among them
  for (const char* v : older_tables) {
    const auto older = old_table(v);
    for (const auto& s : running_texts(*older, rng, 60)) {
      expect_same_v8(*older, derive_mark_key("s", "running-old", 1), s, rng);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace dg::enforcement
