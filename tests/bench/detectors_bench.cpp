// detectors_bench: the analysis pipeline's cost (issue 4, "Speed and size").
//   BM_ObserveOneKilobytePrompt: feature extraction + every detector update (+ amortised
//     rescoring) for a 1 KB prompt, over 1,000 clients; the median of repetitions is the figure
//     (target <= 10 us).
//   BM_FeaturesOnly: the feature extraction part alone.
//   BM_ParseChatRequest: the request body (a chat request with a 1 KB user turn) read into an event.
//   BM_EngineMillionEvents: 1M synthetic events (10,000 clients, texts from the corpora) through
//     one engine: events/s (target: 1M in < 20 s).
//   BM_StateMillionClients: 1M clients x 4 events; per-client state by the engine's size
//     accounting and by the allocator (mallinfo2), typical (target <= 4 KiB); and one client after
//     50,000 events, worst case (target <= 16 KiB).
#include <malloc.h>

#include <fstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "detectors/engine.h"
#include "detectors/features.h"
#include "detectors/request_parser.h"
#include "tests/support/datasets.h"

namespace {

using namespace dg;
using namespace dg::detectors;

constexpr micros day0 = 1793577600LL * 1000000;

std::vector<std::string> load(const char* file) {
  std::vector<std::string> out;
  std::ifstream in = test_data::open_dataset(file);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j["text"].is_string()) out.push_back(j["text"].get<std::string>());
  }
  return out;
}

const std::vector<std::string>& texts() {
  static const std::vector<std::string> t = [] {
    auto a = load("alpaca_5000.jsonl");
    auto q = load("questions.jsonl");
    a.insert(a.end(), q.begin(), q.end());
    if (a.empty()) a.push_back("What is the tallest mountain on Earth and how was its height measured?");
    return a;
  }();
  return t;
}

// Prompts of about 1 KB made of consecutive corpus texts.
std::vector<std::string> kilobyte_prompts(std::size_t n) {
  std::vector<std::string> out;
  const auto& t = texts();
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::string p;
    while (p.size() < 1024) p += t[k++ % t.size()] + "\n";
    p.resize(1024);
    out.push_back(std::move(p));
  }
  return out;
}

pb::QueryEvent event_for(const std::string& client, micros ts, const std::string& prompt, bool multi_turn) {
  pb::QueryEvent ev;
  ev.set_client_id(client);
  ev.set_ts_micros(ts);
  ev.set_peer_address("198.51.100." + std::to_string(client.size() % 200));
  ev.set_user_agent("bench/1.0");
  ev.set_model("m");
  ev.add_roles(pb::ROLE_SYSTEM);
  ev.add_roles(pb::ROLE_USER);
  if (multi_turn) {
    ev.add_roles(pb::ROLE_ASSISTANT);
    ev.add_roles(pb::ROLE_USER);
  }
  ev.set_message_count(static_cast<std::uint32_t>(ev.roles_size()));
  ev.set_system_prompt("You are a helpful assistant for the bench company. Answer briefly and accurately.");
  ev.set_system_prompt_hash(hash64(ev.system_prompt(), system_prompt_hash_seed) | 1);
  ev.set_prompt_text(prompt);
  ev.set_prompt_tokens(static_cast<std::uint32_t>(prompt.size() / 4));
  ev.set_completion_tokens(250);
  return ev;
}

constexpr std::size_t observe_iterations = 20000;

