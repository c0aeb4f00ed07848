"""TLS on the listener: TLS 1.2 and 1.3 only; requests are proxied as usual
and the upstream sees X-Forwarded-Proto: https."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness as h  # noqa: E402


@unittest.skipIf(shutil.which("openssl") is None, "needs the openssl command")
class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dg-tls-")
        cls.cert = os.path.join(cls.dir, "cert.pem")
        cls.key = os.path.join(cls.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", cls.key, "-out", cls.cert, "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        cls.up = h.FakeUpstream(h.respond_json({"ok": True})).start()
        cls.gw = h.Gateway(cls.up.url, {"tls": {"cert_file": cls.cert, "key_file": cls.key}}).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.gw.stop()
        cls.up.stop()
        assert code == 0, code

    def connect(self, ctx):
        raw = socket.create_connection(("127.0.0.1", self.gw.proxy_port), 10)
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def test_request_over_tls(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        s = self.connect(ctx)
        self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
        s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        r = h.parse_response(data)
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body), {"ok": True})
        self.assertEqual(self.up.requests[-1].headers["x-forwarded-proto"], "https")

    def test_tls_1_1_is_refused(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            self.skipTest("this OpenSSL cannot even offer TLS 1.1")
        with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
            s = self.connect(ctx)
            s.close()

    def test_tls_1_2_with_cbc_cipher_is_refused(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA")
        with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
            s = self.connect(ctx)
            s.close()


    def test_https_upstream_verified(self):
        with h.FakeUpstream(h.respond_json({"tls": True}), tls=(self.cert, self.key)) as up:
            url = "https://localhost:%d" % up.port
            gw = h.Gateway(url, {"upstream": {"ca_file": self.cert}}).start()
            try:
                r = h.request(gw.proxy_port, "GET", "/v1/models")
            finally:
                self.assertEqual(gw.stop(), 0)
            self.assertEqual(r.status, 200)
            self.assertEqual(json.loads(r.body), {"tls": True})
            self.assertEqual(up.requests[-1].headers["host"], "localhost:%d" % up.port)

    def test_https_upstream_with_wrong_certificate_is_refused(self):
        other = os.path.join(self.dir, "other.pem")
        other_key = os.path.join(self.dir, "other-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", other_key, "-out", other, "-days", "1", "-subj", "/CN=other"],
                       check=True, capture_output=True)
        with h.FakeUpstream(h.respond_json({}), tls=(self.cert, self.key)) as up:
            # Trusts only `other`: the upstream's certificate must not pass.
            gw = h.Gateway("https://localhost:%d" % up.port, {"upstream": {"ca_file": other}}).start()
            try:
                r = h.request(gw.proxy_port, "GET", "/v1/models")
            finally:
                self.assertEqual(gw.stop(), 0)
            self.assertEqual(r.status, 502)
            self.assertEqual(len(up.requests), 0)


if __name__ == "__main__":
    unittest.main()
