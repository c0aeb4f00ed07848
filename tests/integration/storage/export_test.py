#!/usr/bin/env python3
"""distillguard export against a store written by the library (storage_fill),
while that writer still holds the database open, as a running gateway would."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

FILL = os.environ.get("DG_STORAGE_FILL", "")
DG = os.environ.get("DG_BIN", "")


class export_test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="dg-export-")
        self.dir = self.tmp.name
        self.db = os.path.join(self.dir, "db")
        self.config = os.path.join(self.dir, "distillguard.yaml")
        with open(self.config, "w") as f:
            f.write("state_dir: %s\nstorage:\n  path: %s\n  prompt_text: full\n"
                    "  retention_days: 3650\n" % (self.dir, self.db))
        self.fill = subprocess.Popen(
            [FILL, "--db", self.db, "--clients", "3", "--events", "30", "--prompt-text", "full"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.assertEqual(self.fill.stdout.readline().strip(), "ready 30")

    def tearDown(self):
        if self.fill.poll() is None:
            self.fill.stdin.close()
            self.fill.wait(timeout=30)
        self.tmp.cleanup()

    def export(self, *args, ok=True):
        p = subprocess.run([DG, "export", "--config", self.config, *args],
                           capture_output=True, text=True, timeout=60)
        if ok:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def lines(self, *args):
        out = self.export(*args).stdout
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def test_everything_in_time_order_while_the_writer_runs(self):
        recs = self.lines()
        self.assertEqual(len(recs), 30)
        self.assertEqual([r["ts"] for r in recs], [1793577600.0 + k for k in range(30)])
        r = recs[4]
        self.assertEqual(r["client"], "sk-...0001")
        self.assertEqual(r["ip"], "203.0.113.2")
        self.assertEqual(r["method"], "POST")
        self.assertEqual(r["path"], "/v1/chat/completions")
        req = r["request"]
        self.assertEqual(req["model"], "gpt-4o-mini")
        self.assertEqual([m["role"] for m in req["messages"]], ["system", "user"])
        self.assertEqual(req["messages"][0]["content"], "You are terse.")
        self.assertEqual(req["messages"][1]["content"], "prompt number 4")
        self.assertEqual(req["max_tokens"], 1)
        self.assertEqual(req["logprobs"], True)
        self.assertEqual(req["top_logprobs"], 20)
        self.assertEqual(len(req["logit_bias"]), 3)
        self.assertTrue(all(abs(v) == 100 for v in req["logit_bias"].values()))
        self.assertEqual(r["response"], {"status": 200, "usage": {
            "prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}})
        x = r["x_distillguard"]
        self.assertEqual(x["client_id"], "client-1")
        self.assertEqual(x["prompt_text"], "prompt number 4")
        self.assertTrue(x["prompt_text_hash"])

        # The writer commits more; a new export sees it.
        self.fill.stdin.write("more\n")
        self.fill.stdin.flush()
        self.assertEqual(self.fill.stdout.readline().strip(), "ready 60")
        self.assertEqual(len(self.lines()), 60)

    def test_filters_and_output_file(self):
        # [since, until): seconds or ISO-8601.
        recs = self.lines("--since", "1793577610", "--until", "2026-11-02T00:00:20Z")
        self.assertEqual([r["ts"] for r in recs], [1793577600.0 + k for k in range(10, 20)])
        # One client, by id or by hint.
        by_id = self.lines("--client", "client-2")
        self.assertEqual(len(by_id), 10)
        self.assertTrue(all(r["x_distillguard"]["client_id"] == "client-2" for r in by_id))
        by_hint = self.lines("--client", "sk-...0002", "--since", "1793577620")
        self.assertEqual([r["ts"] for r in by_hint], [1793577600.0 + k for k in (20, 23, 26, 29)])
        out = os.path.join(self.dir, "out.jsonl")
        p = self.export("--output", out)
        self.assertEqual(p.stdout, "")
        self.assertIn("exported 30 events", p.stderr)
        with open(out) as f:
            self.assertEqual(len(f.read().splitlines()), 30)

    def test_errors_are_clear(self):
        p = self.export("--since", "yesterday", ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--since", p.stderr)
        p = self.export("--client", "nobody", ok=False)
        self.assertEqual(p.stdout, "")
        self.assertIn("no client 'nobody'", p.stderr)
        missing = os.path.join(self.dir, "missing")
        p = self.export("--db", missing, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(missing, p.stderr)


if __name__ == "__main__":
    if not FILL or not DG:
        sys.exit("set DG_STORAGE_FILL and DG_BIN")
    unittest.main()
