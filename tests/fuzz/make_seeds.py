#!/usr/bin/env python3
"""Writes the hand-made seed corpora of the fuzz targets into corpus/<target>/.

Run once when a seed is added here; the files are committed. Crashing inputs
found by fuzzing are added to the corpora by hand (named crash-*), not here.
The first byte of http_request, sse_parser and watermark inputs selects the
read size (and mode) in the target; see each *_fuzz.cpp.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def w(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def req(method, target, headers, body=b'', version='1.1'):
    if isinstance(body, str):
        body = body.encode()
    head = f"{method} {target} HTTP/{version}\r\n" + ''.join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode() + body


def sse(events):
    return ''.join(f"data: {json.dumps(e)}\n\n" for e in events)


CHAT = json.dumps({"model": "gpt-4o-mini", "messages": [
    {"role": "system", "content": "You are a helpful assistant. Explain your reasoning step by step."},
    {"role": "user", "content": "What is the capital of France?"}], "temperature": 0.7, "max_tokens": 256})
CHAT_STREAM = json.dumps({"model": "gpt-4o-mini", "stream": True,
                          "messages": [{"role": "user", "content": "Write a haiku about the sea."}]})


def http_request():
    t = 'http_request'
    base = [("Host", "127.0.0.1:8080"), ("Content-Type", "application/json")]
    w(t, 'chat_post', b'\x0f' + req('POST', '/v1/chat/completions', base + [
        ("Authorization", "Bearer sk-test-0123456789abcdef"), ("Content-Length", str(len(CHAT)))], CHAT))
    w(t, 'chat_stream_bytewise', b'\x00' + req('POST', '/v1/chat/completions', base + [
        ("x-api-key", "sk-ant-123"), ("Content-Length", str(len(CHAT_STREAM)))], CHAT_STREAM))
    raw = CHAT.encode()
    chunked = b''.join(b'%x\r\n%s\r\n' % (len(raw[i:i + 50]), raw[i:i + 50]) for i in range(0, len(raw), 50))
    w(t, 'chunked_post', b'\x03' + req('POST', '/v1/chat/completions', base + [("Transfer-Encoding", "chunked")],
                                       chunked + b'0\r\n\r\n'))
    w(t, 'chunked_ext_trailer', b'\x05' + req('POST', '/v1/completions', base + [("Transfer-Encoding", "chunked")],
                                              b'5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n'))
    w(t, 'get_models_pipelined', b'\x08' + req('GET', '/v1/models', [("Host", "x")]) +
      req('GET', '/openai/v1/models/gpt-4?x=1', [("Host", "x"), ("Connection", "close")]))
    w(t, 'xff_trusted', b'\x0a' + req('POST', '/v1/embeddings', base + [
        ("X-Forwarded-For", "198.51.100.9, 10.1.2.3"), ("Content-Length", "27")], '{"model":"e","input":"hi"}\n'))
    w(t, 'cl_and_te', b'\x0f' + req('POST', '/v1/chat/completions', base + [
        ("Content-Length", "4"), ("Transfer-Encoding", "chunked")], b'0\r\n\r\n'))
    w(t, 'two_cl', b'\x0f' + req('POST', '/v1/chat/completions', base + [
        ("Content-Length", "2"), ("Content-Length", "2")], b'{}'))
    w(t, 'cl_list', b'\x0f' + req('POST', '/x', base + [("Content-Length", "2, 2")], b'{}'))
    w(t, 'te_gzip_chunked', b'\x0f' + req('POST', '/x', base + [("Transfer-Encoding", "gzip, chunked")], b'0\r\n\r\n'))
    w(t, 'bad_chunk_size', b'\x0f' + req('POST', '/x', base + [("Transfer-Encoding", "chunked")],
                                         b'zz\r\nhello\r\n0\r\n\r\n'))
    w(t, 'obs_fold', b'\x0fGET /v1/models HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n')
    w(t, 'http10_keepalive', b'\x0f' + req('GET', '/v1/models', [("Host", "x"), ("Connection", "keep-alive")],
                                           version='1.0') + req('GET', '/', [("Host", "x")], version='1.0'))
    w(t, 'hop_by_hop', b'\x0f' + req('GET', '/v1/models', [
        ("Host", "x"), ("Connection", "close, X-Secret"), ("X-Secret", "s"), ("Keep-Alive", "5"), ("TE", "trailers"),
        ("Upgrade", "h2c"), ("Proxy-Authorization", "Basic abc")]))
    w(t, 'trace_body', b'\x0f' + req('TRACE', '/', [("Host", "x"), ("Content-Length", "2")], '{}'))
    w(t, 'expect_continue', b'\x0f' + req('POST', '/v1/chat/completions', base + [
        ("Expect", "100-continue"), ("Content-Length", str(len(CHAT)))], CHAT))
    body = '{"model":"m","prompt":"hi","stream":true,"stream_options":{}}'
    w(t, 'include_usage_stream', b'\x0c' + req('POST', '/v1/completions', base + [("Content-Length", str(len(body)))],
                                               body))


def request_body():
    t = 'request_body'
    w(t, 'chat', CHAT)
    w(t, 'chat_stream', CHAT_STREAM)
    w(t, 'completions_logprobs', json.dumps({
        "model": "davinci-002", "prompt": "The quick brown fox", "max_tokens": 1, "logprobs": 5,
        "logit_bias": {"1234": 100, "5678": -100}, "n": 4, "best_of": 8}))
    w(t, 'chat_logit_extraction', json.dumps({
        "model": "gpt-4o", "messages": [{"role": "user", "content": "Repeat: hello"}], "max_tokens": 1,
        "logprobs": True, "top_logprobs": 20, "logit_bias": {"50256": 100}}))
    w(t, 'responses_api', json.dumps({
        "model": "gpt-4.1", "instructions": "Think step by step.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Solve 2x+3=7"}]}],
        "include": ["message.output_text.logprobs"], "max_output_tokens": 500}))
    w(t, 'embeddings', json.dumps({"model": "text-embedding-3-small", "input": ["first document", "second document"]}))
    w(t, 'multi_turn', json.dumps({"model": "m", "messages": [
        {"role": "system", "content": "Classify sentiment: positive, negative or neutral."},
        {"role": "user", "content": "I loved it"}, {"role": "assistant", "content": "positive"},
        {"role": "user", "content": [{"type": "text", "text": "It was awful"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}))
    w(t, 'unicode', json.dumps({"model": "m", "messages": [
        {"role": "user", "content": "Erkläre Schritt für Schritt: 你好世界 😀 é"}]}, ensure_ascii=False))
    w(t, 'escapes', '{"model":"m","messages":[{"role":"user","content":"a\\u0000b\\ud83d\\ude00c\\n\\t\\"q\\""}]}')
    w(t, 'deep', '[' * 80 + ']' * 80)
    w(t, 'not_json', b'\xff\xfe{"model": \x80}')
    w(t, 'numbers', '{"model":"m","n":1e309,"max_tokens":-5,"temperature":"hot","top_p":null,"messages":"x","stream":1}')
    w(t, 'completions_prompt_list', json.dumps({"model": "m", "prompt": ["a", "b", [1, 2, 3]], "max_tokens": 16}))


def chat_chunks(words, finish=True, usage=True):
    out = [{"id": "c1", "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    for word in words:
        out.append({"id": "c1", "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]})
    if finish:
        out.append({"id": "c1", "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage:
        out.append({"id": "c1", "object": "chat.completion.chunk", "choices": [],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}})
    return out


RESPONSES = [
    ("response.created", {"type": "response.created", "response": {"id": "r1"}}),
    ("response.output_text.delta", {"type": "response.output_text.delta", "output_index": 0, "content_index": 0,
                                    "delta": "The big house was "}),
    ("response.output_text.delta", {"type": "response.output_text.delta", "output_index": 0, "content_index": 0,
                                    "delta": "quick to change"}),
    ("response.output_text.done", {"type": "response.output_text.done", "output_index": 0, "content_index": 0,
                                   "text": "The big house was quick to change"}),
    ("response.completed", {"type": "response.completed", "response": {"usage": {"input_tokens": 5,
                                                                                 "output_tokens": 2}}}),
]


def sse_parser():
    t = 'sse_parser'
    stream = sse(chat_chunks("The sea is calm and bright today".split())) + "data: [DONE]\n\n"
    w(t, 'openai_chat', b'\x04' + stream.encode())
    w(t, 'openai_chat_crlf_raw', b'\x81' + stream.replace('\n', '\r\n').encode())
    w(t, 'cr_only', b'\x80' + stream.replace('\n', '\r').encode())
    w(t, 'comments_ids_multiline', b'\x82: keep-alive\n\nevent: update\nid: 7\nretry: 1000\n'
      b'data: line one\ndata: line two\n\ndata\n\ndata:no-space\nunknown: x\n\nid: a\x00b\ndata: x\n\n')
    w(t, 'bom', b'\x8b\xef\xbb\xbfdata: {"a":1}\n\n')
    w(t, 'responses_api', b'\x06' + ''.join(f"event: {n}\ndata: {json.dumps(e)}\n\n" for n, e in RESPONSES).encode())
    w(t, 'unterminated', b'\x01data: {"partial": tru')


def watermark():
    t = 'watermark'
    text = ("The large house was quick to show a big change. People often begin to understand the difficult "
            "problem when they think carefully about the important answer.")
    w(t, 'json_chat', b'\x00' + json.dumps({
        "id": "x", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 30}}).encode())
    w(t, 'json_completion', b'\x00' + json.dumps({"object": "text_completion", "choices": [
        {"index": 0, "text": "It is a simple and quick method to begin a large project."}]}).encode())
    w(t, 'json_responses', b'\x00' + json.dumps({"object": "response", "output": [
        {"type": "message", "content": [{"type": "output_text",
                                         "text": "The answer is clear: start small and grow quickly."}]}]}).encode())
    w(t, 'json_parts', b'\x00' + json.dumps({"choices": [{"message": {"content": [
        {"type": "text", "text": "A big dog ran fast."}, {"type": "image", "text": "x"}]}}]}).encode())
    w(t, 'json_code_url', b'\x00' + json.dumps({"choices": [{"message": {
        "content": "See https://example.com/big/house and `int big = 3;` then the big house."}}]}).encode())
    w(t, 'not_json', b'\x00<html>502 Bad Gateway</html>')
    words = "The large house was quick to show a big change and people begin to understand".split()
    w(t, 'sse_chat', b'\x09' + (sse(chat_chunks(words)) + "data: [DONE]\n\n").encode())
    w(t, 'sse_chat_bytewise_no_finish', b'\x01' + sse(chat_chunks(words, finish=False, usage=False)).encode())
    w(t, 'sse_completions_n2', b'\x07' + (sse([{"object": "text_completion", "choices": [
        {"index": i, "text": "big quick house ", "finish_reason": None}]} for i in (0, 1, 0, 1)]) +
        "data: [DONE]\n\n").encode())
    w(t, 'sse_responses', b'\x0b' + ''.join(f"event: {n}\ndata: {json.dumps(e)}\n\n" for n, e in RESPONSES).encode())
    # The table's rules: an opening connective, "make sure", the verb "use", quoted words.
    rules = ("It rained. Moreover, it was cold. Also, make sure you use the 'large' one; "
             "many people's \"big\" cars. In conclusion, a wide variety of kinds.").split(" ")
    w(t, 'sse_chat_rules', b'\x03' + (sse(chat_chunks(rules)) + "data: [DONE]\n\n").encode())
    # Contractions: deltas of a word and of several (a unit and the word after it in one
    # delta can be contracted), curly apostrophes, a unit at the end of the stream.
    units = ["It is", "cold and you do not", "go.", "I\u2019m", "sure they are", "right and cannot",
             "wait; it's", "late, don\u2019t", "worry. We will", "see,", "it is"]
    w(t, 'sse_chat_contractions', b'\x03' + (sse(chat_chunks(units)) + "data: [DONE]\n\n").encode())
    # Lists (table v7): a serial comma written or not, in deltas that end before or after
    # the "and"; a list item's period; a stray backtick, and a closed one.
    lists = ["Buy apples,", " pears, and", " plums. Pack tents, big", " ropes and maps.\n- Fix any leaks.",
             "\n- Run it ` then", " use big cars,", " vans and", " trucks. Keep `a, b and c` as", " is. Use tools such", " as saws and foods like", " rice."]
    w(t, 'sse_chat_lists', b'\x03' + (sse(chat_chunks(lists)) + "data: [DONE]\n\n").encode())
    w(t, 'json_chat_lists', b'\x00' + json.dumps({"choices": [{"message": {
        "content": "".join(lists)}}]}).encode())
    w(t, 'sse_keepalive_comments', b'\x05: ping\n\n' + sse(chat_chunks(words[:3], False, False)).encode() +
      b': ping\n\ndata: [DONE]\n\n')


def config():
    t = 'config'
    with open(os.path.join(HERE, '..', '..', 'deploy', 'distillguard.yaml'), 'rb') as f:
        w(t, 'deploy_default.yaml', f.read())
    w(t, 'minimal.yaml', 'listen: 127.0.0.1:0\nupstream:\n  url: http://127.0.0.1:8000\nstate_dir: /tmp/dg\n')
    w(t, 'tls_limits.yaml', 'listen: "[::1]:8443"\nthreads: 2\ntls:\n  cert_file: /etc/dg/cert.pem\n'
      '  key_file: /etc/dg/key.pem\nlimits:\n  max_header_bytes: 8192\n  max_body_bytes: 1048576\n'
      '  header_timeout_ms: 5000\nidentity:\n  header: x-user-id\n  trusted_proxies: [10.0.0.0/8, "::1/128"]\n'
      'upstream:\n  url: https://api.example.com/openai\n  ca_file: /etc/ssl/ca.pem\n  pool_size: 16\n')
    w(t, 'bad_values.yaml', 'listen: nowhere\nthreads: -1\nlimits:\n  max_header_bytes: huge\nunknown_key: 1\n'
      'upstream: [1, 2]\nidentity:\n  trusted_proxies: 10.0.0.0/33\n')
    w(t, 'yaml_tricks.yaml', 'a: &x {b: *x}\nlisten: !!binary aGVsbG8=\n? [1, 2]\n: 3\n---\nsecond: doc\n')
    w(t, 'anchors.yaml', 'base: &b {url: "http://127.0.0.1:1"}\nupstream: *b\nlog: {level: debug, access_log: yes}\n')


if __name__ == '__main__':
    http_request()
    request_body()
    sse_parser()
    watermark()
    config()
