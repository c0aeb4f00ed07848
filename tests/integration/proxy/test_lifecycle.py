"""Start, config errors, graceful shutdown with a stream in flight."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness as h  # noqa: E402


class Lifecycle(unittest.TestCase):
    def test_check_config(self):
        root = h.ROOT
        ok = subprocess.run([h.dg_bin(), "check-config", os.path.join(root, "deploy", "distillguard.yaml")],
                            capture_output=True, text=True)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertEqual(ok.stdout.strip(), "ok")
        d = tempfile.mkdtemp()
        bad = os.path.join(d, "bad.yaml")
        with open(bad, "w") as f:
            f.write("listen: 127.0.0.1:8080\nupstream:\n  urll: http://x\nlimits:\n  max_body_bytes: -5\n")
        r = subprocess.run([h.dg_bin(), "check-config", bad], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(bad + ":3:3: unknown key 'upstream.urll'", r.stderr)
        self.assertIn("key 'limits.max_body_bytes'", r.stderr)
        s = subprocess.run([h.dg_bin(), "serve", "--config", bad], capture_output=True, text=True)
        self.assertNotEqual(s.returncode, 0)
        self.assertIn("upstream.urll", s.stderr)

    def test_help_lists_commands(self):
        r = subprocess.run([h.dg_bin(), "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for c in ("serve", "check-config"):
            self.assertIn(c, r.stdout)
        r = subprocess.run([h.dg_bin(), "serve", "--help"], capture_output=True, text=True)
        self.assertIn("--config", r.stdout)

    def test_secret_generated_with_0600(self):
        with h.FakeUpstream(h.respond_json({})) as up, h.Gateway(up.url) as gw:
            path = os.path.join(gw.dir, "state", "secret")
            self.assertTrue(os.path.exists(path))
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)

    def test_graceful_shutdown_with_stream_in_flight(self):
        events = ['{"n":%d}' % i for i in range(15)] + ["[DONE]"]
        with h.FakeUpstream(h.sse_stream(events, delay=0.1)) as up:
            gw = h.Gateway(up.url, {"shutdown": {"drain_ms": 10000}}).start()
            body = b'{"stream":true}'
            s = socket.create_connection(("127.0.0.1", gw.proxy_port), 15)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            s.settimeout(15)
            data = b""
            while b'{"n":1}' not in data:
                data += s.recv(65536)
            # An idle keep-alive connection is closed at once by the drain.
            idle = socket.create_connection(("127.0.0.1", gw.proxy_port), 5)
            time.sleep(0.1)
            gw.proc.send_signal(signal.SIGTERM)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
            self.assertIn(b"[DONE]", data, "the stream in flight must finish")
            self.assertTrue(data.endswith(b"0\r\n\r\n"))
            idle.settimeout(5)
            self.assertEqual(idle.recv(10), b"")
            idle.close()
            self.assertEqual(gw.proc.wait(15), 0)
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", gw.proxy_port), 1)

    def test_drain_time_is_bounded(self):
        gate_events = ['{"n":0}'] + ['{"n":%d}' % i for i in range(1, 1000)]
        with h.FakeUpstream(h.sse_stream(gate_events, delay=0.5)) as up:
            gw = h.Gateway(up.url, {"shutdown": {"drain_ms": 500}}).start()
            s = socket.create_connection(("127.0.0.1", gw.proxy_port), 15)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}")
            s.settimeout(10)
            s.recv(65536)
            t0 = time.time()
            gw.proc.send_signal(signal.SIGTERM)
            self.assertEqual(gw.proc.wait(15), 0)
            self.assertLess(time.time() - t0, 5)
            s.close()


if __name__ == "__main__":
    unittest.main()
