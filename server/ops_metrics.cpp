#include "server/ops_metrics.h"

namespace dg::server {

namespace {
prometheus::Family<prometheus::Counter>& reloads_family(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("distillguard_config_reloads_total")
      .Help("Config reloads (SIGHUP or POST /admin/reload) by result; an error keeps the running config")
      .Register(r);
}
}  // namespace

ops_metrics::ops_metrics(prometheus::Registry& registry, const clock_source& clock)
    : clock_(clock),
      reload_ok_(reloads_family(registry).Add({{"result", "ok"}})),
      reload_error_(reloads_family(registry).Add({{"result", "error"}})),
      last_successful_(prometheus::BuildGauge()
                           .Name("distillguard_config_last_reload_successful")
                           .Help("1 if the last config reload succeeded (or none happened yet), else 0")
                           .Register(registry)
                           .Add({})),
      last_success_time_(prometheus::BuildGauge()
                             .Name("distillguard_config_last_reload_success_timestamp_seconds")
                             .Help("When the config in force was loaded, seconds since the epoch")
                             .Register(registry)
                             .Add({})) {
  prometheus::BuildGauge()
      .Name("distillguard_build_info")
      .Help("The running distillguard's version (always 1)")
      .Register(registry)
      .Add({{"version", distillguard_version}})
      .Set(1);
  last_successful_.Set(1);
  last_success_time_.Set(static_cast<double>(clock_.now()) / 1e6);
}

void ops_metrics::reload_done(bool ok) {
  if (ok) {
    reload_ok_.Increment();
    last_successful_.Set(1);
    last_success_time_.Set(static_cast<double>(clock_.now()) / 1e6);
  } else {
    reload_error_.Increment();
    last_successful_.Set(0);
  }
}

std::function<reload_result()> ops_metrics::counted(std::function<reload_result()> reload) {
  return [this, reload = std::move(reload)] {
    reload_result r = reload();
    reload_done(r.ok);
    return r;
  };
}

}  // namespace dg::server
