"""Security properties, each against the real binary:

- the admin token file must not be readable or writable by everyone: the
  gateway refuses to start;
- planted secrets (the identity secret, the admin token, the watermark key,
  raw keys in the allow/deny lists, and the credentials clients send) never
  appear in the logs, /metrics, the admin API, or any file of the state and
  storage directory;
- TLS on the listener speaks TLS 1.2 and 1.3 only, with AEAD ciphers (checked
  with `openssl s_client`, with a control server that does accept TLS 1.1 so
  the refusal is the gateway's and not the client's);
- an HTTPS upstream's certificate is verified by default: a self-signed one
  is refused with 502 unless its CA file is configured, and a certificate for
  another name is refused even then.
"""

import http.server
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from common import alive, error_of  # noqa: E402

OPENSSL = shutil.which("openssl")


def write_secret(path, value, mode=0o600):
    with open(path, "w") as f:
        f.write(value + "\n")
    os.chmod(path, mode)


def make_cert(directory, name, san):
    """A self-signed certificate and key (PEM files) for `san`."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=" + san], check=True, capture_output=True)
    return cert, key


def s_client(port, *args):
    """Runs openssl s_client against 127.0.0.1:port; returns (handshake ok, output)."""
    p = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-brief", *args],
                       input=b"", capture_output=True, timeout=20)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    ok = p.returncode == 0 and "Protocol version" in out
    return ok, out


class AdminToken(unittest.TestCase):
    def start_with_mode(self, mode):
        d = tempfile.mkdtemp(prefix="dg-token-")
        token = os.path.join(d, "admin.token")
        write_secret(token, "admin-token-" + secrets.token_hex(16), mode)
        gw = h.Gateway(h.refused_url(), {"admin": {"token_file": token}}, tmpdir=d)
        p = subprocess.run([h.dg_bin(), "serve", "--config", gw.config_path], capture_output=True, timeout=30)
        return p

    def test_world_readable_token_refused_at_start(self):
        for mode in (0o644, 0o604, 0o602, 0o666):
            with self.subTest(mode=oct(mode)):
                p = self.start_with_mode(mode)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn("admin.token", p.stderr.decode())

    def test_private_token_accepted(self):
        with tempfile.TemporaryDirectory(prefix="dg-token-") as d:
            token_value = "admin-token-" + secrets.token_hex(16)
            token = os.path.join(d, "admin.token")
            write_secret(token, token_value, 0o600)
            with h.Gateway(h.refused_url(), {"admin": {"token_file": token}}, tmpdir=d) as gw:
                def get(auth):
                    return h.request(gw.admin_port, "GET", "/admin/config",
                                     headers={"Authorization": auth} if auth else {})
                self.assertEqual(get("Bearer " + token_value).status, 200)
                for wrong in (None, "Bearer " + token_value[:-1] + "x", "Bearer " + token_value + "x",
                              "Basic " + token_value, "Bearer "):
                    with self.subTest(auth=wrong):
                        self.assertIn(get(wrong).status, (401, 403))


class PlantedSecrets(unittest.TestCase):
    def test_secrets_never_leak(self):
        tag = secrets.token_hex(6)
        planted = {
            "server secret": "PLANTEDSERVERSECRET" + tag + secrets.token_hex(16),
            "admin token": "PLANTEDADMINTOKEN" + tag + secrets.token_hex(8),
            "watermark secret": "PLANTEDWATERMARK" + tag + secrets.token_hex(8),
            "bearer key": "sk-PLANTEDBEARER" + tag + "0123456789",
            "x-api-key": "PLANTEDAPIKEY" + tag + "abcdefgh",
            "identity header": "PLANTEDUSERHEADER" + tag + "zz",
            "allow key": "sk-PLANTEDALLOWKEY" + tag + "99",
            "deny key": "sk-PLANTEDDENYKEY" + tag + "77",
        }
        d = tempfile.mkdtemp(prefix="dg-secrets-")
        keys = os.path.join(d, "keys")
        os.makedirs(keys)
        write_secret(os.path.join(keys, "secret"), planted["server secret"])
        write_secret(os.path.join(keys, "admin.token"), planted["admin token"])
        write_secret(os.path.join(keys, "watermark.key"), planted["watermark secret"])
        state = os.path.join(d, "state")
        cfg = {
            "state_dir": state,
            "storage": {"path": os.path.join(state, "db"), "compression": "none", "prompt_text": "full",
                        "flush_interval_ms": 50},
            "admin": {"token_file": os.path.join(keys, "admin.token")},
            "identity": {"secret_file": os.path.join(keys, "secret"), "header": "x-user-id"},
            "log": {"level": "debug", "access_log": True},
            "policy": {"allow_keys": [planted["allow key"]], "deny_keys": [planted["deny key"]],
                       "watermark": {"everyone": True,
                                     "key": {"id": 3, "secret_file": os.path.join(keys, "watermark.key")}}},
        }
        with h.MockUpstream() as up, h.Gateway(up.url, cfg, tmpdir=d) as gw:
            chat = {"model": "m", "messages": [{"role": "user", "content": "Tell me about the sea."}]}
            creds = [{"Authorization": "Bearer " + planted["bearer key"]}, {"x-api-key": planted["x-api-key"]},
                     {"x-user-id": planted["identity header"]}, {"Authorization": "Bearer " + planted["allow key"]},
                     {"Authorization": "Bearer " + planted["deny key"]}]
            for c in creds:
                for stream in (False, True):
                    r = h.request(gw.proxy_port, "POST", "/v1/chat/completions", dict(chat, stream=stream),
                                  headers=c, timeout=30)
                    self.assertIn(r.status, (200, 403, 429), r.body[:200])
            surfaces = {}
            auth = {"Authorization": "Bearer " + planted["admin token"]}
            surfaces["/metrics"] = h.admin_get(gw, "/metrics").body
            for path in ("/admin/config", "/admin/clients", "/admin/clusters"):
                r = h.request(gw.admin_port, "GET", path, headers=auth)
                self.assertEqual(r.status, 200, (path, r.body[:200]))
                surfaces[path] = r.body
            clients = json.loads(surfaces["/admin/clients"])
            for c in (clients.get("clients", []) if isinstance(clients, dict) else clients)[:10]:
                cid = c.get("client_id") or c.get("client") or c.get("id")
                if cid:
                    r = h.request(gw.admin_port, "GET", "/admin/clients/" + cid, headers=auth)
                    surfaces["/admin/clients/" + cid] = r.body
            time.sleep(0.5)  # let the store write its batch
            self.assertEqual(gw.stop(), 0)
            surfaces["logs"] = "\n".join(map(json.dumps, gw.logs())).encode()

            # Every file under the state directory (the store included), byte for byte.
            for root, _, files in os.walk(state):
                for f in files:
                    p = os.path.join(root, f)
                    with open(p, "rb") as fh:
                        surfaces[p] = fh.read()
            stored = sum(len(v) for k, v in surfaces.items() if k.startswith(state))
            self.assertGreater(stored, 0, "nothing was stored: the storage check would be vacuous")

            # The events as `export` writes them, when the command exists.
            p = subprocess.run([h.dg_bin(), "export", "--config", gw.config_path], capture_output=True, timeout=60)
            if p.returncode == 0:
                surfaces["export"] = p.stdout
                self.assertIn(b"Tell me about the sea", p.stdout)  # prompt_text: full, so the check has teeth

        for what, value in planted.items():
            for where, data in surfaces.items():
                self.assertNotIn(value.encode(), data, "%s found in %s" % (what, where))
                self.assertNotIn(value.encode().hex().encode(), data, "%s (hex) found in %s" % (what, where))


class ListenerTLS(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not OPENSSL:
            raise unittest.SkipTest("openssl not installed")
        cls.dir = tempfile.mkdtemp(prefix="dg-tls-")
        cls.cert, cls.key = make_cert(cls.dir, "localhost", "DNS:localhost,IP:127.0.0.1")
        cls.up = h.FakeUpstream(h.respond_json({"ok": True})).start()
        cls.gw = h.Gateway(cls.up.url, {"tls": {"cert_file": cls.cert, "key_file": cls.key}}).start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.up.stop()

    def control_server(self, minimum):
        """A python TLS server that accepts versions from `minimum` up, to show
        that openssl s_client here can speak that version at all."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = minimum
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.load_cert_chain(self.cert, self.key)
        srv = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        return srv

    def test_tls11_refused(self):
        legacy = ("-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
        try:
            srv = self.control_server(ssl.TLSVersion.TLSv1_1)
        except (ssl.SSLError, ValueError) as e:
            self.skipTest("this OpenSSL cannot serve TLS 1.1 at all: %s" % e)
        try:
            ok, out = s_client(srv.server_address[1], *legacy)
        finally:
            srv.shutdown()
        if not ok:
            self.skipTest("openssl s_client here cannot speak TLS 1.1 (control failed): " + out[-300:])
        ok, out = s_client(self.gw.proxy_port, *legacy)
        self.assertFalse(ok, out)
        ok, out = s_client(self.gw.proxy_port, "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0")
        self.assertFalse(ok, out)
        self.assertTrue(alive(self.gw))

    def test_tls12_and_tls13_accepted(self):
        ok, out = s_client(self.gw.proxy_port, "-tls1_2")
        self.assertTrue(ok, out)
        self.assertIn("TLSv1.2", out)
        ok, out = s_client(self.gw.proxy_port, "-tls1_3")
        self.assertTrue(ok, out)
        self.assertIn("TLSv1.3", out)

    def test_cbc_and_weak_ciphers_refused_on_tls12(self):
        for cipher in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "AES128-SHA", "ECDHE-ECDSA-DES-CBC3-SHA"):
            with self.subTest(cipher=cipher):
                ok, out = s_client(self.gw.proxy_port, "-tls1_2", "-cipher", cipher + ":@SECLEVEL=0")
                self.assertFalse(ok, out)
        ok, out = s_client(self.gw.proxy_port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
        self.assertTrue(ok, out)

    def test_https_request_through_the_listener(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        import http.client
        c = http.client.HTTPSConnection("127.0.0.1", self.gw.proxy_port, context=ctx, timeout=10)
        c.request("POST", "/v1/chat/completions", body=b'{"model":"m"}', headers={"Content-Type": "application/json"})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.read()), {"ok": True})
        c.close()
        self.assertEqual(self.up.requests[-1].headers.get("x-forwarded-proto"), "https")


