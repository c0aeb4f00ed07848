"""Issue 5: the official `openai` npm client (v5) does not retry a blocked
request answered 429 with `x-should-retry: false`, and does retry a throttled
429 (retry-after, no x-should-retry) as it normally does. Real gateway and
mock-upstream on loopback; the blocked client is on the config's deny list and
the gateway answers blocks with 429 (policy.block.status). The requests are
counted both by the SDK (a counting fetch, sdk_retry.cjs) and at the gateway
(distillguard_requests_total and distillguard_actions_total on /metrics), so
a retry the SDK makes must show up at the gateway too."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BLOCKED_KEY = "sk-blocked-retry-test-51c0ffee"
THROTTLED_KEY = "sk-throttled-retry-test-7e11a"


def gateway_counts(gw):
    text = h.admin_get(gw, "/metrics").body.decode()

    def v(name, labels):
        return h.metric_value(text, name, labels) or 0.0
    return {
        "2xx": v("distillguard_requests_total", {"route": "chat_completions", "status_class": "2xx"}),
        "4xx": v("distillguard_requests_total", {"route": "chat_completions", "status_class": "4xx"}),
        "blocked": v("distillguard_actions_total", {"action": "blocked"}),
        "throttled": v("distillguard_actions_total", {"action": "throttled"}),
    }


def delta(before, after):
    return {k: int(after[k] - before[k]) for k in before}


class SdkRetryOfRefusals(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        node_dir = os.environ.get("OPENAI_NODE_DIR", "")
        if not os.path.isdir(os.path.join(node_dir, "node_modules", "openai")):
            raise AssertionError("openai@5 is not installed in %r (the openai_npm_install fixture)" % node_dir)
        cls.node_dir = node_dir
        cls.mock = h.MockUpstream(["--threads", "2"]).start()
        # Every client: 12 requests a minute with 5 s of burst, a bucket of one
        # request refilled every 5 s, so a second request at once is throttled
        # with retry-after-ms of at most 5 s (the SDK honours it below 60 s).
        cfg = {"policy": {"deny_keys": [BLOCKED_KEY],
                          "block": {"status": 429},
                          "rate_limits": {"base": {"requests_per_minute": 12}, "burst_seconds": 5}}}
        cls.gw = h.Gateway(cls.mock.url, config=cfg, tmpdir=tempfile.mkdtemp(prefix="dg-sdk-retry-")).start()
        cls.base = "http://127.0.0.1:%d/v1" % cls.gw.proxy_port

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.mock.stop()

    def run_sdk(self, key, max_retries=2):
        env = dict(os.environ, OPENAI_BASE_URL=self.base, OPENAI_API_KEY=key,
                   OPENAI_NODE_DIR=self.node_dir, DG_MAX_RETRIES=str(max_retries))
        p = subprocess.run([os.environ.get("NODE", "node"), os.path.join(HERE, "sdk_retry.cjs")],
                           env=env, capture_output=True, text=True, timeout=120)
        sys.stderr.write(p.stdout + p.stderr)
        self.assertEqual(p.returncode, 0, "sdk_retry.cjs failed:\n" + p.stdout + p.stderr)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def test_blocked_429_is_not_retried(self):
        before = gateway_counts(self.gw)
        out = self.run_sdk(BLOCKED_KEY, max_retries=2)
        d = delta(before, gateway_counts(self.gw))
        self.assertFalse(out["ok"])
        self.assertEqual(out["status"], 429)
        self.assertEqual(out["should_retry"], "false")
        # One attempt by the SDK's count, one request and one block at the gateway.
        self.assertEqual(out["attempts"], 1, out)
        self.assertEqual(d["4xx"], 1, d)
        self.assertEqual(d["blocked"], 1, d)
        self.assertEqual(d["2xx"], 0, d)

    def test_throttled_429_is_retried(self):
        # Empty the client's bucket, then let the SDK meet the 429.
        first = h.request(self.gw.proxy_port, "POST", "/v1/chat/completions",
                          body=json.dumps({"model": "m", "max_tokens": 4,
                                           "messages": [{"role": "user", "content": "hi"}]}).encode(),
                          headers={"Authorization": "Bearer " + THROTTLED_KEY,
                                   "Content-Type": "application/json"})
        self.assertEqual(first.status, 200, first.body[:300])
        before = gateway_counts(self.gw)
        out = self.run_sdk(THROTTLED_KEY, max_retries=2)
        d = delta(before, gateway_counts(self.gw))
        self.assertEqual(out["statuses"][0], 429, out)
        self.assertIsNone(out["should_retry"], out)
        # The SDK waited the retry-after and tried again: more than one
        # attempt, each of which reached the gateway.
        self.assertGreaterEqual(out["attempts"], 2, out)
        self.assertEqual(d["4xx"] + d["2xx"], out["attempts"], (d, out))
        self.assertEqual(d["throttled"], out["statuses"].count(429), (d, out))
        self.assertTrue(out["ok"], out)
        self.assertEqual(d["blocked"], 0, d)


if __name__ == "__main__":
    unittest.main()
