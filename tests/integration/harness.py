"""Integration test harness for distillguard (python3 standard library only).

Real processes on loopback ports; nothing fixed, every port is chosen by the OS.

API (import with `sys.path.insert(0, <tests/integration>)`; `import harness`):

  dg_bin() -> str
      The distillguard binary: $DG_BIN, else ./build/server/distillguard.

  Gateway(upstream_url, config=None, tmpdir=None)
      `config` is a nested dict merged over a test default (listen and admin on
      port 0, state in a temp dir, storage under it, debug-free logs).
      .start(timeout=20)  starts `distillguard serve --config FILE`, waits for the
                          {"msg":"listening"} line; sets .proxy_port, .admin_port
      .stop(sig=SIGTERM, timeout=20) -> exit code (and asserts nothing)
      .logs() -> list of dicts (every JSON log line so far)
      .proc, .config_path, .dir
      usable as a context manager (stops on exit).

  MockUpstream()                       `distillguard mock-upstream` on a free port
      .start() / .stop(); .url, .port  (only if the mock command exists)

  FakeUpstream(handler)                a scriptable raw-socket HTTP/1.1 server
      handler(req, conn) is called for every request on every connection, where
      req is Request(method, target, headers {lower-case name: value}, body)
      and conn a socket; return False to close the connection afterwards.
      .accepts  number of TCP connections accepted
      .requests list of Request received
      .url, .port; .start() / .stop(); context manager.
      FakeUpstream(handler, tls=(cert_file, key_file)) speaks HTTPS (.url is https://).
      Ready-made handlers: respond_json(obj, status=200, headers=None),
      reset_connection (RST, no answer), garbage (not HTTP), slow(seconds, then),
      sse_stream(events, delay=0.0, gate=None, reset_after=None)

  refused_url() -> str                 an http:// URL where nothing listens

  request(port, method, path, body=None, headers=None, timeout=10) -> Response
      One HTTP/1.1 request on a fresh connection (Connection: close).
  raw_exchange(port, data, timeout=10, read_until_close=True) -> bytes
      Sends raw bytes, returns what came back.
  parse_response(raw) -> Response(status, headers, body); chunked bodies decoded.
  admin_get(gw, path) -> Response
  metric_value(text, name, labels=None) -> float | None  (Prometheus text format)
"""

import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import namedtuple

Request = namedtuple("Request", "method target headers body")
Response = namedtuple("Response", "status headers body")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def dg_bin():
    b = os.environ.get("DG_BIN")
    if b:
        return b
    return os.path.join(ROOT, "build", "server", "distillguard")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def refused_url():
    return "http://127.0.0.1:%d" % free_port()


# ---- config --------------------------------------------------------------------

def _merge(base, over):
    out = dict(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def to_yaml(obj, indent=0):
    """A small YAML emitter: JSON scalars are valid YAML scalars."""
    pad = "  " * indent
    lines = []
    for k, v in obj.items():
        if isinstance(v, dict):
            lines.append("%s%s:" % (pad, k))
            lines.append(to_yaml(v, indent + 1))
        elif isinstance(v, list):
            lines.append("%s%s: %s" % (pad, k, json.dumps(v)))
        else:
            lines.append("%s%s: %s" % (pad, k, json.dumps(v)))
    return "\n".join(l for l in lines if l)


class Gateway:
    def __init__(self, upstream_url, config=None, tmpdir=None):
        self.dir = tmpdir or tempfile.mkdtemp(prefix="dg-it-")
        state = os.path.join(self.dir, "state")
        base = {
            "listen": "127.0.0.1:0",
            "threads": 2,
            "state_dir": state,
            "upstream": {"url": upstream_url},
            "admin": {"listen": "127.0.0.1:0"},
            "storage": {"path": os.path.join(state, "db")},
            "shutdown": {"drain_ms": 5000},
        }
        self.config = _merge(base, config)
        self.config_path = os.path.join(self.dir, "distillguard.yaml")
        with open(self.config_path, "w") as f:
            f.write(to_yaml(self.config) + "\n")
        self.proc = None
        self.proxy_port = None
        self.admin_port = None
        self._lines = []
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._reader = None

    def start(self, timeout=20):
        self.proc = subprocess.Popen(
            [dg_bin(), "serve", "--config", self.config_path],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._listening.wait(timeout):
            self.proc.kill()
            raise RuntimeError("gateway did not start; log:\n" + "\n".join(map(str, self._raw())))
        return self

    def _raw(self):
        with self._lock:
            return list(self._lines)

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self._lines.append(line)
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("msg") == "listening":
                self.proxy_port = int(obj["proxy"].rsplit(":", 1)[1])
                self.admin_port = int(obj["admin"].rsplit(":", 1)[1])
                self._listening.set()

    def logs(self):
        out = []
        for line in self._raw():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"raw": line})
        return out

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "killed"

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


