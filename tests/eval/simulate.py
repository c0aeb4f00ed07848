#!/usr/bin/env python3
"""simulate.py: a labelled week of LLM API traffic for `make eval`.

Writes the traffic log of DESIGN.md (JSON Lines, one request a line, in time
order) and a labels file (client -> kind, attacker or benign), built from the
public prompt corpora in ../shared/datasets. Deterministic: the same seed and
options give the same bytes.

Benign populations include the ones that *look* automated (product backends
under one system prompt, batch jobs with one template, a benchmark run) and
attackers include ones that write like people (plain human questions), so a
detector keyed on writing style fails here. The corpora are partitioned so
that benign and attacking clients never draw the same prompt: overlap between
them is behaviour, not shared text.

    simulate.py --datasets ../shared/datasets --out week.jsonl --labels labels.json
    simulate.py ... --scale 0.05 --days 1 --volume 0.2     # seconds, for ctest

Python 3 standard library only.
"""

import argparse
import gzip
import json
import math
import random
import sys

WEEK_START = 1793577600  # Monday 2026-11-02 00:00:00 UTC
DAY = 86400
HOUR = 3600

# ---------------------------------------------------------------------------
# corpora


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Corpora:
    """The datasets, split into disjoint benign and attacker partitions."""

    def __init__(self, root, rng):
        q = load_jsonl(f"{root}/questions.jsonl")
        alp = load_jsonl(f"{root}/alpaca_5000.jsonl")
        code = load_jsonl(f"{root}/code_alpaca_2k.jsonl")
        role = load_jsonl(f"{root}/roleplay_prompts.jsonl")
        seeds = load_jsonl(f"{root}/self_instruct_seeds.jsonl")

        # Benchmarks are whole sources, as a team would run them.
        self.bench_sets = {}
        for src in ("curatedtrec_test", "webquestions_test", "nq_open_test"):
            self.bench_sets[src] = [r["text"] for r in q if r["source"] == src]
        rest = [r["text"] for r in q if r["source"] not in self.bench_sets]
        rng.shuffle(rest)
        # Two thirds of human questions go to benign users, a third to attackers.
        cut = len(rest) * 2 // 3
        self.q_benign, self.q_attack = rest[:cut], rest[cut:]

        instr = [r for r in alp + code]
        rng.shuffle(instr)
        cut = len(instr) // 6
        # A sixth of the machine-written instructions are what benign users and
        # instruction-style product backends send; the rest is attack material.
        self.instr_benign = [r["text"] for r in instr[:cut]]
        self.instr_attack = [r["text"] for r in instr[cut:]]
        self.inputs = [r["input"] for r in instr if r.get("input")]
        self.outputs = [r["output"] for r in alp if len(r.get("output") or "") > 40]
        self.role = [r["text"] for r in role]
        self.acts = sorted({r["act"] for r in role})
        self.seeds = [r["text"] for r in seeds]
        self.topics = extract_topics(rest)


def extract_topics(questions):
    """Named-entity-like phrases (runs of capitalised words) from questions:
    real topics for templated sweeps without a hand-made list."""
    seen = set()
    out = []
    for text in questions:
        words = text.replace("?", " ").replace(",", " ").split()
        run = []
        for i, w in enumerate(words + [""]):
            if i > 0 and w[:1].isupper() and w.isalpha():
                run.append(w)
                continue
            if 1 <= len(run) <= 4 and len(" ".join(run)) >= 6:
                t = " ".join(run)
                if t not in seen:
                    seen.add(t)
                    out.append(t)
            run = []
    out.sort()
    return out


class Pool:
    """Draws prompts from a list without replacement; when exhausted, starts a
    reshuffled pass with small rewordings, as a generator re-running would."""

    VARIANTS = ("{}", "{} Please be thorough.", "{}\n\nAnswer in detail.", "Task: {}",
                "{} Give a complete answer.")

    def __init__(self, items, rng):
        self.items = list(items)
        self.rng = rng
        self.order = []
        self.passes = 0

    def next(self):
        if not self.order:
            self.order = list(range(len(self.items)))
            self.rng.shuffle(self.order)
            self.passes += 1
        text = self.items[self.order.pop()]
        if self.passes > 1:
            text = self.rng.choice(self.VARIANTS[1:]).format(text)
        return text


