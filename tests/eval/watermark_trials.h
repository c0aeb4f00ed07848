// watermark_trials: the trials of the watermark's detection targets (issue 5),
// shared by the evaluation program (tests/eval/watermark_eval.cpp) and the
// unit test that holds the targets (tests/unit/enforcement/watermark_test.cpp),
// so both measure the same thing.
//
// One trial: a client drawn at random; answers (the `output` fields of
// alpaca_5000.jsonl) drawn at random, marked with its key and joined until
// `words` words (the marked text) and until `attack_words` words (the text
// that is then edited: `edit_rate` of its words replaced by a random word of
// other answers, or deleted, half each); the unmarked answers of the first
// part are the clean text. The detector tests each text against every
// client. Everything follows from `seed`: the same options give the same
// figures, and two tables are tried on the same trials (the same clients and
// answers, the same edits: each trial's edit has a generator of its own).
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "enforcement/watermark_detector.h"
#include "enforcement/watermark_text.h"

namespace dg::enforcement::eval {

// The string field `field` of every line of a JSON Lines file, longer than 40 bytes.
inline std::vector<std::string> load_texts(const std::string& path, const char* field) {
  std::vector<std::string> out;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains(field) && j[field].is_string()) {
      std::string s = j[field].get<std::string>();
      if (s.size() > 40) out.push_back(std::move(s));
    }
  }
  return out;
}

inline std::size_t count_words(const std::string& s) {
  std::size_t n = 0;
  bool in = false;
  for (char c : s) {
    const bool sp = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!sp && !in) ++n;
    in = !sp;
  }
  return n;
}

// Replaces or deletes `rate` of the whitespace-separated words.
inline std::string edit(const std::string& text, double rate, std::mt19937_64& rng,
                        const std::vector<std::string>& vocab) {
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<std::size_t> pick(0, vocab.size() - 1);
  std::string out, word;
  auto flush = [&] {
    if (word.empty()) return;
    const double r = u(rng);
    if (r < rate / 2) {
      // deleted
    } else if (r < rate) {
      out += vocab[pick(rng)];
      out += ' ';
    } else {
      out += word;
      out += ' ';
    }
    word.clear();
  };
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t') flush();
    else word.push_back(c);
  }
  flush();
  return out;
}

struct trial_options {
  std::size_t clients = 10000, trials = 20, words = 600, attack_words = 1500;
  double edit_rate = 0.2, alpha = 1e-6;
  std::uint64_t seed = 1;
};

struct trial_result {
  bool found = false, ranked_first = false;   // marked text
  double p_marked = 1, positions_marked = 0;  // the right client's corrected p (1 if not first)
  bool clean_named = false;
  double p_clean = 1;                         // the smallest corrected p on the clean text
  bool attack_found = false;
  double p_attack = 1, positions_attack = 0;
};

struct trial_totals {
  std::uint64_t words = 0, eligible = 0, changed = 0;  // over every answer marked
  std::uint64_t stops_changed = 0;                     // list items' closing periods (not words)
  std::uint64_t commas_changed = 0;                    // serial commas (not words)
  std::vector<trial_result> trials;
};

inline std::vector<std::string> client_ids(std::size_t n) {
  std::vector<std::string> ids;
  ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) ids.push_back("client-" + std::to_string(i));
  return ids;
}

// The words of the first 2,000 answers: what an editing attacker puts in.
inline std::vector<std::string> edit_vocabulary(const std::vector<std::string>& outputs) {
  std::vector<std::string> vocab;
  for (std::size_t i = 0; i < 2000 && i < outputs.size(); ++i) {
    std::string w;
    for (char c : outputs[i]) {
      if (c == ' ' || c == '\n') {
        if (!w.empty()) vocab.push_back(w);
        w.clear();
      } else {
        w.push_back(c);
      }
    }
  }
  return vocab;
}

inline trial_totals run_trials(const synonym_table& table, const watermark_detector& detector,
                               const std::string& secret, std::uint32_t key_id,
                               const std::vector<std::string>& outputs, const trial_options& o) {
  const auto ids = client_ids(o.clients);
  const auto vocab = edit_vocabulary(outputs);
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<std::size_t> pick_out(0, outputs.size() - 1);
  std::uniform_int_distribution<std::size_t> pick_client(0, o.clients - 1);
  trial_totals tot;
  for (std::size_t t = 0; t < o.trials; ++t) {
    // The edit draws from a generator of its own, seeded once per trial: a table that
    // changes the number of words (a contraction) must not change the next trials.
    std::mt19937_64 edit_rng(rng());
    const std::size_t c = pick_client(rng);
    const mark_key key = derive_mark_key(secret, ids[c], key_id);
    std::string marked, clean, marked_long;
    std::size_t n = 0;
    while (n < std::max(o.words, o.attack_words)) {
      const std::string& answer = outputs[pick_out(rng)];
      text_marker m(table, key);
      const std::string r = m.mark(answer);
      tot.words += m.scanner().words();
      tot.changed += m.scanner().changed();
      tot.eligible += m.scanner().eligible();
      tot.stops_changed += m.scanner().stops_changed();
      tot.commas_changed += m.scanner().commas_changed();
      if (n < o.words) {
        marked += r + "\n\n";
        clean += answer + "\n\n";
      }
      marked_long += r + "\n\n";
      n += count_words(answer);
    }
    trial_result res;
    const auto rep = detector.detect(marked, ids, o.alpha, 3);
    res.ranked_first = rep.top[0].client_id == ids[c];
    res.found = rep.found && res.ranked_first;
    res.p_marked = res.ranked_first ? rep.top[0].p_corrected : 1.0;
    res.positions_marked = static_cast<double>(rep.positions);
    const auto clean_rep = detector.detect(clean, ids, o.alpha, 1);
    res.p_clean = clean_rep.top[0].p_corrected;
    res.clean_named = clean_rep.found;
    const auto attacked = edit(marked_long, o.edit_rate, edit_rng, vocab);
    const auto arep = detector.detect(attacked, ids, o.alpha, 1);
    res.attack_found = arep.found && arep.top[0].client_id == ids[c];
    res.p_attack = arep.top[0].client_id == ids[c] ? arep.top[0].p_corrected : 1.0;
    res.positions_attack = static_cast<double>(arep.positions);
    tot.trials.push_back(res);
  }
  return tot;
}

struct human_result {
  std::size_t pieces = 0, named = 0;
  double min_p = 1;
};

// Human-written text (the `text` fields of questions.jsonl and
// roleplay_prompts.jsonl), in pieces of `words` words, tested against every
// client: nobody should be named.
inline human_result run_human(const watermark_detector& detector, const std::string& datasets,
                              std::size_t clients, std::size_t max_pieces, std::size_t words,
                              double alpha) {
  const auto ids = client_ids(clients);
  human_result h;
  for (const char* file : {"/questions.jsonl", "/roleplay_prompts.jsonl"}) {
    const auto texts = load_texts(datasets + file, "text");
    std::string piece;
    std::size_t n = 0;
    for (std::size_t i = 0; i < texts.size() && h.pieces < max_pieces; ++i) {
      piece += texts[i] + "\n\n";
      n += count_words(texts[i]);
      if (n < words) continue;
      const auto rep = detector.detect(piece, ids, alpha, 1);
      ++h.pieces;
      if (rep.found) ++h.named;
      h.min_p = std::min(h.min_p, rep.top[0].p_corrected);
      piece.clear();
      n = 0;
    }
  }
  return h;
}

}  // namespace dg::enforcement::eval
