// log: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-29T08:30:00.123Z","level":"info","msg":"listening","addr":"127.0.0.1:8080"}
// Thread safe. Never pass a raw credential or secret as a field.
#pragma once

#include <atomic>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace dg::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3 };

// Parses "debug" | "info" | "warn" | "error"; returns false on anything else.
bool parse_level(std::string_view name, level& out);
void set_level(level l);
level current_level();
inline bool enabled(level l) { return l >= current_level(); }

// Redirects output (tests); nullptr restores stderr. Not thread safe against writes.
void set_sink(std::FILE* f);

using field = std::pair<std::string_view, nlohmann::json>;
void write(level l, std::string_view msg, std::initializer_list<field> fields = {});

inline void debug(std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::debug)) write(level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::info)) write(level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::warn)) write(level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::error)) write(level::error, m, f);
}

}  // namespace dg::log
