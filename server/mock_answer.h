// mock_answer: the OpenAI-compatible API of the demo model, without sockets.
// Given a method, a target and a request body it builds the reply: a JSON
// body, or a lazily produced stream of server-sent events. Answers are
// deterministic: the same request (model, messages or prompt, temperature,
// seed, n, max_tokens) always gets the same text, logprobs and usage.
//
// Routes: POST /v1/chat/completions, /v1/completions, /v1/embeddings,
// /v1/responses; GET /v1/models and /v1/models/{id}. Anything else is a 404
// in the OpenAI error shape, as is every malformed request (400).
//
// Thread safety: answer() is reentrant; an event_source belongs to one
// connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace dg::server::mock {

// The server-sent events of one streaming answer, produced one at a time so
// that ten thousand slow streams cost little memory.
class event_source {
 public:
  virtual ~event_source() = default;
  // Appends the next complete event ("data: {...}\n\n", the last one being
  // "data: [DONE]\n\n" where the API sends it) to `out`. Returns false, and
  // appends nothing, once the stream is over.
  virtual bool next(std::string& out) = 0;
};

struct reply {
  unsigned status = 200;
  std::string body;                     // JSON; empty when `stream` is set
  std::unique_ptr<event_source> stream;  // set for "stream": true
};

// What the answer may not derive from the request: the clock and a serial
// number that keeps ids unique within a process.
struct request_context {
  std::int64_t created = 0;  // unix seconds
  std::uint64_t serial = 0;
};

reply answer(std::string_view method, std::string_view target, std::string_view body,
             const request_context& ctx);

// {"error":{"message":...,"type":...,"param":...,"code":...}}; empty
// `param`/`code` become null.
std::string error_body(std::string_view message, std::string_view type, std::string_view param = {},
                       std::string_view code = {});

}  // namespace dg::server::mock
