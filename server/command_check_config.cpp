// distillguard check-config FILE: loads a config as `serve` would and prints
// "ok", or every error as FILE:LINE:COL: key 'a.b': message (exit 1).
#include <cstdio>

#include "server/command.h"
#include "server/config.h"

namespace dg::server {
namespace {

int run_check_config(const command_args& args) {
  auto files = args.positionals({"config"});
  if (auto c = args.value("config")) files.push_back(*c);
  if (files.size() != 1) {
    std::fprintf(stderr, "usage: distillguard check-config FILE\n");
    return 2;
  }
  try {
    (void)load_config(files[0]);
  } catch (const config_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::printf("ok\n");
  return 0;
}

const command_registrar reg{{
    "check-config",
    "check a config file and list every error in it",
    "usage: distillguard check-config FILE\n\n"
    "Loads FILE exactly as `serve --config FILE` would and prints \"ok\" (exit 0), or\n"
    "every error as FILE:LINE:COL: key 'a.b': message (exit 1).",
    run_check_config}};

}  // namespace
}  // namespace dg::server
