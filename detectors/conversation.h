// conversation: the shape of a client's requests. People hold conversations
// that grow turn by turn (assistant turns in the request); a harvest sends
// fresh single-turn queries, each stateless. The share of stateless requests
// is also the engine's gate on the breadth detectors (see scoring.h).
// Thread safety: a detector is immutable; states belong to the engine's thread.
#pragma once

#include "detectors/detector_common.h"
#include "detectors/detector_options.h"
#include "detectors/population.h"
#include "detectors/state_codec.h"

namespace dg::detectors {

struct conversation_state {
  std::uint32_t requests = 0;
  std::uint32_t stateless = 0;
  std::uint32_t longest = 0;    // most messages in one request
  std::uint32_t multi_turn = 0; // requests carrying at least two user turns and an assistant turn

  double stateless_share() const { return requests ? static_cast<double>(stateless) / requests : 0; }
  void save(state_writer& w) const;
  bool load(state_reader& r);
};

class conversation_detector {
 public:
  explicit conversation_detector(const conversation_options& o) : o_(o) {}
  void update(conversation_state& s, const event_view& e, population& pop) const;
  detector_result score(const conversation_state& s, const population& pop, const client_facts& c,
                        bool explain = true) const;

 private:
  conversation_options o_;
};

}  // namespace dg::detectors