# ---------------------------------------------------------------------------
# helpers


def tokens(text):
    return max(1, (len(text) + 3) // 4)


def poisson(rng, mu):
    if mu <= 0:
        return 0
    if mu > 30:
        return max(0, int(round(rng.gauss(mu, math.sqrt(mu)))))
    limit, k, p = math.exp(-mu), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def human_hour_weight(local_hour):
    """Activity of a person by local hour: asleep 0-7, peaks late morning,
    afternoon and evening."""
    w = [0.02, 0.01, 0.0, 0.0, 0.0, 0.0, 0.02, 0.2, 0.6, 1.0, 1.2, 1.1, 0.8, 0.9,
         1.1, 1.1, 1.0, 0.8, 0.7, 0.8, 1.0, 1.0, 0.6, 0.2]
    return w[local_hour % 24]


def business_hour_weight(local_hour):
    """A product's end users, aggregated: never zero, peaks in the afternoon."""
    return 0.12 + 0.88 * max(0.0, math.sin(math.pi * (local_hour - 6) / 18)) ** 1.5 \
        if 6 <= local_hour <= 24 else 0.12


def is_weekend(day):
    return day % 7 >= 5  # WEEK_START is a Monday


def diurnal_times(rng, day, per_day, tz, weight):
    """Arrival times over one day, Poisson per hour with `weight(local_hour)`."""
    ws = [weight((h + tz) % 24) for h in range(24)]
    total = sum(ws) or 1.0
    out = []
    for h in range(24):
        n = poisson(rng, per_day * ws[h] / total)
        base = WEEK_START + day * DAY + h * HOUR
        out.extend(base + rng.random() * HOUR for _ in range(n))
    out.sort()
    return out


class Ip:
    """Addresses that look like real ones: a random public /24 and a host."""

    @staticmethod
    def net(rng):
        while True:
            a = rng.randint(11, 223)
            if a not in (100, 127, 169, 172, 192, 198, 203):
                return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"

    @staticmethod
    def host(rng, net=None):
        return f"{net or Ip.net(rng)}.{rng.randint(2, 254)}"


BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
]
SDK_UAS = ["OpenAI/Python 1.{m}.0", "OpenAI/NodeJS 4.{m}.1", "python-requests/2.{m}.0",
           "python-httpx/0.2{s}.{m}", "curl/8.{s}.0", "Go-http-client/1.1", "axios/1.{m}.2"]


def browser_ua(rng):
    return rng.choice(BROWSER_UAS).format(v=rng.randint(118, 131), m=rng.randint(0, 6))


def sdk_ua(rng):
    return rng.choice(SDK_UAS).format(m=rng.randint(10, 59), s=rng.randint(4, 7))


def api_key(rng, prefix="sk-"):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(rng.choice(alphabet) for _ in range(40))


MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "llama-3.1-70b-instruct"]


# ---------------------------------------------------------------------------
# the simulation


class Client:
    def __init__(self, sim, kind, label, variant="", group="", key=True, ips=None, uas=None):
        rng = sim.rng
        self.sim = sim
        self.key = api_key(rng) if key else None
        self.ips = ips or [Ip.host(rng)]
        self.uas = uas or [sdk_ua(rng)]
        self.ip = self.ips[0]
        self.ua = self.uas[0]
        self.name = self.key or self.ips[0]
        self.model = rng.choice(MODELS)
        sim.labels[self.name] = {"kind": kind, "class": label, "variant": variant or kind,
                                 "group": group}

    def emit(self, ts, request, completion, path="/v1/chat/completions", prompt_tokens=None,
             status=None):
        rng = self.sim.rng
        # Sticky address and agent, with the occasional change (mobile, rotation).
        if len(self.ips) > 1 and rng.random() < 0.1:
            self.ip = rng.choice(self.ips)
        if len(self.uas) > 1 and rng.random() < 0.1:
            self.ua = rng.choice(self.uas)
        if status is None:
            r = rng.random()
            status = 200 if r > 0.006 else (429 if r > 0.003 else 500)
        if prompt_tokens is None:
            prompt_tokens = request_tokens(request)
        usage = {"prompt_tokens": prompt_tokens,
                 "completion_tokens": completion if status == 200 else 0}
        if path == "/v1/embeddings":
            usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
        line = {"ts": round(ts, 3)}
        if self.key:
            line["client"] = self.key
        line.update({"ip": self.ip, "user_agent": self.ua, "method": "POST", "path": path,
                     "request": request, "response": {"status": status, "usage": usage}})
        self.sim.add(ts, line)


