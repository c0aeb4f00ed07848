// enforcement_bench: the cost of enforcement on the request path.
//   BM_admit_*: live_policy::admit() for an unflagged client (the common case),
//               a watermarked one, and with base limits on (a bucket per client).
//   BM_watermark_rewrite: text_marker over real answers (alpaca outputs),
//               bytes/s on one core (target >= 50 MB/s).
//   BM_sse_rewrite: the rewriter over chat.completion.chunk events of 8 bytes of text.
#include <fstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "enforcement/live_policy.h"
#include "enforcement/watermark_rewriter.h"
#include "enforcement/watermark_text.h"
#include "common/crypto.h"
#include "tests/support/datasets.h"

using namespace dg::enforcement;

namespace {

std::vector<std::string> ids(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(dg::to_hex(dg::sha256("c" + std::to_string(i)), 16));
  return out;
}

struct admit_rig {
  policy_options o;
  std::unique_ptr<policy> p;
  std::unique_ptr<live_policy> lp;
  std::vector<std::string> clients = ids(100000);
  explicit admit_rig(policy_options opt) : o(std::move(opt)) {
    p = std::make_unique<policy>(o);
    // 1% of clients flagged, as a busy gateway might have.
    for (std::size_t i = 0; i < clients.size(); i += 100) {
      risk_input in;
      in.client_id = clients[i];
      in.risk = i % 300 == 0 ? 0.8 : 0.6;
      p->update(in);
    }
    lp = std::make_unique<live_policy>(o, *p, nullptr, "secret", 1, nullptr);
  }
};

void BM_admit_unflagged(benchmark::State& st) {
  static admit_rig rig{policy_options{}};
  std::size_t i = 1;
  for (auto _ : st) {
    auto a = rig.lp->admit(rig.clients[i], 0, 100);
    benchmark::DoNotOptimize(a);
    i = (i + 1) % rig.clients.size();
    if (i % 100 == 0) ++i;
  }
}
BENCHMARK(BM_admit_unflagged)->Threads(1)->Threads(2);

void BM_admit_flagged(benchmark::State& st) {
  static admit_rig rig{policy_options{}};
  std::size_t i = 100;
  for (auto _ : st) {
    auto a = rig.lp->admit(rig.clients[i], 0, 100);
    benchmark::DoNotOptimize(a);
    i = (i + 100) % rig.clients.size();
    if (i == 0) i = 100;
  }
}
BENCHMARK(BM_admit_flagged)->Threads(1)->Threads(2);

// Only clients at verdict watermark (no bucket, no refusal): the cost of the verdict table.
void BM_admit_watermarked(benchmark::State& st) {
  static admit_rig rig{policy_options{}};
  std::vector<std::size_t> marked;
  for (std::size_t i = 100; i < rig.clients.size(); i += 100)
    if (i % 300 != 0) marked.push_back(i);
  std::size_t k = 0;
  for (auto _ : st) {
    auto a = rig.lp->admit(rig.clients[marked[k]], 0, 100);
    benchmark::DoNotOptimize(a);
    k = (k + 1) % marked.size();
  }
}
BENCHMARK(BM_admit_watermarked)->Threads(1)->Threads(2);

void BM_admit_base_limits(benchmark::State& st) {
  static admit_rig rig{[] {
    policy_options o;
    o.rate_limits.base = {1e6, 1e9};
    return o;
  }()};
  std::size_t i = 1;
  dg::micros now = 0;
  for (auto _ : st) {
    auto a = rig.lp->admit(rig.clients[i], now += 10, 100);
    benchmark::DoNotOptimize(a);
    i = (i + 1) % rig.clients.size();
  }
}
BENCHMARK(BM_admit_base_limits)->Threads(1)->Threads(2);

std::string corpus() {
  std::string text;
  std::ifstream in = dg::test_data::open_dataset("alpaca_5000.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j["output"].is_string()) text += j["output"].get<std::string>() + "\n\n";
  }
  return text;
}

void BM_watermark_rewrite(benchmark::State& st) {
  static const std::string text = corpus();
  auto table = synonym_table::builtin();
  const mark_key key = derive_mark_key("secret", "client", 1);
  std::uint64_t words = 0, changed = 0;
  for (auto _ : st) {
    text_marker m(*table, key);
    std::string out = m.mark(text);
    benchmark::DoNotOptimize(out);
    words += m.scanner().words();
    changed += m.scanner().changed();
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * text.size()));
  st.counters["share_changed"] = static_cast<double>(changed) / static_cast<double>(words);
}
BENCHMARK(BM_watermark_rewrite)->Unit(benchmark::kMillisecond);

void BM_sse_rewrite(benchmark::State& st) {
  static const std::string text = corpus().substr(0, 1 << 16);
  std::vector<std::string> events;
  for (std::size_t i = 0; i < text.size();) {
    // Deltas of about 8 bytes, cut on UTF-8 boundaries as an upstream's are.
    std::size_t e = std::min(text.size(), i + 8);
    while (e < text.size() && (static_cast<unsigned char>(text[e]) & 0xC0) == 0x80) ++e;
    nlohmann::json c = {{"id", "x"}, {"object", "chat.completion.chunk"},
                        {"choices", {{{"index", 0}, {"delta", {{"content", text.substr(i, e - i)}}}, {"finish_reason", nullptr}}}}};
    events.push_back(c.dump());
    i = e;
  }
  auto table = synonym_table::builtin();
  const mark_key key = derive_mark_key("secret", "client", 1);
  for (auto _ : st) {
    watermark_rewriter rw(table, key);
    for (const auto& e : events) {
      auto out = rw.rewrite_sse_data(e);
      benchmark::DoNotOptimize(out);
      auto before = rw.flush_sse();
      benchmark::DoNotOptimize(before);
    }
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * text.size()));
}
BENCHMARK(BM_sse_rewrite)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
