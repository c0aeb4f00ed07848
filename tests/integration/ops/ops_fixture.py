"""A running gateway for the operations tests: `distillguard mock-upstream`,
`distillguard serve` with an admin token, and traffic that gets a client
flagged (python3 standard library only; builds on tests/integration/harness.py).
"""
import contextlib
import json
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import harness  # noqa: E402

TOKEN = "ops-test-token-" + "5f3a9c0d1e2b4a6f" * 2

# The logit-extraction pattern (Carlini et al. 2024): one prompt again and again,
# max_tokens 1, logprobs with top_logprobs, a large logit_bias on rotating token ids.
EXTRACTOR_KEY = "sk-extract-0000000000000000xtrc"
BENIGN_KEYS = ["sk-benign-%04d000000000000000%04d" % (i, i) for i in range(4)]


def write_token(dirpath, token=TOKEN, mode=0o600):
    path = os.path.join(dirpath, "admin.token")
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, mode)
    return path


class OpsGateway:
    """harness.Gateway plus what the ops tests need: the token, the admin API, reload."""

    def __init__(self, gw, token_file, token=TOKEN):
        self.gw = gw
        self.token_file = token_file
        self.token = token

    def __getattr__(self, name):
        return getattr(self.gw, name)

    def admin(self, method, path, body=None, token=None):
        headers = {}
        tok = self.token if token is None else token
        if tok:
            headers["Authorization"] = "Bearer " + tok
        r = harness.request(self.gw.admin_port, method, path, body=body, headers=headers, timeout=20)
        try:
            js = json.loads(r.body.decode() or "null")
        except ValueError:
            js = None
        return r.status, js, r

    def reload(self):
        status, js, _ = self.admin("POST", "/admin/reload")
        return status, js

    def chat(self, key, body, extra_headers=None):
        headers = {"Authorization": "Bearer " + key}
        headers.update(extra_headers or {})
        return harness.request(self.gw.proxy_port, "POST", "/v1/chat/completions", body=body,
                               headers=headers, timeout=30)

    def client_id_of(self, key, timeout=30):
        """The client id the gateway gave `key`, found by its hint (last four characters)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, js, _ = self.admin("GET", "/admin/clients?sort=events&limit=1000")
            if status == 200:
                for c in js["clients"]:
                    if c.get("hint", "").endswith(key[-4:]):
                        return c["client_id"]
            time.sleep(0.3)
        raise AssertionError("client with key ...%s never appeared in /admin/clients" % key[-4:])


def default_config(token_file, extra=None):
    cfg = {
        "admin": {"token_file": token_file},
        "log": {"level": "info"},
        "storage": {"flush_interval_ms": 20},
        # Rescore often so that a short test sees verdicts.
        "detectors": {"scoring": {"rescore_every_events": 4, "rescore_interval_seconds": 1}},
    }
    return harness._merge(cfg, extra or {})


@contextlib.contextmanager
def gateway(dg_bin, workdir, config=None):
    """mock-upstream + serve, both stopped on exit."""
    if dg_bin:
        os.environ["DG_BIN"] = dg_bin
    token_file = write_token(workdir)
    mock = harness.MockUpstream()
    mock.start()
    try:
        os.makedirs(os.path.join(workdir, "gw"), exist_ok=True)
        gw = harness.Gateway(mock.url, config=default_config(token_file, config),
                             tmpdir=os.path.join(workdir, "gw"))
        gw.start(timeout=60)
        try:
            yield OpsGateway(gw, token_file)
        finally:
            gw.stop()
    finally:
        mock.stop()


def extraction_body(i):
    return {"model": "mock-1", "messages": [{"role": "user", "content": "The capital of France is"}],
            "max_tokens": 1, "logprobs": True, "top_logprobs": 5,
            "logit_bias": {str(1000 + (i * 7) % 5000): 100, str(2000 + (i * 11) % 5000): -100}}


def benign_body(rng):
    topics = ["a haiku about autumn", "how to boil an egg", "the history of Rome in two lines",
              "a polite reply to a late invoice", "three names for a cat", "what a monad is"]
    return {"model": "mock-1", "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Write %s." % rng.choice(topics)}], "max_tokens": 64}


def flag_a_client(g, n=80, timeout=60):
    """Sends the extraction pattern until the extractor's verdict rises above allow.
    Returns its client id."""
    for i in range(n):
        g.chat(EXTRACTOR_KEY, extraction_body(i))
    cid = g.client_id_of(EXTRACTOR_KEY)
    deadline = time.time() + timeout
    i = n
    while time.time() < deadline:
        status, js, _ = g.admin("GET", "/admin/clients/" + cid)
        if status == 200 and js["verdict"] != "allow":
            return cid
        g.chat(EXTRACTOR_KEY, extraction_body(i))
        i += 1
        time.sleep(0.05)
    raise AssertionError("the extraction client was never flagged; dossier: %s" % json.dumps(js)[:2000])


class background_traffic:
    """Benign clients (JSON and streaming) until stop(), so that rates and quantiles have data."""

    def __init__(self, g, pause=0.05):
        self.g = g
        self.pause = pause
        self.sent = 0
        self.errors = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        rng = random.Random(7)
        while not self._stop.is_set():
            key = rng.choice(BENIGN_KEYS)
            body = benign_body(rng)
            if rng.random() < 0.3:
                body["stream"] = True
            try:
                self.g.chat(key, body)
                if rng.random() < 0.2:
                    harness.request(self.g.proxy_port, "GET", "/v1/models",
                                    headers={"Authorization": "Bearer " + key}, timeout=10)
                if rng.random() < 0.1:
                    harness.request(self.g.proxy_port, "POST", "/v1/embeddings",
                                    body={"model": "mock-embed", "input": "hello"},
                                    headers={"Authorization": "Bearer " + key}, timeout=10)
                self.sent += 1
            except OSError as e:
                self.errors.append(str(e))
            time.sleep(self.pause)

    def stop(self):
        self._stop.set()
        self._t.join(30)
