// request_parser: fills a QueryEvent's request fields (model, sampling and
// extraction parameters, roles, system prompt, the last user turn) from an
// OpenAI-compatible request body: chat/completions, completions, embeddings
// and the responses API. Runs on the analyzer thread, never on the request
// path, but the body is untrusted: every entry point returns a status instead
// of throwing, caps nesting depth, message count and sizes, and never crashes
// (a libFuzzer target drives parse_request_body).
// Thread safety: stateless functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/json_depth.h"
#include "common/status.h"
#include "proto/query_event.pb.h"

namespace dg {
namespace pb = ::distillguard::pb;
}

namespace dg::detectors {

struct parse_limits {
  std::size_t max_body_bytes = 4u << 20;  // larger bodies are refused unparsed
  int max_depth = 64;                     // JSON nesting
  std::size_t max_messages = 4096;        // messages / input items looked at
  std::size_t max_text_bytes = 256u << 10;  // prompt and system prompt kept (UTF-8 safe cut)
};

// Seed of system_prompt_hash: fixed so that the hash links clients across restarts and hosts.
inline constexpr std::uint64_t system_prompt_hash_seed = 0x73797374656d7021ULL;

// Parses `body` and fills the request fields of `ev` (model, temperature, top_p, n, max_tokens,
// stream, logprobs, top_logprobs, logit_bias_count/max_abs, tools_count, roles, message_count,
// system_prompt(+hash), prompt_text, prompt_text_hash, request_bytes). On error `ev` keeps
// whatever was filled before the error; the status says why.
status parse_request_body(std::string_view body, pb::QueryEvent& ev, const parse_limits& limits = {});

// The same from an already-parsed body (replay reads JSON objects).
status parse_request_json(const nlohmann::json& body, pb::QueryEvent& ev, const parse_limits& limits = {});

// Deepest nesting of objects/arrays in `text` (common/json_depth.h).
using dg::json_depth;

}  // namespace dg::detectors
