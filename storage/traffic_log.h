// traffic_log: a stored QueryEvent as one line of the traffic log (DESIGN.md,
// "Traffic log"), the format `distillguard export` writes and `replay` reads:
//
//   {"ts": 1793577600.25, "client": "sk-...abcd", "ip": "...", "user_agent": "...",
//    "method": "POST", "path": "/v1/chat/completions",
//    "request": {...}, "response": {"status": 200, "usage": {...}},
//    "x_distillguard": {...the stored QueryEvent as protobuf JSON...}}
//
// The request body is rebuilt from what was stored: the model and parameters
// exactly; the messages with their roles, the system prompt and the last user
// text as the privacy mode kept them, earlier turns as empty placeholders (so
// the message count and roles are right); a logit_bias object with
// logit_bias_count entries of magnitude logit_bias_max_abs; one placeholder per
// tool. What the privacy mode did not keep cannot be rebuilt, which is why the
// line also carries the whole event: replay uses x_distillguard when present
// and so decides exactly what the live gateway decided.
//
// Pure functions; thread safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "proto/query_event.pb.h"

namespace dg {
namespace pb = ::distillguard::pb;
}

namespace dg::storage {

// One JSON object, without the trailing newline.
std::string traffic_log_line(const pb::QueryEvent& e);

// A time argument: seconds since the epoch ("1793577600", "1793577600.25") or
// ISO-8601 ("2026-11-29", "2026-11-29T08:00:00", "...Z", "...+01:00",
// fractional seconds allowed; no zone = UTC). nullopt when unreadable.
std::optional<micros> parse_time(std::string_view text);

}  // namespace dg::storage
