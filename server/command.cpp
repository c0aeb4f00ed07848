#include "server/command.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace dg::server {

namespace {
// A function-local static: registrars in other translation units may run
// before any global of this file is constructed.
std::vector<command>& registry() {
  static std::vector<command> r;
  return r;
}
}  // namespace

void register_command(const command& c) {
  auto& r = registry();
  if (find_command(c.name) != nullptr) {
    std::fprintf(stderr, "distillguard: command '%.*s' registered twice\n",
                 static_cast<int>(c.name.size()), c.name.data());
    std::abort();
  }
  r.push_back(c);
  std::sort(r.begin(), r.end(), [](const command& a, const command& b) { return a.name < b.name; });
}

const std::vector<command>& commands() { return registry(); }

const command* find_command(std::string_view name) {
  for (const auto& c : registry()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

bool command_args::flag(std::string_view name) const {
  for (const auto& a : args_) {
    if (a.size() == name.size() + 2 && a.starts_with("--") && a.substr(2) == name) return true;
  }
  return false;
}

std::optional<std::string> command_args::value(std::string_view name) const {
  for (std::size_t i = 0; i < args_.size(); ++i) {
    const std::string& a = args_[i];
    if (!a.starts_with("--") || a.compare(2, name.size(), name) != 0) continue;
    const std::size_t end = 2 + name.size();
    if (a.size() == end) {
      if (i + 1 < args_.size()) return args_[i + 1];
      return std::nullopt;
    }
    if (a[end] == '=') return a.substr(end + 1);
  }
  return std::nullopt;
}

std::vector<std::string> command_args::positionals(
    std::initializer_list<std::string_view> valued) const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args_.size(); ++i) {
    const std::string& a = args_[i];
    if (a == "--") {
      out.insert(out.end(), args_.begin() + static_cast<std::ptrdiff_t>(i) + 1, args_.end());
      break;
    }
    if (a.starts_with("--")) {
      const std::string_view n = std::string_view(a).substr(2);
      if (n.find('=') == std::string_view::npos &&
          std::find(valued.begin(), valued.end(), n) != valued.end()) {
        ++i;  // skip its value
      }
      continue;
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace dg::server
