// replay_report: the output side of `distillguard replay`: the report JSON of
// DESIGN.md ("Replay report") and the summary table printed on stdout.
//
// The report is deterministic: the same engine state and input counts give the
// same bytes. Clients are sorted by risk (highest first) with ties broken by
// client id, clusters by id; every score is rounded to 4 decimals and
// timestamps are seconds with microsecond precision; nothing from the wall
// clock or the file system (paths, sizes, durations) goes in.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "detectors/engine.h"
#include "server/replay_run.h"

namespace dg::server {

// Rounds a score for the report (4 decimals; NaN and negatives become 0).
double report_score(double x);

nlohmann::ordered_json build_report(const std::vector<detectors::client_report>& clients,
                                    const std::vector<detectors::cluster_report>& clusters,
                                    const std::map<std::string, std::string>& names,
                                    const replay_stats& stats);

// The report as written to the file: 1-space indented JSON and a final newline.
std::string render_report(const nlohmann::ordered_json& report);

// A few lines for a person: clients by verdict, clusters, and the `top` riskiest
// clients with their strongest reasons. Clients are shown by hint, never by key.
std::string summary_table(const nlohmann::ordered_json& report,
                          const std::vector<detectors::client_report>& clients, std::size_t top);

}  // namespace dg::server