def request_tokens(req):
    if "messages" in req:
        return sum(tokens(m["content"]) + 4 for m in req["messages"])
    if "prompt" in req:
        return tokens(req["prompt"])
    if "input" in req:
        return tokens(req["input"] if isinstance(req["input"], str) else " ".join(req["input"]))
    return 1


def out_len(rng, mean, cap):
    """Completion length: log-normal around `mean`, at most `cap`."""
    return max(1, min(cap, int(rng.lognormvariate(math.log(mean), 0.5))))


class Simulation:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.corp = Corpora(args.datasets, random.Random(args.seed + 1))
        self.labels = {}
        self.events = []
        self.seq = 0
        self.end = WEEK_START + args.days * DAY

    def add(self, ts, line):
        if WEEK_START <= ts < self.end:
            self.seq += 1
            self.events.append((ts, self.seq, line))

    def n(self, base, minimum=1):
        return max(minimum, int(round(base * self.args.scale)))

    def rate(self, per_day):
        return per_day * self.args.volume

    def assistant_text(self):
        return self.rng.choice(self.corp.outputs)[:700]

    # -- benign --------------------------------------------------------------

    def chat_users(self, count):
        rng, c = self.rng, self.corp
        # Some users sit behind the same office NAT with the same managed browser:
        # shared addresses and agents are not evidence of a swarm.
        offices = [(Ip.net(rng), browser_ua(rng)) for _ in range(max(1, count // 30))]
        for _ in range(count):
            if rng.random() < 0.2:
                net, ua = rng.choice(offices)
                ips, uas = [Ip.host(rng, net)], [ua]
            else:
                ips = [Ip.host(rng) for _ in range(rng.randint(1, 3))]
                uas = [browser_ua(rng)] if rng.random() < 0.6 else [sdk_ua(rng)]
            cl = Client(self, "chat_user", "benign", ips=ips, uas=uas)
            tz = rng.choice([-8, -5, -3, 0, 1, 2, 5, 8, 9])
            sessions_per_day = rng.uniform(0.3, 4.0) * self.args.volume ** 0.5
            system = rng.choice([None, None, "You are a helpful assistant."])
            temp = rng.choice([None, 0.7, 1.0])
            starts = []
            for day in range(self.args.days):
                mu = sessions_per_day * (0.6 if is_weekend(day) else 1.0)
                starts += diurnal_times(rng, day, mu, tz, human_hour_weight)
            if not starts:  # everyone labelled shows up at least once
                starts = [WEEK_START + rng.randrange(self.args.days) * DAY + (14 - tz) % 24 * HOUR]
            for start in starts:
                self.chat_session(cl, start, system, temp)

    def chat_session(self, cl, start, system, temp):
        rng, c = self.rng, self.corp
        turns = 1
        while turns < 12 and rng.random() < 0.6:
            turns += 1
        msgs = [{"role": "system", "content": system}] if system else []
        first = rng.random()
        if first < 0.55:
            opener = rng.choice(c.q_benign)
        elif first < 0.8:
            opener = rng.choice(c.role)
        elif first < 0.9:
            opener = rng.choice(c.seeds)
        else:
            opener = rng.choice(c.instr_benign)
        ts = start
        for t in range(turns):
            if t == 0:
                user = opener
            else:
                r = rng.random()
                user = (rng.choice(FOLLOW_UPS) if r < 0.5 else rng.choice(c.q_benign))
            msgs.append({"role": "user", "content": user})
            req = {"model": cl.model, "messages": list(msgs)}
            if temp is not None:
                req["temperature"] = temp
            if rng.random() < 0.5:
                req["stream"] = True
            completion = out_len(rng, 250, 1500)
            cl.emit(ts, req, completion)
            reply = self.assistant_text()
            msgs.append({"role": "assistant", "content": reply})
            ts += rng.uniform(15, 240) + completion / 20  # read, think, type

    def light_api_users(self, count):
        rng, c = self.rng, self.corp
        for i in range(count):
            by_ip = rng.random() < 0.1
            cl = Client(self, "light_api", "benign", key=not by_ip,
                        ips=[Ip.host(rng)], uas=[sdk_ua(rng)])
            tz = rng.choice([-8, -5, 0, 1, 2, 8])
            per_day = rng.uniform(1, 15) * self.args.volume
            completions = rng.random() < 0.2
            for day in range(self.args.days):
                if rng.random() < 0.4:
                    continue
                for ts in diurnal_times(rng, day, per_day, tz, human_hour_weight):
                    r = rng.random()
                    src = (c.q_benign if r < 0.35 else c.instr_benign if r < 0.7
                           else c.seeds if r < 0.8 else c.role)
                    prompt = rng.choice(src)
                    if completions:
                        req = {"model": "gpt-3.5-turbo-instruct", "prompt": prompt,
                               "max_tokens": rng.choice([256, 512])}
                        cl.emit(ts, req, out_len(rng, 150, req["max_tokens"]),
                                path="/v1/completions")
                    else:
                        req = {"model": cl.model, "messages": [{"role": "user", "content": prompt}]}
                        if rng.random() < 0.5:
                            req["temperature"] = rng.choice([0, 0.2, 0.7, 1])
                        cl.emit(ts, req, out_len(rng, 300, 2000))

    def product_backends(self, count, instruction_style):
        rng, c = self.rng, self.corp
        for i in range(count):
            # Each backend is a different company: its own product and system prompt.
            products = INSTRUCTION_PRODUCTS if instruction_style else PRODUCTS
            name, system = products[i % len(products)]
            if i >= len(products):
                name = f"{name} {i // len(products) + 1}"
            kind = "product_backend"
            variant = "product_backend_instructions" if instruction_style else "product_backend"
            net = Ip.net(rng)
            cl = Client(self, kind, "benign", variant=variant,
                        ips=[Ip.host(rng, net) for _ in range(rng.randint(1, 4))],
                        uas=[sdk_ua(rng)])
            tz = rng.choice([-5, 0, 1, 8])
            per_day = rng.uniform(800, 3000) * self.args.volume
            faq = [rng.choice(c.q_benign) for _ in range(20)]
            users = (c.instr_benign if instruction_style else c.q_benign + c.role)
            embeds = rng.random() < 0.5
            for day in range(self.args.days):
                mu = per_day * (0.6 if is_weekend(day) else 1.0)
                for ts in diurnal_times(rng, day, mu, tz, business_hour_weight):
                    if embeds and rng.random() < 0.25:
                        # Retrieval for the end user's question.
                        q = rng.choice(users)
                        cl.emit(ts, {"model": "text-embedding-3-small", "input": q}, 0,
                                path="/v1/embeddings")
                        continue
                    user = rng.choice(faq) if rng.random() < 0.08 else rng.choice(users)
                    msgs = [{"role": "system", "content": system.format(name=name)}]
                    if rng.random() < 0.3:
                        for _ in range(rng.randint(1, 4)):
                            msgs.append({"role": "user", "content": rng.choice(users)})
                            msgs.append({"role": "assistant", "content": self.assistant_text()})
                    msgs.append({"role": "user", "content": user})
                    req = {"model": cl.model, "messages": msgs, "temperature": 0.3,
                           "max_tokens": 800}
                    if rng.random() < 0.7:
                        req["stream"] = True
                        req["stream_options"] = {"include_usage": True}
                    cl.emit(ts, req, out_len(rng, 220, 800))

    def batch_jobs(self, count):
        rng, c = self.rng, self.corp
        for i in range(count):
            template, max_tokens, out_mean = BATCH_TEMPLATES[i % len(BATCH_TEMPLATES)]
            cl = Client(self, "batch_job", "benign", ips=[Ip.host(rng)], uas=[sdk_ua(rng)])
            hour = rng.randint(0, 23)
            size = rng.randint(200, 1500) * self.args.volume
            rps = rng.uniform(4, 20)
            docs = c.inputs + c.q_benign
            for day in range(self.args.days):
                ts = WEEK_START + day * DAY + hour * HOUR + rng.uniform(0, 300)
                for _ in range(poisson(rng, size)):
                    doc = rng.choice(docs)[:1200]
                    req = {"model": cl.model, "temperature": 0, "max_tokens": max_tokens,
                           "messages": [{"role": "user", "content": template.format(doc=doc)}]}
                    cl.emit(ts, req, out_len(rng, out_mean, max_tokens))
                    ts += rng.expovariate(rps)

    def benchmark_teams(self, count):
        rng, c = self.rng, self.corp
        names = sorted(c.bench_sets)
        for i in range(count):
            questions = c.bench_sets[names[i % len(names)]]
            cl = Client(self, "benchmark_team", "benign", ips=[Ip.host(rng)], uas=[sdk_ua(rng)])
            day = rng.randrange(self.args.days)
            ts = WEEK_START + day * DAY + rng.randint(9, 16) * HOUR
            n = min(len(questions), int(rng.randint(300, 2000) * self.args.volume) + 20)
            start = rng.randrange(max(1, len(questions) - n))
            per_second = n / rng.uniform(1800, 3600)
            system = "Answer the question with a short factual answer. Output only the answer."
            for q in questions[start:start + n]:
                req = {"model": cl.model, "temperature": 0, "max_tokens": 32,
                       "messages": [{"role": "system", "content": system},
                                    {"role": "user", "content": q}]}
                cl.emit(ts, req, out_len(rng, 6, 32))
                ts += rng.expovariate(per_second)
            # A few manual checks on other days.
            for d in range(self.args.days):
                for t in diurnal_times(rng, d, 3 * self.args.volume, 0, human_hour_weight):
                    req = {"model": cl.model, "messages": [
                        {"role": "user", "content": rng.choice(c.q_benign)}]}
                    cl.emit(t, req, out_len(rng, 200, 1000))

    # -- attacks -------------------------------------------------------------

    def steady(self, start, end, per_day):
        """A script at a steady rate, 24/7, exponential gaps."""
        rng, out, ts = self.rng, [], start
        if per_day <= 0:
            return out
        while True:
            ts += rng.expovariate(per_day / DAY)
            if ts >= end:
                return out
            out.append(ts)

    def bulk_self_instruct(self, count):
        rng, c = self.rng, self.corp
        for i in range(count):
            mixed = (i % 3 == 1)
            cl = Client(self, "bulk_self_instruct", "attacker",
                        variant="bulk_self_instruct_mixed" if mixed else "bulk_self_instruct",
                        ips=[Ip.host(rng)], uas=[sdk_ua(rng)])
            pool = Pool(c.instr_attack, rng)
            human = Pool(c.q_attack, rng)
            for ts in self.steady(WEEK_START + rng.uniform(0, DAY / 2), self.end,
                                  self.rate(rng.uniform(1500, 3000))):
                text = human.next() if mixed and rng.random() < 0.4 else pool.next()
                req = {"model": cl.model, "messages": [{"role": "user", "content": text}],
                       "max_tokens": 2048, "temperature": rng.choice([0.7, 1.0])}
                cl.emit(ts, req, out_len(rng, 600, 2048))

    def reasoning_harvest(self, count):
        rng, c = self.rng, self.corp
        for i in range(count):
            human_only = (i % 3 == 1)
            system = REASONING_SYSTEMS[i % len(REASONING_SYSTEMS)]
            cl = Client(self, "reasoning_harvest", "attacker",
                        variant="reasoning_human_questions" if human_only else "reasoning_harvest",
                        ips=[Ip.host(rng)], uas=[sdk_ua(rng)])
            pool = Pool(c.q_attack if human_only else c.instr_attack + c.q_attack[:3000], rng)
            for ts in self.steady(WEEK_START + rng.uniform(0, DAY), self.end,
                                  self.rate(rng.uniform(800, 1500))):
                req = {"model": cl.model, "temperature": 0.6, "max_tokens": 4096,
                       "messages": [{"role": "system", "content": system},
                                    {"role": "user", "content": pool.next()}]}
                cl.emit(ts, req, out_len(rng, 1100, 4096))

    def logit_extraction(self, count):
        rng, c = self.rng, self.corp
        for i in range(count):
            cl = Client(self, "logit_extraction", "attacker", ips=[Ip.host(rng)],
                        uas=[sdk_ua(rng)])
            prompts = [rng.choice(c.q_attack) for _ in range(rng.randint(1, 3))]
            width = rng.choice([1, 10, 50])
            next_id = rng.randint(0, 1000)
            for ts in self.steady(WEEK_START + rng.uniform(0, DAY), self.end,
                                  self.rate(rng.uniform(1500, 3000))):
                bias = {str((next_id + k) % 100000): 100 for k in range(width)}
                next_id = (next_id + width) % 100000
                req = {"model": cl.model, "max_tokens": 1, "temperature": 0, "logprobs": True,
                       "top_logprobs": rng.choice([5, 20]), "logit_bias": bias,
                       "messages": [{"role": "user", "content": rng.choice(prompts)}]}
                cl.emit(ts, req, 1)

    def topic_sweeps(self, count):
        rng, c = self.rng, self.corp
        for i in range(count):
            template = SWEEP_TEMPLATES[i % len(SWEEP_TEMPLATES)]
            cl = Client(self, "topic_sweep", "attacker", ips=[Ip.host(rng)], uas=[sdk_ua(rng)])
            topics = Pool(c.topics, rng)
            tz = rng.choice([0, 8, -5])
            per_day = self.rate(rng.uniform(500, 1500))
            for day in range(self.args.days):
                # Run in working hours, like someone who starts a script each morning.
                for ts in diurnal_times(rng, day, per_day, tz, lambda h: 1.0 if 8 <= h < 20 else 0.0):
                    req = {"model": cl.model, "max_tokens": 1500,
                           "messages": [{"role": "user", "content": template.format(topic=topics.next())}]}
                    cl.emit(ts, req, out_len(rng, 700, 1500))

    def low_and_slow(self, count):
        rng, c = self.rng, self.corp
        for i in range(count):
            variant = ("low_and_slow", "low_and_slow_mixed", "low_and_slow_human_hours")[i % 3]
            cl = Client(self, "low_and_slow", "attacker", variant=variant,
                        ips=[Ip.host(rng)], uas=[browser_ua(rng)])
            pool = Pool(c.instr_attack, rng)
            human = Pool(c.q_attack, rng)
            per_day = self.rate(rng.uniform(200, 400))
            tz = rng.choice([-5, 1, 8])
            weight = human_hour_weight if variant == "low_and_slow_human_hours" else (lambda h: 1.0)
            for day in range(self.args.days):
                for ts in diurnal_times(rng, day, per_day, tz, weight):
                    mixed = variant == "low_and_slow_mixed" and rng.random() < 0.5
                    text = human.next() if mixed else pool.next()
                    req = {"model": cl.model, "messages": [{"role": "user", "content": text}],
                           "max_tokens": 1024}
                    cl.emit(ts, req, out_len(rng, 500, 1024))

    def hydra(self, members, variant, swarm_id):
        """A swarm of small accounts (<100 requests a day each) working through
        one shared prompt pool."""
        rng, c = self.rng, self.corp
        nets = [Ip.net(rng) for _ in range(rng.randint(2, 4))]
        group = f"swarm-{swarm_id}"
        if variant == "hydra_topic_sync":
            pool = Pool(c.topics, rng)
            template = rng.choice(SWEEP_TEMPLATES)
        else:
            pool = Pool(c.instr_attack, rng)
            template = None
        human = Pool(c.q_attack, rng)
        family = rng.choice(["python-httpx/0.27.{m}", "aiohttp/3.9.{m}", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch) {m}"])
        accounts = []
        for m in range(members):
            if variant == "hydra_mixed":
                uas = [browser_ua(rng)]
            else:
                uas = [family.format(m=rng.randint(0, 5))]
            ips = [Ip.host(rng, rng.choice(nets)) for _ in range(rng.randint(1, 2))]
            accounts.append(Client(self, "hydra", "attacker", variant=variant, group=group,
                                   ips=ips, uas=uas))
        sent = []

        def prompt(cl):
            # A small share of retries: a prompt another member already sent.
            if sent and rng.random() < 0.03:
                return rng.choice(sent)
            if variant == "hydra_mixed" and rng.random() < 0.4:
                text = human.next()
            elif template:
                text = template.format(topic=pool.next())
            else:
                text = pool.next()
            sent.append(text)
            if len(sent) > 500:
                del sent[:250]
            return text

        def send(cl, ts):
            text = prompt(cl)
            msgs = [{"role": "user", "content": text}]
            if variant == "hydra_mixed" and rng.random() < 0.2:
                # Dress it as a conversation.
                msgs = [{"role": "user", "content": rng.choice(FOLLOW_UPS)},
                        {"role": "assistant", "content": self.assistant_text()}] + msgs
            req = {"model": "gpt-4o", "messages": msgs, "max_tokens": 2048}
            cl.emit(ts, req, out_len(rng, 650, 2048))

        if variant == "hydra_topic_sync":
            # One controller dispatches a batch to every member each quarter hour.
            per_window = min(0.95, self.rate(rng.uniform(60, 90)) / 96)
            for day in range(self.args.days):
                for w in range(96):
                    t0 = WEEK_START + day * DAY + w * 900 + rng.uniform(0, 30)
                    for cl in accounts:
                        if rng.random() < per_window:
                            send(cl, t0 + rng.uniform(0, 20))
            return
        for cl in accounts:
            per_day = self.rate(rng.uniform(40, 80))
            tz = rng.choice([-5, 0, 1, 8])
            weight = human_hour_weight if variant == "hydra_mixed" else (lambda h: 1.0)
            for day in range(self.args.days):
                times = diurnal_times(rng, day, per_day, tz, weight)
                if len(times) > 99:  # each account stays under 100 a day
                    times = sorted(rng.sample(times, 99))
                for ts in times:
                    send(cl, ts)

    # -- output --------------------------------------------------------------

    def run(self):
        s = self.n
        self.chat_users(s(260))
        self.light_api_users(s(60))
        self.product_backends(s(6), instruction_style=False)
        self.product_backends(s(3), instruction_style=True)
        self.batch_jobs(s(6))
        self.benchmark_teams(s(3))
        self.bulk_self_instruct(s(3))
        self.reasoning_harvest(s(3))
        self.logit_extraction(s(2))
        self.topic_sweeps(s(3))
        self.low_and_slow(s(3))
        members = s(24, minimum=3)
        for i, variant in enumerate(("hydra_shared_ua", "hydra_topic_sync", "hydra_mixed")):
            self.hydra(members, variant, i + 1)
        self.events.sort(key=lambda e: (e[0], e[1]))


FOLLOW_UPS = [
    "Can you explain that in simpler terms?", "Thanks! Can you give me an example?",
    "Why is that?", "What about the other way around?", "Can you make it shorter?",
    "Are you sure? I read something different.", "ok and how does that compare to last year?",
    "Interesting. Tell me more.", "Could you put that in a table?", "what do you mean by that",
    "Can you rewrite it in a more casual tone?", "And what would you recommend?",
]

PRODUCTS = [
    ("Northwind Outfitters", "You are the customer assistant of {name}. Answer the customer's "
     "question politely and briefly. If you do not know, say so and offer to connect them to a human."),
    ("Lumen Learning", "You are a friendly tutor on the {name} platform. Help the student "
     "understand the question; keep answers under 200 words."),
    ("Atlas Travel", "You are {name}'s trip planning assistant. Be concise and practical."),
    ("Kite Health", "You are the {name} help desk assistant. Never give medical diagnoses; "
     "answer general questions clearly."),
    ("Bluefin Bank", "You are {name}'s virtual banking assistant. Answer the customer's "
     "question; never ask for passwords or card numbers."),
    ("Orchard Grocers", "You help customers of {name} with orders, deliveries and products. "
     "Keep it short and friendly."),
    ("Nimbus Telecom", "You are the support bot of {name}. Answer questions about plans, "
     "coverage and billing; escalate anything you cannot resolve."),
    ("Quill Books", "You are a reading companion on {name}. Answer readers' questions about "
     "books, authors and history in a warm tone."),
]
INSTRUCTION_PRODUCTS = [
    ("WriteWell", "You are {name}, an AI writing assistant embedded in a word processor. "
     "Carry out the user's instruction on their document."),
    ("CodePilot Studio", "You are the assistant of {name}, an online IDE. Follow the "
     "developer's instruction; prefer short, correct code."),
    ("SlideCraft", "You are {name}'s presentation helper. Do what the user asks with their "
     "slides' text; keep formatting simple."),
]
BATCH_TEMPLATES = [
    ("Classify the sentiment of the following text as positive, negative or neutral. "
     "Answer with one word.\n\nText: {doc}\nSentiment:", 2, 1),
    ("Extract every person, organisation and place named in the text below. Return JSON "
     "with keys persons, organisations, places.\n\n{doc}", 96, 40),
    ("Translate to German. Output only the translation.\n\n{doc}", 120, 50),
    ("Is the following text about sport, politics, science, business or other? "
     "Reply with the category only.\n\n{doc}", 3, 1),
]
REASONING_SYSTEMS = [
    "You are a meticulous expert. Think step by step and show your full reasoning before "
    "giving the final answer.",
    "Before answering, reason through the problem carefully inside <thinking> tags, "
    "explaining each step, then give the answer.",
    "Let's think step by step. Explain your reasoning in detail at every step, then state "
    "the final answer on its own line.",
]
SWEEP_TEMPLATES = [
    "Explain {topic} in detail.",
    "Write a comprehensive, detailed overview of {topic}, covering its history, key facts "
    "and significance.",
    "Tell me everything you know about {topic}. Be thorough and structured.",
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", required=True, help="folder with the JSONL corpora")
    ap.add_argument("--out", required=True, help="traffic log to write (.gz: gzip; -: stdout)")
    ap.add_argument("--labels", required=True, help="labels JSON to write")
    ap.add_argument("--seed", type=int, default=20261102)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="population sizes relative to the full week (at least 1 client a kind)")
    ap.add_argument("--volume", type=float, default=1.0, help="per-client request rates")
    ap.add_argument("--days", type=int, default=7)
    args = ap.parse_args(argv)

    sim = Simulation(args)
    sim.run()
    if args.out == "-":
        out = sys.stdout
    elif args.out.endswith(".gz"):
        # mtime 0: the same input gives the same bytes.
        out = gzip.GzipFile(args.out, "wb", mtime=0)
    else:
        out = open(args.out, "w", encoding="utf-8")
    write = (lambda s: out.write(s.encode("utf-8"))) if args.out.endswith(".gz") else out.write
    for _, _, line in sim.events:
        write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    if out is not sys.stdout:
        out.close()
    kinds = {}
    for v in sim.labels.values():
        kinds[v["variant"]] = kinds.get(v["variant"], 0) + 1
    with open(args.labels, "w", encoding="utf-8") as f:
        json.dump({"seed": args.seed, "scale": args.scale, "volume": args.volume,
                   "days": args.days, "events": len(sim.events), "clients": sim.labels},
                  f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"simulate: {len(sim.events)} events, {len(sim.labels)} clients "
          f"({sum(1 for v in sim.labels.values() if v['class'] == 'attacker')} attackers)",
          file=sys.stderr)
    for k in sorted(kinds):
        print(f"  {k:32s} {kinds[k]}", file=sys.stderr)


if __name__ == "__main__":
    main()
