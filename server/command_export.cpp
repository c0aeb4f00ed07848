// distillguard export --config FILE [--since T] [--until T] [--client ID] [--output FILE]
//
// Streams the query log out of the store as the traffic log of DESIGN.md (JSON
// Lines, storage/traffic_log.h), which `distillguard replay` reads.
//
// The store is opened as a RocksDB secondary instance (a read-only follower):
// unlike a read-write open it needs no lock, so export works while the gateway
// runs on the same directory; unlike OpenForReadOnly it is made to follow a
// live primary (files the primary compacts away stay readable through the
// follower's open handles), and it also works on a stopped gateway's directory.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "server/command.h"
#include "server/config.h"
#include "storage/event_store.h"
#include "storage/traffic_log.h"

namespace dg::server {
namespace {

// "\rexport: 12,345 events [=====>      ] 42%" on a terminal, a few times a second.
class progress {
 public:
  progress(bool on, std::uint64_t total) : on_(on), total_(total) {}
  void tick(std::uint64_t n) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    draw(n, false);
  }
  void done(std::uint64_t n) {
    if (on_) draw(n, true);
  }

 private:
  void draw(std::uint64_t n, bool final) {
    constexpr int width = 30;
    // The total is RocksDB's estimate of all events: an upper bound for a
    // filtered export, so the bar stops short of full until the end.
    double f = total_ > 0 ? static_cast<double>(n) / static_cast<double>(total_) : 0;
    if (final) f = 1;
    if (f > 0.99 && !final) f = 0.99;
    const int fill = static_cast<int>(f * width);
    std::string bar(static_cast<std::size_t>(fill), '=');
    if (fill < width) bar += '>';
    bar.resize(width, ' ');
    std::fprintf(stderr, "\rexport: %llu events [%s] %3d%%%s", static_cast<unsigned long long>(n),
                 bar.c_str(), static_cast<int>(f * 100), final ? "\n" : "");
    std::fflush(stderr);
  }
  bool on_;
  std::uint64_t total_;
  std::chrono::steady_clock::time_point last_{};
};

bool read_time(const command_args& args, const char* name, micros& out) {
  const auto v = args.value(name);
  if (!v) return true;
  const auto t = storage::parse_time(*v);
  if (!t) {
    std::fprintf(stderr,
                 "distillguard export: --%s '%s' is neither seconds since the epoch nor ISO-8601\n",
                 name, v->c_str());
    return false;
  }
  out = *t;
  return true;
}

// The client ids an --client argument names: the id itself if the store knows
// it, else every client whose hint ("sk-...abcd") matches.
std::vector<std::string> resolve_client(const storage::event_store& store, const std::string& arg) {
  pb::ClientRecord r;
  if (store.get_client(arg, r)) return {arg};
  bool has_events = false;
  (void)store.scan_client(arg, storage::min_time, storage::max_time, 1, false, [&](pb::QueryEvent&&) {
    has_events = true;
    return false;
  });
  if (has_events) return {arg};
  std::vector<std::string> ids;
  (void)store.load_clients([&](pb::ClientRecord&& c) {
    if (c.client_hint() == arg) ids.push_back(c.client_id());
    return true;
  });
  return ids;
}

int run_export(const command_args& args) {
  const auto config_file = args.value("config");
  if (!config_file) {
    std::fprintf(stderr,
                 "usage: distillguard export --config FILE [--since T] [--until T] [--client ID] "
                 "[--output FILE]\n");
    return 2;
  }
  gateway_config cfg;
  try {
    cfg = load_config(*config_file);
  } catch (const config_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  micros since = storage::min_time, until = storage::max_time;
  if (!read_time(args, "since", since) || !read_time(args, "until", until)) return 2;

  storage::storage_options so = cfg.storage;
  if (auto db = args.value("db")) so.path = *db;
  storage::event_store store(so);
  if (const status s = store.open_read_only(); !s) {
    std::fprintf(stderr, "distillguard export: %s\n", s.message().c_str());
    return 1;
  }

  std::FILE* out = stdout;
  const auto output = args.value("output");
  if (output && *output != "-") {
    out = std::fopen(output->c_str(), "w");
    if (out == nullptr) {
      std::fprintf(stderr, "distillguard export: cannot write '%s': %s\n", output->c_str(),
                   std::strerror(errno));
      return 1;
    }
  }
  std::vector<char> buffer(1 << 20);
  std::setvbuf(out, buffer.data(), _IOFBF, buffer.size());

  progress bar(isatty(STDERR_FILENO) != 0, store.estimate_events());
  std::uint64_t n = 0;
  bool write_failed = false;
  auto emit = [&](pb::QueryEvent&& e) {
    const std::string line = storage::traffic_log_line(e);
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size() || std::fputc('\n', out) == EOF) {
      write_failed = true;
      return false;
    }
    bar.tick(++n);
    return true;
  };

  status st;
  if (const auto client = args.value("client")) {
    const auto ids = resolve_client(store, *client);
    if (ids.empty()) {
      std::fprintf(stderr, "distillguard export: no client '%s' in '%s'\n", client->c_str(),
                   so.path.c_str());
    }
    for (const auto& id : ids) {
      st = store.scan_client(id, since, until, 0, false, emit);
      if (!st || write_failed) break;
    }
  } else {
    st = store.scan_time(since, until, emit);
  }
  bar.done(n);
  const bool flush_failed = std::fflush(out) != 0;
  if (out != stdout) std::fclose(out);
  if (write_failed || flush_failed) {
    std::fprintf(stderr, "distillguard export: writing the output failed: %s\n", std::strerror(errno));
    return 1;
  }
  if (!st) {
    std::fprintf(stderr, "distillguard export: %s\n", st.to_string().c_str());
    return 1;
  }
  if (output && *output != "-") {
    std::fprintf(stderr, "exported %llu events to %s\n", static_cast<unsigned long long>(n),
                 output->c_str());
  }
  return 0;
}

const command_registrar reg{{
    "export",
    "write the stored query log as a traffic log (JSON Lines) for replay",
    "usage: distillguard export --config FILE [--since T] [--until T] [--client ID]\n"
    "                          [--output FILE] [--db DIR]\n\n"
    "Streams the events in storage.path (or DIR) as JSON Lines in the traffic-log format\n"
    "that `distillguard replay` reads, oldest first. Works while the gateway runs: the\n"
    "store is opened as a read-only follower.\n\n"
    "  --since T, --until T  keep events with since <= ts < until; T is seconds since the\n"
    "                        epoch (1793577600.25) or ISO-8601 (2026-11-29, 2026-11-29T08:00Z)\n"
    "  --client ID           one client: its id, or a hint as shown by the admin API\n"
    "  --output FILE         write there instead of standard output\n"
    "Each line carries the stored event as \"x_distillguard\", so that replay decides\n"
    "exactly what the live gateway decided whatever prompt text was kept.",
    run_export}};

}  // namespace
}  // namespace dg::server
