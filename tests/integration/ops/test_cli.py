#!/usr/bin/env python3
"""The operators' CLI against a running gateway: `distillguard clients top`,
`clients show ID`, `override set|clear`, as tables and as --json, and its
errors when the token is wrong or the gateway is down."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import harness  # noqa: E402
import ops_fixture as ops  # noqa: E402


def cli(*args, timeout=60):
    p = subprocess.run([harness.dg_bin()] + list(args), capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="dg-cli-")
        cls.ctx = ops.gateway(harness.dg_bin(), cls.work)
        cls.g = cls.ctx.__enter__()
        traffic = ops.background_traffic(cls.g, pause=0.01)
        try:
            cls.extractor = ops.flag_a_client(cls.g)
        finally:
            traffic.stop()
        cls.conn = ["--admin", "127.0.0.1:%d" % cls.g.admin_port, "--token-file", cls.g.token_file]

    @classmethod
    def tearDownClass(cls):
        cls.ctx.__exit__(None, None, None)
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_top_table(self):
        rc, out, err = cli("clients", "top", "--limit", "5", *self.conn)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        header = lines[0].split()
        self.assertEqual(header[:4], ["CLIENT", "HINT", "RISK", "VERDICT"])
        self.assertTrue(lines[1].startswith(self.extractor), out)
        # Columns are aligned: RISK starts at the same offset in the header and the first row.
        col = lines[0].index("RISK")
        self.assertRegex(lines[1][col:col + 4], r"^[01]\.\d\d")

    def test_top_json(self):
        rc, out, err = cli("clients", "top", "--json", "--limit", "2", *self.conn)
        self.assertEqual(rc, 0, err)
        js = json.loads(out)
        self.assertEqual(js["clients"][0]["client_id"], self.extractor)
        self.assertLessEqual(len(js["clients"]), 2)

    def test_top_with_config_file(self):
        # The config's admin.listen says port 0 (any free port): the CLI must be told the real one.
        rc, out, err = cli("clients", "top", "--config", self.g.gw.config_path,
                           "--admin", "127.0.0.1:%d" % self.g.admin_port)
        self.assertEqual(rc, 0, err)
        self.assertIn(self.extractor, out)

    def test_show_dossier(self):
        rc, out, err = cli("clients", "show", self.extractor, *self.conn)
        self.assertEqual(rc, 0, err)
        self.assertIn(self.extractor, out)
        self.assertIn("extraction", out)
        self.assertIn("verdict history", out)
        self.assertIn("recent events", out)
        self.assertIn("/v1/chat/completions", out)
        rc, out, err = cli("clients", "show", self.extractor, "--json", *self.conn)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["client_id"], self.extractor)

    def test_show_unknown_client(self):
        rc, out, err = cli("clients", "show", "00000000deadbeef", *self.conn)
        self.assertEqual(rc, 1)
        self.assertIn("no such client", err)

    def test_override_set_and_clear(self):
        key = "sk-cli-override-000000000000clio"
        body = {"model": "mock-1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
        self.assertEqual(self.g.chat(key, body).status, 200)
        cid = self.g.client_id_of(key)
        rc, out, err = cli("override", "set", cid, "--verdict", "block", "--expires", "1h",
                           "--reason", "cli test", *self.conn)
        self.assertEqual(rc, 0, err)
        self.assertIn("override set", out)
        self.assertIn("block", out)
        self.assertIn(self.g.chat(key, body).status, (403, 429))
        rc, out, err = cli("override", "clear", cid, *self.conn)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.g.chat(key, body).status, 200)
        rc, out, err = cli("override", "clear", cid, *self.conn)
        self.assertEqual(rc, 1)
        self.assertIn("no override", err)

    def test_override_usage_errors(self):
        self.assertEqual(cli("override", "set", "abc", "--verdict", "ban", "--reason", "x", *self.conn)[0], 2)
        self.assertEqual(cli("override", "set", "abc", "--verdict", "block", *self.conn)[0], 2)
        self.assertEqual(cli("override", "set", "abc", "--verdict", "block", "--reason", "x",
                             "--expires", "soon", *self.conn)[0], 2)
        self.assertEqual(cli("clients")[0], 2)

    def test_wrong_token(self):
        bad = os.path.join(self.work, "wrong.token")
        with open(bad, "w") as f:
            f.write("0" * 40 + "\n")
        os.chmod(bad, 0o600)
        rc, out, err = cli("clients", "top", "--admin", "127.0.0.1:%d" % self.g.admin_port,
                           "--token-file", bad)
        self.assertEqual(rc, 1)
        self.assertIn("refused the token", err)
        self.assertIn(bad, err)

    def test_gateway_down(self):
        rc, out, err = cli("clients", "top", "--admin", harness.refused_url()[len("http://"):],
                           "--token-file", self.g.token_file)
        self.assertEqual(rc, 1)
        self.assertIn("cannot reach the admin API", err)

    def test_no_token_configured(self):
        rc, out, err = cli("clients", "top", "--admin", "127.0.0.1:%d" % self.g.admin_port)
        self.assertEqual(rc, 1)
        self.assertIn("token", err)


if __name__ == "__main__":
    unittest.main()
