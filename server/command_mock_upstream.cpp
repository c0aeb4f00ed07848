// distillguard mock-upstream --listen ADDR [--token-delay-ms N] [--threads N]:
// the OpenAI-compatible demo model for `make run`, tests and benchmarks.
#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <string>

#include "common/log.h"
#include "server/command.h"
#include "server/mock_upstream.h"

namespace dg::server {
namespace {

bool parse_int(const std::string& s, int min, int max, int& out) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return false;
  out = v;
  return true;
}

// HOST:PORT, [V6]:PORT, or :PORT (loopback).
bool parse_listen(const std::string& s, std::string& host, std::uint16_t& port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  int p = 0;
  if (!parse_int(s.substr(colon + 1), 0, 65535, p)) return false;
  port = static_cast<std::uint16_t>(p);
  return true;
}

int run_mock_upstream(const command_args& args) {
  mock::upstream_options o;
  o.port = 8000;
  const std::string listen = args.value("listen").value_or("127.0.0.1:8000");
  if (!parse_listen(listen, o.host, o.port)) {
    std::fprintf(stderr, "mock-upstream: --listen wants HOST:PORT, got '%s'\n", listen.c_str());
    return 2;
  }
  if (auto d = args.value("token-delay-ms"); d && !parse_int(*d, 0, 600000, o.token_delay_ms)) {
    std::fprintf(stderr, "mock-upstream: --token-delay-ms wants 0..600000, got '%s'\n", d->c_str());
    return 2;
  }
  if (auto t = args.value("threads"); t && !parse_int(*t, 1, 256, o.threads)) {
    std::fprintf(stderr, "mock-upstream: --threads wants 1..256, got '%s'\n", t->c_str());
    return 2;
  }
  if (auto c = args.value("cache"); c && !parse_int(*c, 0, 1 << 20, o.cache_entries)) {
    std::fprintf(stderr, "mock-upstream: --cache wants 0..1048576, got '%s'\n", c->c_str());
    return 2;
  }
  if (auto l = args.value("log-level")) {
    dg::log::level lvl{};
    if (!dg::log::parse_level(*l, lvl)) {
      std::fprintf(stderr, "mock-upstream: --log-level wants debug|info|warn|error\n");
      return 2;
    }
    dg::log::set_level(lvl);
  }

  // Block the stop signals before any thread starts, so that every thread
  // inherits the mask and sigwait() below is the only one to see them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  mock::upstream_server server(o);
  std::string error;
  if (!server.start(error)) {
    dg::log::error("cannot start", {{"error", error}});
    return 1;
  }
  dg::log::info("listening", {{"mock_upstream", server.endpoint()},
                              {"token_delay_ms", o.token_delay_ms},
                              {"threads", o.threads}});
  int sig = 0;
  sigwait(&stop_signals, &sig);
  dg::log::info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  server.stop();
  server.wait();
  return 0;
}

const command_registrar reg{{
    "mock-upstream",
    "run the OpenAI-compatible demo model (for make run, tests, benchmarks)",
    "usage: distillguard mock-upstream [--listen HOST:PORT] [--token-delay-ms N] [--threads N]\n"
    "                                  [--cache N] [--log-level debug|info|warn|error]\n\n"
    "An OpenAI-compatible demo model: POST /v1/chat/completions, /v1/completions,\n"
    "/v1/embeddings, /v1/responses (JSON, and server-sent events with \"stream\": true),\n"
    "GET /v1/models. Answers are English prose, deterministic from the request, of\n"
    "realistic length (capped by max_tokens), with usage, logprobs and n honoured.\n\n"
    "  --listen HOST:PORT    address to listen on (default 127.0.0.1:8000; port 0 = any free port)\n"
    "  --token-delay-ms N    pause N ms between streamed events, so streams are really\n"
    "                        streamed (default 0); a request may set its own with the\n"
    "                        header x-mock-token-delay-ms\n"
    "  --threads N           I/O threads (default 1)\n"
    "  --cache N             JSON answers remembered by request, so repeated requests\n"
    "                        (benchmarks) cost a copy; ids and timestamps stay fresh\n"
    "                        (default 4096; 0 = off)\n\n"
    "Prints {\"msg\":\"listening\",\"mock_upstream\":\"HOST:PORT\",...} on stderr once ready.\n"
    "Test hooks: GET /_mock/stats; request headers x-mock-status: NNN, x-mock-hang-ms: N,\n"
    "x-mock-close: 1. Stops on SIGINT or SIGTERM.",
    run_mock_upstream}};

}  // namespace
}  // namespace dg::server