class MockUpstream:
    """`distillguard mock-upstream --listen 127.0.0.1:0`: the OS picks the port
    (no race with another test taking a port found free a moment earlier) and
    .port/.url are read from its "listening" log line once started."""

    def __init__(self, extra_args=None):
        self.port = None
        self.url = None
        self.extra = extra_args or []
        self.proc = None

    def start(self, timeout=20):
        self.proc = subprocess.Popen(
            [dg_bin(), "mock-upstream", "--listen", "127.0.0.1:0"] + self.extra,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        found = threading.Event()
        lines = []

        def read():
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace")
                if not found.is_set():
                    lines.append(line)
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if not found.is_set() and obj.get("msg") == "listening":
                    self.port = int(obj["mock_upstream"].rsplit(":", 1)[1])
                    self.url = "http://127.0.0.1:%d" % self.port
                    found.set()
            # Keeps draining stderr until the mock exits, so it never blocks on a full pipe.

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(timeout):
            self.proc.kill()
            raise RuntimeError("mock-upstream did not start (exit %s):\n%s"
                               % (self.proc.poll(), "".join(lines)))
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ---- the fake upstream -----------------------------------------------------------

def _read_request(conn, buf):
    """Reads one request from conn; returns (Request, rest) or (None, b'') at EOF."""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        k = k.strip().lower()
        headers[k] = (headers[k] + ", " + v.strip()) if k in headers else v.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        data = rest
        while True:
            while b"\r\n" not in data:
                data += conn.recv(65536)
            size_line, data = data.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(data) < size + 2:
                data += conn.recv(65536)
            body += data[:size]
            data = data[size + 2:]
            if size == 0:
                break
        rest = data
    else:
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
        body, rest = rest[:n], rest[n:]
    return Request(method, target, headers, body), rest


class FakeUpstream:
    def __init__(self, handler, tls=None):
        """tls: optional (cert_file, key_file): the fake speaks HTTPS."""
        self.handler = handler
        self.tls = None
        if tls:
            import ssl
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(tls[0], tls[1])
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.accepts = 0
        self.requests = []
        self.closed_by_peer = 0   # connections the gateway closed on us
        self._stop = False
        self._threads = []
        self._conns = []
        self._lock = threading.Lock()

    def start(self):
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept_loop(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.accepts += 1
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()

    def _serve(self, conn):
        buf = b""
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            while not self._stop:
                req, buf = _read_request(conn, buf)
                if req is None:
                    with self._lock:
                        self.closed_by_peer += 1
                    break
                with self._lock:
                    self.requests.append(req)
                if self.handler(req, conn) is False:
                    break
        except OSError:
            with self._lock:
                self.closed_by_peer += 1
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def respond_json(obj, status=200, headers=None):
    body = json.dumps(obj).encode()

    def handler(req, conn):
        extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        conn.sendall(("HTTP/1.1 %d OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
                      % (status, len(body), extra)).encode() + body)
        return True
    return handler


def reset_connection(req, conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()
    return False


def garbage(req, conn):
    conn.sendall(b"THIS IS NOT HTTP\r\n\r\n")
    return False


def slow(seconds, then):
    def handler(req, conn):
        time.sleep(seconds)
        try:
            return then(req, conn)
        except OSError:
            return False
    return handler


def sse_stream(events, delay=0.0, gate=None, reset_after=None):
    """Sends `events` (strings: each one's data) as a chunked text/event-stream.
    If `gate` (a threading.Event) is given, waits on it after the first event.
    If `reset_after` is an int, resets the connection after that many events."""
    def handler(req, conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i, data in enumerate(events):
            if reset_after is not None and i == reset_after:
                return reset_connection(req, conn)
            payload = ("data: %s\n\n" % data).encode()
            conn.sendall(b"%x\r\n%s\r\n" % (len(payload), payload))
            if i == 0 and gate is not None:
                gate.wait(30)
            elif delay:
                time.sleep(delay)
        conn.sendall(b"0\r\n\r\n")
        return True
    return handler


# ---- clients -----------------------------------------------------------------------

def _decode_chunked(data):
    out = b""
    while data:
        if b"\r\n" not in data:
            break
        size_line, data = data.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return out


def parse_response(raw):
    if b"\r\n\r\n" not in raw:
        return Response(0, {}, raw)
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        k = k.strip().lower()
        headers[k] = (headers[k] + ", " + v.strip()) if k in headers else v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _decode_chunked(body)
    elif "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return Response(status, headers, body)


def raw_exchange(port, data, timeout=10, read_until_close=True):
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        if data:
            s.sendall(data)
        out = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            r, _, _ = select.select([s], [], [], max(0.0, deadline - time.time()))
            if not r:
                break
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
            if not read_until_close:
                resp = parse_response(out)
                if resp.status and _complete(out):
                    break
        return out
    finally:
        s.close()


def _complete(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    h = head.lower()
    if b"transfer-encoding: chunked" in h:
        return body.endswith(b"0\r\n\r\n")
    for line in h.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def request(port, method, path, body=None, headers=None, timeout=10):
    hdrs = {"Host": "127.0.0.1", "Connection": "close"}
    if body is not None:
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs["Content-Length"] = str(len(body))
    hdrs.update(headers or {})
    head = "%s %s HTTP/1.1\r\n%s\r\n" % (method, path, "".join("%s: %s\r\n" % kv for kv in hdrs.items()))
    return parse_response(raw_exchange(port, head.encode() + (body or b""), timeout))


def admin_get(gw, path, timeout=10):
    return request(gw.admin_port, "GET", path, timeout=timeout)


def metric_value(text, name, labels=None):
    """The value of one series in Prometheus text, or None."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        if series == name and not labels:
            return float(value)
        if series.startswith(name + "{") and labels:
            inner = series[len(name) + 1:-1]
            got = dict(p.split("=", 1) for p in inner.split(",") if p)
            got = {k: v.strip('"') for k, v in got.items()}
            if all(got.get(k) == v for k, v in labels.items()):
                return float(value)
    return None
