// storage_fill: writes known events into a store through the library, for the
// export integration test, and keeps it open (as a running gateway would) so
// that export is tested against a live primary.
//
//   storage_fill --db DIR --clients N --events N [--prompt-text hash|prefix|full]
//   storage_fill --db DIR --stream 1 [--rate N]  (crash test: N events/s until killed)
//   storage_fill --db DIR --verify K        (crash test: after the restart)
//
// Event k (k = 0..events-1) belongs to client k % clients ("client-<c>", hint
// "sk-...000<c>"), has ts 1793577600 + k seconds and prompt text
// "prompt number <k>". After each batch it prints "ready <total>" and waits
// for a line on stdin: "more" writes another batch, end of input closes.
//
// --stream appends event k = 0, 1, 2, ... at --rate events/s (default 2000)
// without ever calling flush (as the gateway does) and prints "<k> <steady-clock microseconds>" after each
// 500th append, and saves client records every 500 events, until it is
// killed. --verify K reopens the directory read-write (RocksDB replays its
// WAL), and prints a JSON object: whether every event 0..K and the client
// records are there, how many events in all.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <set>
#include <thread>
#include <string>

#include "storage/event_store.h"
#include "storage/privacy.h"

namespace pb = ::distillguard::pb;
using namespace dg::storage;

int main(int argc, char** argv) {
  storage_options o;
  int clients = 3, events = 30;
  bool stream = false;
  int rate = 2000;  // --stream: events per second
  long long verify = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--db") o.path = v;
    else if (a == "--clients") clients = std::stoi(v);
    else if (a == "--events") events = std::stoi(v);
    else if (a == "--prompt-text") o.prompt_text = v;
    else if (a == "--stream") stream = v == "1";
    else if (a == "--verify") verify = std::stoll(v);
    else if (a == "--rate") rate = std::stoi(v);
  }
  o.flush_interval_ms = 10;
  o.retention_days = 3650;  // the events carry fixed dates in November 2026
  event_store store(o);
  if (const dg::status s = store.open(); !s) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 1;
  }
  for (int c = 0; c < clients; ++c) {
    pb::ClientRecord r;
    r.set_client_id("client-" + std::to_string(c));
    r.set_client_hint("sk-...000" + std::to_string(c));
    r.set_verdict(c == 0 ? pb::VERDICT_BLOCK : pb::VERDICT_ALLOW);
    if (!store.put_client(r)) return 1;
  }
  if (verify >= 0) {
    std::set<long long> seen;
    std::size_t total = 0;
    const auto st = store.scan_time(min_time, max_time, [&](pb::QueryEvent&& e) {
      ++total;
      seen.insert(e.ts_micros() / 1000000 - 1793577600LL);
      return true;
    });
    long long missing = 0;
    for (long long k = 0; k <= verify; ++k) missing += seen.count(k) == 0 ? 1 : 0;
    std::size_t records = 0;
    std::uint64_t max_events = 0;
    (void)store.load_clients([&](pb::ClientRecord&& r) {
      ++records;
      max_events = std::max<std::uint64_t>(max_events, r.events());
      return true;
    });
    std::printf("{\"scan_ok\": %s, \"total\": %zu, \"missing\": %lld, \"client_records\": %zu, "
                "\"client_events\": %llu}\n",
                st ? "true" : "false", total, missing, records,
                static_cast<unsigned long long>(max_events));
    return st ? 0 : 1;
  }
  if (stream) {
    // Paced: a gateway under steady load, not a producer outrunning the
    // writer (then events wait in the queue, not yet committed, by design).
    const auto start = std::chrono::steady_clock::now();
    for (long long k = 0;; ++k) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(k * 1000000 / rate));
      pb::QueryEvent e;
      const int c = static_cast<int>(k % clients);
      e.set_ts_micros((1793577600LL + k) * 1000000);
      e.set_client_id("client-" + std::to_string(c));
      e.set_route("/v1/chat/completions");
      e.set_prompt_text("prompt number " + std::to_string(k));
      apply_prompt_privacy(e, o);
      while (!store.append(std::move(e))) {
      }
      if (k % 500 == 0) {
        for (int cc = 0; cc < clients; ++cc) {
          pb::ClientRecord r;
          r.set_client_id("client-" + std::to_string(cc));
          r.set_events(static_cast<std::uint64_t>(k));
          r.set_verdict(pb::VERDICT_THROTTLE);
          (void)store.put_client(r);
        }
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
        std::printf("%lld %lld\n", k, static_cast<long long>(us));
        std::fflush(stdout);
      }
    }
  }
  int k = 0;
  std::string line;
  do {
    for (int end = k + events; k < end; ++k) {
      pb::QueryEvent e;
      const int c = k % clients;
      e.set_ts_micros((1793577600LL + k) * 1000000);
      e.set_client_id("client-" + std::to_string(c));
      e.set_client_hint("sk-...000" + std::to_string(c));
      e.set_peer_address("203.0.113." + std::to_string(c + 1));
      e.set_user_agent("storage_fill");
      e.set_method("POST");
      e.set_route("/v1/chat/completions");
      e.set_model("gpt-4o-mini");
      e.set_max_tokens(1);
      e.set_logprobs(true);
      e.set_top_logprobs(20);
      e.set_logit_bias_count(3);
      e.set_logit_bias_max_abs(100);
      e.add_roles(pb::ROLE_SYSTEM);
      e.add_roles(pb::ROLE_USER);
      e.set_message_count(2);
      e.set_system_prompt("You are terse.");
      e.set_prompt_text("prompt number " + std::to_string(k));
      e.set_prompt_tokens(10);
      e.set_completion_tokens(1);
      e.set_status(200);
      e.mutable_features()->set_version(1);
      e.mutable_features()->add_minhash(static_cast<unsigned>(k));
      apply_prompt_privacy(e, o);
      if (!store.append(std::move(e))) return 1;
    }
    if (!store.flush()) return 1;
    std::printf("ready %d\n", k);
    std::fflush(stdout);
  } while (std::getline(std::cin, line) && line == "more");
  store.close();
  return 0;
}
