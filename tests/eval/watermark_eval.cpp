// watermark_eval: measures the watermark on real answers (the `output` fields
// of shared/datasets/alpaca_5000.jsonl stand in for the model's responses).
//
//   watermark_eval [--data FILE] [--clients 10000] [--trials 20] [--words 600]
//                  [--attack-words 1500] [--edit 0.2] [--seed 1]
//
// For each trial a random client's answers are marked with its key and
// concatenated until --words words; the detector tests them against every
// client. Reports, as JSON on stdout: the share of words changed, the
// corrected p-value of the right client and whether it ranked first; the
// smallest corrected p-value on unmarked text (nobody should be named); and
// the same after --edit of the words are replaced or deleted, from
// --attack-words words; and, on human-written text (the `text` fields of
// shared/datasets/questions.jsonl and roleplay_prompts.jsonl, in pieces of
// --human-words words), how many pieces name a client (none should).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "enforcement/watermark_detector.h"
#include "enforcement/watermark_text.h"

using namespace dg::enforcement;

namespace {

std::vector<std::string> load_outputs(const std::string& path, const char* field = "output") {
  std::vector<std::string> out;
  std::ifstream in(path);
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

std::size_t count_words(const std::string& s) {
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
std::string edit(const std::string& text, double rate, std::mt19937_64& rng,
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

}  // namespace

int main(int argc, char** argv) {
  std::string data = DG_DATASETS_DIR "/alpaca_5000.jsonl";
  std::size_t clients = 10000, trials = 20, words = 600, attack_words = 1500, human_words = 3000;
  double edit_rate = 0.2;
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--data") data = v;
    else if (k == "--clients") clients = std::stoul(v);
    else if (k == "--trials") trials = std::stoul(v);
    else if (k == "--words") words = std::stoul(v);
    else if (k == "--attack-words") attack_words = std::stoul(v);
    else if (k == "--edit") edit_rate = std::stod(v);
    else if (k == "--seed") seed = std::stoull(v);
    else if (k == "--human-words") human_words = std::stoul(v);
  }
  const auto outputs = load_outputs(data);
  if (outputs.empty()) {
    std::cerr << "no outputs in " << data << "\n";
    return 2;
  }
  auto table = synonym_table::builtin();
  const std::string secret = "watermark-eval-secret";
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < clients; ++i) ids.push_back("client-" + std::to_string(i));
  watermark_detector detector(table, {{1, secret}});
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

  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick_out(0, outputs.size() - 1);
  std::uniform_int_distribution<std::size_t> pick_client(0, clients - 1);
  std::uint64_t total_words = 0, total_changed = 0, total_eligible = 0;
  std::size_t found = 0, first = 0, attack_found = 0, clean_named = 0;
  std::vector<double> p_marked, p_attack, p_clean, pos_marked, pos_attack;
  for (std::size_t t = 0; t < trials; ++t) {
    const std::size_t c = pick_client(rng);
    const mark_key key = derive_mark_key(secret, ids[c], 1);
    std::string marked, clean, marked_long;
    std::size_t n = 0;
    while (n < std::max(words, attack_words)) {
      const std::string& o = outputs[pick_out(rng)];
      text_marker m(*table, key);
      std::string r = m.mark(o);
      total_words += m.scanner().words();
      total_changed += m.scanner().changed();
      total_eligible += m.scanner().eligible();
      if (n < words) {
        marked += r + "\n\n";
        clean += o + "\n\n";
      }
      marked_long += r + "\n\n";
      n += count_words(o);
    }
    auto rep = detector.detect(marked, ids, 1e-6, 3);
    p_marked.push_back(rep.top[0].client_id == ids[c] ? rep.top[0].p_corrected : 1.0);
    pos_marked.push_back(static_cast<double>(rep.positions));
    if (rep.found && rep.top[0].client_id == ids[c]) ++found;
    if (rep.top[0].client_id == ids[c]) ++first;
    auto clean_rep = detector.detect(clean, ids, 1e-6, 1);
    p_clean.push_back(clean_rep.top[0].p_corrected);
    if (clean_rep.found) ++clean_named;
    auto attacked = edit(marked_long, edit_rate, rng, vocab);
    auto arep = detector.detect(attacked, ids, 1e-6, 1);
    p_attack.push_back(arep.top[0].client_id == ids[c] ? arep.top[0].p_corrected : 1.0);
    pos_attack.push_back(static_cast<double>(arep.positions));
    if (arep.found && arep.top[0].client_id == ids[c]) ++attack_found;
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  auto worst = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
  nlohmann::json r;
  r["clients"] = clients;
  r["trials"] = trials;
  r["synonym_groups"] = table->groups();
  r["share_words_eligible"] = static_cast<double>(total_eligible) / static_cast<double>(total_words);
  r["share_words_changed"] = static_cast<double>(total_changed) / static_cast<double>(total_words);
  r["marked"] = {{"words", words}, {"found_p_below_1e-6", found}, {"ranked_first", first},
                 {"median_p_corrected", median(p_marked)}, {"worst_p_corrected", worst(p_marked)},
                 {"median_positions", median(pos_marked)}};
  r["clean"] = {{"words", words}, {"named", clean_named}, {"min_p_corrected", *std::min_element(p_clean.begin(), p_clean.end())}};
  r["attacked"] = {{"words", attack_words}, {"edit_rate", edit_rate}, {"found_p_below_1e-6", attack_found},
                   {"median_p_corrected", median(p_attack)}, {"worst_p_corrected", worst(p_attack)},
                   {"median_positions", median(pos_attack)}};
  // Human text: pieces of human_words words, each tested against every client.
  std::size_t human_pieces = 0, human_named = 0;
  double human_min_p = 1.0;
  for (const char* file : {"/questions.jsonl", "/roleplay_prompts.jsonl"}) {
    const auto texts = load_outputs(std::string(DG_DATASETS_DIR) + file, "text");
    std::string piece;
    std::size_t n = 0;
    for (std::size_t i = 0; i < texts.size() && human_pieces < trials * 2; ++i) {
      piece += texts[i] + "\n\n";
      n += count_words(texts[i]);
      if (n < human_words) continue;
      auto hrep = detector.detect(piece, ids, 1e-6, 1);
      ++human_pieces;
      if (hrep.found) ++human_named;
      human_min_p = std::min(human_min_p, hrep.top[0].p_corrected);
      piece.clear();
      n = 0;
    }
  }
  r["human"] = {{"words", human_words}, {"pieces", human_pieces}, {"named", human_named},
                {"min_p_corrected", human_min_p}};
  std::cout << r.dump(2) << "\n";
  return 0;
}
