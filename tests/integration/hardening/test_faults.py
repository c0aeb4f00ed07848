"""Upstream faults with real processes: an upstream that drips, sends headers
that never end or are too large, garbage in the middle of a body, or resets
in the middle of a JSON body. Each time the client gets a clean error (an
OpenAI-shaped 502/504) or a cleanly ended stream, the gateway lives on, and
nothing leaks: file descriptors and in-flight requests return to their
baseline.

Covered elsewhere and not repeated: refused/reset/garbage before the header,
504 timeouts, reset mid-SSE-stream, client disconnect mid-stream
(tests/integration/proxy/)."""

import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from common import alive, error_of, exchange, open_fds, wait_fds_at_most, wait_metric  # noqa: E402


def drip(data, interval):
    """Sends `data` one byte at a time, `interval` seconds apart."""
    def handler(req, conn):
        for i in range(len(data)):
            conn.sendall(data[i:i + 1])
            time.sleep(interval)
        return True
    return handler


def send_then(data, then=None):
    def handler(req, conn):
        conn.sendall(data)
        if then:
            return then(req, conn)
        return False
    return handler


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


class UpstreamFaults(unittest.TestCase):
    def gateway(self, up, **limits):
        cfg = {"upstream": {"response_timeout_ms": limits.get("response_timeout_ms", 3000),
                            "idle_timeout_ms": limits.get("idle_timeout_ms", 3000)}}
        return h.Gateway(up.url, cfg)

    def settle(self, gw, baseline_fds):
        self.assertEqual(wait_metric(gw, "distillguard_requests_in_flight", 0, timeout=10), 0,
                         "a request is left in flight")
        n = wait_fds_at_most(gw.proc.pid, baseline_fds)
        self.assertLessEqual(n, baseline_fds, "file descriptors leaked: %d > %d" % (n, baseline_fds))
        self.assertTrue(alive(gw))

    def test_drip_one_byte_a_second_body_arrives_as_it_comes(self):
        body = b'{"choices":[{"message":{"content":"ok"}}]}'
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        payload = body[:4]  # the first bytes only: a drip that goes on far longer than the test

        def handler(req, conn):
            conn.sendall(head)
            for i in range(len(payload)):
                conn.sendall(payload[i:i + 1])
                time.sleep(1.0)
            time.sleep(30)  # never finishes; the gateway's idle timeout cuts it
            return False

        with h.FakeUpstream(handler) as up, self.gateway(up, idle_timeout_ms=2500) as gw:
            base = open_fds(gw.proc.pid)
            s = socket.create_connection(("127.0.0.1", gw.proxy_port), 30)
            req = json.dumps(CHAT).encode()
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(req), req))
            got = b""
            t0 = time.time()
            first_body_byte_at = None
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
                if first_body_byte_at is None and b"\r\n\r\n" in got and got.split(b"\r\n\r\n", 1)[1]:
                    first_body_byte_at = time.time() - t0
            s.close()
            self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:200])
            # The bytes that came were relayed before the upstream ended, not held back...
            self.assertIsNotNone(first_body_byte_at)
            self.assertLess(first_body_byte_at, 2.5)
            # ...and the stalled body was cut: the client saw the connection end short of Content-Length.
            self.assertLess(len(got.split(b"\r\n\r\n", 1)[1]), len(body))
            self.settle(gw, base)

    def test_drip_sse_one_byte_a_second_ends_cleanly(self):
        events = b"data: {\"n\":1}\n\ndata: [DONE]\n\n"
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n" % len(events)
        with h.FakeUpstream(send_then(head, drip(events, 0.1))) as up, self.gateway(up) as gw:
            base = open_fds(gw.proc.pid)
            r = h.request(gw.proxy_port, "POST", "/v1/chat/completions", dict(CHAT, stream=True), timeout=30)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, events)
            self.settle(gw, base)

    def test_header_that_never_ends_is_a_504(self):
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Drip: " + b"a" * 100
        with h.FakeUpstream(drip(head, 0.2)) as up, self.gateway(up, response_timeout_ms=1500) as gw:
            base = open_fds(gw.proc.pid)
            t0 = time.time()
            r = h.request(gw.proxy_port, "POST", "/v1/chat/completions", CHAT, timeout=20)
            self.assertEqual(r.status, 504, r)
            error_of(r)
            self.assertLess(time.time() - t0, 10)
            self.settle(gw, base)

    def test_oversized_upstream_header_is_a_502(self):
        head = b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * (200 * 1024) + b"\r\nContent-Length: 2\r\n\r\n{}"
        with h.FakeUpstream(send_then(head)) as up, self.gateway(up) as gw:
            base = open_fds(gw.proc.pid)
            r = h.request(gw.proxy_port, "POST", "/v1/chat/completions", CHAT, timeout=20)
            self.assertEqual(r.status, 502, r)
            error_of(r)
            self.settle(gw, base)

    def test_many_upstream_headers_is_a_502(self):
        head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(20000)) + \
            b"Content-Length: 2\r\n\r\n{}"
        with h.FakeUpstream(send_then(head)) as up, self.gateway(up) as gw:
            r = h.request(gw.proxy_port, "POST", "/v1/chat/completions", CHAT, timeout=20)
            self.assertEqual(r.status, 502, r)
            self.assertTrue(alive(gw))

    def test_garbage_in_chunked_body_ends_the_stream(self):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        ev = b"data: {\"n\":1}\n\n"
        bad = head + b"%x\r\n%s\r\n" % (len(ev), ev) + b"zzzz\r\nNOT A CHUNK\r\n"
        with h.FakeUpstream(send_then(bad)) as up, self.gateway(up) as gw:
            base = open_fds(gw.proc.pid)
            req = b'{"model":"m","stream":true}'
            raw, closed = exchange(gw.proxy_port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
                                   b"Content-Length: %d\r\n\r\n%s" % (len(req), req), timeout=10)
            self.assertTrue(raw.startswith(b"HTTP/1.1 200"), raw[:200])
            self.assertIn(b"data: {\"n\":1}", raw)
            self.assertTrue(closed, "the stream must end")
            # A stream the upstream broke is ended cleanly: the terminal chunk, after an error event.
            self.assertTrue(raw.endswith(b"0\r\n\r\n"), raw[-200:])
            self.settle(gw, base)

    def test_reset_mid_json_body(self):
        body = b'{"choices":[{"message":{"content":"' + b"x" * 5000 + b'"}}]}'
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        with h.FakeUpstream(send_then(head + body[:1000], h.reset_connection)) as up, self.gateway(up) as gw:
            base = open_fds(gw.proc.pid)
            raw, closed = exchange(gw.proxy_port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
                                   b"Content-Length: 2\r\n\r\n{}", timeout=10)
            self.assertTrue(closed)
            # Either a 502 (nothing was sent yet) or a 200 cut short of its Content-Length: never a whole body.
            if raw.startswith(b"HTTP/1.1 200"):
                self.assertLess(len(raw.split(b"\r\n\r\n", 1)[1]), len(body))
            else:
                self.assertTrue(raw.startswith(b"HTTP/1.1 502"), raw[:200])
            self.settle(gw, base)

    def test_gateway_survives_a_burst_of_faults(self):
        kinds = [h.reset_connection, h.garbage, send_then(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab"),
                 send_then(b"HTTP/1.1 999 Weird\r\nContent-Length: 0\r\n\r\n"),
                 send_then(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc"),
                 h.respond_json({"ok": True})]
        counter = {"n": 0}
        lock = threading.Lock()

        def handler(req, conn):
            with lock:
                k = kinds[counter["n"] % len(kinds)]
                counter["n"] += 1
            return k(req, conn)

        with h.FakeUpstream(handler) as up, self.gateway(up) as gw:
            base = open_fds(gw.proc.pid)
            statuses = []
            threads = []

            def client():
                for _ in range(10):
                    r = h.request(gw.proxy_port, "POST", "/v1/chat/completions", CHAT, timeout=20)
                    statuses.append(r.status)
            for _ in range(6):
                t = threading.Thread(target=client)
                t.start()
                threads.append(t)
            for t in threads:
                t.join()
            self.assertEqual(len(statuses), 60)
            self.assertIn(200, statuses)
            self.assertTrue(set(statuses) <= {0, 200, 502, 999}, sorted(set(statuses)))
            self.settle(gw, base)


class StreamFramingOnKeepAlive(unittest.TestCase):
    """Several streamed responses on one keep-alive connection: each ends with
    exactly one terminal chunk, and the next response starts right after it.
    (A stray byte between two responses breaks every HTTP client that reuses
    connections: the SDKs' pools do.)"""

    def check(self, upstream_url, body):
        with h.Gateway(upstream_url) as gw:
            s = socket.create_connection(("127.0.0.1", gw.proxy_port), 20)
            req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            buf = b""
            for i in range(3):
                s.sendall(req)
                while b"0\r\n\r\n" not in buf.split(b"\r\n\r\n", 1)[-1] or b"\r\n\r\n" not in buf:
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "closed during response %d" % i)
                    buf += chunk
                self.assertTrue(buf.startswith(b"HTTP/1.1 200"), (i, buf[:120]))
                head, rest = buf.split(b"\r\n\r\n", 1)
                self.assertIn(b"transfer-encoding: chunked", head.lower())
                # Walk the chunks to the terminal one; what follows belongs to the next response.
                while True:
                    while b"\r\n" not in rest:
                        rest += s.recv(65536)
                    size_line, rest = rest.split(b"\r\n", 1)
                    size = int(size_line.split(b";")[0], 16)
                    while len(rest) < size + 2:
                        rest += s.recv(65536)
                    rest = rest[size + 2:]
                    if size == 0:
                        break
                # Nothing may follow until the next request is sent.
                s.settimeout(0.3)
                try:
                    extra = s.recv(65536)
                except socket.timeout:
                    extra = b""
                s.settimeout(20)
                self.assertEqual(rest + extra, b"", "bytes after response %d's terminal chunk" % i)
                buf = b""
            s.close()

    def test_mock_upstream_stream(self):
        body = json.dumps({"model": "m", "stream": True, "max_tokens": 16,
                           "messages": [{"role": "user", "content": "hi"}]}).encode()
        with h.MockUpstream() as up:
            self.check(up.url, body)

    def test_fake_upstream_sse(self):
        events = ['{"choices":[{"index":0,"delta":{"content":"w%d "}}]}' % i for i in range(5)] + ["[DONE]"]
        with h.FakeUpstream(h.sse_stream(events)) as up:
            self.check(up.url, b'{"model":"m","stream":true}')


if __name__ == "__main__":
    unittest.main()
