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
};

class event_sink {
 public:
  virtual ~event_sink() = default;
  // Never blocks: returns false (and counts a drop) when the queue is full.
  // Thread safe.
  virtual bool submit(raw_event&& e) noexcept = 0;
};

}  // namespace dg::detectors
