// distillguard watermark detect|mark: checks a suspect text for the
// watermark of every known client (detect), or marks a text with one
// client's key as the gateway would (mark; for tests and demonstrations).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "enforcement/live_policy.h"
#include "enforcement/watermark_detector.h"
#include "enforcement/watermark_text.h"
#include "server/command.h"
#include "server/config.h"
#include "server/identity.h"
#include "storage/event_store.h"

namespace dg::server {
namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

// The watermark keys of the config (identity secret read, never created).
bool load_keys(const gateway_config& cfg, std::vector<std::pair<std::uint32_t, std::string>>& keys) {
  std::string fallback;
  const auto& cur = cfg.policy.watermark.current;
  if (cur.secret.empty() && cur.secret_file.empty()) {
    const std::string path =
        cfg.identity.secret_file.empty() ? cfg.state_dir + "/secret" : cfg.identity.secret_file;
    std::error_code ec;  // a path that cannot be checked is reported as missing, not thrown
    if (!std::filesystem::exists(path, ec)) {
      std::fprintf(stderr, "watermark: no watermark key in the config and no identity secret at %s\n",
                   path.c_str());
      return false;
    }
    std::string identity;
    if (status st = load_or_create_secret(path, identity); !st) {
      std::fprintf(stderr, "watermark: %s\n", st.to_string().c_str());
      return false;
    }
    fallback = enforcement::derive_watermark_secret(identity);
  }
  if (status st = enforcement::load_watermark_keys(cfg.policy.watermark, fallback, keys); !st) {
    std::fprintf(stderr, "watermark: %s\n", st.to_string().c_str());
    return false;
  }
  return true;
}

// What both subcommands need: the config, the input text, the watermark keys
// (current first) and the synonym table. Prints the reason and returns false
// when any of them cannot be had.
struct watermark_inputs {
  gateway_config cfg;
  std::string text;
  std::vector<std::pair<std::uint32_t, std::string>> keys;
  std::shared_ptr<const enforcement::synonym_table> table;
};

bool load_inputs(const std::string& verb, const std::string& config, const std::string& input,
                 watermark_inputs& out) {
  try {
    out.cfg = load_config(config);
  } catch (const config_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return false;
  }
  if (!read_file(input, out.text)) {
    std::fprintf(stderr, "watermark %s: cannot read %s\n", verb.c_str(), input.c_str());
    return false;
  }
  if (!load_keys(out.cfg, out.keys)) return false;
  if (status st = enforcement::load_synonym_table(out.cfg.policy.watermark, out.table); !st) {
    std::fprintf(stderr, "watermark %s: %s\n", verb.c_str(), st.to_string().c_str());
    return false;
  }
  return true;
}

std::vector<std::string> named_clients(const command_args& args) {
  std::vector<std::string> out;
  const auto& a = args.all();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == "--client" && i + 1 < a.size()) out.push_back(a[++i]);
    else if (a[i].starts_with("--client=")) out.push_back(a[i].substr(9));
  }
  return out;
}

