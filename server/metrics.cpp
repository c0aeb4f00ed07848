#include "server/metrics.h"

#include <string>

namespace dg::server {

namespace {
// Seconds; LLM requests run from milliseconds (embeddings) to minutes (long generations).
prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
}
}  // namespace

gateway_metrics::gateway_metrics(prometheus::Registry& r)
    : upstream_duration(prometheus::BuildHistogram()
                            .Name("distillguard_upstream_duration_seconds")
                            .Help("Time from sending a request upstream to the end of its response")
                            .Register(r)
                            .Add({}, latency_buckets())),
      upstream_ttfb(prometheus::BuildHistogram()
                        .Name("distillguard_upstream_ttfb_seconds")
                        .Help("Time from sending a request upstream to its response header")
                        .Register(r)
                        .Add({}, latency_buckets())),
      in_flight(prometheus::BuildGauge()
                    .Name("distillguard_requests_in_flight")
                    .Help("Requests being handled now")
                    .Register(r)
                    .Add({})),
      connections(prometheus::BuildGauge()
                      .Name("distillguard_client_connections")
                      .Help("Client connections open now")
                      .Register(r)
                      .Add({})),
      upstream_connections_opened(prometheus::BuildCounter()
                                      .Name("distillguard_upstream_connections_opened_total")
                                      .Help("Connections opened to the upstream")
                                      .Register(r)
                                      .Add({})),
      upstream_connections_reused(prometheus::BuildCounter()
                                      .Name("distillguard_upstream_connections_reused_total")
                                      .Help("Requests sent on a pooled keep-alive upstream connection")
                                      .Register(r)
                                      .Add({})),
      client_disconnects(prometheus::BuildCounter()
                             .Name("distillguard_client_disconnects_total")
                             .Help("Clients that went away before their response ended; the "
                                   "upstream connection was closed")
                             .Register(r)
                             .Add({})),
      upstream_errors(prometheus::BuildCounter()
                          .Name("distillguard_upstream_errors_total")
                          .Help("Upstream failures: refused, reset, timed out or not HTTP")
                          .Register(r)
                          .Add({})),
      requests_refused(prometheus::BuildCounter()
                           .Name("distillguard_requests_refused_total")
                           .Help("Requests answered by admission (blocked or throttled)")
                           .Register(r)
                           .Add({})),
      events_dropped(prometheus::BuildCounter()
                         .Name("distillguard_request_events_dropped_total")
                         .Help("Request events the analysis queue refused (full)")
                         .Register(r)
                         .Add({})),
      streams_in_flight(prometheus::BuildGauge()
                            .Name("distillguard_streams_in_flight")
                            .Help("Server-sent event streams being relayed now")
                            .Register(r)
                            .Add({})),
      prompt_tokens(prometheus::BuildCounter()
                        .Name("distillguard_prompt_tokens_total")
                        .Help("Prompt tokens, from the usage the upstream reported")
                        .Register(r)
                        .Add({})),
      completion_tokens(prometheus::BuildCounter()
                            .Name("distillguard_completion_tokens_total")
                            .Help("Completion tokens, from the usage the upstream reported")
                            .Register(r)
                            .Add({})) {
  auto& requests = prometheus::BuildCounter()
                       .Name("distillguard_requests_total")
                       .Help("Requests answered, by route and status class")
                       .Register(r);
  auto& duration = prometheus::BuildHistogram()
                       .Name("distillguard_request_duration_seconds")
                       .Help("Time from a request's header to the end of its response")
                       .Register(r);
  for (int i = 0; i < route_count; ++i) {
    const std::string route(to_string(static_cast<route_kind>(i)));
    for (int c = 0; c < status_classes; ++c) {
      requests_[i][c] =
          &requests.Add({{"route", route}, {"status_class", std::to_string(c + 1) + "xx"}});
    }
    duration_[i] = &duration.Add({{"route", route}}, latency_buckets());
  }
}

void gateway_metrics::request_done(route_kind route, int status, double seconds) {
  const int r = static_cast<int>(route);
  int c = status / 100 - 1;
  if (c < 0 || c >= status_classes) c = status_classes - 1;
  requests_[r][c]->Increment();
  duration_[r]->Observe(seconds);
}

}  // namespace dg::server
