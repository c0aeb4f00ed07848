#include "common/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace dg::log {
namespace {
std::atomic<level> g_level{level::info};
std::atomic<std::FILE*> g_sink{nullptr};
std::mutex g_write_mu;

constexpr std::string_view level_name(level l) {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
  }
  return "info";
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}
}  // namespace

bool parse_level(std::string_view name, level& out) {
  for (level l : {level::debug, level::info, level::warn, level::error}) {
    if (name == level_name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void set_level(level l) { g_level.store(l); }
level current_level() { return g_level.load(std::memory_order_relaxed); }
void set_sink(std::FILE* f) { g_sink.store(f); }

void write(level l, std::string_view msg, std::initializer_list<field> fields) {
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = utc_now();
  line["level"] = level_name(l);
  line["msg"] = msg;
  for (const auto& [k, v] : fields) line[std::string(k)] = v;
  // Replace invalid UTF-8 rather than throw: log lines may quote client input.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  std::FILE* out = g_sink.load();
  if (out == nullptr) out = stderr;
  std::lock_guard lock(g_write_mu);
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

}  // namespace dg::log
