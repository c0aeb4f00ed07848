"""What passes through and what does not: hop-by-hop headers, X-Forwarded-*,
connection reuse towards the upstream, include_usage on streams, identity."""
import json
import os
import socket
import sys
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


if __name__ == "__main__":
    unittest.main()
