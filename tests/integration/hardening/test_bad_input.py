"""Bad input from clients, against the real gateway in front of a fake
upstream that records what reaches it.

What tests/integration/proxy/test_errors.py already proves (one 400/413/431
per basic smuggling shape, 10,000 headers, slowloris 408) is not repeated.
Here the question is the one an attacker asks: can any framing trick make the
upstream see a request the gateway did not answer for, or a body other than
the one the gateway read? And: does any body, however strange, crash the
gateway or its analyzer?
"""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from common import alive, error_of, exchange, split_responses, wait_metric  # noqa: E402

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"


def echo_handler(req, conn):
    """Answers every request with what it received, as JSON."""
    body = json.dumps({"method": req.method, "target": req.target,
                       "body": req.body.decode("latin-1")}).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))
    return True


class Smuggling(unittest.TestCase):
    """Each shape is either refused with 400 (and the connection closed, so
    nothing after it is read), or read as exactly one request whose body the
    upstream receives intact. The upstream never sees /smuggled."""

    @classmethod
    def setUpClass(cls):
        cls.up = h.FakeUpstream(echo_handler).start()
        cls.gw = h.Gateway(cls.up.url, {"limits": {"max_body_bytes": 4096, "header_timeout_ms": 1500}}).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.gw.stop()
        cls.up.stop()
        assert code == 0, code

    def refused(self, head, body=b"", statuses=(400,)):
        before = len(self.up.requests)
        raw, closed = exchange(self.gw.proxy_port, head + body + SMUGGLED, timeout=3)
        resps = split_responses(raw)
        self.assertEqual(len(resps), 1, raw[:400])
        self.assertIn(resps[0].status, statuses, raw[:400])
        error_of(resps[0])
        self.assertTrue(closed, "the connection must be closed after refused framing")
        time.sleep(0.05)
        self.assertEqual(len(self.up.requests), before, "a refused request reached the upstream")
        self.assertTrue(alive(self.gw))

    def test_cl_te_desync(self):
        # The classic CL.TE: a front end that reads CL=6 and a back end that reads chunked disagree.
        self.refused(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n", b"0\r\n\r\nG")

    def test_te_variants_with_content_length(self):
        for te in [b"chunked", b" chunked", b"Chunked", b"chunked\t", b"xchunked", b"chunked, identity",
                   b"identity", b"chunked, chunked"]:
            with self.subTest(te=te):
                self.refused(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + te +
                             b"\r\nContent-Length: 5\r\n\r\n", b"0\r\n\r\n")

    def test_te_obfuscation_without_content_length(self):
        for te in [b"xchunked", b"chunked, identity", b"identity", b"gzip", b"chunked;q=1"]:
            with self.subTest(te=te):
                self.refused(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + te +
                             b"\r\n\r\n", b"0\r\n\r\n")

    def test_two_transfer_encoding_fields(self):
        self.refused(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                     b"Transfer-Encoding: identity\r\n\r\n", b"0\r\n\r\n")

    def test_space_before_colon(self):
        self.refused(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n"
                     b"Content-Length: 5\r\n\r\n", b"0\r\n\r\n")

    def test_chunked_on_http10(self):
        self.refused(b"POST /v1/completions HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                     b"0\r\n\r\n")

    def test_bad_content_length_values(self):
        for cl in [b"+5", b"-1", b"0x5", b"5 5", b"", b"18446744073709551616", b"99999999999999999999999"]:
            with self.subTest(cl=cl):
                self.refused(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: " + cl +
                             b"\r\n\r\n", b"hello", statuses=(400, 413))

    def test_bad_chunk_sizes(self):
        for chunk in [b"-5\r\nhello\r\n0\r\n\r\n", b"ffffffffffffffffffff\r\nx\r\n0\r\n\r\n",
                      b"5 5\r\nhello\r\n0\r\n\r\n", b"\r\nhello\r\n0\r\n\r\n",
                      b"5\r\nhelloXX\r\n0\r\n\r\n", b"5\nhello\n0\n\n"]:
            with self.subTest(chunk=chunk):
                self.refused(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                             chunk, statuses=(400, 413))

    def test_bare_lf_and_nul(self):
        self.refused(b"GET /v1/models HTTP/1.1\nHost: a\n\n")
        self.refused(b"GET /v1/models HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n")
        self.refused(b"GET /v1/models HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n")

    def test_obs_fold_in_transfer_encoding(self):
        self.refused(b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                     b"Transfer-Encoding:\r\n chunked\r\n\r\n", b"0\r\n\r\n")

    def test_valid_chunked_reaches_upstream_as_one_request(self):
        # Sound framing: the body is re-framed with a Content-Length, byte for byte.
        payload = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
        chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(payload[i:i + 7]), payload[i:i + 7])
                          for i in range(0, len(payload), 7))
        head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Type: application/json\r\n\r\n")
        raw, _ = exchange(self.gw.proxy_port, head + chunks + b"0\r\nX-Trailer: t\r\n\r\n" +
                          b"GET /v1/models HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", timeout=5)
        resps = split_responses(raw)
        self.assertEqual([r.status for r in resps], [200, 200], raw[:300])
        first = json.loads(resps[0].body)
        self.assertEqual(first["body"].encode("latin-1"), payload)
        self.assertEqual(json.loads(resps[1].body)["target"], "/v1/models")

    def test_pipelined_after_content_length_body(self):
        # The body's bytes look like a request; they are a body, not a second request.
        body = SMUGGLED
        raw, _ = exchange(self.gw.proxy_port, b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: %d"
                          b"\r\nConnection: close\r\n\r\n%s" % (len(body), body), timeout=5)
        resps = split_responses(raw)
        self.assertEqual(len(resps), 1)
        self.assertEqual(json.loads(resps[0].body)["body"].encode("latin-1"), body)
        self.assertNotIn("/smuggled", [r.target for r in self.up.requests])

    def test_upstream_never_saw_smuggled(self):
        # Runs last by name order after the others in this class have run (unittest sorts by name).
        self.assertNotIn("/smuggled", [r.target for r in self.up.requests])

    def test_trace_with_body(self):
        # Beast's prepare_payload() throws on TRACE with a body; the gateway must answer, not drop it.
        raw, closed = exchange(self.gw.proxy_port, b"TRACE /v1/models HTTP/1.1\r\nHost: a\r\n"
                               b"Content-Length: 2\r\n\r\n{}", timeout=5)
        resps = split_responses(raw)
        self.assertEqual(len(resps), 1, "no response to TRACE with a body (raw %r, closed %s)" % (raw, closed))
        self.assertIn(resps[0].status, (400, 405), raw[:300])
        self.assertTrue(alive(self.gw))
        self.assertEqual(wait_metric(self.gw, "distillguard_requests_in_flight", 0), 0,
                         "a request is left in flight")


