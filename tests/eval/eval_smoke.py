#!/usr/bin/env python3
"""eval_smoke.py: a scaled-down `make eval` for ctest (label eval).

Simulates a small labelled traffic log, replays it twice (once from a file,
once gzip through standard input), and checks that the report is well-formed
(check_report.py), names every labelled client, and is byte-for-byte the same
both times. It scores the report for the log but asserts no detection target:
at this scale they are not robust, the full `make eval` measures them.

    eval_smoke.py DISTILLGUARD CONFIG DATASETS WORKDIR
"""

import gzip
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_report  # noqa: E402


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    binary, config, datasets, work = argv[1:]
    datasets = os.environ.get("DG_DATASETS") or datasets
    if not os.path.isfile(os.path.join(datasets, "questions.jsonl")):
        # ctest counts exit 77 as skipped (SKIP_RETURN_CODE): the corpora are not in the repository.
        print(f"SKIP: public corpora not found in {datasets}: put ../shared/datasets beside "
              "the repository or set DG_DATASETS")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    traffic = os.path.join(work, "traffic.jsonl")
    labels = os.path.join(work, "labels.json")
    subprocess.run([sys.executable, os.path.join(HERE, "simulate.py"), "--datasets", datasets,
                    "--out", traffic, "--labels", labels, "--seed", "7", "--scale", "0.05",
                    "--days", "2", "--volume", "0.2"], check=True)
    with open(traffic, "rb") as f:
        raw = f.read()
    with gzip.open(traffic + ".gz", "wb", compresslevel=1) as f:
        f.write(raw)

    failures = []
    r1 = os.path.join(work, "report1.json")
    r2 = os.path.join(work, "report2.json")
    p1 = subprocess.run([binary, "replay", "--config", config, "--input", traffic, "--output", r1,
                         "--quiet"], capture_output=True, text=True)
    with open(traffic + ".gz", "rb") as stdin:
        p2 = subprocess.run([binary, "replay", "--config", config, "--input", "-", "--output", r2,
                             "--quiet"], stdin=stdin, capture_output=True, text=True)
    for name, p in (("file", p1), ("gzip stdin", p2)):
        if p.returncode != 0:
            failures.append(f"replay from {name}: exit {p.returncode}\n{p.stderr[-2000:]}")
    if failures:
        print("\n".join(failures))
        return 1
    print(p1.stdout)

    with open(r1, "rb") as f:
        b1 = f.read()
    with open(r2, "rb") as f:
        b2 = f.read()
    if b1 != b2:
        failures.append("the two replays of the same traffic differ (not deterministic)")
    report = json.loads(b1)
    failures += check_report.problems(report)

    with open(labels, encoding="utf-8") as f:
        lab = json.load(f)
    names = {c["client"] for c in report["clients"]}
    present = set()
    for line in raw.splitlines():
        rec = json.loads(line)
        present.add(rec.get("client") or rec["ip"])
    missing = sorted(present - names)
    if missing:
        failures.append(f"{len(missing)} clients of the traffic are not in the report, e.g. {missing[:3]}")
    unlabelled = sorted(names - set(lab["clients"]))
    if unlabelled:
        failures.append(f"{len(unlabelled)} clients in the report are not in the traffic, e.g. {unlabelled[:3]}")
    if report["summary"]["events"] != lab["events"] or report["summary"]["bad_lines"] != 0:
        failures.append(f"summary: {report['summary']['events']} events, {report['summary']['bad_lines']} bad "
                        f"lines; the simulator wrote {lab['events']} good lines")

    # The figures, for the log only.
    subprocess.run([sys.executable, os.path.join(HERE, "score.py"), "--labels", labels,
                    "--report", r1, "--list", "5"], check=True)

    if failures:
        print("FAILED:")
        for msg in failures[:50]:
            print("  " + msg)
        return 1
    print("eval smoke: report well-formed and deterministic")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