class TLSUpstream:
    """A python HTTPS server answering every POST/GET with {"ok": true};
    records the SNI name each handshake asked for."""

    def __init__(self, cert, key):
        self.sni = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.sni_callback = lambda sock, name, c: self.sni.append(name)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self):
                n = int(self.headers.get("Content-Length", "0"))
                if n:
                    self.rfile.read(n)
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = answer

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True, do_handshake_on_connect=False)
        self.srv.handle_error = lambda *a: None  # refused handshakes are the point, not noise
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()


class UpstreamTLS(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not OPENSSL:
            raise unittest.SkipTest("openssl not installed")
        cls.dir = tempfile.mkdtemp(prefix="dg-uptls-")
        cls.good = make_cert(cls.dir, "upstream", "DNS:localhost,IP:127.0.0.1")
        cls.wrong = make_cert(cls.dir, "wrongname", "DNS:wrong.example")

    def through(self, cert_key, host, upstream_cfg):
        up = TLSUpstream(*cert_key)
        try:
            cfg = {"upstream": dict({"url": "https://%s:%d" % (host, up.port)}, **upstream_cfg)}
            with h.Gateway("https://%s:%d" % (host, up.port), cfg) as gw:
                r = h.request(gw.proxy_port, "POST", "/v1/chat/completions", {"model": "m"}, timeout=20)
                self.assertTrue(alive(gw))
                return r, list(up.sni)
        finally:
            up.stop()

    def test_self_signed_refused_by_default(self):
        r, _ = self.through(self.good, "127.0.0.1", {})
        self.assertEqual(r.status, 502, r)
        error_of(r)

    def test_self_signed_accepted_with_its_ca_file(self):
        r, _ = self.through(self.good, "127.0.0.1", {"ca_file": self.good[0]})
        self.assertEqual(r.status, 200, r)

    def test_wrong_name_refused_even_with_ca_file(self):
        r, _ = self.through(self.wrong, "127.0.0.1", {"ca_file": self.wrong[0]})
        self.assertEqual(r.status, 502, r)

    def test_sni_sent_for_a_name(self):
        r, sni = self.through(self.good, "localhost", {"ca_file": self.good[0]})
        self.assertEqual(r.status, 200, r)
        self.assertIn("localhost", sni)


if __name__ == "__main__":
    unittest.main()
