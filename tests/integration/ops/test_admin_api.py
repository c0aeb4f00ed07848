#!/usr/bin/env python3
"""The admin API on a running gateway: authentication (missing, wrong, right
token) on every route, the top suspects and a dossier after real flagged
traffic, overrides that change what the proxy does to the next request,
clusters, reload, and the redacted config. Also: a world-readable token file
stops the gateway from starting."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import harness  # noqa: E402
import ops_fixture as ops  # noqa: E402

ROUTES = [("GET", "/admin/clients"), ("GET", "/admin/clients/abc123"),
          ("POST", "/admin/clients/abc123/override"), ("DELETE", "/admin/clients/abc123/override"),
          ("GET", "/admin/clusters"), ("POST", "/admin/reload"), ("GET", "/admin/config")]


class AdminApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="dg-admin-")
        cls.ctx = ops.gateway(harness.dg_bin(), cls.work)
        cls.g = cls.ctx.__enter__()
        # Some benign traffic, then an extraction client that gets flagged.
        traffic = ops.background_traffic(cls.g, pause=0.01)
        try:
            cls.extractor = ops.flag_a_client(cls.g)
        finally:
            traffic.stop()

    @classmethod
    def tearDownClass(cls):
        cls.ctx.__exit__(None, None, None)
        shutil.rmtree(cls.work, ignore_errors=True)

    # ---- authentication

    def test_missing_token_is_401_on_every_route(self):
        for method, path in ROUTES:
            status, js, r = self.g.admin(method, path, body={} if method == "POST" else None, token="")
            self.assertEqual(status, 401, (method, path))
            self.assertEqual(js["error"]["code"], "missing_admin_token")
            self.assertIn("message", js["error"])
            self.assertIsNone(js["error"]["param"])
            self.assertIn("bearer", r.headers.get("www-authenticate", "").lower())

    def test_wrong_token_is_401_on_every_route(self):
        for method, path in ROUTES:
            status, js, _ = self.g.admin(method, path, body={} if method == "POST" else None,
                                         token=ops.TOKEN[:-1] + "x")
            self.assertEqual(status, 401, (method, path))
            self.assertEqual(js["error"]["code"], "invalid_admin_token")

    def test_right_token_passes(self):
        status, js, _ = self.g.admin("GET", "/admin/clients")
        self.assertEqual(status, 200, js)

    def test_health_and_metrics_need_no_token(self):
        self.assertEqual(harness.admin_get(self.g.gw, "/healthz").status, 200)
        self.assertEqual(harness.admin_get(self.g.gw, "/metrics").status, 200)

    # ---- routes

    def test_top_suspects(self):
        status, js, _ = self.g.admin("GET", "/admin/clients?sort=risk&limit=3")
        self.assertEqual(status, 200)
        self.assertLessEqual(len(js["clients"]), 3)
        self.assertGreaterEqual(js["total"], 2)
        top = js["clients"][0]
        self.assertEqual(top["client_id"], self.extractor, js)
        self.assertNotEqual(top["verdict"], "allow")
        self.assertGreater(top["risk"], 0.5)
        self.assertTrue(top["hint"].endswith(ops.EXTRACTOR_KEY[-4:]))
        self.assertNotIn(ops.EXTRACTOR_KEY, json.dumps(js))  # never the raw key
        self.assertTrue(top["top_reasons"], top)
        risks = [c["risk"] for c in js["clients"]]
        self.assertEqual(risks, sorted(risks, reverse=True))
        for field in ("client_id", "hint", "risk", "verdict", "events", "cluster", "top_reasons"):
            self.assertIn(field, top)

    def test_dossier(self):
        status, d, _ = self.g.admin("GET", "/admin/clients/%s?events=5" % self.extractor)
        self.assertEqual(status, 200, d)
        self.assertEqual(d["client_id"], self.extractor)
        self.assertGreaterEqual(d["events"], 20)
        names = [s["detector"] for s in d["detectors"]]
        self.assertIn("extraction", names)
        ext = next(s for s in d["detectors"] if s["detector"] == "extraction")
        self.assertGreater(ext["score"], 0.5)
        self.assertTrue(ext["reason"])
        self.assertEqual(d["detectors"][0]["score"], max(s["score"] for s in d["detectors"]))
        # The verdict change is in the audit log (written by the store, read back here).
        deadline = time.time() + 10
        while not d["history"] and time.time() < deadline:
            time.sleep(0.3)
            d = self.g.admin("GET", "/admin/clients/%s?events=5" % self.extractor)[1]
        self.assertTrue(d["history"], d)
        self.assertEqual(d["history"][0]["to"], d["verdict"])
        # Recent events from storage, newest first, with the extraction parameters visible.
        self.assertTrue(d["recent_events"], d)
        self.assertLessEqual(len(d["recent_events"]), 5)
        ev = d["recent_events"][0]
        self.assertEqual(ev["route"], "/v1/chat/completions")
        self.assertEqual(ev["params"].get("max_tokens"), 1)
        ats = [e["at"] for e in d["recent_events"]]
        self.assertEqual(ats, sorted(ats, reverse=True))

    def test_unknown_client_is_404(self):
        status, js, _ = self.g.admin("GET", "/admin/clients/0123456789abcdef")
        self.assertEqual(status, 404)
        self.assertEqual(js["error"]["code"], "client_not_found")

    def test_override_changes_the_next_request_then_clears(self):
        key = "sk-override-0000000000000000ovrd"
        body = ops.benign_body(__import__("random").Random(1))
        self.assertEqual(self.g.chat(key, body).status, 200)
        cid = self.g.client_id_of(key)
        status, js, _ = self.g.admin("POST", "/admin/clients/%s/override" % cid,
                                     body={"verdict": "block", "expires_in_s": 600,
                                           "reason": "integration test"})
        self.assertEqual(status, 200, js)
        self.assertEqual(js["override"]["verdict"], "block")
        r = self.g.chat(key, body)
        self.assertIn(r.status, (403, 429), r)
        err = json.loads(r.body)["error"]
        self.assertIn("message", err)
        d = self.g.admin("GET", "/admin/clients/" + cid)[1]
        self.assertEqual(d["override"]["verdict"], "block")
        self.assertEqual(d["override"]["reason"], "integration test")

        status, js, _ = self.g.admin("DELETE", "/admin/clients/%s/override" % cid)
        self.assertEqual(status, 200, js)
        self.assertEqual(self.g.chat(key, body).status, 200)
        status, js, _ = self.g.admin("DELETE", "/admin/clients/%s/override" % cid)
        self.assertEqual(status, 404)

    def test_override_bad_body_is_400(self):
        for body in ({"verdict": "ban", "reason": "x"}, {"verdict": "block"},
                     {"verdict": "block", "reason": "x", "expires_in_s": -1}):
            status, js, _ = self.g.admin("POST", "/admin/clients/%s/override" % self.extractor, body=body)
            self.assertEqual(status, 400, body)
            self.assertIn("message", js["error"])

    def test_clusters(self):
        status, js, _ = self.g.admin("GET", "/admin/clusters")
        self.assertEqual(status, 200, js)
        self.assertIsInstance(js["clusters"], list)
        self.assertEqual(js["total"], len(js["clusters"]))
        for c in js["clusters"]:
            self.assertGreaterEqual(len(c["members"]), 2)

    def test_config_is_redacted(self):
        status, js, r = self.g.admin("GET", "/admin/config")
        self.assertEqual(status, 200)
        self.assertEqual(js["admin"]["token_file"], self.g.token_file)
        self.assertNotIn(ops.TOKEN, r.body.decode())
        self.assertIn("upstream", js)
        self.assertIn("thresholds", js["policy"])

    def test_reload_good_then_bad(self):
        status, js = self.g.reload()
        self.assertEqual((status, js), (200, {"ok": True}))
        # A bad file: the running config stays and the errors come back.
        path = self.g.gw.config_path
        with open(path) as f:
            good = f.read()
        try:
            with open(path, "a") as f:
                f.write("\nnot_a_key: 1\n")
            status, js = self.g.reload()
            self.assertEqual(status, 422, js)
            self.assertFalse(js["ok"])
            self.assertTrue(any("not_a_key" in e for e in js["errors"]), js)
        finally:
            with open(path, "w") as f:
                f.write(good)
        self.assertEqual(self.g.reload()[0], 200)
        metrics = harness.admin_get(self.g.gw, "/metrics").body.decode()
        self.assertGreaterEqual(harness.metric_value(metrics, "distillguard_config_reloads_total",
                                                     {"result": "error"}) or 0, 1)

    def test_unknown_route_and_method(self):
        self.assertEqual(self.g.admin("GET", "/admin/nope")[0], 404)
        self.assertEqual(self.g.admin("GET", "/admin/reload")[0], 405)


class TokenFileTest(unittest.TestCase):
    def test_world_readable_token_file_refuses_to_start(self):
        work = tempfile.mkdtemp(prefix="dg-admin-perm-")
        try:
            token_file = ops.write_token(work, mode=0o644)
            os.makedirs(os.path.join(work, "gw"))
            gw = harness.Gateway(harness.refused_url(), config=ops.default_config(token_file),
                                 tmpdir=os.path.join(work, "gw"))
            proc = subprocess.run([harness.dg_bin(), "serve", "--config", gw.config_path],
                                  capture_output=True, timeout=60)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn(b"token_file", proc.stderr)
            self.assertIn(b"0644", proc.stderr)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
