"""Server-sent events go through event by event; a client that leaves
mid-stream gets its upstream connection closed; an upstream that fails
mid-stream ends the stream with an error event."""
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness as h  # noqa: E402

STREAM_REQ = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n")


def open_stream(port, body=b'{"model":"m","stream":true}'):
    s = socket.create_connection(("127.0.0.1", port), 15)
    s.sendall(STREAM_REQ % len(body) + body)
    return s


def read_until(s, marker, timeout=10):
    s.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class Streaming(unittest.TestCase):
    def test_first_event_arrives_before_upstream_finishes(self):
        gate = threading.Event()
        events = ['{"choices":[{"delta":{"content":"first"}}]}', '{"choices":[{"delta":{"content":"second"}}]}',
                  '{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}', "[DONE]"]
        with h.FakeUpstream(h.sse_stream(events, gate=gate)) as up, h.Gateway(up.url) as gw:
            s = open_stream(gw.proxy_port)
            first = read_until(s, b"first")
            self.assertIn(b"first", first, "the first event must arrive while the upstream is still open")
            self.assertFalse(gate.is_set())
            self.assertIn(b"text/event-stream", first)
            gate.set()
            rest = read_until(s, b"0\r\n\r\n")
            s.close()
            self.assertIn(b"second", rest)
            self.assertIn(b"[DONE]", rest)
            sent = json.loads(up.requests[0].body)
            self.assertTrue(sent["stream_options"]["include_usage"])

    def test_streams_back_to_back_on_one_connection(self):
        events = ['{"n":%d}' % i for i in range(5)] + ["[DONE]"]
        with h.FakeUpstream(h.sse_stream(events)) as up, h.Gateway(up.url) as gw:
            s = socket.create_connection(("127.0.0.1", gw.proxy_port), 10)
            body = b'{"stream":true}'
            for i in range(3):
                s.sendall(STREAM_REQ % len(body) + body)
                data = read_until(s, b"[DONE]\n\n\r\n0\r\n\r\n")
                self.assertTrue(data.endswith(b"[DONE]\n\n\r\n0\r\n\r\n"), data[-80:])
                # Nothing may follow the terminal chunk (a second one would
                # be read as the start of the next response).
                s.settimeout(0.3)
                try:
                    extra = s.recv(100)
                except socket.timeout:
                    extra = b""
                self.assertEqual(extra, b"", "bytes after response %d" % i)
                self.assertEqual(h.parse_response(data).status, 200)
            s.close()

    def test_client_disconnect_closes_upstream(self):
        events = ['{"n":%d}' % i for i in range(200)]
        with h.FakeUpstream(h.sse_stream(events, delay=0.05)) as up, h.Gateway(up.url) as gw:
            s = open_stream(gw.proxy_port)
            read_until(s, b'{"n":1}')
            s.close()
            deadline = time.time() + 10
            while time.time() < deadline and up.closed_by_peer == 0:
                time.sleep(0.05)
            self.assertGreaterEqual(up.closed_by_peer, 1, "the upstream connection must be closed")
            deadline = time.time() + 5
            value = 0
            while time.time() < deadline:
                m = h.admin_get(gw, "/metrics").body.decode()
                value = h.metric_value(m, "distillguard_client_disconnects_total") or 0
                if value >= 1:
                    break
                time.sleep(0.05)
            self.assertGreaterEqual(value, 1)
            # The gateway lives on.
            self.assertEqual(h.admin_get(gw, "/healthz").status, 200)

    def test_upstream_reset_mid_stream_ends_with_error_event(self):
        events = ['{"n":%d}' % i for i in range(10)]
        with h.FakeUpstream(h.sse_stream(events, delay=0.02, reset_after=3)) as up, h.Gateway(up.url) as gw:
            raw = h.raw_exchange(gw.proxy_port, STREAM_REQ % 2 + b"{}", timeout=10)
            r = h.parse_response(raw)
            self.assertEqual(r.status, 200)
            self.assertIn(b'{"n":2}', r.body)
            self.assertTrue(raw.endswith(b"0\r\n\r\n"), "the stream ends cleanly")
            last = [l for l in r.body.split(b"\n\n") if l.strip()][-1]
            self.assertTrue(last.startswith(b"data: "))
            err = json.loads(last[6:])["error"]
            self.assertEqual(err["type"], "upstream_error")


if __name__ == "__main__":
    unittest.main()
