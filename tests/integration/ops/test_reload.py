"""Live config reload on a running gateway (issue 6), real processes on
loopback: POST /admin/reload and SIGHUP re-read the file and apply it without
a restart, while a stream admitted under the old config runs to its end; a bad
file (YAML syntax, an invalid value) is refused with FILE:LINE:COL errors, the
running config stays and the failure counter rises; a change to a key that
needs a restart (listen) is refused whole, naming the key."""
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import harness  # noqa: E402
import ops_fixture as ops  # noqa: E402

DENIED = "sk-denied-0000000000000000dn1d"
LATER = "sk-later-00000000000000000lat3"
BYSTANDER = "sk-bystander-000000000000byst"


def completion(text="Paris."):
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}


def chunk(text, finish=None):
    return json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                       "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})


STREAM_EVENTS = [chunk("The "), chunk("capital "), chunk("is "), chunk("Paris.", "stop"), "[DONE]"]


class Upstream:
    """Answers JSON at once; a streaming request sends its first event, then
    waits for `gate` before the rest (a stream held in flight)."""

    def __init__(self):
        self.gate = threading.Event()
        self.stream_started = threading.Event()
        json_handler = harness.respond_json(completion())
        sse_handler = harness.sse_stream(STREAM_EVENTS, gate=self.gate)

        def handler(req, conn):
            if b'"stream": true' in req.body or b'"stream":true' in req.body:
                self.stream_started.set()
                return sse_handler(req, conn)
            return json_handler(req, conn)
        self.fake = harness.FakeUpstream(handler)


def chat(gw, key, stream=False, timeout=30):
    body = {"model": "m", "messages": [{"role": "user", "content": "The capital of France is"}],
            "max_tokens": 8}
    if stream:
        body["stream"] = True
    return harness.request(gw.proxy_port, "POST", "/v1/chat/completions", body=body,
                           headers={"Authorization": "Bearer " + key}, timeout=timeout)