void BM_ObserveOneKilobytePrompt(benchmark::State& state) {
  detector_options o;
  engine e(o);
  const auto prompts = kilobyte_prompts(512);
  std::vector<std::string> clients;
  for (int c = 0; c < 1000; ++c) clients.push_back("client-" + std::to_string(c));
  // Warm up: every client has history (a full reservoir and windows).
  micros ts = day0;
  std::size_t i = 0;
  for (; i < 50000; ++i) {
    auto ev = event_for(clients[i % clients.size()], ts += 20000, prompts[i % prompts.size()], i % 3 == 0);
    e.observe(ev);
  }
  // The events of the timed loop are made beforehand (no per-iteration timer pauses, which cost
  // more than what is measured); the loop runs exactly as many iterations as there are events.
  std::vector<pb::QueryEvent> ready;
  ready.reserve(observe_iterations);
  for (std::size_t k = 0; k < observe_iterations; ++k) {
    ready.push_back(event_for(clients[k % clients.size()], ts += 20000, prompts[k % prompts.size()], k % 3 == 0));
  }
  std::size_t k = 0;
  for (auto _ : state) e.observe(ready[k++]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ObserveOneKilobytePrompt)->Iterations(observe_iterations)->Repetitions(5)->ReportAggregatesOnly(true)->Unit(benchmark::kMicrosecond);

void BM_FeaturesOnly(benchmark::State& state) {
  feature_extractor fx(42);
  const auto prompts = kilobyte_prompts(256);
  std::vector<pb::QueryEvent> evs;
  for (std::size_t k = 0; k < prompts.size(); ++k) evs.push_back(event_for("c", day0, prompts[k], false));
  pb::Features f;
  std::size_t i = 0;
  for (auto _ : state) {
    fx.extract(evs[i++ % evs.size()], f);
    benchmark::DoNotOptimize(f.simhash());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FeaturesOnly)->Repetitions(5)->ReportAggregatesOnly(true)->Unit(benchmark::kMicrosecond);

// The analyzer's first step for every request: the OpenAI body read into the event's fields
// (a chat request of the proxy benchmark's shape, with a 1 KB user turn).
void BM_ParseChatRequest(benchmark::State& state) {
  const auto prompts = kilobyte_prompts(64);
  std::vector<std::string> bodies;
  for (const auto& p : prompts) {
    nlohmann::json j = {{"model", "gpt-4o-mini"},
                        {"messages", {{{"role", "system"}, {"content", "You are a helpful assistant for a consumer product. Answer clearly and accurately."}},
                                      {{"role", "user"}, {"content", p}}}},
                        {"max_tokens", 160},
                        {"temperature", 0.7},
                        {"user", "user-1"}};
    bodies.push_back(j.dump());
  }
  std::size_t i = 0;
  for (auto _ : state) {
    pb::QueryEvent ev;
    auto st = parse_request_body(bodies[i++ % bodies.size()], ev);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseChatRequest)->Repetitions(5)->ReportAggregatesOnly(true)->Unit(benchmark::kMicrosecond);

void BM_EngineMillionEvents(benchmark::State& state) {
  const auto& t = texts();
  constexpr std::size_t events = 1000000, clients = 10000;
  for (auto _ : state) {
    detector_options o;
    engine e(o);
    micros ts = day0;
    for (std::size_t i = 0; i < events; ++i) {
      // Mostly short prompts from the corpora (as real traffic); a few clients are heavy.
      std::size_t c = (i % 7 == 0) ? i % 10 : (i * 2654435761u) % clients;
      auto ev = event_for("client-" + std::to_string(c), ts += 600000, t[(i * 7919) % t.size()], c % 4 == 0);
      e.observe(ev);
    }
    e.flush();
    benchmark::DoNotOptimize(e.client_count());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events));
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * events),
                                                      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EngineMillionEvents)->Iterations(1)->Unit(benchmark::kSecond);

void BM_StateMillionClients(benchmark::State& state) {
  const auto& t = texts();
  constexpr std::size_t clients = 1000000, per_client = 4;
  for (auto _ : state) {
    detector_options o;
    const std::size_t heap_before = mallinfo2().uordblks;
    auto e = std::make_unique<engine>(o);
    micros ts = day0;
    for (std::size_t round = 0; round < per_client; ++round) {
      for (std::size_t c = 0; c < clients; ++c) {
        auto ev = event_for("sk-client-" + std::to_string(c), ts += 1000, t[(c * 31 + round) % t.size()], false);
        ev.clear_system_prompt();  // exported events keep only the hash
        e->observe(ev);
      }
    }
    const std::size_t heap_after = mallinfo2().uordblks;
    state.counters["clients"] = static_cast<double>(e->client_count());
    state.counters["accounted_bytes_per_client"] = static_cast<double>(e->state_bytes()) / clients;
    state.counters["heap_bytes_per_client"] = static_cast<double>(heap_after - heap_before) / clients;
    // Worst case: one client after 50,000 events (every ring and reservoir full).
    detector_options o2;
    engine one(o2);
    for (std::size_t i = 0; i < 50000; ++i) {
      auto ev = event_for("sk-heavy-client-with-a-long-id", day0 + static_cast<micros>(i) * 1000000, t[i % t.size()], i % 2 == 0);
      one.observe(ev);
    }
    state.counters["worst_client_bytes"] = static_cast<double>(one.state_bytes());
  }
}
BENCHMARK(BM_StateMillionClients)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
