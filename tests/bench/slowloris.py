#!/usr/bin/env python3
"""Slowloris benchmark: do 2,000 connections that trickle their headers starve
honest clients?

Starts mock-upstream and the gateway (shadow mode, as the other benchmarks),
then measures honest traffic twice, side by side:
  1. without the attack;
  2. while N attacker connections each send a request line and then one more
     header byte every few seconds, never finishing; when the gateway closes
     one (its header timeout: 408), the attacker opens another at once, so
     the pressure stays at N.
Honest traffic is (a) wrk with keep-alive connections (tests/bench/chat_post.lua)
and (b) a probe that opens a fresh connection for every request (what an
attack on accept() and connection slots would hurt first). Prints p50/p99 of
both, with and without, and the attack's own counts. Not a test: it prints
figures and asserts nothing about speed.

usage: slowloris.py [--connections 2000] [--seconds 20] [--header-timeout-ms 10000]
env: BUILD_DIR (default build) or DG (the distillguard binary).
"""

import argparse
import json
import os
import random
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def dg_binary():
    if os.environ.get("DG"):
        return os.environ["DG"]
    return os.path.join(ROOT, os.environ.get("BUILD_DIR", "build"), "server", "distillguard")


def wait_listening(proc, log_path, key, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("process exited early; log:\n" + open(log_path).read())
        with open(log_path) as f:
            for line in f:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if obj.get("msg") == "listening" and key in obj:
                    return obj[key]
        time.sleep(0.1)
    sys.exit("no listening line in " + log_path)


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Slowloris(threading.Thread):
    """Keeps `n` connections open, each trickling an endless header."""

    def __init__(self, addr, n, byte_interval):
        super().__init__(daemon=True)
        self.addr = addr
        self.n = n
        self.byte_interval = byte_interval
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.open = 0
        self.opened = 0
        self.closed_by_gateway = 0
        self.got_408 = 0
        self.connect_failures = 0

    def connect_one(self):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex(self.addr)
        except OSError:
            self.connect_failures += 1
            s.close()
            return
        state = {"next": time.time() + random.uniform(0, self.byte_interval), "sent": 0, "started": False}
        self.sel.register(s, selectors.EVENT_READ, state)
        self.open += 1
        self.opened += 1

    def drop(self, s):
        self.sel.unregister(s)
        s.close()
        self.open -= 1

    def run(self):
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: victim\r\n"
        trickle = b"X-Slow-%d: " % random.randint(0, 9999) + b"a" * 64
        while self.open < self.n:
            self.connect_one()
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.05):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if data.startswith(b"HTTP/1.1 408"):
                    self.got_408 += 1
                self.closed_by_gateway += 1
                self.drop(s)
            now = time.time()
            for key in list(self.sel.get_map().values()):
                st = key.data
                if st["next"] > now:
                    continue
                s = key.fileobj
                try:
                    if not st["started"]:
                        s.send(head)
                        st["started"] = True
                    else:
                        s.send(trickle[st["sent"] % len(trickle):][:1])
                        st["sent"] += 1
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    self.closed_by_gateway += 1
                    self.drop(s)
                    continue
                st["next"] = now + self.byte_interval
            while self.open < self.n and not self.stop.is_set():
                self.connect_one()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()


class FreshConnectionProbe(threading.Thread):
    """One honest request on a new connection every `interval` seconds."""

    def __init__(self, addr, interval=0.05):
        super().__init__(daemon=True)
        self.addr = addr
        self.interval = interval
        self.stop = threading.Event()
        self.latencies = []
        self.errors = 0

    def run(self):
        body = json.dumps({"model": "gpt-4o-mini", "max_tokens": 32,
                           "messages": [{"role": "user", "content": "Say hello to the probe."}]}).encode()
        req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: probe\r\nContent-Type: application/json\r\n"
               b"Authorization: Bearer sk-probe-0001\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
               % (len(body), body))
        while not self.stop.is_set():
            t0 = time.time()
            try:
                s = socket.create_connection(self.addr, timeout=15)
                s.sendall(req)
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                s.close()
                if not data.startswith(b"HTTP/1.1 200"):
                    self.errors += 1
                else:
                    self.latencies.append((time.time() - t0) * 1000)
            except OSError:
                self.errors += 1
            time.sleep(max(0.0, self.interval - (time.time() - t0)))


def run_wrk(addr, seconds, connections):
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", "%ds" % seconds, "--latency",
                          "-s", os.path.join(HERE, "chat_post.lua"), "http://%s:%d" % addr],
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    sys.exit("wrk printed no RESULT line:\n" + out.stdout + out.stderr)


