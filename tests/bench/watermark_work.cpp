// watermark_work: a fixed amount of watermarking work over the Alpaca answers,
// for instruction counts under callgrind (deterministic, where wall-clock on a
// shared machine is not) and for comparing the output of two builds:
//
//   watermark_work mark|json|sse [ROUNDS (1)]
//   watermark_work bodies FILE [ROUNDS (1)]
//   valgrind --tool=callgrind --toggle-collect='*run_work*' build/tests/bench/watermark_work json
//
//   mark  text_marker::mark over all answers joined (BM_watermark_rewrite's case)
//   json  rewrite_json_body over each answer as a chat.completion body (the proxy's case)
//   sse   rewrite_sse_data over chat.completion.chunk events of about 8 bytes (BM_sse_rewrite's case)
//   bodies rewrite_json_body over each line of FILE (e.g. mock-upstream's answers to chat_post.lua,
//         whose prose holds many more of the table's words than the Alpaca answers)
//
// Prints the bytes of answer text processed and an FNV-1a hash of everything
// written out: two builds that watermark alike print the same hash.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "enforcement/watermark_rewriter.h"
#include "enforcement/watermark_text.h"
#include "tests/support/datasets.h"
#include "tests/unit/enforcement/watermark_reference_v8.h"

using namespace dg::enforcement;

namespace {

std::vector<std::string> answers() {
  std::vector<std::string> out;
  std::ifstream in = dg::test_data::open_dataset("alpaca_5000.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j["output"].is_string()) out.push_back(j["output"].get<std::string>());
  }
  return out;
}

struct work {
  std::string mode;
  std::string joined;               // mark
  std::vector<std::string> bodies;  // json
  std::vector<std::string> events;  // sse
  std::size_t text_bytes = 0;
};

void fnv(std::uint64_t& h, std::string_view s) {
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
}

[[gnu::noinline]] std::uint64_t run_work(const work& w, const std::shared_ptr<const synonym_table>& table,
                                         const mark_key& key) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  if (w.mode == "mark") {
    text_marker m(*table, key);
    fnv(h, m.mark(w.joined));
  } else if (w.mode == "json" || w.mode == "bodies") {
    for (const auto& b : w.bodies) {
      watermark_rewriter rw(table, key);
      fnv(h, rw.rewrite_json_body(b));
    }
  } else {
    watermark_rewriter rw(table, key);
    for (const auto& e : w.events) {
      fnv(h, rw.rewrite_sse_data(e));
      fnv(h, rw.flush_sse());
    }
    fnv(h, rw.flush_sse());
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s mark|json|sse [ROUNDS]\n", argv[0]);
    return 2;
  }
  work w;
  w.mode = argv[1];
  if (w.mode == "bodies") {
    if (argc < 3) {
      std::fprintf(stderr, "usage: %s bodies FILE [ROUNDS]\n", argv[0]);
      return 2;
    }
    std::ifstream in(argv[2]);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      w.text_bytes += j["choices"][0]["message"]["content"].get<std::string>().size();
      w.bodies.push_back(line);
    }
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 1;
    // Table v7, the table of the reference's features (v8 reads more phrases than it knows).
    auto table = std::make_shared<synonym_table>();
    if (!synonym_table::load_file(std::string(DG_SOURCE_DIR) + "/enforcement/data/distillguard-synonyms-v7.tsv",
                                  *table)) {
      std::fprintf(stderr, "cannot load table v7\n");
      return 1;
    }
    const mark_key key = derive_mark_key("secret", "client", 1);
    // Each answer marked alike by the text marker and main's scanner before its fast path
    // (watermark_reference_v8.h).
    for (const auto& b : w.bodies) {
      const std::string text = nlohmann::json::parse(b)["choices"][0]["message"]["content"].get<std::string>();
      text_marker fast(*table, key);
      reference_v8::text_marker ref(*table, key);
      if (fast.mark(text) != ref.mark(text) || fast.scanner().changed() != ref.scanner().changed()) {
        std::fprintf(stderr, "the text marker and the reference differ on: %s\n", text.c_str());
        return 1;
      }
    }
    std::uint64_t h = 0;
    for (int r = 0; r < rounds; ++r) h ^= run_work(w, table, key) + static_cast<std::uint64_t>(r);
    std::printf("bodies: %zu bytes of text x %d, output hash %016llx\n", w.text_bytes, rounds,
                static_cast<unsigned long long>(h));
    return 0;
  }
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 1;
  const auto texts = answers();
  if (w.mode == "mark") {
    for (const auto& t : texts) w.joined += t + "\n\n";
    w.text_bytes = w.joined.size();
  } else if (w.mode == "json") {
    for (std::size_t i = 0; i < texts.size(); ++i) {
      nlohmann::json b = {{"id", "chatcmpl-" + std::to_string(i)},
                          {"object", "chat.completion"},
                          {"created", 1793577600},
                          {"model", "gpt-4o-mini"},
                          {"choices", {{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", texts[i]}}},
                                        {"finish_reason", "stop"}}}},
                          {"usage", {{"prompt_tokens", 20}, {"completion_tokens", 100}, {"total_tokens", 120}}}};
      w.bodies.push_back(b.dump());
      w.text_bytes += texts[i].size();
    }
  } else if (w.mode == "sse") {
    std::string text;
    for (std::size_t i = 0; i < 300 && i < texts.size(); ++i) text += texts[i] + "\n\n";
    for (std::size_t i = 0; i < text.size();) {
      // Deltas of about 8 bytes, cut on UTF-8 boundaries as an upstream's are.
      std::size_t e = std::min(text.size(), i + 8);
      while (e < text.size() && (static_cast<unsigned char>(text[e]) & 0xC0) == 0x80) ++e;
      nlohmann::json c = {{"id", "x"}, {"object", "chat.completion.chunk"},
                          {"choices", {{{"index", 0}, {"delta", {{"content", text.substr(i, e - i)}}},
                                        {"finish_reason", nullptr}}}}};
      w.events.push_back(c.dump());
      i = e;
    }
    w.text_bytes = text.size();
  } else {
    std::fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  const auto table = synonym_table::builtin();
  const mark_key key = derive_mark_key("secret", "client", 1);
  std::uint64_t h = 0;
  for (int r = 0; r < rounds; ++r) h ^= run_work(w, table, key) + static_cast<std::uint64_t>(r);
  std::printf("%s: %zu bytes of text x %d, output hash %016llx\n", w.mode.c_str(), w.text_bytes, rounds,
              static_cast<unsigned long long>(h));
  return 0;
}
