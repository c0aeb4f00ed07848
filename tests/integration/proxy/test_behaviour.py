"""What passes through and what does not: hop-by-hop headers, X-Forwarded-*,
connection reuse towards the upstream, include_usage on streams, identity."""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness as h  # noqa: E402


def upstream_handler(req, conn):
    body = json.dumps({"id": "x", "choices": [],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 4}}).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: X-Resp-Hop\r\nX-Resp-Hop: 1\r\n"
                 b"Keep-Alive: timeout=5\r\nProxy-Thing: 1\r\nX-Request-Id: abc\r\n\r\n" % len(body) + body)
    return True


class Behaviour(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = h.FakeUpstream(upstream_handler).start()
        cls.gw = h.Gateway(cls.up.url, {"threads": 1, "log": {"access_log": True}}).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.gw.stop()
        cls.up.stop()
        assert code == 0, code

    def test_hop_by_hop_and_forwarded_headers(self):
        n = len(self.up.requests)
        raw = (b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: client.example\r\n"
               b"Connection: close, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\n"
               b"Upgrade: h2c\r\nProxy-Authorization: Basic Zm9v\r\nX-Forwarded-For: 6.6.6.6\r\n"
               b"X-Forwarded-Proto: https\r\nAuthorization: Bearer sk-test-0123456789abcdef\r\n"
               b"X-Custom: kept\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
               b'{"model":"m"}')
        r = h.parse_response(h.raw_exchange(self.gw.proxy_port, raw))
        self.assertEqual(r.status, 200)
        req = self.up.requests[n]
        self.assertEqual(req.target, "/v1/chat/completions?x=1")
        for gone in ("x-hop", "keep-alive", "te", "upgrade", "proxy-authorization"):
            self.assertNotIn(gone, req.headers)
        self.assertNotIn("close", req.headers.get("connection", ""))
        self.assertEqual(req.headers["x-forwarded-for"], "127.0.0.1")  # the client's value is not trusted
        self.assertEqual(req.headers["x-forwarded-proto"], "http")
        self.assertEqual(req.headers["authorization"], "Bearer sk-test-0123456789abcdef")
        self.assertEqual(req.headers["x-custom"], "kept")
        self.assertEqual(req.headers["host"], "127.0.0.1:%d" % self.up.port)
        self.assertEqual(req.body, b'{"model":"m"}')
        # The response's hop-by-hop headers are dropped too; the rest passes.
        self.assertNotIn("x-resp-hop", r.headers)
        self.assertNotIn("keep-alive", r.headers)
        self.assertNotIn("proxy-thing", r.headers)
        self.assertEqual(r.headers["x-request-id"], "abc")
        self.assertEqual(r.headers.get("connection"), "close")

    def test_upstream_connections_are_reused(self):
        before = self.up.accepts
        # One keep-alive client connection, then separate ones: all share the pool.
        s = socket.create_connection(("127.0.0.1", self.gw.proxy_port), 10)
        for _ in range(10):
            s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n")
            data = b""
            while not h._complete(data):
                data += s.recv(65536)
            self.assertEqual(h.parse_response(data).status, 200)
        s.close()
        for _ in range(10):
            self.assertEqual(h.request(self.gw.proxy_port, "GET", "/v1/models").status, 200)
        self.assertLessEqual(self.up.accepts - before, 1, "20 sequential requests opened %d upstream connections"
                             % (self.up.accepts - before))
        m = h.admin_get(self.gw, "/metrics").body.decode()
        self.assertGreaterEqual(h.metric_value(m, "distillguard_upstream_connections_reused_total"), 19)

    def test_streaming_request_gets_include_usage(self):
        n = len(self.up.requests)
        r = h.request(self.gw.proxy_port, "POST", "/v1/chat/completions",
                      {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True})
        self.assertEqual(r.status, 200)
        sent = json.loads(self.up.requests[n].body)
        self.assertEqual(sent["stream_options"], {"include_usage": True})
        self.assertEqual(list(sent)[:3], ["model", "messages", "stream"])  # order kept

    def test_non_streaming_body_is_untouched(self):
        n = len(self.up.requests)
        body = b'{"model":"m",  "stream": false}'
        r = h.request(self.gw.proxy_port, "POST", "/v1/chat/completions", body)
        self.assertEqual(r.status, 200)
        self.assertEqual(self.up.requests[n].body, body)

    def test_access_log_has_client_id_never_the_key(self):
        key = "sk-live-SECRETSECRET0123456789"
        r = h.request(self.gw.proxy_port, "GET", "/v1/models?q=1", headers={"Authorization": "Bearer " + key})
        self.assertEqual(r.status, 200)
        import time
        for _ in range(50):
            lines = [l for l in self.gw.logs() if l.get("msg") == "access" and l.get("path") == "/v1/models"]
            if lines:
                break
            time.sleep(0.05)
        self.assertTrue(lines)
        line = lines[-1]
        self.assertEqual(len(line["client"]), 32)
        self.assertEqual(line["hint"], "sk-...6789")
        for l in self.gw.logs():
            self.assertNotIn("SECRETSECRET", json.dumps(l))

    def test_admin_endpoints(self):
        self.assertEqual(h.admin_get(self.gw, "/healthz").status, 200)
        r = h.admin_get(self.gw, "/readyz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body.strip(), b"ready")
        h.request(self.gw.proxy_port, "POST", "/v1/chat/completions", {"model": "m"})
        m = h.admin_get(self.gw, "/metrics")
        self.assertEqual(m.status, 200)
        self.assertTrue(m.headers["content-type"].startswith("text/plain"))
        text = m.body.decode()
        self.assertGreaterEqual(h.metric_value(text, "distillguard_requests_total",
                                               {"route": "chat_completions", "status_class": "2xx"}), 1)
        for name in ("distillguard_request_duration_seconds_bucket", "distillguard_upstream_duration_seconds",
                     "distillguard_upstream_ttfb_seconds", "distillguard_requests_in_flight",
                     "distillguard_upstream_connections_opened_total", "distillguard_client_disconnects_total"):
            self.assertIn(name, text)
        self.assertEqual(h.admin_get(self.gw, "/nope").status, 404)


def echo_upstream(req, conn):
    """Answers with the request body it got."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(req.body), req.body))
    return True


class RequestBodies(unittest.TestCase):
    """The request body is parsed with the header when it came with it; the
    ways a body arrives later must still work."""

    @classmethod
    def setUpClass(cls):
        cls.up = h.FakeUpstream(echo_upstream).start()
        cls.gw = h.Gateway(cls.up.url, {"threads": 1}).start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.up.stop()

    def exchange(self, parts, pause=0.05):
        s = socket.create_connection(("127.0.0.1", self.gw.proxy_port), 10)
        data = b""
        try:
            for i, p in enumerate(parts):
                if i:
                    time.sleep(pause)
                s.sendall(p)
            while not h._complete(data):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        return data

    def test_body_with_the_header_that_looks_like_folding(self):
        # Pretty-printed JSON: CRLF CRLF followed by spaces inside the body is not header folding.
        body = b'{\r\n\r\n  "model": "m",\r\n\t"x": 1}'
        r = h.parse_response(self.exchange([b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
                                            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)]))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, body)

    def test_body_after_the_header(self):
        body = b'{"model": "m", "messages": []}'
        r = h.parse_response(self.exchange([b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
                                            b"Content-Length: %d\r\n\r\n" % len(body), body[:7], body[7:]]))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, body)

    def test_chunked_body_split_inside_a_chunk_header(self):
        chunks = [b'{"model":', b' "m",\r\n\r\n  "n": 1}']
        raw = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        cut = raw.index(b"\r\n", len(b"%x\r\n" % len(chunks[0])) + len(chunks[0]) + 2) - 1
        r = h.parse_response(self.exchange([head + raw[:cut], raw[cut:]]))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"".join(chunks))

    def test_expect_100_continue(self):
        body = b'{"model": "m"}'
        s = socket.create_connection(("127.0.0.1", self.gw.proxy_port), 10)
        try:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            s.settimeout(5)
            interim = s.recv(65536)
            self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim)
            s.sendall(body)
            data = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
            while not h._complete(data):
                data += s.recv(65536)
        finally:
            s.close()
        r = h.parse_response(data)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, body)


def closing_upstream(req, conn):
    """Answers with keep-alive implied (HTTP/1.1, no Connection: close), then
    closes: every pooled connection is dead a moment after it is released."""
    body = b'{"ok":true}'
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))
    return False


def trailing_bytes_upstream(req, conn):
    """Answers, then sends bytes that belong to no response (in the same write)."""
    body = b'{"ok":true}'
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 b"0\r\n\r\n" % (len(body), body))
    return True


BIG = bytes(range(256)) * (16 * 1024)  # 4 MiB: more than the socket buffers take at once


def big_upstream(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                 % len(BIG) + BIG)
    return True


class PooledConnections(unittest.TestCase):
    """The pool hands out a connection idle only a moment without looking at
    its socket; one the upstream closed meanwhile, or left out of step, must
    still never cost the client a request."""

    def run_sequential(self, handler, n=8):
        with h.FakeUpstream(handler) as up, h.Gateway(up.url, {"threads": 1}) as gw:
            s = socket.create_connection(("127.0.0.1", gw.proxy_port), 10)
            for i in range(n):
                s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json"
                          b"\r\nContent-Length: 13\r\n\r\n{\"model\":\"m\"}")
                data = b""
                while not h._complete(data):
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "the gateway closed the connection at request %d" % i)
                    data += chunk
                r = h.parse_response(data)
                self.assertEqual(r.status, 200, "request %d: %r" % (i, data[:200]))
                self.assertEqual(r.body, b'{"ok":true}')
            s.close()
            m = h.admin_get(gw, "/metrics").body.decode()
            self.assertEqual(h.metric_value(m, "distillguard_upstream_errors_total"), 0)
            return up

    def test_upstream_closing_after_each_response(self):
        up = self.run_sequential(closing_upstream)
        # Each request reached the upstream exactly once (a resend happens only
        # when the closed connection never got the request).
        self.assertEqual(len(up.requests), 8)

    def test_bytes_after_a_response_are_not_read_as_the_next(self):
        up = self.run_sequential(trailing_bytes_upstream)
        self.assertEqual(len(up.requests), 8)

    def test_large_response_to_a_slow_reader(self):
        # More than the sockets take at once: the gateway writes what the
        # client's socket takes and waits (asynchronously) for the rest.
        with h.FakeUpstream(big_upstream) as up, h.Gateway(up.url, {"threads": 1}) as gw:
            s = socket.create_connection(("127.0.0.1", gw.proxy_port), 20)
            for _ in range(2):  # the second on the same connections, after a partial write
                s.sendall(b"GET /v1/files/big HTTP/1.1\r\nHost: a\r\n\r\n")
                time.sleep(0.3)  # a slow reader: the gateway's writes fill the socket buffers
                data = bytearray()
                head_end, length = -1, None
                while length is None or len(data) < head_end + 4 + length:
                    chunk = s.recv(1 << 20)
                    self.assertTrue(chunk, "closed after %d bytes" % len(data))
                    data += chunk
                    if length is None and b"\r\n\r\n" in data:
                        head_end = data.index(b"\r\n\r\n")
                        length = h.parse_response(bytes(data[:head_end + 4])).headers.get("content-length")
                        length = int(length)
                r = h.parse_response(bytes(data))
                self.assertEqual(r.status, 200)
                self.assertEqual(len(r.body), len(BIG))
                self.assertTrue(r.body == BIG, "the body changed on the way")
            s.close()

if __name__ == "__main__":
    unittest.main()
