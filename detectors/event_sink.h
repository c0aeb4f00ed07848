// event_sink: where the request path hands a finished request (phase 8, record).
// The live gateway's sink is the analyzer (bounded queue, then detectors, then
// storage); replay feeds the engine directly.
#pragma once

#include <string>

#include "proto/query_event.pb.h"

namespace dg::detectors {

// One finished request: the event as the request path filled it (identity,
// route, status, usage, timings, verdict applied) and the raw request body,
// which the analyzer parses off the request path.
struct raw_event {
  pb::QueryEvent event;
  std::string request_body;
  // The event's text fields, as plain strings: setting a string field of a
  // protobuf message allocates the string object itself, so the request path
  // leaves that to the analyzer's thread (take_text_fields). Empty: the
  // event's own field stands.
  struct text_fields {
    std::string client_id, client_hint, peer_address, user_agent, method, route;
  } text;
};

// Moves the non-empty text fields of `e` into its event.
inline void take_text_fields(raw_event& e) {
  auto& t = e.text;
  auto& ev = e.event;
  if (!t.client_id.empty()) ev.set_client_id(std::move(t.client_id));
  if (!t.client_hint.empty()) ev.set_client_hint(std::move(t.client_hint));
  if (!t.peer_address.empty()) ev.set_peer_address(std::move(t.peer_address));
  if (!t.user_agent.empty()) ev.set_user_agent(std::move(t.user_agent));
  if (!t.method.empty()) ev.set_method(std::move(t.method));
  if (!t.route.empty()) ev.set_route(std::move(t.route));
}

class event_sink {
 public:
  virtual ~event_sink() = default;
  // Never blocks: returns false (and counts a drop) when the queue is full.
  // Thread safe.
  virtual bool submit(raw_event&& e) noexcept = 0;
};

}  // namespace dg::detectors
