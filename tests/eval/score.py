#!/usr/bin/env python3
"""score.py: scores a replay report against the simulator's labels.

Prints, by kind (and by variant) and overall: recall of attacking clients
(verdict above allow), false-positive rate of benign clients at throttle or
above and at watermark or above, the median events to first action, and for
hydra swarms the share of accounts flagged. Then checks the targets of issue 4
and lists every miss and false positive with its detector scores, so the
owner of a detector sees what failed and why.

    score.py --labels labels.json --report report.json [--json summary.json]

Exit status: 0 whatever the figures (make eval reports, it does not gate);
2 if the inputs are malformed. Python 3 standard library only.
"""

import argparse
import json
import statistics
import sys

ORDER = {"allow": 0, "watermark": 1, "throttle": 2, "block": 3}
AUTOMATED_BENIGN = {"product_backend", "batch_job", "benchmark_team"}

TARGET_RECALL = 0.99
TARGET_FP_THROTTLE = 0.001
TARGET_MEDIAN_FIRST_ACTION = 300


def load(args):
    with open(args.labels, encoding="utf-8") as f:
        labels = json.load(f)["clients"]
    with open(args.report, encoding="utf-8") as f:
        report = json.load(f)
    by_name = {c["client"]: c for c in report["clients"]}
    return labels, report, by_name


def row(name, members, by_name):
    """Figures for a group of labelled clients (all attackers or all benign)."""
    n = len(members)
    flagged = throttled = watermarked = ever = 0
    firsts = []
    for client, _ in members:
        rep = by_name.get(client)
        level = ORDER[rep["verdict"]] if rep else 0
        if rep and rep.get("first_action_event") is not None:
            ever += 1  # acted on at some point, even if the verdict has decayed since
        if level >= 1:
            flagged += 1
            watermarked += 1
            if rep.get("first_action_event") is not None:
                firsts.append(rep["first_action_event"])
        if level >= 2:
            throttled += 1
    return {"group": name, "clients": n, "flagged": flagged, "ever_flagged": ever,
            "throttle_or_above": throttled,
            "watermark_or_above": watermarked,
            "median_first_action": statistics.median(firsts) if firsts else None,
            "events": sum((by_name.get(c) or {}).get("events", 0) for c, _ in members)}


def fmt_rate(k, n):
    return f"{k / n:.3f} ({k}/{n})" if n else "-"