class Bodies(unittest.TestCase):
    """Bodies that are not what an OpenAI client sends: passed through byte for
    byte by default, and the gateway (proxy and analyzer) lives on."""

    @classmethod
    def setUpClass(cls):
        cls.up = h.FakeUpstream(echo_handler).start()
        cls.gw = h.Gateway(cls.up.url, {"limits": {"max_body_bytes": 32 << 20}}).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.gw.stop()
        cls.up.stop()
        assert code == 0, code

    def post(self, body, path="/v1/chat/completions", timeout=30):
        r = h.request(self.gw.proxy_port, "POST", path, body,
                      headers={"Content-Type": "application/json", "Authorization": "Bearer sk-hardening-bodies"},
                      timeout=timeout)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(json.loads(r.body)["body"].encode("latin-1"), body, "the body changed on the way")
        return r

    def test_non_utf8(self):
        self.post(b'{"model":"m","messages":[{"role":"user","content":"\xff\xfe\x80\xc0\xaf"}]}')
        self.post(b"\xff\xfe\x00\x00garbage\x80")

    def test_invalid_json(self):
        for body in [b'{"model": "m", "messages": [', b"{'model': 'm'}", b"[1,2,3]", b"null", b'"\\ud800"',
                     b'{"model":"m","messages":[{"role":"user","content":"\\ud800"}]}', b'{"stream":true,',
                     b'{"a":1}{"b":2}', b"\xef\xbb\xbf{}"]:
            with self.subTest(body=body):
                self.post(body)

    def test_nested_100000_deep(self):
        self.post(b"[" * 100000 + b"]" * 100000)
        self.post(b'{"model":"m","messages":' + b'{"a":' * 100000 + b"1" + b"}" * 100000 + b"}")
        self.post(b'{"model":"m","stream":true,"x":' + b"[" * 100000 + b"]" * 100000 + b"}")

    def test_absurd_number_of_messages(self):
        msgs = b",".join([b'{"role":"user","content":"m%d"}' % i for i in range(300000)])
        body = b'{"model":"m","messages":[' + msgs + b"]}"
        self.assertGreater(len(body), 8 << 20)
        self.post(body, timeout=60)

    def test_huge_single_string(self):
        self.post(b'{"model":"m","messages":[{"role":"user","content":"' + b"word " * (2 << 20) + b'"}]}',
                  timeout=60)

    def test_zz_gateway_and_analyzer_alive(self):
        # After all of the above (unittest runs test methods by name), the analyzer
        # has had them; the gateway still serves and answers /metrics.
        time.sleep(0.5)
        self.assertTrue(alive(self.gw))
        self.post(b'{"model":"m","messages":[{"role":"user","content":"still here"}]}')
        self.assertIsNotNone(wait_metric(self.gw, "distillguard_requests_in_flight", 0))


class StrictBodies(unittest.TestCase):
    """With the shaper's global checks on, a body that is not JSON is refused
    (400, OpenAI shape) instead of passed, and nothing reaches the upstream."""

    def test_invalid_json_refused_when_configured(self):
        with h.FakeUpstream(echo_handler) as up, h.Gateway(up.url, {"policy": {"shape": {
                "refuse_logit_bias_with_logprobs": True, "invalid_json": "refuse"}}}) as gw:
            for body in [b"\xff\xfe garbage", b'{"model":', b"[" * 100000 + b"]" * 100000]:
                with self.subTest(body=body[:20]):
                    r = h.request(gw.proxy_port, "POST", "/v1/chat/completions", body,
                                  headers={"Content-Type": "application/json"})
                    self.assertEqual(r.status, 400, r.body[:300])
                    self.assertEqual(error_of(r)["type"], "invalid_request_error")
            self.assertEqual(len(up.requests), 0)
            self.assertTrue(alive(gw))


if __name__ == "__main__":
    unittest.main()
