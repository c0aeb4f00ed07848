// request_shaper: phase 4. Rewrites the JSON body of a request for a flagged
// client (strip logprobs / top_logprobs / logit_bias, cap n and the
// max-token fields) and refuses, when configured, any request that combines
// logit_bias with logprobs: the logit-extraction attack (Carlini et al. 2024)
// needs both.
//
// Untrusted input: any byte string is handled without a crash or an exception
// escaping; a body that is not a JSON object (or nests deeper than
// max_depth) is passed untouched or refused, as configured. Key order is kept.
//
// Thread safety: immutable after construction; shape() may run on any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/json_depth.h"
#include "enforcement/policy_options.h"
#include "enforcement/request_policy.h"
#include "enforcement/verdict.h"

namespace dg::enforcement {

class request_shaper {
 public:
  static constexpr int max_depth = 256;

  explicit request_shaper(const shape_options& options) : opt_(options) {}

  // The rules for a verdict (nullptr at allow or block: nothing to shape).
  const shape_level* rules_for(verdict v) const;

  // Applies `rules` (may be null: only the global refusals) to `body`.
  // add_include_usage: ask a streaming chat/completions request for usage in its last chunk.
  shape_outcome shape(std::string& body, const shape_level* rules, bool add_include_usage) const;

  // Whether a request must go through shape() for everyone (a global refusal is on).
  bool checks_everyone() const { return opt_.refuse_logit_bias_with_logprobs; }

 private:
  shape_options opt_;
};

// Deepest nesting of [ and { outside strings (common/json_depth.h).
using dg::json_depth;

}  // namespace dg::enforcement
