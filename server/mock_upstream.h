// mock_upstream: the demo model's HTTP server (`distillguard mock-upstream`).
// Boost.Beast, asynchronous, HTTP/1.1 keep-alive, one strand per connection,
// so that it holds many thousands of concurrent slow streams on a few
// threads. It serves the OpenAI-compatible API of mock_answer.h, paces
// server-sent events by a per-token delay, and has a few hooks for tests:
//
//   GET /_mock/stats            {"accepts":N,"requests":N,"streams_active":N,
//                                "streams_completed":N,"streams_aborted":N}
//   x-mock-token-delay-ms: N    this request's per-token delay (overrides --token-delay-ms)
//   x-mock-status: NNN          answer with this status and an OpenAI-shaped error
//   x-mock-hang-ms: N           wait N ms before sending the response header
//   x-mock-close: 1             close the connection without answering
//
// It is a tool for `make run`, tests and benchmarks, never on the gateway's
// request path.
//
// Thread safety: start(), stop() and wait() are called from one thread; the
// server runs on its own threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace dg::server::mock {

struct upstream_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the OS picks one (see endpoint())
  // Pause before each server-sent event after the first, so that streams are
  // really streamed; 0 sends as fast as the socket takes it.
  int token_delay_ms = 0;
  // I/O threads.
  int threads = 1;
  // JSON answers remembered by request (see mock_cache.h); 0 turns it off.
  int cache_entries = 4096;
};

class upstream_server {
 public:
  explicit upstream_server(upstream_options options);
  ~upstream_server();
  upstream_server(const upstream_server&) = delete;
  upstream_server& operator=(const upstream_server&) = delete;

  // Binds, listens and starts the threads. False, with `error`, if the
  // address cannot be bound.
  bool start(std::string& error);
  // "HOST:PORT" actually bound (valid after start()).
  std::string endpoint() const;
  // Stops accepting and ends every connection; returns at once.
  void stop();
  // Joins the threads (after stop()).
  void wait();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace dg::server::mock