def reloads(gw, result):
    text = harness.admin_get(gw, "/metrics").body.decode()
    return harness.metric_value(text, "distillguard_config_reloads_total", {"result": result}) or 0


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="dg-reload-")
        self.token_file = ops.write_token(self.work)
        self.up = Upstream()
        self.up.fake.start()
        self.gw = None

    def tearDown(self):
        self.up.gate.set()
        if self.gw is not None:
            self.gw.stop()
        self.up.fake.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def start(self, policy):
        cfg = {"admin": {"token_file": self.token_file}, "policy": policy}
        os.makedirs(os.path.join(self.work, "gw"), exist_ok=True)
        self.gw = harness.Gateway(self.up.fake.url, config=cfg, tmpdir=os.path.join(self.work, "gw"))
        self.gw.start(timeout=60)
        self.admin = ops.OpsGateway(self.gw, self.token_file)

    def write(self, text=None):
        """Writes the config file: the gateway's config dict, or raw text."""
        with open(self.gw.config_path, "w") as f:
            f.write(text if text is not None else harness.to_yaml(self.gw.config) + "\n")

    def wait_log(self, pred, timeout=20):
        """The first log line matching `pred` (stderr is read by another thread)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [l for l in self.gw.logs() if pred(l)]
            if found:
                return found
            time.sleep(0.05)
        return []

    def held_stream(self, key):
        """Starts a streaming request that the upstream holds after its first event."""
        out = {}

        def run():
            out["resp"] = chat(self.gw, key, stream=True, timeout=60)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.assertTrue(self.up.stream_started.wait(20), "the stream never reached the upstream")
        time.sleep(0.2)  # let the first event reach the client through the gateway
        return t, out

    def finish_stream(self, t, out):
        self.up.gate.set()
        t.join(60)
        self.assertFalse(t.is_alive(), "the held stream never ended")
        r = out["resp"]
        self.assertEqual(r.status, 200, r.body[:300])
        body = r.body.decode()
        self.assertIn("data: [DONE]", body)
        text = "".join(json.loads(b[5:].strip())["choices"][0]["delta"].get("content", "")
                       for b in body.split("\n\n") if b.startswith("data:") and "[DONE]" not in b)
        self.assertEqual(text, "The capital is Paris.")

    def test_admin_reload_shadow_to_enforce(self):
        self.start({"mode": "shadow", "deny_keys": [DENIED]})
        self.assertEqual(chat(self.gw, DENIED).status, 200)  # shadow: decided, not enforced
        ok_before = reloads(self.gw, "ok")
        t, out = self.held_stream(DENIED)  # admitted under shadow, in flight across the reload

        self.gw.config["policy"]["mode"] = "enforce"
        self.write()
        status, js = self.admin.reload()
        self.assertEqual((status, js), (200, {"ok": True}))
        r = chat(self.gw, DENIED)
        self.assertEqual(r.status, 403, r.body[:300])
        self.assertEqual(json.loads(r.body)["error"]["code"], "client_blocked")
        self.assertEqual(chat(self.gw, BYSTANDER).status, 200)
        self.finish_stream(t, out)

        self.assertEqual(reloads(self.gw, "ok"), ok_before + 1)
        status, js, _ = self.admin.admin("GET", "/admin/config")
        self.assertEqual(status, 200)
        self.assertEqual(js["policy"]["mode"], "enforce")
        self.assertTrue(self.wait_log(lambda l: l.get("msg") == "config reloaded"))

    def test_a_changed_limit_decides_the_next_request(self):
        # No base limit: five requests in a row pass. After a reload that sets
        # one request a minute, the same client's next request but one is
        # refused with the rate-limit headers; a held stream is not cut.
        self.start({"mode": "enforce"})
        for _ in range(5):
            self.assertEqual(chat(self.gw, LATER).status, 200)
        t, out = self.held_stream(BYSTANDER)
        self.gw.config["policy"]["rate_limits"] = {"base": {"requests_per_minute": 1}}
        self.write()
        self.assertEqual(self.admin.reload(), (200, {"ok": True}))
        statuses = [chat(self.gw, LATER).status for _ in range(3)]
        self.assertEqual(statuses.count(429), 2, statuses)
        r = chat(self.gw, LATER)
        self.assertEqual(r.status, 429)
        self.assertEqual(r.headers.get("x-ratelimit-limit-requests"), "1")
        self.finish_stream(t, out)

    def test_sighup_applies_a_deny_entry(self):
        self.start({"mode": "enforce"})
        self.assertEqual(chat(self.gw, LATER).status, 200)
        ok_before = reloads(self.gw, "ok")
        t, out = self.held_stream(BYSTANDER)

        self.gw.config["policy"]["deny_keys"] = [LATER]
        self.write()
        self.gw.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while reloads(self.gw, "ok") < ok_before + 1 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(reloads(self.gw, "ok"), ok_before + 1, "SIGHUP did not reload")
        self.assertEqual(chat(self.gw, LATER).status, 403)
        self.assertEqual(chat(self.gw, DENIED).status, 200)
        self.finish_stream(t, out)
        self.assertIsNone(self.gw.proc.poll(), "SIGHUP must not stop the gateway")
        self.assertTrue(self.wait_log(lambda l: l.get("msg") == "SIGHUP: config reloaded"))

    def test_bad_file_is_refused_and_the_old_config_stays(self):
        self.start({"mode": "enforce", "deny_keys": [DENIED]})
        self.assertEqual(chat(self.gw, DENIED).status, 403)
        path = self.gw.config_path
        errors_before = reloads(self.gw, "error")
        t, out = self.held_stream(BYSTANDER)

        # A YAML syntax error, which would also have dropped the deny list.
        self.write("listen: 127.0.0.1:0\npolicy: {mode: shadow, deny_keys: [\n")
        status, js = self.admin.reload()
        self.assertEqual(status, 422, js)
        self.assertFalse(js["ok"])
        self.assertRegex(js["errors"][0], "^" + path.replace(".", r"\.") + r":\d+:\d+: ")

        # A valid YAML with an invalid value: FILE:LINE:COL and the key.
        self.gw.config["policy"]["mode"] = "sideways"
        self.write()
        status, js = self.admin.reload()
        self.assertEqual(status, 422, js)
        bad = [e for e in js["errors"] if "policy.mode" in e]
        self.assertTrue(bad, js)
        self.assertRegex(bad[0], "^" + path.replace(".", r"\.") + r":\d+:\d+: ")

        # The same through SIGHUP: logged as an error, counted, nothing changes.
        self.gw.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while reloads(self.gw, "error") < errors_before + 3 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(reloads(self.gw, "error"), errors_before + 3)
        refused = self.wait_log(lambda l: l.get("msg", "").startswith("SIGHUP: reload refused"))
        self.assertTrue(refused and any("policy.mode" in e for e in refused[-1].get("errors", [])), refused)

        self.assertEqual(chat(self.gw, DENIED).status, 403)  # the old config is in force
        text = harness.admin_get(self.gw, "/metrics").body.decode()
        self.assertEqual(harness.metric_value(text, "distillguard_config_last_reload_successful"), 0)
        self.finish_stream(t, out)
        status, js, _ = self.admin.admin("GET", "/admin/config")
        self.assertEqual(js["policy"]["mode"], "enforce")

    def test_restart_only_key_refuses_the_whole_reload(self):
        self.start({"mode": "enforce"})
        errors_before = reloads(self.gw, "error")
        # A live change together with a restart-only one: nothing is applied.
        self.gw.config["policy"]["deny_keys"] = [LATER]
        self.gw.config["listen"] = "127.0.0.1:%d" % harness.free_port()
        self.gw.config["storage"]["path"] = os.path.join(self.work, "elsewhere")
        self.write()
        status, js = self.admin.reload()
        self.assertEqual(status, 422, js)
        text = "\n".join(js["errors"])
        self.assertIn("'listen'", text)
        self.assertIn("'storage.path'", text)
        self.assertIn("restart", text)
        self.assertEqual(chat(self.gw, LATER).status, 200)  # the deny entry was not applied
        self.assertEqual(reloads(self.gw, "error"), errors_before + 1)
        # Put the restart-only keys back: the rest applies.
        self.gw.config["listen"] = "127.0.0.1:0"
        self.gw.config["storage"]["path"] = os.path.join(self.gw.dir, "state", "db")
        self.write()
        status, js = self.admin.reload()
        self.assertEqual((status, js), (200, {"ok": True}))
        self.assertEqual(chat(self.gw, LATER).status, 403)


if __name__ == "__main__":
    unittest.main()
