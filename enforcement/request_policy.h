// request_policy: the request path's view of enforcement (phases 3 admit,
// 4 shape, 6 relay's watermark and 7 account of DESIGN.md). The server calls
// it on I/O threads; implementations are thread safe and never block.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "enforcement/verdict.h"

namespace dg::enforcement {

// What admission decided for one request.
struct admission {
  enum class action : std::uint8_t { pass, delay, refuse };
  action act = action::pass;
  verdict applied = verdict::allow;  // the client's verdict as enforced (allow in shadow mode)
  verdict decided = verdict::allow;  // the verdict the policy decided, enforced or not
  std::int64_t delay_ms = 0;         // act == delay: wait this long, then forward (tarpit)
  // act == refuse: the response to send instead of forwarding.
  int status = 0;                    // 403 or 429
  std::string body;                  // OpenAI-shaped JSON error
  std::vector<std::pair<std::string, std::string>> headers;  // retry-after, x-ratelimit-*, ...
  bool shape = false;                // phase 4 applies to this request
  bool watermark = false;            // phase 6 watermarks the response
  std::uint32_t reserved_tokens = 0; // settled in phase 7
  // The policy's config snapshot this request was admitted under: shaping and
  // the watermark of the same request use it, so a config reload in between
  // does not change a request midway. Opaque to the server.
  std::shared_ptr<const void> pinned;
};

// Rewrites the text of one response for the watermark: JSON bodies whole, and
// SSE events one at a time. Holds back at most one word of a stream.
class response_rewriter {
 public:
  virtual ~response_rewriter() = default;
  // A complete JSON response body (chat completion, completion, responses API).
  virtual std::string rewrite_json_body(std::string_view body) = 0;
  // The data of one SSE event; returns the data to send (may be unchanged).
  virtual std::string rewrite_sse_data(std::string_view data) = 0;
  // Whole SSE events ("data: {...}\n\n", or "event: NAME\ndata: {...}\n\n"
  // for the Responses API) that must be sent BEFORE the event just returned by
  // rewrite_sse_data(), or empty. Call it after every rewrite_sse_data() and
  // once more at the end of the stream (send what it returns before closing):
  // held-back text is released in the chunk carrying a choice's finish_reason
  // when there is one, else here (before data: [DONE] or
  // response.output_text.done).
  virtual std::string flush_sse() = 0;
  // Words seen, words that could carry the mark, words changed so far.
  struct stats {
    std::uint64_t words = 0;
    std::uint64_t eligible = 0;
    std::uint64_t changed = 0;
  };
  virtual stats counts() const { return {}; }
};

// What phase 4 did to one request (shape_request).
struct shape_outcome {
  bool changed = false;   // the body was rewritten
  // Refuse instead of forwarding (400: logit_bias with logprobs when configured,
  // or a body that is not JSON when shape.invalid_json is refuse).
  bool refuse = false;
  int status = 0;
  std::string body;       // OpenAI-shaped JSON error
  std::vector<std::string> actions;  // what was done, e.g. "strip logprobs", "cap n to 1"
};

class request_policy {
 public:
  virtual ~request_policy() = default;
  virtual admission admit(std::string_view client_id, micros now,
                          std::uint32_t estimated_tokens) = 0;
  // Rewrites the JSON request body per the client's verdict (strip logprobs,
  // cap n and max_tokens, ...). Returns true if the body changed.
  virtual bool shape(const admission& a, std::string& body) = 0;
  // Phase 4 in full: shape() plus the refusals shaping may decide. Call it when
  // admission.shape is true (it is also true for every client when the
  // logit_bias-with-logprobs refusal is configured). The default keeps shape().
  virtual shape_outcome shape_request(const admission& a, std::string& body) {
    shape_outcome out;
    out.changed = shape(a, body);
    return out;
  }
  // A watermark rewriter for this response, or nullptr if it is not watermarked.
  virtual std::unique_ptr<response_rewriter> watermark(const admission& a,
                                                       std::string_view client_id) = 0;
  // Settles tokens reserved at admission against the real usage.
  virtual void settle(std::string_view client_id, const admission& a,
                      std::uint32_t actual_tokens, micros now) = 0;
};

}  // namespace dg::enforcement
