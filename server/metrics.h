// metrics: the gateway's Prometheus metrics, declared in one place and named
// distillguard_<thing>_<unit>. Labels are bounded (route is one of six
// values, status_class one of five): no per-client labels.
//
// The series are created once at start-up and looked up by index on the
// request path (no label map look-up per request). Thread safe: prometheus-cpp
// counters are atomic, histograms lock briefly.
#pragma once

#include <array>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "server/headers.h"

namespace dg::server {

class gateway_metrics {
 public:
  explicit gateway_metrics(prometheus::Registry& registry);

  // One finished request: counts it and observes its duration.
  void request_done(route_kind route, int status, double seconds);

  prometheus::Histogram& upstream_duration;   // request sent .. response body done
  prometheus::Histogram& upstream_ttfb;       // request sent .. response header
  prometheus::Gauge& in_flight;               // requests being handled now
  prometheus::Gauge& connections;             // client connections open now
  prometheus::Counter& upstream_connections_opened;
  prometheus::Counter& upstream_connections_reused;
  prometheus::Counter& client_disconnects;    // clients gone before the response ended
  prometheus::Counter& upstream_errors;       // 502/504 answered, or a stream cut short
  prometheus::Counter& requests_refused;      // answered by admission (403/429)
  prometheus::Counter& events_dropped;        // the event sink refused (queue full)
  prometheus::Gauge& streams_in_flight;       // SSE responses being relayed now
  prometheus::Counter& prompt_tokens;         // tokens in, from the upstream's usage
  prometheus::Counter& completion_tokens;     // tokens out, from the upstream's usage

 private:
  static constexpr int status_classes = 5;  // 1xx .. 5xx
  std::array<std::array<prometheus::Counter*, status_classes>, route_count> requests_{};
  std::array<prometheus::Histogram*, route_count> duration_{};
};

}  // namespace dg::server