int run_detect(const command_args& args) {
  const auto config = args.value("config");
  const auto input = args.value("input");
  if (!config || !input) {
    std::fprintf(stderr, "usage: distillguard watermark detect --config FILE --input SUSPECT.txt "
                         "[--client ID ...] [--clients-file F] [--alpha P] [--top N] [--json]\n");
    return 2;
  }
  watermark_inputs in;
  if (!load_inputs("detect", *config, *input, in)) return 1;
  const gateway_config& cfg = in.cfg;
  const auto& keys = in.keys;
  std::vector<std::string> clients = named_clients(args);
  if (auto f = args.value("clients-file")) {
    std::ifstream list(*f);
    if (!list) {
      std::fprintf(stderr, "watermark detect: cannot read %s\n", f->c_str());
      return 1;
    }
    std::string line;
    while (std::getline(list, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty() && line[0] != '#') clients.push_back(line);
    }
  }
  if (clients.empty()) {
    // Every client the gateway has recorded, read from its store (works while it runs).
    storage::event_store store(cfg.storage);
    if (status st = store.open_read_only(); !st) {
      std::fprintf(stderr, "watermark detect: no --client given and the store cannot be read: %s\n",
                   st.to_string().c_str());
      return 1;
    }
    (void)store.load_clients([&](pb::ClientRecord&& r) {
      clients.push_back(r.client_id());
      return true;
    });
    store.close();
  }
  if (clients.empty()) {
    std::fprintf(stderr, "watermark detect: no clients to test\n");
    return 1;
  }
  double alpha = 1e-6;
  std::size_t top = 5;
  try {
    if (auto v = args.value("alpha")) alpha = std::stod(*v);
    if (auto v = args.value("top")) top = std::stoul(*v);
  } catch (const std::exception&) {
    std::fprintf(stderr, "watermark detect: --alpha and --top take numbers\n");
    return 2;
  }
  enforcement::watermark_detector det(in.table, keys);
  const auto rep = det.detect(in.text, clients, alpha, top);

  nlohmann::json j;
  j["words"] = rep.words;
  j["positions"] = rep.positions;
  j["clients_tested"] = clients.size();
  j["tests"] = rep.tests;
  j["alpha"] = alpha;
  j["found"] = rep.found;
  j["source"] = rep.found ? nlohmann::json(rep.top[0].client_id) : nlohmann::json();
  j["candidates"] = nlohmann::json::array();
  for (const auto& s : rep.top) {
    j["candidates"].push_back({{"client_id", s.client_id}, {"key_id", s.key_id},
                               {"positions", s.positions}, {"matches", s.matches},
                               {"expected", s.expected}, {"score", s.score},
                               {"expected_score", s.expected_score}, {"z", s.z}, {"p_value", s.p_value},
                               {"p_corrected", s.p_corrected}});
  }
  if (args.flag("json")) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%llu words, %zu positions that can carry a mark; %zu clients x %zu keys tested\n",
                static_cast<unsigned long long>(rep.words), rep.positions, clients.size(), keys.size());
    std::printf("%-34s %4s %9s %8s %6s %8s %11s %11s\n", "client", "key", "positions", "matches",
                "score", "z", "p", "p (Bonf.)");
    for (const auto& s : rep.top)
      std::printf("%-34s %4u %9zu %8zu %6u %8.2f %11.3g %11.3g\n", s.client_id.c_str(), s.key_id,
                  s.positions, s.matches, s.score, s.z, s.p_value, s.p_corrected);
    if (rep.found)
      std::printf("most likely source: %s (corrected p = %.3g < %.3g)\n", rep.top[0].client_id.c_str(),
                  rep.top[0].p_corrected, alpha);
    else
      std::printf("no client's watermark found at corrected p < %.3g\n", alpha);
  }
  return rep.found ? 0 : 3;
}

int run_mark(const command_args& args) {
  const auto config = args.value("config");
  const auto input = args.value("input");
  const auto client = args.value("client");
  if (!config || !input || !client) {
    std::fprintf(stderr, "usage: distillguard watermark mark --config FILE --client ID --input TEXT.txt\n");
    return 2;
  }
  watermark_inputs in;
  if (!load_inputs("mark", *config, *input, in)) return 1;
  enforcement::text_marker m(*in.table,
                             enforcement::derive_mark_key(in.keys[0].second, *client, in.keys[0].first));
  std::cout << m.mark(in.text);
  std::fprintf(stderr, "%llu words, %llu eligible, %llu changed\n",
               static_cast<unsigned long long>(m.scanner().words()),
               static_cast<unsigned long long>(m.scanner().eligible()),
               static_cast<unsigned long long>(m.scanner().changed()));
  return 0;
}

int run_watermark(const command_args& args) {
  const auto pos = args.positionals({"config", "input", "client", "clients-file", "alpha", "top"});
  if (pos.empty() || (pos[0] != "detect" && pos[0] != "mark")) {
    std::fprintf(stderr, "usage: distillguard watermark detect|mark ... (see --help)\n");
    return 2;
  }
  return pos[0] == "detect" ? run_detect(args) : run_mark(args);
}

const command_registrar reg{{
    "watermark",
    "tell which client's watermark a suspect text carries (detect), or mark a text (mark)",
    "usage: distillguard watermark detect --config FILE --input SUSPECT.txt\n"
    "                                     [--client ID ...] [--clients-file F]\n"
    "                                     [--alpha 1e-6] [--top 5] [--json]\n"
    "       distillguard watermark mark --config FILE --client ID --input TEXT.txt\n\n"
    "detect tests the text against every client named (--client, repeatable; --clients-file,\n"
    "one id a line) or, with none named, every client in the store, with the current and\n"
    "every previous watermark key of the config. For each it prints the positions that can\n"
    "carry a mark, the matches with the client's keyed choices, the score (log k per match\n"
    "in a group of k, in half bits), z, the p-value (the score's exact tail) and the p-value\n"
    "Bonferroni-corrected for the number of tests.\n"
    "Exit 0 when a client is named at corrected p < alpha, 3 when none is, 1 or 2 on errors.\n\n"
    "mark rewrites TEXT with the client's watermark as the gateway would, to standard output.",
    run_watermark}};

}  // namespace
}  // namespace dg::server
