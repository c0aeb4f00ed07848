#!/usr/bin/env python3
"""The Grafana dashboard against a real Prometheus scraping a real gateway.

--static-only: checks deploy/grafana/distillguard.json alone (imports as is:
schema version, uid, a datasource variable, unique ids, no overlapping panels,
no panel without a query) and that it is what make_dashboard.py generates.

Otherwise also: starts `distillguard mock-upstream` and `distillguard serve`
(through tests/integration/harness.py), sends real traffic (benign clients and
an extraction-style client that gets flagged), starts Debian's `prometheus` on
a free loopback port scraping the gateway every second, then evaluates every
target of every panel through /api/v1/query and fails on any query that is
invalid, returns no series, or returns only NaN. It also runs
`promtool check metrics` on the gateway's real /metrics output.
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- static checks

def all_panels(dash):
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []):  # panels inside a collapsed row
            yield q


def check_static(path):
    with open(path) as f:
        text = f.read()
    dash = json.loads(text)
    problems = []
    if not isinstance(dash.get("schemaVersion"), int) or not 36 <= dash["schemaVersion"] <= 41:
        problems.append("schemaVersion must be an integer in 36..41 (Grafana 9.4 to 11)")
    if not dash.get("uid") or len(dash["uid"]) > 40:
        problems.append("uid missing or longer than 40 characters")
    if not dash.get("title"):
        problems.append("no title")
    if "id" in dash and dash["id"] is not None:
        problems.append("a top-level numeric id makes import overwrite another dashboard; leave it out")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds_vars = [v for v in variables.values() if v.get("type") == "datasource"]
    inputs = [i for i in dash.get("__inputs", []) if i.get("type") == "datasource"]
    if not ds_vars and not inputs:
        problems.append("neither a datasource variable nor a ${DS_...} input: the import would bind nothing")
    ds_refs = {"${%s}" % v["name"] for v in ds_vars} | {"${%s}" % i["name"] for i in inputs}

    ids = set()
    cells = {}
    nqueries = 0
    for p in all_panels(dash):
        title = p.get("title", "?")
        if p.get("id") in ids:
            problems.append(f"panel '{title}': duplicate id {p.get('id')}")
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in ("x", "y", "w", "h")) or g["x"] + g["w"] > 24:
            problems.append(f"panel '{title}': bad gridPos {g}")
            continue
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    problems.append(f"panel '{title}' overlaps '{cells[(x, y)]}'")
                    break
                cells[(x, y)] = title
            else:
                continue
            break
        if p.get("type") == "row":
            continue
        ts = p.get("targets") or []
        if not ts:
            problems.append(f"panel '{title}' has no query")
        if p.get("datasource", {}).get("uid") not in ds_refs:
            problems.append(f"panel '{title}': datasource {p.get('datasource')} is not the dashboard's")
        for t in ts:
            nqueries += 1
            if not (t.get("expr") or "").strip():
                problems.append(f"panel '{title}' target {t.get('refId')}: empty expr")
            if t.get("datasource", {}).get("uid") not in ds_refs:
                problems.append(f"panel '{title}' target {t.get('refId')}: foreign datasource")
            for var in re.findall(r"\$\{?(\w+)", t.get("expr", "")):
                if not var.startswith("__") and var not in variables:
                    problems.append(f"panel '{title}': unknown variable ${var}")
    if problems:
        fail("dashboard:\n  " + "\n  ".join(problems))

    # The JSON is generated: a hand edit that make_dashboard.py does not know is lost at the next run.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(path))))
    try:
        import make_dashboard  # noqa: E402
        if make_dashboard.render() != text:
            fail("distillguard.json differs from make_dashboard.py's output: run "
                 "`python3 deploy/grafana/make_dashboard.py`")
    finally:
        sys.path.pop(0)
    print(f"dashboard: {sum(1 for _ in all_panels(dash))} panels, {nqueries} queries, static checks ok")
    return dash


# ------------------------------------------------------ queries on real metrics

def substitute(expr, dash, rate_window):
    """What Grafana sends to Prometheus for this expr with every variable at 'All'."""
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}

    def repl(m):
        name = m.group(1) or m.group(2)
        if name in ("__rate_interval", "__interval", "__range"):
            return rate_window
        v = variables.get(name)
        if v is None:
            fail(f"unknown variable ${name} in {expr}")
        return v.get("allValue") or ".*"

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Prometheus:
    """Debian's prometheus on a free loopback port, scraping `target` every second."""

    def __init__(self, binary, target, workdir):
        self.port = free_port()
        cfg = os.path.join(workdir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: distillguard\n"
                    f"    static_configs:\n      - targets: ['{target}']\n")
        self.log = open(os.path.join(workdir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.tsdb.path={os.path.join(workdir, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail(f"prometheus exited with {self.proc.returncode}; see {self.log.name}")
            try:
                http_get(self.base + "/-/ready", 1)
                return
            except OSError:
                time.sleep(0.2)
        fail("prometheus not ready")

    def query(self, expr):
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            return json.loads(http_get(url, 10))
        except urllib.error.HTTPError as e:  # 400 on a bad query, with the reason as JSON
            return json.loads(e.read().decode())

    def scrapes_of(self, job="distillguard"):
        r = self.query(f'count_over_time(up{{job="{job}"}}[5m])')
        res = r.get("data", {}).get("result", [])
        return int(float(res[0]["value"][1])) if res else 0

    def target_up(self):
        r = self.query('up{job="distillguard"}')
        res = r.get("data", {}).get("result", [])
        return bool(res) and res[0]["value"][1] == "1"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def evaluate_panels(prom, dash, rate_window):
    bad = []
    n = 0
    for p in all_panels(dash):
        for t in p.get("targets", []):
            n += 1
            expr = substitute(t["expr"], dash, rate_window)
            r = prom.query(expr)
            where = f"panel '{p['title']}' {t['refId']}: {expr}"
            if r.get("status") != "success":
                bad.append(f"{where}\n    invalid: {r.get('errorType')}: {r.get('error')}")
                continue
            result = r["data"]["result"]
            if not result:
                bad.append(f"{where}\n    returned no data")
                continue
            values = [float(s["value"][1]) for s in result] if r["data"]["resultType"] == "vector" else []
            if values and all(math.isnan(v) for v in values):
                bad.append(f"{where}\n    returned only NaN (no observations in the window)")
    return n, bad


def evaluate_variables(prom, dash):
    """Each query variable `label_values(METRIC, LABEL)` must list at least one value,
    or every panel that uses it shows nothing in Grafana."""
    bad = []
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
        m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", q.strip())
        if not m:
            bad.append(f"variable ${v['name']}: cannot evaluate '{q}'")
            continue
        url = (prom.base + f"/api/v1/label/{m.group(2)}/values?" +
               urllib.parse.urlencode({"match[]": m.group(1)}))
        values = json.loads(http_get(url)).get("data", [])
        if not values:
            bad.append(f"variable ${v['name']}: {q} has no values")
    return bad


def promtool_check_metrics(promtool, text):
    r = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True)
    out = (r.stdout + r.stderr).decode().strip()
    return r.returncode, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dashboard", default=os.path.join(ROOT, "deploy", "grafana", "distillguard.json"))
    ap.add_argument("--static-only", action="store_true")
    ap.add_argument("--distillguard", help="the distillguard binary")
    ap.add_argument("--prometheus", default=shutil.which("prometheus") or "prometheus")
    ap.add_argument("--promtool", default=shutil.which("promtool") or "promtool")
    ap.add_argument("--rate-window", default="1m",
                    help="what $__rate_interval becomes; the test's traffic all falls inside it")
    args = ap.parse_args()

    dash = check_static(args.dashboard)
    if args.static_only:
        return
    if not args.distillguard:
        fail("--distillguard is required unless --static-only")

    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    sys.path.insert(0, HERE)
    import ops_fixture  # noqa: E402

    work = tempfile.mkdtemp(prefix="dg-dashboard-")
    prom = None
    try:
        with ops_fixture.gateway(args.distillguard, work) as gw:
            prom = Prometheus(args.prometheus, f"127.0.0.1:{gw.admin_port}", work)
            prom.wait_ready()
            traffic = ops_fixture.background_traffic(gw)
            try:
                ops_fixture.flag_a_client(gw)
                gw.reload()  # so that config reloads have a series
                deadline = time.time() + 60
                while time.time() < deadline and (prom.scrapes_of() < 5 or not prom.target_up()):
                    time.sleep(0.5)
                if not prom.target_up():
                    fail("prometheus cannot scrape the gateway's /metrics")

                metrics = http_get(f"http://127.0.0.1:{gw.admin_port}/metrics")
                rc, out = promtool_check_metrics(args.promtool, metrics)
                if rc != 0:
                    fail("promtool check metrics:\n" + out)
                print(f"promtool check metrics: ok ({len(metrics.splitlines())} lines)")

                # Every panel, with a few retries for series that appear at the next scoring pass.
                deadline = time.time() + 30
                while True:
                    n, bad = evaluate_panels(prom, dash, args.rate_window)
                    bad += evaluate_variables(prom, dash)
                    if not bad or time.time() > deadline:
                        break
                    time.sleep(2)
            finally:
                traffic.stop()
        if bad:
            names = sorted(set(re.findall(r"distillguard_\w+", metrics)))
            fail(f"{len(bad)} checks failed ({n} panel queries and the dashboard's variables):\n  " + "\n  ".join(bad) +
                 "\n\nmetric names the gateway exports:\n  " + "\n  ".join(names))
        print(f"all {n} panel queries returned data")
    finally:
        if prom:
            prom.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
