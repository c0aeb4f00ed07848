"""Every error the gateway answers by itself: status, OpenAI-shaped JSON body,
and whether the connection is closed afterwards."""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness as h  # noqa: E402


def error_of(resp):
    body = json.loads(resp.body)
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert err["param"] is None
    return err


class FramingAndLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = h.FakeUpstream(h.respond_json({"ok": True})).start()
        cls.gw = h.Gateway(cls.up.url, {
            "limits": {"max_body_bytes": 1024, "max_header_bytes": 2048, "header_timeout_ms": 600},
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.assertEqual = unittest.TestCase.assertEqual
        code = cls.gw.stop()
        cls.up.stop()
        assert code == 0, code

    def exchange(self, raw, timeout=5):
        """Sends raw bytes on a keep-alive connection; returns (response, closed)."""
        s = socket.create_connection(("127.0.0.1", self.gw.proxy_port), timeout)
        s.sendall(raw)
        data = b""
        closed = False
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                closed = True
                break
            except socket.timeout:
                break
            if not chunk:
                closed = True
                break
            data += chunk
        s.close()
        return h.parse_response(data), closed

    def test_ok_passes(self):
        r = h.request(self.gw.proxy_port, "POST", "/v1/chat/completions", {"model": "m"})
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body), {"ok": True})

    def test_413_body_too_large_by_content_length(self):
        body = b"x" * 5000
        raw = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + body)
        r, closed = self.exchange(raw)
        self.assertEqual(r.status, 413)
        self.assertEqual(error_of(r)["code"], "request_too_large")
        self.assertTrue(closed)

    def test_413_chunked_body_too_large(self):
        chunk = b"x" * 800
        raw = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 3 + b"0\r\n\r\n")
        r, closed = self.exchange(raw)
        self.assertEqual(r.status, 413)
        self.assertTrue(closed)

    def test_431_headers_too_large(self):
        raw = b"GET /v1/models HTTP/1.1\r\nHost: a\r\nX-Big: " + b"y" * 4000 + b"\r\n\r\n"
        r, closed = self.exchange(raw)
        self.assertEqual(r.status, 431)
        self.assertEqual(error_of(r)["type"], "invalid_request_error")
        self.assertTrue(closed)

    def test_431_many_headers(self):
        raw = b"GET /v1/models HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(10000)) + b"\r\n"
        r, closed = self.exchange(raw)
        self.assertEqual(r.status, 431)
        self.assertTrue(closed)

    def smuggle(self, head, body=b"hello"):
        r, closed = self.exchange(head + b"\r\n" + body)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(error_of(r)["code"], "bad_request")
        self.assertTrue(closed, "the connection must be closed after ambiguous framing")

    def test_400_content_length_and_transfer_encoding(self):
        self.smuggle(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                     b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n")

    def test_400_transfer_encoding_then_content_length(self):
        self.smuggle(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Length: 5\r\n", b"0\r\n\r\n")

    def test_400_two_equal_content_lengths(self):
        self.smuggle(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n")

    def test_400_two_different_content_lengths(self):
        self.smuggle(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n")

    def test_400_content_length_list(self):
        self.smuggle(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n")

    def test_400_unknown_transfer_encoding(self):
        self.smuggle(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n",
                     b"0\r\n\r\n")

    def test_400_invalid_chunk_size(self):
        self.smuggle(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n",
                     b"zz\r\nhello\r\n0\r\n\r\n")

    def test_400_obsolete_line_folding(self):
        self.smuggle(b"GET /v1/models HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n", b"")

    def test_400_garbage_request_line(self):
        r, closed = self.exchange(b"\x16\x03\x01 not http at all\r\n\r\n")
        self.assertEqual(r.status, 400)
        self.assertTrue(closed)

    def test_408_slowloris(self):
        s = socket.create_connection(("127.0.0.1", self.gw.proxy_port), 5)
        s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: a\r\n")
        for _ in range(3):  # trickle a header byte now and then, never finishing
            time.sleep(0.25)
            try:
                s.sendall(b"X")
            except OSError:
                break
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
        s.close()
        r = h.parse_response(data)
        self.assertEqual(r.status, 408)
        self.assertEqual(error_of(r)["code"], "request_timeout")


class UpstreamFailures(unittest.TestCase):
    def run_one(self, upstream_url, config=None, path="/v1/chat/completions"):
        gw = h.Gateway(upstream_url, config).start()
        try:
            return h.request(gw.proxy_port, "POST", path, {"model": "m", "messages": []}, timeout=15)
        finally:
            self.assertEqual(gw.stop(), 0)

    def test_502_refused(self):
        r = self.run_one(h.refused_url())
        self.assertEqual(r.status, 502)
        self.assertEqual(error_of(r)["type"], "upstream_error")

    def test_502_reset(self):
        with h.FakeUpstream(h.reset_connection) as up:
            r = self.run_one(up.url)
        self.assertEqual(r.status, 502)

    def test_502_garbage(self):
        with h.FakeUpstream(h.garbage) as up:
            r = self.run_one(up.url)
        self.assertEqual(r.status, 502)
        self.assertIn("invalid response", error_of(r)["message"])

    def test_504_response_timeout(self):
        with h.FakeUpstream(h.slow(3, h.respond_json({}))) as up:
            t0 = time.time()
            r = self.run_one(up.url, {"upstream": {"response_timeout_ms": 300}})
        self.assertEqual(r.status, 504)
        self.assertEqual(error_of(r)["code"], "gateway_timeout")
        self.assertLess(time.time() - t0, 10)

    def test_504_connect_timeout(self):
        # A listener whose accept queue is full drops further SYNs: connect hangs.
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(0)
        port = lst.getsockname()[1]
        fillers = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(c)
        time.sleep(0.2)
        try:
            r = self.run_one("http://127.0.0.1:%d" % port, {"upstream": {"connect_timeout_ms": 300}})
        finally:
            for c in fillers:
                c.close()
            lst.close()
        self.assertEqual(r.status, 504, r)


if __name__ == "__main__":
    unittest.main()
