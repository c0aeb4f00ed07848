#include "detectors/conversation.h"

#include <algorithm>

namespace dg::detectors {

void conversation_state::save(state_writer& w) const {
  w.put(requests); w.put(stateless); w.put(longest); w.put(multi_turn);
}

bool conversation_state::load(state_reader& r) {
  return r.get(requests) && r.get(stateless) && r.get(longest) && r.get(multi_turn);
}

void conversation_detector::update(conversation_state& s, const event_view& e, population&) const {
  // Embeddings generate no text to distil and have no turns: they say nothing about whether the
  // client converses, so they count neither way (a retrieval backend is not "stateless querying").
  if (e.ev.route().find("embeddings") != std::string::npos) return;
  if (s.requests >= 0x40000000u) {
    s.requests /= 2;
    s.stateless /= 2;
    s.multi_turn /= 2;
  }
  ++s.requests;
  if (e.stateless) ++s.stateless;
  else ++s.multi_turn;
  s.longest = std::max(s.longest, e.ev.message_count());
}

detector_result conversation_detector::score(const conversation_state& s, const population&,
                                             const client_facts& c, bool explain) const {
  detector_result r;
  if (c.events < o_.min_events || s.requests == 0) return r;
  const double share = s.stateless_share();
  r.score = ramp(share, o_.single_turn_start, o_.single_turn_full);
  if (explain && r.score > 0) {
    r.reason = format("%.0f%% of %u requests are stateless single-turn queries (longest request %u messages)",
                      100 * share, s.requests, s.longest);
  }
  return r;
}

}  // namespace dg::detectors
