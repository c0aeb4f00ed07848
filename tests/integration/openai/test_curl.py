"""curl through the real gateway to the real mock-upstream: plain JSON on every
OpenAI route, and streaming that arrives event by event (the first event is
in the client's hands while the upstream is still producing the stream).

DG_DIRECT=1 runs the same checks against mock-upstream without the gateway."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness as h  # noqa: E402

KEY = "sk-curl-test-0123456789abcdef"
QUESTION = "Explain how a lighthouse lens concentrates light, in a few paragraphs."


def curl(url, body=None, headers=(), stream=False):
    """Runs curl; returns (status, headers dict, body bytes)."""
    cmd = ["curl", "-sS", "--max-time", "60", "-D", "-", "-H", "Authorization: Bearer " + KEY]
    for hd in headers:
        cmd += ["-H", hd]
    if stream:
        cmd.append("-N")
    if body is not None:
        cmd += ["-H", "Content-Type: application/json",
                "--data-binary", body if isinstance(body, str) else json.dumps(body)]
    cmd.append(url)
    out = subprocess.run(cmd, check=True, capture_output=True, timeout=90).stdout
    head, _, payload = out.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):
        head, _, payload = payload.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, payload


def sse_data(payload):
    """The data of each event of a text/event-stream body, in order."""
    out = []
    for block in payload.decode().split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                out.append(line[6:])
    return out


class CurlThroughGateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = h.MockUpstream(["--token-delay-ms", "0", "--threads", "2"]).start()
        cls.gw = None
        if os.environ.get("DG_DIRECT"):
            cls.base = cls.mock.url
        else:
            cls.gw = h.Gateway(cls.mock.url).start()
            cls.base = "http://127.0.0.1:%d" % cls.gw.proxy_port

    @classmethod
    def tearDownClass(cls):
        if cls.gw:
            cls.gw.stop()
        cls.mock.stop()

    def mock_stats(self):
        return json.loads(h.request(self.mock.port, "GET", "/_mock/stats").body)

    def chat_body(self, **extra):
        body = {"model": "gpt-4o-mini", "max_tokens": 60,
                "messages": [{"role": "system", "content": "You are concise."},
                             {"role": "user", "content": QUESTION}]}
        body.update(extra)
        return body

    def test_chat_plain(self):
        status, hdrs, payload = curl(self.base + "/v1/chat/completions", self.chat_body())
        self.assertEqual(status, 200, payload)
        self.assertTrue(hdrs["content-type"].startswith("application/json"))
        j = json.loads(payload)
        self.assertEqual(j["object"], "chat.completion")
        self.assertEqual(j["choices"][0]["message"]["role"], "assistant")
        self.assertGreater(len(j["choices"][0]["message"]["content"]), 50)
        u = j["usage"]
        self.assertEqual(u["completion_tokens"], 60)
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
        self.assertGreater(u["prompt_tokens"], 10)

    def test_chat_stream_matches_plain_and_ends_with_usage_and_done(self):
        _, _, plain = curl(self.base + "/v1/chat/completions", self.chat_body())
        plain_text = json.loads(plain)["choices"][0]["message"]["content"]
        body = self.chat_body(stream=True, stream_options={"include_usage": True})
        status, hdrs, payload = curl(self.base + "/v1/chat/completions", body, stream=True)
        self.assertEqual(status, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/event-stream"))
        events = sse_data(payload)
        self.assertEqual(events[-1], "[DONE]")
        chunks = [json.loads(e) for e in events[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        # The gateway relays the stream unchanged for a client nobody suspects.
        self.assertEqual(text, plain_text)
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], 60)

    def test_first_event_arrives_before_the_upstream_finishes(self):
        # 300 ms between tokens: 12 tokens take over 3 s upstream.
        body = json.dumps(self.chat_body(max_tokens=12, stream=True))
        # Earlier streams are accounted for once the mock has none active.
        for _ in range(100):
            before = self.mock_stats()
            if before["streams_active"] == 0:
                break
            time.sleep(0.05)
        cmd = ["curl", "-sS", "-N", "--max-time", "60", "-H", "Authorization: Bearer " + KEY,
               "-H", "Content-Type: application/json", "-H", "x-mock-token-delay-ms: 300",
               "--data-binary", body, self.base + "/v1/chat/completions"]
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as p:
            first = p.stdout.readline()
            while first and not first.startswith(b"data: "):
                first = p.stdout.readline()
            self.assertTrue(first.startswith(b"data: "), "no event at all")
            # The client holds an event while the upstream's stream is still open:
            # the mock has not completed it (the check is causal, not a timing).
            during = self.mock_stats()
            self.assertEqual(during["streams_completed"], before["streams_completed"],
                             "the first event reached curl only after the upstream finished")
            self.assertEqual(during["streams_active"], 1)
            rest = p.stdout.read()
        events = sse_data(first + rest)
        self.assertEqual(events[-1], "[DONE]")
        deltas = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:-1]
                  if json.loads(e)["choices"]]
        self.assertEqual(sum(1 for d in deltas if d), 12)

    def test_completions_plain_and_stream(self):
        body = {"model": "gpt-3.5-turbo-instruct", "prompt": "The three laws of motion are", "max_tokens": 20}
        status, _, payload = curl(self.base + "/v1/completions", body)
        self.assertEqual(status, 200)
        j = json.loads(payload)
        self.assertEqual(j["object"], "text_completion")
        self.assertEqual(j["usage"]["completion_tokens"], 20)
        body.update(stream=True, stream_options={"include_usage": True})
        status, _, payload = curl(self.base + "/v1/completions", body, stream=True)
        events = sse_data(payload)
        self.assertEqual(events[-1], "[DONE]")
        text = "".join(json.loads(e)["choices"][0]["text"] for e in events[:-1] if json.loads(e)["choices"])
        self.assertEqual(text, j["choices"][0]["text"])
        self.assertEqual(json.loads(events[-2])["usage"]["completion_tokens"], 20)

    def test_embeddings_models_and_responses(self):
        status, _, payload = curl(self.base + "/v1/embeddings",
                                  {"model": "text-embedding-3-small", "input": ["first text", "second text"]})
        self.assertEqual(status, 200)
        j = json.loads(payload)
        self.assertEqual([d["index"] for d in j["data"]], [0, 1])
        self.assertEqual(len(j["data"][0]["embedding"]), 1536)
        self.assertEqual(j["usage"]["prompt_tokens"], 6)

        status, _, payload = curl(self.base + "/v1/models")
        self.assertEqual(status, 200)
        self.assertIn("gpt-4o-mini", [m["id"] for m in json.loads(payload)["data"]])

        status, _, payload = curl(self.base + "/v1/responses",
                                  {"model": "gpt-4o-mini", "input": QUESTION, "max_output_tokens": 30})
        self.assertEqual(status, 200)
        j = json.loads(payload)
        self.assertEqual(j["object"], "response")
        self.assertEqual(j["usage"]["output_tokens"], 30)

    def test_upstream_errors_keep_the_openai_shape(self):
        status, _, payload = curl(self.base + "/v1/chat/completions", "{not json")
        self.assertEqual(status, 400)
        err = json.loads(payload)["error"]
        self.assertEqual(err["type"], "invalid_request_error")
        self.assertIn("param", err)
        self.assertIn("code", err)


if __name__ == "__main__":
    unittest.main()
