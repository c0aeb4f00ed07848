// watermark_eval: measures the watermark on real answers (the `output` fields
// of shared/datasets/alpaca_5000.jsonl stand in for the model's responses).
//
//   watermark_eval [--data FILE] [--clients 10000] [--trials 20] [--words 600]
//                  [--attack-words 1500] [--edit 0.2] [--seed 1] [--synonyms TSV]
//                  [--mark-synonyms TSV]
//
// The trials are those of tests/eval/watermark_trials.h (the unit test runs
// the same): for each, a random client's answers are marked with its key and
// concatenated until --words words; the detector tests them against every
// client. Reports, as JSON on stdout: the share of words changed, the
// corrected p-value of the right client and whether it ranked first; the
// smallest corrected p-value on unmarked text (nobody should be named); and
// the same after --edit of the words are replaced or deleted, from
// --attack-words words; and, on human-written text (the `text` fields of
// shared/datasets/questions.jsonl and roleplay_prompts.jsonl, in pieces of
// --human-words words), how many pieces name a client (none should).
// --synonyms TSV measures another table than the one compiled in;
// --mark-synonyms TSV marks with another table than the detector reads (text
// marked before a change of the table, checked after it).
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "enforcement/watermark_detector.h"
#include "tests/eval/watermark_trials.h"
#include "tests/support/datasets.h"

using namespace dg::enforcement;

int main(int argc, char** argv) try {
  std::string data = dg::test_data::dataset_path("alpaca_5000.jsonl");
  eval::trial_options o;
  std::size_t human_words = 3000;
  std::string synonyms, mark_synonyms;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--data") data = v;
    else if (k == "--clients") o.clients = std::stoul(v);
    else if (k == "--trials") o.trials = std::stoul(v);
    else if (k == "--words") o.words = std::stoul(v);
    else if (k == "--attack-words") o.attack_words = std::stoul(v);
    else if (k == "--edit") o.edit_rate = std::stod(v);
    else if (k == "--seed") o.seed = std::stoull(v);
    else if (k == "--human-words") human_words = std::stoul(v);
    else if (k == "--synonyms") synonyms = v;
    else if (k == "--mark-synonyms") mark_synonyms = v;
  }
  const auto outputs = eval::load_texts(data, "output");
  if (outputs.empty() || o.trials == 0 || o.clients == 0) {
    std::cerr << "no outputs in " << data << " (or no trials, no clients)\n";
    return 2;
  }
  auto load = [](const std::string& path, std::shared_ptr<const synonym_table>& out) {
    if (path.empty()) return true;
    auto t = std::make_shared<synonym_table>();
    if (dg::status st = synonym_table::load_file(path, *t); !st) {
      std::cerr << st.to_string() << "\n";
      return false;
    }
    out = std::move(t);
    return true;
  };
  auto table = synonym_table::builtin();
  if (!load(synonyms, table)) return 2;
  auto marking = table;
  if (!load(mark_synonyms, marking)) return 2;
  const std::string secret = "watermark-eval-secret";
  watermark_detector detector(table, {{1, secret}});
  const auto tot = eval::run_trials(*marking, detector, secret, 1, outputs, o);

  std::size_t found = 0, first = 0, attack_found = 0, clean_named = 0;
  std::vector<double> p_marked, p_attack, p_clean, pos_marked, pos_attack;
  for (const auto& t : tot.trials) {
    found += t.found;
    first += t.ranked_first;
    attack_found += t.attack_found;
    clean_named += t.clean_named;
    p_marked.push_back(t.p_marked);
    p_attack.push_back(t.p_attack);
    p_clean.push_back(t.p_clean);
    pos_marked.push_back(t.positions_marked);
    pos_attack.push_back(t.positions_attack);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  auto worst = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
  nlohmann::json r;
  r["clients"] = o.clients;
  r["trials"] = o.trials;
  r["synonym_groups"] = table->groups();
  r["share_words_eligible"] = static_cast<double>(tot.eligible) / static_cast<double>(tot.words);
  r["share_words_changed"] = static_cast<double>(tot.changed) / static_cast<double>(tot.words);
  // A list item's closing period written or taken away, per word (not counted as a word changed).
  r["item_stops_changed_per_word"] = static_cast<double>(tot.stops_changed) / static_cast<double>(tot.words);
  // A serial comma written or taken away, per word (not counted as a word changed either).
  r["serial_commas_changed_per_word"] =
      static_cast<double>(tot.commas_changed) / static_cast<double>(tot.words);
  r["marked"] = {{"words", o.words}, {"found_p_below_1e-6", found}, {"ranked_first", first},
                 {"median_p_corrected", median(p_marked)}, {"worst_p_corrected", worst(p_marked)},
                 {"median_positions", median(pos_marked)}};
  r["clean"] = {{"words", o.words}, {"named", clean_named},
                {"min_p_corrected", *std::min_element(p_clean.begin(), p_clean.end())}};
  r["attacked"] = {{"words", o.attack_words}, {"edit_rate", o.edit_rate}, {"found_p_below_1e-6", attack_found},
                   {"median_p_corrected", median(p_attack)}, {"worst_p_corrected", worst(p_attack)},
                   {"median_positions", median(pos_attack)}};
  const auto h = eval::run_human(detector, dg::test_data::datasets_dir(), o.clients, o.trials * 2, human_words, o.alpha);
  r["human"] = {{"words", human_words}, {"pieces", h.pieces}, {"named", h.named}, {"min_p_corrected", h.min_p}};
  std::cout << r.dump(2) << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "watermark_eval: " << e.what() << "\n";
  return 2;
}