def top_detectors(rep, k=4):
    d = rep.get("detectors", {}) if rep else {}
    parts = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return ", ".join(f"{name}={score:.2f}" for name, score in parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--list", type=int, default=25, help="misclassified clients to list per side")
    args = ap.parse_args(argv)
    try:
        labels, report, by_name = load(args)
    except (OSError, ValueError, KeyError) as e:
        print(f"score.py: {e}", file=sys.stderr)
        return 2

    attackers = [(c, v) for c, v in sorted(labels.items()) if v["class"] == "attacker"]
    benign = [(c, v) for c, v in sorted(labels.items()) if v["class"] == "benign"]
    unknown = [c["client"] for c in report["clients"] if c["client"] not in labels]

    def groups(items, key):
        out = {}
        for c, v in items:
            out.setdefault(v[key], []).append((c, v))
        return out

    print(f"report: {report['summary']['events']} events, {len(report['clients'])} clients, "
          f"{len(report.get('clusters', []))} clusters; labels: {len(attackers)} attackers, "
          f"{len(benign)} benign" + (f"; {len(unknown)} unlabelled clients in report" if unknown else ""))
    print()
    print("recall: final verdict above allow; ever: acted on at some point (verdicts decay when a")
    print("client pauses); first action: median events seen when the verdict first rose")
    print()
    print("ATTACKERS                         clients  recall             ever               "
          "throttle+          median first action")
    rows = {"attackers": {}, "benign": {}}
    for key in ("kind", "variant"):
        for name, members in sorted(groups(attackers, key).items()):
            if key == "variant" and name in groups(attackers, "kind"):
                continue  # the variant that is its kind's only one
            r = row(name, members, by_name)
            rows["attackers"][name] = r
            mfa = "-" if r["median_first_action"] is None else f"{r['median_first_action']:.0f}"
            indent = "  " if key == "variant" else ""
            print(f"{indent + name:34s}{r['clients']:6d}  {fmt_rate(r['flagged'], r['clients']):18s} "
                  f"{fmt_rate(r['ever_flagged'], r['clients']):18s} "
                  f"{fmt_rate(r['throttle_or_above'], r['clients']):18s} {mfa}")
    all_att = row("all attackers", attackers, by_name)
    rows["attackers"]["all"] = all_att
    mfa = "-" if all_att["median_first_action"] is None else f"{all_att['median_first_action']:.0f}"
    print(f"{'ALL':34s}{all_att['clients']:6d}  {fmt_rate(all_att['flagged'], all_att['clients']):18s} "
          f"{fmt_rate(all_att['ever_flagged'], all_att['clients']):18s} "
          f"{fmt_rate(all_att['throttle_or_above'], all_att['clients']):18s} {mfa}")

    print()
    print("BENIGN                            clients  FP throttle+       FP watermark+")
    for key in ("kind", "variant"):
        for name, members in sorted(groups(benign, key).items()):
            if key == "variant" and name in groups(benign, "kind"):
                continue
            r = row(name, members, by_name)
            rows["benign"][name] = r
            indent = "  " if key == "variant" else ""
            print(f"{indent + name:34s}{r['clients']:6d}  {fmt_rate(r['throttle_or_above'], r['clients']):18s} "
                  f"{fmt_rate(r['watermark_or_above'], r['clients']):18s}")
    all_ben = row("all benign", benign, by_name)
    rows["benign"]["all"] = all_ben
    print(f"{'ALL':34s}{all_ben['clients']:6d}  "
          f"{fmt_rate(all_ben['throttle_or_above'], all_ben['clients']):18s} "
          f"{fmt_rate(all_ben['watermark_or_above'], all_ben['clients']):18s}")

    # Hydra swarms: share of each swarm's accounts flagged.
    print()
    swarms = groups([(c, v) for c, v in attackers if v.get("group")], "group")
    hydra = {}
    for name, members in sorted(swarms.items()):
        r = row(name, members, by_name)
        variant = members[0][1]["variant"]
        clusters = {(by_name.get(c) or {}).get("cluster") for c, _ in members}
        clusters.discard(None)
        hydra[name] = {"variant": variant, "accounts": r["clients"], "flagged": r["flagged"],
                       "clusters": len(clusters)}
        print(f"hydra {name} ({variant}): {r['flagged']}/{r['clients']} accounts flagged, "
              f"members in {len(clusters)} cluster(s)")

    # Targets of issue 4.
    recall = all_att["flagged"] / all_att["clients"] if all_att["clients"] else 1.0
    fp_thr = all_ben["throttle_or_above"] / all_ben["clients"] if all_ben["clients"] else 0.0
    auto_above_throttle = [c for c, v in benign if v["kind"] in AUTOMATED_BENIGN
                           and ORDER[(by_name.get(c) or {"verdict": "allow"})["verdict"]] > ORDER["throttle"]]
    kind_medians = {k: r["median_first_action"] for k, r in rows["attackers"].items()
                    if k in groups(attackers, "kind")}
    slow = {k: m for k, m in kind_medians.items() if m is not None and m > TARGET_MEDIAN_FIRST_ACTION}
    hydra_all = all(h["flagged"] == h["accounts"] for h in hydra.values())
    checks = [
        (f"recall >= {TARGET_RECALL}", recall >= TARGET_RECALL, f"{recall:.3f}"),
        (f"FP at throttle+ <= {TARGET_FP_THROTTLE:.1%} of benign", fp_thr <= TARGET_FP_THROTTLE, f"{fp_thr:.4f}"),
        ("no automated benign client above throttle", not auto_above_throttle,
         f"{len(auto_above_throttle)} above throttle"),
        (f"median first action <= {TARGET_MEDIAN_FIRST_ACTION} events, every kind", not slow
         and all(m is not None for m in kind_medians.values()),
         ", ".join(f"{k}={'-' if m is None else int(m)}" for k, m in sorted(kind_medians.items()))),
        ("every hydra account flagged", hydra_all,
         ", ".join(f"{n}={h['flagged']}/{h['accounts']}" for n, h in sorted(hydra.items()))),
    ]
    print()
    print("TARGETS (issue 4)")
    for name, ok, value in checks:
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {value}")

    # What failed and why: detector scores of the misclassified.
    missed = [(c, v) for c, v in attackers if ORDER[(by_name.get(c) or {"verdict": "allow"})["verdict"]] == 0]
    false_pos = [(c, v) for c, v in benign if ORDER[(by_name.get(c) or {"verdict": "allow"})["verdict"]] >= 1]
    for title, items in (("MISSED ATTACKERS", missed), ("FLAGGED BENIGN", false_pos)):
        if not items:
            continue
        print()
        print(f"{title} ({len(items)}), with their strongest detector scores")
        for c, v in items[:args.list]:
            rep = by_name.get(c)
            if rep is None:
                print(f"  {v['variant']:28s} not in report")
                continue
            reasons = "; ".join(rep.get("reasons", [])[:2])
            print(f"  {v['variant']:28s} {rep['client_id'][:12]} events={rep['events']:6d} "
                  f"risk={rep['risk']:.3f} {rep['verdict']:9s} [{top_detectors(rep)}] {reasons[:120]}")
        if len(items) > args.list:
            print(f"  ... and {len(items) - args.list} more")

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"rows": rows, "hydra": hydra,
                       "targets": [{"target": n, "met": ok, "value": v} for n, ok, v in checks]},
                      f, indent=1, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
