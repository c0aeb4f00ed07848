#!/usr/bin/env python3
"""The source of deploy/grafana/distillguard.json.

Run `python3 deploy/grafana/make_dashboard.py` after changing a panel here; it
rewrites distillguard.json next to it. tests/integration/ops/dashboard_test.py
checks that the JSON is up to date and that every query of every panel returns
data from a real Prometheus scraping a real gateway.

Conventions of every query:
  - `{instance=~"$instance"}` on every selector, so one dashboard shows one
    gateway or all of them;
  - `$__rate_interval` for rates (Grafana makes it at least four scrapes);
  - no per-client labels exist; top suspects are in the admin API, not here.
"""
import json
import os

SEL = 'instance=~"$instance"'


def sel(extra=""):
    return "{" + SEL + ("," + extra if extra else "") + "}"


def rate(metric, extra="", by=None):
    inner = f"rate({metric}{sel(extra)}[$__rate_interval])"
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def quantile(q, metric, extra="", by="le"):
    return f"histogram_quantile({q}, sum by ({by}) (rate({metric}_bucket{sel(extra)}[$__rate_interval])))"


S_5XX = sel('status_class="5xx"')
S_FLAGGED = sel('verdict!="allow"')
S_BLOCK = sel('verdict="block"')
S_DETECTOR = sel('detector=~"$detector"')

