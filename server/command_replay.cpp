// distillguard replay: feeds a traffic log through the same detection engine
// and policy the live gateway runs, and writes the report of DESIGN.md.
//
// Client ids are computed with the configured identity secret
// (identity.secret_file, else <state_dir>/secret), so the ids in the report are
// the ones the live gateway, its admin API and its store use. Without a secret
// file replay uses a fixed replay-only key and says so: the report is then
// self-consistent and deterministic, but its ids match no live gateway.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "detectors/engine.h"
#include "enforcement/policy.h"
#include "server/command.h"
#include "server/config.h"
#include "server/identity.h"
#include "server/replay_reader.h"
#include "server/replay_report.h"
#include "server/replay_run.h"

namespace dg::server {
namespace {

constexpr const char* replay_only_secret = "distillguard-replay-without-a-configured-secret";

// A one-line bar on a terminal, redrawn at most 5 times a second.
class progress_bar {
 public:
  explicit progress_bar(bool on) : on_(on) {}
  ~progress_bar() { clear(); }

  void update(const line_reader& r, const replay_stats& s) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(s.lines) / secs : 0;
    if (r.total_bytes() > 0) {
      const double f = std::min(1.0, static_cast<double>(r.bytes_consumed()) / static_cast<double>(r.total_bytes()));
      const int width = 30;
      const int fill = static_cast<int>(f * width);
      std::fprintf(stderr, "\r%3d%% [%.*s%*s] %llu lines, %.0f lines/s, %llu bad ",
                   static_cast<int>(f * 100), fill, "##############################", width - fill, "",
                   static_cast<unsigned long long>(s.lines), rate,
                   static_cast<unsigned long long>(s.bad_lines));
    } else {
      std::fprintf(stderr, "\r%llu lines, %.0f lines/s, %llu bad ", static_cast<unsigned long long>(s.lines),
                   rate, static_cast<unsigned long long>(s.bad_lines));
    }
    drawn_ = true;
  }

  void clear() {
    if (drawn_) std::fprintf(stderr, "\r%80s\r", "");
    drawn_ = false;
  }

