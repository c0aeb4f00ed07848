// distillguard serve --config FILE: the gateway.
#include <cstdio>

#include "common/clock.h"
#include "common/log.h"
#include "server/command.h"
#include "server/config.h"
#include "server/gateway.h"
#include "server/live_pipeline.h"
#include "server/malloc_tuning.h"

namespace dg::server {
namespace {

int run_serve(const command_args& args) {
  auto file = args.value("config");
  if (!file) {
    const auto pos = args.positionals({"config"});
    if (pos.size() == 1) file = pos[0];
  }
  gateway_config cfg;
  if (file) {
    try {
      cfg = load_config(*file);
    } catch (const config_error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 1;
    }
  } else {
    cfg = load_config_string("{}", "<defaults>");
  }
  // Before any thread starts, so that every arena is made under the limit.
  const malloc_tuning mt = tune_malloc(io_thread_count(cfg));
  static const system_clock_source clock;
  gateway gw(std::move(cfg), clock);
  // Storage, the analysis pipeline, enforcement and the admin API.
  std::unique_ptr<live_pipeline> pipeline;
  if (const status s = live_pipeline::create(gw, clock, {}, pipeline); !s) {
    log::error("cannot start", {{"error", s.to_string()}});
    std::fprintf(stderr, "distillguard: %s\n", s.to_string().c_str());
    return 1;
  }
  log::info("malloc", {{"arena_max", mt.arena_max}, {"mmap_threshold", mt.mmap_threshold}});
  const int rc = gw.run();
  pipeline->stop();
  return rc;
}

const command_registrar reg{{
    "serve",
    "run the gateway",
    "usage: distillguard serve [--config FILE]\n\n"
    "Runs the proxy on `listen` in front of `upstream.url`, with /healthz, /readyz and\n"
    "/metrics on `admin.listen`. Without --config, every default applies (see\n"
    "deploy/distillguard.yaml). SIGTERM or SIGINT drains in-flight requests for up to\n"
    "shutdown.drain_ms and exits 0. A bad config exits 1 with FILE:LINE:COL: key: message.",
    run_serve}};

}  // namespace
}  // namespace dg::server
