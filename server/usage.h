// usage: reads token counts from the `usage` object of a response (a JSON
// body, or the data of the final SSE chunk) without parsing the whole body:
// only the small object after the last "usage" key is parsed.
#pragma once

#include <cstdint>
#include <string_view>

namespace dg::server {

struct token_usage {
  std::uint32_t prompt_tokens = 0;      // prompt_tokens, or input_tokens (responses API)
  std::uint32_t completion_tokens = 0;  // completion_tokens, or output_tokens
};

// True if `json` holds a non-null "usage" object with token counts.
bool find_usage(std::string_view json, token_usage& out);

}  // namespace dg::server