 private:
  bool on_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

// Writes next to the target and renames, so a reader never sees half a report.
// A target that exists and is not a regular file (/dev/null, a FIFO) is written
// in place: renaming over it would replace the device node itself.
bool write_file(const std::string& path, const std::string& data) {
  std::error_code st_ec;
  const auto st = std::filesystem::status(path, st_ec);
  if (!st_ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st)) {
    std::ofstream out(path, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    return static_cast<bool>(out);
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

int run_replay(const command_args& args) {
  const auto config = args.value("config");
  const auto input = args.value("input");
  const auto output = args.value("output");
  const bool quiet = args.flag("quiet");
  const bool strict = args.flag("strict");
  std::size_t top = 15;
  if (auto t = args.value("top")) top = static_cast<std::size_t>(std::strtoul(t->c_str(), nullptr, 10));
  const auto extra = args.positionals({"config", "input", "output", "top"});
  if (!config || !input || !extra.empty()) {
    std::fprintf(stderr,
                 "usage: distillguard replay --config FILE --input TRAFFIC.jsonl[.gz]|- "
                 "[--output REPORT.json|-] [--top N] [--quiet] [--strict]\n");
    return 2;
  }

  const gateway_config cfg = load_config(*config);  // throws config_error: main prints it

  std::string secret;
  const std::string secret_file = secret_path(cfg);
  std::error_code ec;
  if (std::filesystem::exists(secret_file, ec)) {
    if (auto st = load_or_create_secret(secret_file, secret); !st.is_ok()) {
      std::fprintf(stderr, "distillguard replay: %s\n", st.to_string().c_str());
      return 1;
    }
  } else {
    std::fprintf(stderr,
                 "distillguard replay: no identity secret at %s: client ids are keyed with a "
                 "replay-only key and will not match the live gateway's\n",
                 secret_file.c_str());
    secret = replay_only_secret;
  }
  const identity_resolver identity(secret, cfg.identity.header, cfg.identity.trusted);

  // The policy and engine exactly as `serve` builds them, minus metrics.
  enforcement::policy policy(cfg.policy, [&identity](std::string_view raw_key) {
    return std::vector<std::string>{identity.client_id(credential_kind::bearer, raw_key),
                                    identity.client_id(credential_kind::api_key, raw_key),
                                    identity.client_id(credential_kind::header, raw_key)};
  });
  detectors::engine eng(cfg.detectors, &policy, nullptr);

  status st;
  auto reader = line_reader::open(*input, st);
  if (!reader) {
    std::fprintf(stderr, "distillguard replay: %s\n", st.to_string().c_str());
    return 1;
  }

  record_options opts;
  opts.identity = &identity;
  std::map<std::string, std::string> names;
  replay_stats stats;
  const auto read_status = [&] {
    progress_bar bar(!quiet && ::isatty(STDERR_FILENO) == 1);
    return replay_stream(*reader, opts, eng, names, stats,
                         [&bar](const line_reader& r, const replay_stats& s) { bar.update(r, s); },
                         [&policy](micros now) { policy.advance(now); });
  }();
  eng.flush();
  if (stats.events > 0) policy.advance(stats.last_ts);

  const auto clients = eng.reports();
  const auto report = build_report(clients, eng.clusters(), names, stats);
  const std::string text = render_report(report);

  for (const auto& [line, why] : stats.bad) {
    std::fprintf(stderr, "distillguard replay: %s: line %llu: %s\n", input->c_str(),
                 static_cast<unsigned long long>(line), why.c_str());
  }
  if (stats.bad_lines > stats.bad.size()) {
    std::fprintf(stderr, "distillguard replay: ... and %llu more bad lines\n",
                 static_cast<unsigned long long>(stats.bad_lines - stats.bad.size()));
  }
  if (!read_status.is_ok()) {
    std::fprintf(stderr, "distillguard replay: %s: %s (the report covers the %llu lines before it)\n",
                 input->c_str(), read_status.to_string().c_str(), static_cast<unsigned long long>(stats.lines));
  }

  const bool report_to_stdout = output && *output == "-";
  if (output && !report_to_stdout && !write_file(*output, text)) {
    std::fprintf(stderr, "distillguard replay: cannot write %s\n", output->c_str());
    return 1;
  }
  const std::string table = summary_table(report, clients, top);
  if (report_to_stdout) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fwrite(table.data(), 1, table.size(), stderr);
  } else {
    std::fwrite(table.data(), 1, table.size(), stdout);
  }
  std::fflush(stdout);
  if (!read_status.is_ok()) return 1;
  if (strict && stats.bad_lines > 0) return 3;
  return 0;
}

const command_registrar reg{{
    "replay",
    "replay a traffic log through the detectors and write a report",
    "usage: distillguard replay --config FILE --input TRAFFIC.jsonl[.gz]|- [--output REPORT.json|-]\n"
    "                           [--top N] [--quiet] [--strict]\n\n"
    "Feeds every line of a traffic log (JSON Lines, see DESIGN.md; gzip is detected by\n"
    "its magic bytes; - reads standard input) through the same detection engine and\n"
    "policy as `serve`, in file order, with time taken from the events. Writes the\n"
    "report (clients by risk with each detector's score, first action, clusters, a\n"
    "summary) to --output and prints a summary table. Same input, same report, byte\n"
    "for byte.\n\n"
    "Lines written by `distillguard export` carry the stored event (x_distillguard)\n"
    "and are replayed as is, so the replay decides what the live gateway decided.\n"
    "Other lines are parsed as the gateway parses requests; client ids are HMACs under\n"
    "the configured identity secret (identity.secret_file, else <state_dir>/secret),\n"
    "so they match the live gateway's. A key is taken as sent by Authorization:\n"
    "Bearer unless the line says \"credential_kind\": \"api_key\" or \"header\".\n\n"
    "Bad lines are reported with their line number on stderr and in the report's\n"
    "summary; the rest is still replayed.\n\n"
    "  --top N     riskiest clients in the table (15)\n"
    "  --quiet     no progress bar\n"
    "  --strict    exit 3 if any line was bad\n\n"
    "exit: 0 done, 1 unreadable input/config or unwritable output, 2 usage, 3 bad lines (--strict)",
    run_replay}};

}  // namespace
}  // namespace dg::server
