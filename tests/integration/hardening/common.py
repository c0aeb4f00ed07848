"""Helpers shared by the hardening tests (python3 stdlib only), on top of
tests/integration/harness.py."""

import json
import os
import socket
import time

import harness as h


def error_of(resp):
    """The OpenAI-shaped error of a response (asserts the shape)."""
    body = json.loads(resp.body)
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    return err


def exchange(port, raw, timeout=5.0, shut_write=False):
    """Sends raw bytes on one connection and reads until the peer closes or
    `timeout` passes. Returns (bytes, closed_by_peer)."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        s.sendall(raw)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        data = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            s.settimeout(max(0.05, deadline - time.time()))
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return data, True
            except socket.timeout:
                return data, False
            if not chunk:
                return data, True
            data += chunk
        return data, False
    finally:
        s.close()


def split_responses(raw):
    """Splits a byte stream of HTTP/1.1 responses (Content-Length or chunked)
    into a list of harness.Response."""
    out = []
    while raw:
        if b"\r\n\r\n" not in raw:
            break
        head, rest = raw.split(b"\r\n\r\n", 1)
        resp = h.parse_response(head + b"\r\n\r\n")
        hdrs = resp.headers
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            end = rest.find(b"0\r\n\r\n")
            body_raw, raw = rest[:end + 5], rest[end + 5:]
            body = h._decode_chunked(body_raw)  # noqa: SLF001 (the harness's own decoder)
        else:
            n = int(hdrs.get("content-length", "0"))
            body, raw = rest[:n], rest[n:]
        out.append(h.Response(resp.status, hdrs, body))
    return out


def metrics(gw):
    return h.admin_get(gw, "/metrics").body.decode()


def wait_metric(gw, name, want, labels=None, timeout=5.0, cmp=lambda got, want: got == want):
    """Polls /metrics until `name` satisfies cmp(value, want); returns the last value."""
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        value = h.metric_value(metrics(gw), name, labels)
        if value is not None and cmp(value, want):
            return value
        time.sleep(0.05)
    return value


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_fds_at_most(pid, limit, timeout=10.0):
    deadline = time.time() + timeout
    n = open_fds(pid)
    while time.time() < deadline and n > limit:
        time.sleep(0.1)
        n = open_fds(pid)
    return n


def alive(gw):
    """The gateway process runs and answers /healthz."""
    assert gw.proc.poll() is None, "the gateway exited with %s" % gw.proc.returncode
    return h.admin_get(gw, "/healthz").status == 200
