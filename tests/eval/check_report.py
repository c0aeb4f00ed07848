#!/usr/bin/env python3
"""check_report.py: checks that a `distillguard replay` report has the shape of
DESIGN.md ("Replay report") and is internally consistent. Used by the eval
smoke test and the replay integration tests; also a CLI:

    check_report.py REPORT.json          # exit 1 with the problems listed

Python 3 standard library only.
"""

import json
import math
import sys

VERDICTS = ("allow", "watermark", "throttle", "block")
CLIENT_KEYS = ["client", "client_id", "events", "risk", "verdict", "first_action_event",
               "first_action_ts", "cluster", "detectors", "reasons"]


def problems(report):
    """Returns a list of what is wrong (empty when the report is well-formed)."""
    out = []

    def bad(msg):
        out.append(msg)

    if not isinstance(report, dict) or list(report.keys()) != ["clients", "clusters", "summary"]:
        return ["top level must be an object with clients, clusters, summary (in that order)"]
    clients, clusters, summary = report["clients"], report["clusters"], report["summary"]
    if not isinstance(clients, list) or not isinstance(clusters, list) or not isinstance(summary, dict):
        return ["clients and clusters must be lists, summary an object"]

    ids = set()
    prev = None
    counts = {v: 0 for v in VERDICTS}
    total_events = 0
    for i, c in enumerate(clients):
        where = f"clients[{i}]"
        if list(c.keys()) != CLIENT_KEYS:
            bad(f"{where}: keys {list(c.keys())} != {CLIENT_KEYS}")
            continue
        if not isinstance(c["client"], str) or not c["client"]:
            bad(f"{where}: client must be a non-empty string")
        if not isinstance(c["client_id"], str) or len(c["client_id"]) != 32 or \
                any(ch not in "0123456789abcdef" for ch in c["client_id"]):
            bad(f"{where}: client_id must be 32 lower-case hex characters")
        if c["client_id"] in ids:
            bad(f"{where}: duplicate client_id {c['client_id']}")
        ids.add(c["client_id"])
        if not isinstance(c["events"], int) or c["events"] < 1:
            bad(f"{where}: events must be a positive integer")
        total_events += c["events"] if isinstance(c["events"], int) else 0
        if not isinstance(c["risk"], (int, float)) or not 0 <= c["risk"] <= 1 or math.isnan(c["risk"]):
            bad(f"{where}: risk must be in [0, 1]")
        if c["verdict"] not in VERDICTS:
            bad(f"{where}: verdict {c['verdict']!r}")
        else:
            counts[c["verdict"]] += 1
        fa, ft = c["first_action_event"], c["first_action_ts"]
        if (fa is None) != (ft is None):
            bad(f"{where}: first_action_event and first_action_ts must both be null or both set")
        if fa is not None and (not isinstance(fa, int) or not 1 <= fa <= c["events"]):
            bad(f"{where}: first_action_event {fa} must be in [1, events]")
        if c["verdict"] != "allow" and fa is None:
            bad(f"{where}: verdict {c['verdict']} without a first action")
        if c["cluster"] is not None and not isinstance(c["cluster"], str):
            bad(f"{where}: cluster must be a string or null")
        if not isinstance(c["detectors"], dict) or not c["detectors"]:
            bad(f"{where}: detectors must be a non-empty object")
        else:
            for name, s in c["detectors"].items():
                if not isinstance(s, (int, float)) or not 0 <= s <= 1:
                    bad(f"{where}: detectors.{name} = {s} not in [0, 1]")
                elif round(s, 4) != s:
                    bad(f"{where}: detectors.{name} = {s} not rounded to 4 decimals")
        if not isinstance(c["reasons"], list) or not all(isinstance(r, str) for r in c["reasons"]):
            bad(f"{where}: reasons must be a list of strings")
        key = (-c["risk"], c["client_id"]) if isinstance(c["risk"], (int, float)) else None
        if prev is not None and key is not None and key < prev:
            bad(f"{where}: clients not sorted by risk (desc) then client_id")
        prev = key

    cluster_ids = set()
    for i, k in enumerate(clusters):
        where = f"clusters[{i}]"
        for key in ("cluster", "members", "links", "events", "risk", "detectors", "reasons"):
            if key not in k:
                bad(f"{where}: missing {key}")
        if out and out[-1].startswith(where):
            continue
        cluster_ids.add(k["cluster"])
        if len(k["members"]) < 2:
            bad(f"{where}: a cluster has two or more members")
        if k["members"] != sorted(k["members"]):
            bad(f"{where}: members not sorted")
        for m in k["members"]:
            if m not in ids:
                bad(f"{where}: member {m} is not a client of the report")
    for i, c in enumerate(clients):
        if isinstance(c.get("cluster"), str) and clusters and c["cluster"] not in cluster_ids:
            bad(f"clients[{i}]: cluster {c['cluster']} not among clusters")
    if [k.get("cluster") for k in clusters] != sorted(k.get("cluster") for k in clusters):
        bad("clusters not sorted by id")

    for key in ("lines", "events", "bad_lines", "clients", "verdicts", "clusters"):
        if key not in summary:
            bad(f"summary: missing {key}")
    if not out:
        if summary["clients"] != len(clients):
            bad(f"summary.clients {summary['clients']} != {len(clients)}")
        if summary["events"] != total_events:
            bad(f"summary.events {summary['events']} != sum of client events {total_events}")
        if summary["verdicts"] != counts:
            bad(f"summary.verdicts {summary['verdicts']} != {counts}")
        if summary["clusters"] != len(clusters):
            bad(f"summary.clusters {summary['clusters']} != {len(clusters)}")
    return out


def main(argv):
    if len(argv) != 2:
        print("usage: check_report.py REPORT.json", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        report = json.load(f)
    p = problems(report)
    for msg in p[:50]:
        print(msg)
    if p:
        return 1
    print(f"ok: {len(report['clients'])} clients, {len(report['clusters'])} clusters")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
