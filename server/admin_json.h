// admin_json: the JSON views the admin API serves of reports, clusters, audit
// entries, events and overrides. Pure functions; the CLI reads the same shapes.
// Times are RFC 3339 UTC strings with milliseconds ("2026-11-29T08:30:00.123Z"),
// or null when unknown.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "detectors/engine.h"
#include "proto/query_event.pb.h"

namespace dg::server {

struct verdict_override;

// RFC 3339 UTC with milliseconds; null for 0.
nlohmann::json time_json(micros t);
// Parses "2026-11-29T08:30:00Z" / "...T08:30:00.5Z" / "...+02:00", or a number
// of seconds since the epoch given as text. False if it is neither.
bool parse_time(std::string_view text, micros& out);

// One line of the top-suspects list: id, hint, risk, verdict, events, cluster,
// the strongest reasons (at most `reasons`).
nlohmann::json client_summary_json(const detectors::client_report& r, std::size_t reasons = 3);
// Everything the report holds, every detector's part included.
nlohmann::json client_report_json(const detectors::client_report& r);
// A stored client (no longer in memory), in the same shape as client_report_json.
nlohmann::json client_record_json(const pb::ClientRecord& r);
nlohmann::json cluster_json(const detectors::cluster_report& c);
nlohmann::json audit_json(const pb::AuditEntry& a);
// What an operator needs of one event: when, what, how big, how it was treated.
// The prompt appears as stored (hash, prefix or full text per storage.prompt_text).
nlohmann::json event_json(const pb::QueryEvent& e);
nlohmann::json override_json(const verdict_override& o);

}  // namespace dg::server
