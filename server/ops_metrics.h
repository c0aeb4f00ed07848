// ops_metrics: the operations metrics that belong to no request: build info
// and config reloads by result. Declared once on the gateway's registry:
//
//   distillguard_build_info{version}                                  1
//   distillguard_config_reloads_total{result="ok"|"error"}            counter
//   distillguard_config_last_reload_successful                        0 or 1
//   distillguard_config_last_reload_success_timestamp_seconds         gauge
//
// Both label values of the reload counter exist from the start (at 0), so a
// dashboard or alert sees the series before the first reload.
//
// Thread safety: reload_done() may be called from any thread (SIGHUP handler
// on the control thread, POST /admin/reload on the admin thread).
#pragma once

#include <functional>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/clock.h"
#include "server/admin_api.h"

namespace dg::server {

// The version the binary reports (`distillguard --version`, build_info).
inline constexpr const char* distillguard_version = "0.1.0";

class ops_metrics {
 public:
  ops_metrics(prometheus::Registry& registry, const clock_source& clock);

  // Counts one reload attempt.
  void reload_done(bool ok);

  // Wraps a reload function so that every call (SIGHUP or the admin API) is counted:
  // give the same wrapped function to both.
  std::function<reload_result()> counted(std::function<reload_result()> reload);

 private:
  const clock_source& clock_;
  prometheus::Counter& reload_ok_;
  prometheus::Counter& reload_error_;
  prometheus::Gauge& last_successful_;
  prometheus::Gauge& last_success_time_;
};

}  // namespace dg::server