DS = {"type": "prometheus", "uid": "${datasource}"}


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self):
        self.panels = []
        self.y = 0
        self.x = 0
        self.row_h = 0
        self.next_id = 1

    def row(self, title):
        self._newline()
        self.panels.append({"type": "row", "title": title, "id": self._id(), "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def add(self, panel, w, h=8):
        if self.x + w > 24:
            self._newline()
        panel["id"] = self._id()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)

    def _newline(self):
        if self.x:
            self.y += self.row_h
        self.x = 0
        self.row_h = 0

    def _id(self):
        i = self.next_id
        self.next_id += 1
        return i


def targets(*pairs):
    out = []
    for i, (expr, legend) in enumerate(pairs):
        out.append({"datasource": DS, "expr": expr, "legendFormat": legend,
                    "refId": chr(ord("A") + i), "range": True, "instant": False})
    return out


def timeseries(title, desc, unit, *pairs, stack=False, min0=True):
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 20 if stack else 10,
              "showPoints": "never", "spanNulls": False,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    defaults = {"unit": unit, "custom": custom}
    if min0:
        defaults["min"] = 0
    return {"type": "timeseries", "title": title, "description": desc, "datasource": DS,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": targets(*pairs)}


def stat(title, desc, unit, expr, legend="", thresholds=None):
    steps = thresholds or [{"color": "green", "value": None}]
    return {"type": "stat", "title": title, "description": desc, "datasource": DS,
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                        "orientation": "auto", "textMode": "auto"},
            "targets": targets((expr, legend))}


def heatmap(title, desc, expr):
    t = targets((expr, "{{le}}"))
    t[0]["format"] = "heatmap"
    return {"type": "heatmap", "title": title, "description": desc, "datasource": DS,
            "options": {"calculate": False, "yAxis": {"axisPlacement": "left", "unit": "none"},
                        "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                        "cellGap": 1, "tooltip": {"show": True, "yHistogram": True},
                        "legend": {"show": True}, "rowsFrame": {"layout": "auto"}},
            "fieldConfig": {"defaults": {}, "overrides": []},
            "targets": t}


def build():
    L = Layout()
    red_at = lambda v: [{"color": "green", "value": None}, {"color": "red", "value": v}]

    L.row("Overview")
    L.add(stat("Requests / s", "All proxied requests.", "reqps",
               rate("distillguard_requests_total")), 4, 4)
    L.add(stat("Error share (5xx)", "Share of requests answered with a 5xx, upstream's or ours.",
               "percentunit",
               f"sum(rate(distillguard_requests_total{S_5XX}[$__rate_interval]) or "
               f"0 * rate(distillguard_requests_total{sel()}[$__rate_interval])) / "
               f"clamp_min({rate('distillguard_requests_total')}, 1e-9)",
               thresholds=red_at(0.05)), 4, 4)
    L.add(stat("Flagged clients", "Clients whose verdict is above allow (watermark, throttle or block). "
               "Who they are: `distillguard clients top`.", "none",
               f"sum(distillguard_clients_by_verdict{S_FLAGGED})",
               thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}]), 4, 4)
    L.add(stat("Blocked clients", "Clients whose verdict is block.", "none",
               f"sum(distillguard_clients_by_verdict{S_BLOCK})",
               thresholds=red_at(1)), 4, 4)
    L.add(stat("Clients tracked", "Clients with detector state in memory.", "none",
               f"sum(distillguard_analysis_clients{sel()})"), 4, 4)
    L.add(stat("Storage degraded", "1 when the event store cannot write (GET /readyz says why).", "none",
               f"max(distillguard_storage_degraded{sel()})", thresholds=red_at(1)), 4, 4)

    L.row("Traffic and errors")
    L.add(timeseries("Requests by route", "Proxied requests per second by API route.", "reqps",
                     (rate("distillguard_requests_total", by="route"), "{{route}}"), stack=True), 8)
    L.add(timeseries("Requests by status class", "2xx, 4xx (including our 403/429 refusals), 5xx.",
                     "reqps",
                     (rate("distillguard_requests_total", by="status_class"), "{{status_class}}"),
                     stack=True), 8)
    L.add(timeseries("In flight", "Requests being proxied now, streams (SSE) among them, and open "
                     "client connections.", "none",
                     (f"sum(distillguard_requests_in_flight{sel()})", "requests"),
                     (f"sum(distillguard_streams_in_flight{sel()})", "streams"),
                     (f"sum(distillguard_client_connections{sel()})", "client connections")), 8)
    L.add(timeseries("Errors and refusals", "Upstream failures we answered (502/504 or a stream cut "
                     "short), requests refused by enforcement (403/429), events the request path could "
                     "not hand to analysis.", "ops",
                     (rate("distillguard_upstream_errors_total"), "upstream errors"),
                     (rate("distillguard_requests_refused_total"), "refused by policy"),
                     (rate("distillguard_request_events_dropped_total"), "events dropped at submit")), 12)
    L.add(timeseries("Upstream connections and client disconnects",
                     "New upstream connections per second (keep-alive reuse keeps it low) and clients "
                     "that hung up before the response ended.", "ops",
                     (rate("distillguard_upstream_connections_opened_total"), "upstream connections opened"),
                     (rate("distillguard_client_disconnects_total"), "client disconnects")), 12)
    L.add(timeseries("Tokens", "Prompt (in) and completion (out) tokens per second, from `usage`.",
                     "short",
                     (rate("distillguard_prompt_tokens_total"), "in (prompt)"),
                     (rate("distillguard_completion_tokens_total"), "out (completion)")), 12, 8)

    L.row("Latency")
    L.add(timeseries("Request duration", "Whole request as the client sees it, first byte in to last out.",
                     "s",
                     (quantile(0.5, "distillguard_request_duration_seconds"), "p50"),
                     (quantile(0.9, "distillguard_request_duration_seconds"), "p90"),
                     (quantile(0.99, "distillguard_request_duration_seconds"), "p99")), 8)
    L.add(timeseries("Upstream time to first byte", "From sending to the upstream to its first response "
                     "byte: the model's queueing and prefill.", "s",
                     (quantile(0.5, "distillguard_upstream_ttfb_seconds"), "p50"),
                     (quantile(0.99, "distillguard_upstream_ttfb_seconds"), "p99")), 8)
    L.add(timeseries("Upstream duration", "From sending to the upstream to its last byte.", "s",
                     (quantile(0.5, "distillguard_upstream_duration_seconds"), "p50"),
                     (quantile(0.99, "distillguard_upstream_duration_seconds"), "p99")), 8)

    L.row("Verdicts and actions")
    L.add(timeseries("Verdict mix", "Clients by current verdict.", "none",
                     (f"sum by (verdict) (distillguard_clients_by_verdict{sel()})", "{{verdict}}"),
                     stack=True), 8)
    L.add(timeseries("Actions taken", "Requests watermarked, throttled, blocked or shaped per second "
                     "(enforced).", "ops",
                     (rate("distillguard_actions_total", by="action"), "{{action}}")), 8)
    L.add(timeseries("Shadow decisions", "What the policy decided but did not enforce (mode: shadow).",
                     "ops",
                     (rate("distillguard_shadow_decisions_total", by="action"), "{{action}}")), 8)
    L.add(timeseries("Verdict changes", "Verdict transitions per second (policy, overrides, decay).", "ops",
                     (rate("distillguard_verdict_changes_total"), "changes")), 8)
    L.add(timeseries("Clusters", "Clusters of linked accounts, and new clusters flagged.", "none",
                     (f"sum(distillguard_analysis_clusters{sel()})", "clusters"),
                     (f"sum(increase(distillguard_clusters_flagged_total{sel()}[$__rate_interval]))",
                      "flagged")), 8)
    L.add(timeseries("Config reloads", "Reloads (SIGHUP or POST /admin/reload) by result; a failed "
                     "reload keeps the running config.", "short",
                     (f"sum by (result) (increase(distillguard_config_reloads_total{sel()}[$__rate_interval]))",
                      "{{result}}")), 8)

    L.row("Detectors")
    L.add(heatmap("Detector score distribution", "Scores of every detector at each scoring pass "
                  "(0 = benign, 1 = certain).",
                  f"sum by (le) (rate(distillguard_detector_score_bucket{S_DETECTOR}"
                  f"[$__rate_interval]))"), 12, 9)
    L.add(timeseries("Detector score p90 by detector", "The 90th percentile of each detector's scores: "
                     "a detector whose p90 rises is seeing more suspects (or needs tuning).", "none",
                     (quantile(0.9, "distillguard_detector_score", 'detector=~"$detector"', "detector, le"),
                      "{{detector}}")), 12, 9)

    L.row("Pipeline health")
    L.add(timeseries("Analysis queue", "Events waiting for the analyzer, and events dropped because "
                     "the queue was full (the request is never dropped).", "short",
                     (f"sum(distillguard_analysis_queue_depth{sel()})", "depth"),
                     (rate("distillguard_analysis_events_dropped_total"), "dropped / s")), 8)
    L.add(timeseries("Storage queue and drops", "Events waiting for the writer, written, and dropped "
                     "by reason.", "short",
                     (f"sum(distillguard_storage_queue_depth{sel()})", "depth"),
                     (rate("distillguard_storage_events_written_total"), "written / s"),
                     (rate("distillguard_storage_events_dropped_total", by="reason"), "dropped {{reason}} / s"),
                     (rate("distillguard_storage_write_errors_total"), "write errors / s")), 8)
    L.add(timeseries("Storage write latency", "Time to commit one batch to RocksDB.", "s",
                     (quantile(0.5, "distillguard_storage_write_seconds"), "p50"),
                     (quantile(0.99, "distillguard_storage_write_seconds"), "p99")), 8)
    build_info = {"type": "table", "title": "Build", "description": "Version of each gateway.",
                  "datasource": DS,
                  "fieldConfig": {"defaults": {}, "overrides": []},
                  "options": {"showHeader": True},
                  "transformations": [{"id": "labelsToFields", "options": {"mode": "columns"}}],
                  "targets": [dict(targets((f"max by (instance, version) (distillguard_build_info{sel()})",
                                            ""))[0], instant=True, range=False, format="table")]}
    L.add(build_info, 24, 5)

    return {
        "title": "distillguard",
        "uid": "distillguard-main",
        "description": "distillguard gateway: traffic, latency, tokens, verdicts, actions, detectors, pipeline.",
        "tags": ["distillguard", "llm", "gateway"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "links": [],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
            "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
            "type": "dashboard"}]},
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [],
             "refresh": 1, "regex": "", "skipUrlSync": False},
            {"name": "instance", "label": "Gateway", "type": "query", "datasource": DS,
             "definition": "label_values(distillguard_requests_in_flight, instance)",
             "query": {"query": "label_values(distillguard_requests_in_flight, instance)", "refId": "instance"},
             "current": {}, "hide": 0, "includeAll": True, "allValue": ".*", "multi": True,
             "options": [], "refresh": 2, "regex": "", "sort": 1, "skipUrlSync": False},
            {"name": "detector", "label": "Detector", "type": "query", "datasource": DS,
             "definition": "label_values(distillguard_detector_score_bucket, detector)",
             "query": {"query": "label_values(distillguard_detector_score_bucket, detector)",
                       "refId": "detector"},
             "current": {}, "hide": 0, "includeAll": True, "allValue": ".*", "multi": True,
             "options": [], "refresh": 2, "regex": "", "sort": 1, "skipUrlSync": False},
        ]},
        "panels": L.panels,
    }


def render():
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distillguard.json")
    with open(out, "w") as f:
        f.write(render())
    print(out)
