// distillguard: a gateway in front of an LLM API that detects and acts on
// model distillation. main() only dispatches to a registered command.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "server/command.h"

namespace {

void print_help(std::FILE* out) {
  std::fprintf(out,
               "usage: distillguard COMMAND [ARGS...]\n"
               "       distillguard COMMAND --help\n\n"
               "A gateway in front of an OpenAI-compatible API that watches every client's\n"
               "queries for model distillation and extraction, and acts on suspects.\n\n"
               "commands:\n");
  for (const auto& c : dg::server::commands()) {
    std::fprintf(out, "  %-16.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_help(stderr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_help(stdout);
    return 0;
  }
  if (name == "--version") {
    std::printf("distillguard 0.1.0\n");
    return 0;
  }
  const dg::server::command* cmd = dg::server::find_command(name);
  if (cmd == nullptr) {
    std::fprintf(stderr, "distillguard: unknown command '%s'\n\n", name.c_str());
    print_help(stderr);
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::printf("%.*s\n", static_cast<int>(cmd->usage.size()), cmd->usage.data());
    return 0;
  }
  try {
    return cmd->run(dg::server::command_args(std::move(args)));
  } catch (const std::exception& e) {
    // Only start-up errors get here (a bad config, a port in use): the request
    // path does not throw.
    std::fprintf(stderr, "distillguard %s: %s\n", name.c_str(), e.what());
    return 1;
  }
}
