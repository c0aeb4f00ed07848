#!/usr/bin/env python3
"""replay_cli_test.py: `distillguard replay` as a user runs it.

- the same traffic from a plain file, a gzip file and gzip on standard input
  gives the same report, byte for byte, twice;
- client ids are HMAC-SHA256(secret, "bearer:" + key) under the configured
  identity.secret_file, as the live gateway computes them;
- bad lines are reported with their line number and nothing else is lost;
  --strict turns them into exit 3;
- a truncated gzip file still yields a report of what was read, and exit 1;
- an exported line (x_distillguard) is replayed as stored;
- usage errors exit 2, a missing input exits 1.

    replay_cli_test.py DISTILLGUARD SIMULATE_PY DATASETS CHECK_REPORT_DIR
"""

import gzip
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    binary, simulate, datasets, check_dir = argv[1:]
    datasets = os.environ.get("DG_DATASETS") or datasets
    if not os.path.isfile(os.path.join(datasets, "questions.jsonl")):
        # ctest counts exit 77 as skipped (SKIP_RETURN_CODE): the corpora are not in the repository.
        print(f"SKIP: public corpora not found in {datasets}: put ../shared/datasets beside "
              "the repository or set DG_DATASETS")
        return 77
    sys.path.insert(0, check_dir)
    import check_report

    work = tempfile.mkdtemp(prefix="dg-replay-cli-")
    secret = "5f1e0c2d9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f302112030405"
    with open(os.path.join(work, "secret"), "w") as f:
        f.write(secret + "\n")
    os.chmod(os.path.join(work, "secret"), 0o600)
    config = os.path.join(work, "dg.yaml")
    with open(config, "w") as f:
        f.write(f"state_dir: {work}/state\nidentity:\n  secret_file: {work}/secret\n")

    def replay(*args, stdin=None):
        return subprocess.run([binary, "replay", "--config", config, "--quiet", *args],
                              stdin=stdin, capture_output=True, text=True)

    traffic = os.path.join(work, "t.jsonl")
    labels = os.path.join(work, "labels.json")
    subprocess.run([sys.executable, simulate, "--datasets", datasets, "--out", traffic,
                    "--labels", labels, "--seed", "3", "--scale", "0.03", "--days", "1",
                    "--volume", "0.1"], check=True, capture_output=True)
    with open(traffic, "rb") as f:
        raw = f.read()
    lines = raw.decode().splitlines()
    gz = os.path.join(work, "t.log")  # gzip without a .gz name: detected by magic bytes
    with gzip.open(gz, "wb") as f:
        f.write(raw)

    # 1. plain, gzip, gzip on stdin: identical reports.
    outs = {}
    for name, args, stdin in (("plain", ["--input", traffic], None),
                              ("gzip", ["--input", gz], None),
                              ("stdin", ["--input", "-"], open(gz, "rb"))):
        out = os.path.join(work, f"r-{name}.json")
        p = replay(*args, "--output", out, stdin=stdin)
        check(p.returncode == 0, f"{name}: exit {p.returncode}: {p.stderr[-500:]}")
        check("clients" in p.stdout and "verdict" in p.stdout, f"{name}: no summary table on stdout")
        with open(out, "rb") as f:
            outs[name] = f.read()
    check(outs["plain"] == outs["gzip"] == outs["stdin"], "plain, gzip and stdin reports differ")
    p = replay("--input", traffic, "--output", os.path.join(work, "again.json"))
    with open(os.path.join(work, "again.json"), "rb") as f:
        check(f.read() == outs["plain"], "a second replay of the same file differs")
    report = json.loads(outs["plain"])
    check(not check_report.problems(report), f"report malformed: {check_report.problems(report)[:5]}")
    check(report["summary"]["events"] == len(lines), "not every line became an event")

    # 2. client ids as the live gateway computes them.
    first = json.loads(lines[0])
    key = first.get("client")
    want = hmac.new(secret.encode(), f"bearer:{key}".encode(), hashlib.sha256).hexdigest()[:32]
    by_name = {c["client"]: c for c in report["clients"]}
    check(key in by_name, "the first line's client is not in the report")
    if key in by_name:
        check(by_name[key]["client_id"] == want,
              f"client_id {by_name[key]['client_id']} != HMAC(secret, 'bearer:'+key) {want}")
    check(key not in p.stdout, "the summary table printed a raw key")

    # 3. bad lines: counted with their numbers, the rest replayed.
    bad = list(lines)
    bad.insert(2, "this is not json")
    bad.insert(5, json.dumps({"client": "sk-x", "request": {}}))  # no ts
    bad.insert(7, "")  # blank lines are skipped silently
    bad_path = os.path.join(work, "bad.jsonl")
    with open(bad_path, "w") as f:
        f.write("\n".join(bad) + "\n")
    out = os.path.join(work, "r-bad.json")
    p = replay("--input", bad_path, "--output", out)
    check(p.returncode == 0, f"bad lines: exit {p.returncode}")
    check(f"{bad_path}: line 3: not JSON" in p.stderr, f"bad lines: line 3 not reported: {p.stderr[-400:]}")
    check(f"{bad_path}: line 6: missing \"ts\"" in p.stderr, f"bad lines: line 6 not reported: {p.stderr[-400:]}")
    with open(out) as f:
        r = json.load(f)
    check(r["summary"]["bad_lines"] == 2, f"bad_lines {r['summary']['bad_lines']} != 2")
    check([s["line"] for s in r["summary"]["bad_line_samples"]] == [3, 6], "bad line samples")
    check(r["summary"]["events"] == len(lines), "a bad line cost a good one")
    check(r["clients"] == report["clients"], "bad lines changed the verdicts of the good ones")
    p = replay("--input", bad_path, "--output", out, "--strict")
    check(p.returncode == 3, f"--strict with bad lines: exit {p.returncode} != 3")

    # 4. truncated gzip: a report of what was read, and exit 1.
    big = os.path.join(work, "trunc.gz")
    with open(gz, "rb") as f:
        data = f.read()
    with open(big, "wb") as f:
        f.write(data[: len(data) * 2 // 3])
    out = os.path.join(work, "r-trunc.json")
    p = replay("--input", big, "--output", out)
    check(p.returncode == 1, f"truncated gzip: exit {p.returncode} != 1")
    check("gzip" in p.stderr, f"truncated gzip: no clear error: {p.stderr[-300:]}")
    if os.path.exists(out):
        with open(out) as f:
            r = json.load(f)
        check(0 < r["summary"]["events"] < len(lines), "truncated gzip: report should cover the lines read")
    else:
        check(False, "truncated gzip: no report written")

    # 5. an exported line is replayed as stored (its own client id, not recomputed).
    exported = {"ts": 1793577600.5, "client": "sk-...wxyz", "ip": "198.51.100.4",
                "request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                "response": {"status": 200, "usage": {"prompt_tokens": 3, "completion_tokens": 5}},
                "x_distillguard": {"ts_micros": "1793577600500000",
                                   "client_id": "00112233445566778899aabbccddeeff",
                                   "client_hint": "sk-...wxyz", "model": "m", "status": 200,
                                   "prompt_text": "hi", "message_count": 1, "roles": ["ROLE_USER"]}}
    ex_path = os.path.join(work, "export.jsonl")
    with open(ex_path, "w") as f:
        f.write(json.dumps(exported) + "\n")
    out = os.path.join(work, "r-export.json")
    p = replay("--input", ex_path, "--output", out)
    check(p.returncode == 0, f"export line: exit {p.returncode}: {p.stderr[-300:]}")
    with open(out) as f:
        r = json.load(f)
    check(r["summary"]["events_from_export"] == 1, "export line not counted as such")
    check([c["client_id"] for c in r["clients"]] == ["00112233445566778899aabbccddeeff"],
          "export line: stored client id not used")

    # 6. usage and input errors.
    p = replay("--output", out)
    check(p.returncode == 2, f"no --input: exit {p.returncode} != 2")
    p = replay("--input", os.path.join(work, "missing.jsonl"), "--output", out)
    check(p.returncode == 1 and "missing.jsonl" in p.stderr, f"missing input: exit {p.returncode}")

    # 7. report to stdout with "-".
    p = replay("--input", traffic, "--output", "-")
    check(p.returncode == 0 and p.stdout.encode() == outs["plain"], "--output - differs from the file")

    if failures:
        print(f"{len(failures)} failure(s); work dir {work}")
        return 1
    print("replay CLI: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
