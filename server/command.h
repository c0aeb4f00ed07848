// command: the subcommands of the `distillguard` binary. Each lives in its own
// file server/command_<name>.cpp and registers itself at static-initialisation
// time:
//
//   namespace {
//   int run(const dg::server::command_args& args) { ... return 0; }
//   const dg::server::command_registrar reg{{
//       "check-config", "check a config file and list what is wrong",
//       "usage: distillguard check-config FILE\n...", run}};
//   }  // namespace
//
// The command_*.cpp files are compiled straight into the executable (not into
// a static library), so the linker never drops a registrar. Registration
// happens before main(); the registry is not meant to change afterwards.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dg::server {

// The arguments after the command name, with a small reader for the usual
// shapes: `--key value`, `--key=value`, `--flag`, and positionals.
class command_args {
 public:
  explicit command_args(std::vector<std::string> args) : args_(std::move(args)) {}

  const std::vector<std::string>& all() const { return args_; }
  bool empty() const { return args_.empty(); }

  // True if `--name` appears (as a bare flag).
  bool flag(std::string_view name) const;
  // The value of `--name value` or `--name=value`, if present.
  std::optional<std::string> value(std::string_view name) const;
  // Arguments that are neither options nor option values. `valued` lists the
  // options that take a value (so that their value is not taken as positional).
  std::vector<std::string> positionals(std::initializer_list<std::string_view> valued) const;

 private:
  std::vector<std::string> args_;
};

struct command {
  std::string_view name;     // as typed: "serve", "check-config", "mock-upstream"
  std::string_view summary;  // one line for `distillguard --help`
  std::string_view usage;    // the full text for `distillguard NAME --help`
  // Runs the command; the return value is the process exit code.
  int (*run)(const command_args& args) = nullptr;
};

// Adds a command; a second command with the same name is a programming error
// reported at start-up.
void register_command(const command& c);
// Every registered command, sorted by name.
const std::vector<command>& commands();
const command* find_command(std::string_view name);

struct command_registrar {
  explicit command_registrar(const command& c) { register_command(c); }
};

}  // namespace dg::server