def honest_phase(addr, seconds, wrk_connections):
    probe = FreshConnectionProbe(addr)
    probe.start()
    wrk = run_wrk(addr, seconds, wrk_connections)
    probe.stop.set()
    probe.join()
    return wrk, probe


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--wrk-connections", type=int, default=16)
    ap.add_argument("--byte-interval", type=float, default=2.0, help="seconds between trickled bytes")
    ap.add_argument("--header-timeout-ms", type=int, default=10000)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * args.connections + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by the gateway too
    if want < 2 * args.connections + 256:
        sys.exit("RLIMIT_NOFILE hard limit %d is too low for %d connections" % (hard, args.connections))

    dg = dg_binary()
    if not os.access(dg, os.X_OK):
        sys.exit("no distillguard binary at %s (set BUILD_DIR or DG)" % dg)
    tmp = tempfile.mkdtemp(prefix="dg-slowloris-")
    procs = []
    try:
        mock_log = os.path.join(tmp, "mock.log")
        mock = subprocess.Popen([dg, "mock-upstream", "--listen", "127.0.0.1:0", "--threads", "1"],
                                stderr=open(mock_log, "w"))
        procs.append(mock)
        mock_addr = wait_listening(mock, mock_log, "mock_upstream")
        cfg = os.path.join(tmp, "distillguard.yaml")
        with open(cfg, "w") as f:
            f.write("listen: 127.0.0.1:0\nthreads: 2\nstate_dir: %s/state\nupstream:\n  url: http://%s\n"
                    "admin:\n  listen: 127.0.0.1:0\nstorage:\n  path: %s/db\nlimits:\n  header_timeout_ms: %d\n"
                    "policy:\n  mode: shadow\n" % (tmp, mock_addr, tmp, args.header_timeout_ms))
        gw_log = os.path.join(tmp, "gateway.log")
        gw = subprocess.Popen([dg, "serve", "--config", cfg], stderr=open(gw_log, "w"))
        procs.append(gw)
        host, port = wait_listening(gw, gw_log, "proxy").rsplit(":", 1)
        addr = (host, int(port))

        run_wrk(addr, 3, args.wrk_connections)  # warm-up
        base_wrk, base_probe = honest_phase(addr, args.seconds, args.wrk_connections)

        attack = Slowloris(addr, args.connections, args.byte_interval)
        attack.start()
        deadline = time.time() + 30
        while attack.opened < args.connections and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        open_at_start = attack.open
        att_wrk, att_probe = honest_phase(addr, args.seconds, args.wrk_connections)
        open_at_end = attack.open
        attack.stop.set()
        attack.join()
        rss = int([l.split()[1] for l in open("/proc/%d/status" % gw.pid) if l.startswith("VmRSS:")][0])

        def row(name, wrk, probe):
            errors = wrk["errors_connect"] + wrk["errors_read"] + wrk["errors_write"] + wrk["errors_status"] + \
                wrk["errors_timeout"]
            return ("%-22s %9.1f %9.2f %9.2f %7d   %9.2f %9.2f %6d %7d"
                    % (name, wrk["rps"], wrk["p50_ms"], wrk["p99_ms"], errors, percentile(probe.latencies, 50),
                       percentile(probe.latencies, 99), len(probe.latencies), probe.errors))

        print()
        print("slowloris: %d attacker connections trickling a header byte every %.1fs; gateway header timeout %d ms"
              % (args.connections, args.byte_interval, args.header_timeout_ms))
        print("%-22s %9s %9s %9s %7s   %9s %9s %6s %7s" % ("", "wrk rps", "p50 ms", "p99 ms", "errors",
                                                          "new-conn", "p99 ms", "reqs", "errors"))
        print("%-22s %9s %9s %9s %7s   %9s %9s %6s %7s" % ("", "", "", "", "", "p50 ms", "", "", ""))
        print(row("without slowloris", base_wrk, base_probe))
        print(row("with slowloris", att_wrk, att_probe))
        print("attack: %d connections opened in all, %d open when honest traffic started, %d at its end; "
              "%d closed by the gateway (%d with a 408); %d connect failures"
              % (attack.opened, open_at_start, open_at_end, attack.closed_by_gateway, attack.got_408,
                 attack.connect_failures))
        print("honest p99 ratio with/without: wrk %.2fx, new connections %.2fx; gateway RSS after: %.1f MiB"
              % (att_wrk["p99_ms"] / max(base_wrk["p99_ms"], 1e-9),
                 percentile(att_probe.latencies, 99) / max(percentile(base_probe.latencies, 99), 1e-9),
                 rss / 1024.0))
        print("RESULT " + json.dumps({"connections": args.connections, "without": {
            "wrk": base_wrk, "probe_p99_ms": percentile(base_probe.latencies, 99), "probe_errors": base_probe.errors},
            "with": {"wrk": att_wrk, "probe_p99_ms": percentile(att_probe.latencies, 99),
                     "probe_errors": att_probe.errors},
            "attack": {"opened": attack.opened, "closed_by_gateway": attack.closed_by_gateway,
                       "got_408": attack.got_408}}))
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
