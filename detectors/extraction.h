// extraction: logit and logprob extraction (Carlini et al. 2024; Finlayson et
// al. 2024): the same prompt again and again with max_tokens ~1, logprobs or
// top_logprobs, and large logit_bias on rotating token ids. Counts requests
// asking for logprobs together with a logit bias, tiny-max_tokens probes,
// and biased requests that repeat one of the client's 8 most recent prompts.
// Thread safety: a detector is immutable; states belong to the engine's thread.
#pragma once

#include <array>

#include "detectors/detector_common.h"
#include "detectors/detector_options.h"
#include "detectors/population.h"
#include "detectors/state_codec.h"

namespace dg::detectors {

struct extraction_state {
  std::uint32_t requests = 0;
  std::uint32_t logprobs_bias = 0;  // logprobs/top_logprobs and logit_bias together
  std::uint32_t tiny_probe = 0;     // max_tokens <= tiny with logprobs or logit_bias
  std::uint32_t repeat_bias = 0;    // logit_bias on a prompt repeated from the recent ones
  float bias_max = 0;               // largest |bias| seen
  std::uint32_t bias_tokens_max = 0;
  std::array<std::uint64_t, 8> recent{};  // text hashes of the last prompts
  std::uint8_t next = 0;

  void save(state_writer& w) const;
  bool load(state_reader& r);
};

class extraction_detector {
 public:
  explicit extraction_detector(const extraction_options& o) : o_(o) {}
  void update(extraction_state& s, const event_view& e, population& pop) const;
  detector_result score(const extraction_state& s, const population& pop, const client_facts& c,
                        bool explain = true) const;

 private:
  extraction_options o_;
};

}  // namespace dg::detectors
