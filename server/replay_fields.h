// replay_fields: the members of a traffic-log record that make an event, as a
// reader found them. replay_reader.cpp's tree reader (the definition) and
// replay_line.cpp's one-pass reader each fill a record_fields; the rules that
// turn it into an event (what is required, the client's identity, the route,
// the status and usage) are written once, here, so the readers cannot drift.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "proto/query_event.pb.h"
#include "server/replay_reader.h"

namespace dg::server {

// One member's value (the last occurrence of its key).
struct record_value {
  enum class type : std::uint8_t { absent, string, number, object, other };
  type t = type::absent;
  std::string text;      // a string's value
  double number = 0;     // a number's value
  bool integer = false;  // the number was written as an integer
};

struct record_fields {
  record_value ts, client, ip, credential_kind, user_agent, method, path;
  record_value::type request = record_value::type::absent;
  bool response_object = false;
  record_value status;  // response.status
  bool usage_object = false;
  record_value prompt_tokens, input_tokens, completion_tokens, output_tokens, total_tokens;  // response.usage
};

// "ts" as microseconds since the epoch, or why it cannot be.
status record_ts(const record_fields& f, std::int64_t& micros);

// For an exported record, whose event came whole from "x_distillguard": its time when the
// event has none, and the client's name as the input spelled it.
status finish_exported_event(const record_fields& f, pb::QueryEvent& ev, std::string& client);

// For a plain record: checks it and fills the event's time, identity (as the live gateway's
// identity_resolver would), peer, user agent, method and route. The request's own fields are
// the caller's (each reader hands the request to its body reader), then apply_response().
status identify_record(const record_fields& f, const record_options& options, pb::QueryEvent& ev,
                       std::string& client);

// The response's status (200 when the record has none) and token usage.
void apply_response(const record_fields& f, pb::QueryEvent& ev);

}  // namespace dg::server
