"""X-Forwarded-For is believed only from configured trusted proxies, so no
client picks another's identity (or hides behind a made-up address).

Identity is observed in the access log: the client id and the address the
gateway attributes the request to. The loopback client is the "peer"."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness as h  # noqa: E402


def identities(gw, n, timeout=5.0):
    """The (client, peer) of the last n access-log lines."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = [l for l in gw.logs() if l.get("msg") == "access"]
        if len(lines) >= n:
            return [(l["client"], l.get("peer")) for l in lines[-n:]]
        time.sleep(0.05)
    raise AssertionError("expected %d access lines, got %d" % (n, len(lines)))


def send(gw, headers):
    r = h.request(gw.proxy_port, "GET", "/v1/models", headers=headers)
    assert r.status == 200, r


class ForwardedFor(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = h.FakeUpstream(h.respond_json({"data": []})).start()

    @classmethod
    def tearDownClass(cls):
        cls.up.stop()

    def run_xffs(self, config, xffs):
        with h.Gateway(self.up.url, h._merge({"log": {"access_log": True}}, config)) as gw:  # noqa: SLF001
            for x in xffs:
                send(gw, {"X-Forwarded-For": x} if x is not None else {})
            return identities(gw, len(xffs)), list(self.up.requests[-len(xffs):])

    def test_untrusted_client_cannot_choose_its_address(self):
        # No trusted proxies: every X-Forwarded-For is ignored.
        ids, sent = self.run_xffs({}, [None, "203.0.113.7", "198.51.100.1, 203.0.113.7", "garbage", "::1"])
        self.assertEqual(len({c for c, _ in ids}), 1, ids)
        self.assertEqual({p for _, p in ids}, {"127.0.0.1"})
        # ...and is not passed on as if it were true: the upstream sees the peer only.
        self.assertEqual({r.headers.get("x-forwarded-for") for r in sent}, {"127.0.0.1"})

    def test_peer_outside_trusted_ranges_is_not_believed(self):
        ids, _ = self.run_xffs({"identity": {"trusted_proxies": ["10.0.0.0/8", "192.168.0.0/16"]}},
                               [None, "203.0.113.7", "198.51.100.1"])
        self.assertEqual(len({c for c, _ in ids}), 1, ids)
        self.assertEqual({p for _, p in ids}, {"127.0.0.1"})

    def test_trusted_proxy_is_believed_rightmost_untrusted_wins(self):
        ids, sent = self.run_xffs({"identity": {"trusted_proxies": ["127.0.0.0/8"]}},
                                  ["203.0.113.7", "198.51.100.1", "6.6.6.6, 203.0.113.7", "203.0.113.7, 127.0.0.5"])
        (c1, p1), (c2, p2), (c3, p3), (c4, p4) = ids
        self.assertEqual((p1, p2, p3, p4), ("203.0.113.7", "198.51.100.1", "203.0.113.7", "203.0.113.7"))
        self.assertNotEqual(c1, c2)
        # A client behind the proxy that prepends a made-up address is still itself.
        self.assertEqual(c1, c3)
        self.assertEqual(c1, c4)
        # The chain goes on to the upstream, with the proxy appended.
        self.assertEqual(sent[2].headers.get("x-forwarded-for"), "6.6.6.6, 203.0.113.7, 127.0.0.1")

    def test_credential_wins_over_any_address(self):
        cfg = {"identity": {"trusted_proxies": ["127.0.0.0/8"]}}
        with h.Gateway(self.up.url, h._merge({"log": {"access_log": True}}, cfg)) as gw:  # noqa: SLF001
            for x in ["203.0.113.7", "198.51.100.1"]:
                send(gw, {"X-Forwarded-For": x, "Authorization": "Bearer sk-identity-test-0001"})
            send(gw, {"Authorization": "Bearer sk-identity-test-0002"})
            (c1, _), (c2, _), (c3, _) = identities(gw, 3)
            self.assertEqual(c1, c2)
            self.assertNotEqual(c1, c3)


if __name__ == "__main__":
    unittest.main()
