"""The official `openai` npm client (v5) through the real gateway to the real
mock-upstream: runs sdk_check.cjs with OPENAI_BASE_URL pointing at the gateway.
OPENAI_NODE_DIR is where npm_install.py put openai@5 (a ctest fixture).

DG_DIRECT=1 points the client at mock-upstream without the gateway."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class OpenAINodeClient(unittest.TestCase):
    def test_sdk_through_gateway(self):
        node_dir = os.environ.get("OPENAI_NODE_DIR", "")
        self.assertTrue(os.path.isdir(os.path.join(node_dir, "node_modules", "openai")),
                        "openai@5 is not installed in %r (the openai_npm_install fixture)" % node_dir)
        with h.MockUpstream(["--token-delay-ms", "2", "--threads", "2"]) as mock:
            gw = None
            try:
                if os.environ.get("DG_DIRECT"):
                    base = mock.url
                else:
                    gw = h.Gateway(mock.url).start()
                    base = "http://127.0.0.1:%d" % gw.proxy_port
                env = dict(os.environ, OPENAI_BASE_URL=base + "/v1", OPENAI_API_KEY="sk-node-sdk-test-7f3a9c",
                           OPENAI_NODE_DIR=node_dir)
                p = subprocess.run([os.environ.get("NODE", "node"), os.path.join(HERE, "sdk_check.cjs")],
                                   env=env, capture_output=True, text=True, timeout=120)
                sys.stderr.write(p.stdout + p.stderr)
                self.assertEqual(p.returncode, 0, "sdk_check.cjs failed:\n" + p.stdout + p.stderr)
                self.assertIn("all checks passed", p.stdout)
            finally:
                if gw:
                    gw.stop()


if __name__ == "__main__":
    unittest.main()
