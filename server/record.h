// record: phase 8 of a request. What the request path knows about a finished
// request becomes one pb::QueryEvent for the analysis pipeline. Kept apart
// from the session so that the session does not depend on the stored schema.
#pragma once

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "enforcement/verdict.h"
#include "server/identity.h"

namespace dg::detectors {
class event_sink;
}

namespace dg::server {

struct request_record {
  micros ts_micros = 0;
  const client_identity* who = nullptr;
  std::string user_agent;
  std::string method;
  std::string route;  // the path, without the query string
  bool stream = false;
  unsigned status = 0;
  std::uint32_t prompt_tokens = 0;
  std::uint32_t completion_tokens = 0;
  micros ttfb_micros = 0;
  micros duration_micros = 0;
  enforcement::verdict applied = enforcement::verdict::allow;
  bool shaped = false;
  bool watermarked = false;
  std::uint64_t request_bytes = 0;
  std::uint64_t response_bytes = 0;
  std::string request_body;  // as the client sent it
};

// Hands the event to the sink; false if the sink dropped it (queue full).
// Never blocks.
bool submit_record(detectors::event_sink& sink, request_record&& r);

}  // namespace dg::server
