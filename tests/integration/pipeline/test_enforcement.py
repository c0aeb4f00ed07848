"""Enforcement through the real proxy (issue 5): one client is escalated to
watermark (its responses carry its mark and `watermark detect` names it),
throttle (429 with the rate-limit headers), block (403), then recovers when
the override is cleared; overrides survive a restart; shadow mode changes no
response; another client's traffic is untouched throughout; SSE stays valid
with the watermark on. Real processes: mock-upstream and the gateway."""

import json
import os
import subprocess
import sys
import unittest

import harness

ATTACKER = "sk-attacker-0123456789abcdef"
BYSTANDER = "sk-bystander-fedcba9876543210"
PROMPTS = [
    "Explain how photosynthesis turns light into chemical energy.",
    "Describe the history of the printing press and its effects on Europe.",
    "What makes a good unit test, and how should one be structured?",
    "Summarise the causes of the French Revolution in a few paragraphs.",
    "How do vaccines train the immune system to recognise a virus?",
    "Write a short essay about the importance of clean drinking water.",
]


def chat(gw, key, prompt, stream=False, max_tokens=300):
    body = {"model": "demo", "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens, "temperature": 0}
    if stream:
        body["stream"] = True
    return harness.request(gw.proxy_port, "POST", "/v1/chat/completions",
                           body=json.dumps(body).encode(),
                           headers={"Authorization": "Bearer " + key,
                                    "Content-Type": "application/json"})


def content(resp):
    assert resp.status == 200, (resp.status, resp.body[:300])
    return json.loads(resp.body)["choices"][0]["message"]["content"]


def sse_text(resp):
    """Checks every SSE event is valid JSON (or [DONE]) and returns the text."""
    assert resp.status == 200, resp.status
    text, done = [], False
    for block in resp.body.decode("utf-8").split("\n\n"):
        data = "".join(l[5:].lstrip() for l in block.split("\n") if l.startswith("data:"))
        if not data:
            continue
        if data == "[DONE]":
            done = True
            continue
        chunk = json.loads(data)
        for c in chunk.get("choices", []):
            text.append(c.get("delta", {}).get("content") or "")
    assert done, "stream did not end with [DONE]"
    return "".join(text)


class Admin:
    def __init__(self, gw, token):
        self.gw, self.token = gw, token

    def call(self, method, path, body=None):
        r = harness.request(self.gw.admin_port, method, path,
                            body=json.dumps(body).encode() if body is not None else None,
                            headers={"Authorization": "Bearer " + self.token,
                                     "Content-Type": "application/json"})
        return r.status, (json.loads(r.body) if r.body else None)

    def client_id_by_hint(self, suffix, timeout=10):
        import time
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, body = self.call("GET", "/admin/clients?limit=100&sort=events")
            assert status == 200, body
            for c in body.get("clients", []):
                if c.get("hint", "").endswith(suffix):
                    return c["client_id"]
            time.sleep(0.2)
        raise AssertionError("client ...%s never appeared in /admin/clients" % suffix)

    def override(self, client_id, verdict):
        status, body = self.call("POST", "/admin/clients/%s/override" % client_id,
                                 {"verdict": verdict, "expires_in_s": 3600, "reason": "integration test"})
        assert status == 200, (status, body)

    def clear(self, client_id):
        status, body = self.call("DELETE", "/admin/clients/%s/override" % client_id)
        assert status == 200, (status, body)


def make_gateway(mock, extra=None):
    tmp = harness.tempfile.mkdtemp(prefix="dg-enf-")
    token_file = os.path.join(tmp, "admin.token")
    with open(token_file, "w") as f:
        f.write("test-admin-token-42\n")
    os.chmod(token_file, 0o600)
    cfg = {"admin": {"listen": "127.0.0.1:0", "token_file": token_file},
           "policy": {"rate_limits": {"throttled": {"requests_per_minute": 5}}}}
    cfg = harness._merge(cfg, extra or {})
    gw = harness.Gateway(mock.url, config=cfg, tmpdir=tmp)
    return gw, Admin(gw, "test-admin-token-42")


class enforcement_through_the_proxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = harness.MockUpstream()
        cls.mock.start()

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def test_escalation_and_recovery(self):
        gw, admin = make_gateway(self.mock)
        gw.start()
        try:
            baseline = {p: content(chat(gw, BYSTANDER, p)) for p in PROMPTS}
            self.assertEqual(content(chat(gw, ATTACKER, PROMPTS[0])), baseline[PROMPTS[0]])
            attacker = admin.client_id_by_hint(ATTACKER[-4:])
            bystander = admin.client_id_by_hint(BYSTANDER[-4:])

            # watermark: the attacker's text changes, the bystander's does not.
            admin.override(attacker, "watermark")
            marked = []
            for i in range(4):
                for p in PROMPTS:
                    marked.append(content(chat(gw, ATTACKER, p + " " * i)))
            self.assertNotEqual(marked[0], baseline[PROMPTS[0]])
            for p in PROMPTS:
                self.assertEqual(content(chat(gw, BYSTANDER, p)), baseline[p])
            streamed = sse_text(chat(gw, ATTACKER, PROMPTS[1], stream=True))
            self.assertTrue(streamed)

            suspect = os.path.join(gw.dir, "suspect.txt")
            with open(suspect, "w") as f:
                f.write("\n\n".join(marked))
            out = subprocess.run([harness.dg_bin(), "watermark", "detect", "--config", gw.config_path,
                                  "--input", suspect, "--client", attacker, "--client", bystander,
                                  "--json"], capture_output=True, text=True, timeout=60)
            report = json.loads(out.stdout)
            self.assertTrue(report["found"], out.stdout)
            self.assertEqual(report["source"], attacker)

            # throttle: 429 with the rate-limit headers once the small bucket is empty.
            admin.override(attacker, "throttle")
            refused = None
            for _ in range(40):
                r = chat(gw, ATTACKER, PROMPTS[2], max_tokens=20)
                if r.status == 429:
                    refused = r
                    break
                self.assertEqual(r.status, 200)
            self.assertIsNotNone(refused, "a throttled client was never refused")
            for h in ("retry-after", "retry-after-ms", "x-ratelimit-limit-requests",
                      "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
                      "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
                      "x-ratelimit-reset-tokens"):
                self.assertIn(h, refused.headers)
            err = json.loads(refused.body)["error"]
            self.assertEqual(err["type"], "rate_limit_exceeded")
            self.assertIsNone(err["param"])
            self.assertEqual(chat(gw, BYSTANDER, PROMPTS[2]).status, 200)

            # block: 403 with an OpenAI-shaped body.
            admin.override(attacker, "block")
            r = chat(gw, ATTACKER, PROMPTS[3])
            self.assertEqual(r.status, 403)
            self.assertIn("message", json.loads(r.body)["error"])
            self.assertEqual(chat(gw, BYSTANDER, PROMPTS[3]).status, 200)

            # The override is stored: a restart keeps the client blocked.
            self.assertEqual(gw.stop(), 0)
            gw = harness.Gateway(self.mock.url, config=gw.config, tmpdir=gw.dir).start()
            admin.gw = gw
            self.assertEqual(chat(gw, ATTACKER, PROMPTS[3]).status, 403)

            # Clearing the override restores normal service, unmarked.
            admin.clear(attacker)
            self.assertEqual(content(chat(gw, ATTACKER, PROMPTS[4])), baseline[PROMPTS[4]])
        finally:
            gw.stop()

    def test_shadow_mode_changes_no_response(self):
        gw, admin = make_gateway(self.mock, {"policy": {"mode": "shadow"}})
        gw.start()
        try:
            base = content(chat(gw, BYSTANDER, PROMPTS[0]))
            chat(gw, ATTACKER, PROMPTS[0])
            attacker = admin.client_id_by_hint(ATTACKER[-4:])
            admin.override(attacker, "block")
            for _ in range(3):
                self.assertEqual(content(chat(gw, ATTACKER, PROMPTS[0])), base)
            metrics = harness.request(gw.admin_port, "GET", "/metrics").body.decode()
            shadow = harness.metric_value(metrics, "distillguard_shadow_decisions_total",
                                          {"action": "blocked"})
            self.assertIsNotNone(shadow)
            self.assertGreaterEqual(shadow, 3)
        finally:
            gw.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
