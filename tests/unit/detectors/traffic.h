// traffic: small builders of QueryEvents for the detector tests, from the
// public corpora (questions, Alpaca; tests/support/datasets.h) and constructed templates.
// Time is explicit everywhere: tests run simulated days in milliseconds.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "detectors/request_parser.h"
#include "proto/query_event.pb.h"
#include "tests/support/datasets.h"

namespace dg::detectors::testing {

inline std::vector<std::string> load_texts(const std::string& file, std::size_t max = 1u << 30) {
  std::vector<std::string> out;
  std::ifstream in = test_data::open_dataset(file);
  std::string line;
  while (out.size() < max && std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("text") && j["text"].is_string()) out.push_back(j["text"].get<std::string>());
  }
  return out;
}

inline const std::vector<std::string>& questions() {
  static const auto q = load_texts("questions.jsonl");
  return q;
}
inline const std::vector<std::string>& alpaca() {
  static const auto a = load_texts("alpaca_5000.jsonl");
  return a;
}

// A deterministic generator (splitmix64).
struct rng {
  std::uint64_t s;
  explicit rng(std::uint64_t seed) : s(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

struct chat_turn {
  std::string role, content;
};

// A chat/completions event built from a request body, as the analyzer would see it.
inline pb::QueryEvent chat_event(const std::string& client, micros ts, const std::vector<chat_turn>& messages,
                                 const nlohmann::json& extra = nlohmann::json::object(),
                                 std::uint32_t prompt_tokens = 0, std::uint32_t completion_tokens = 0) {
  nlohmann::json body = extra;
  body["model"] = "gpt-test";
  body["messages"] = nlohmann::json::array();
  for (const auto& m : messages) body["messages"].push_back({{"role", m.role}, {"content", m.content}});
  pb::QueryEvent ev;
  ev.set_client_id(client);
  ev.set_ts_micros(ts);
  ev.set_route("/v1/chat/completions");
  (void)parse_request_json(body, ev);
  ev.set_prompt_tokens(prompt_tokens);
  ev.set_completion_tokens(completion_tokens);
  return ev;
}

inline pb::QueryEvent single(const std::string& client, micros ts, const std::string& prompt,
                             const std::string& system = {}, std::uint32_t completion_tokens = 300) {
  std::vector<chat_turn> m;
  if (!system.empty()) m.push_back({"system", system});
  m.push_back({"user", prompt});
  auto words = static_cast<std::uint32_t>(prompt.size() / 4 + system.size() / 4 + 1);
  return chat_event(client, ts, m, nlohmann::json::object(), words, completion_tokens);
}

}  // namespace dg::detectors::testing
