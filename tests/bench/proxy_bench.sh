#!/usr/bin/env bash
# Throughput and latency of distillguard against nginx, side by side in one
# run: the same wrk POST load (tests/bench/chat_post.lua: realistic chat
# completion bodies from 16 API keys) against mock-upstream directly, through
# nginx (proxy_pass, upstream keep-alive) and through distillguard, all on
# loopback. nginx and distillguard are measured twice, alternating, to even out
# drift on a shared machine.
#
#   BUILD_DIR=build tests/bench/proxy_bench.sh
#
# Knobs (environment): DURATION (10s), CONNECTIONS (64), WRK_THREADS (2),
# ROUNDS (2), WARMUP (2s), GATEWAY_THREADS (2), NGINX_WORKERS (2),
# MOCK_THREADS (1), NGINX_BUFFERING (off), RESULTS (a JSON file to write),
# VARIANTS (gateway variants measured beside the full one, see lib.sh;
# default "no-recording watermark-all", empty for none).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-2s}
RESULTS=${RESULTS:-}

command -v wrk >/dev/null || bench_die "wrk not found (make deps installs it)"
bench_init
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Until the gateway's `serve` exists, the bench still compares mock and nginx.
have_gateway=1
if ! "$DG" --help 2>/dev/null | grep -q '^  serve '; then
  echo "bench: WARNING: this distillguard has no 'serve' command; measuring mock-upstream and nginx only" >&2
  have_gateway=0
fi

bench_start_mock
bench_start_nginx "$MOCK_ADDR"
# The gateway as deployed (full pipeline), and beside it the variants in
# VARIANTS, each its own process on the same mock, measured in the same rounds.
declare -A VARIANT_ADDR VARIANT_PID
if ((have_gateway)); then
  for v in ${VARIANTS-no-recording watermark-all}; do
    bench_start_gateway "$MOCK_ADDR" "$v"
    VARIANT_ADDR[dg-$v]=$GATEWAY_ADDR
    VARIANT_PID[dg-$v]=$GATEWAY_PID
  done
  bench_start_gateway "$MOCK_ADDR" full  # last: GATEWAY_* name this one
fi

# The payload is the same everywhere; check once that each path answers it.
probe() {
  local out
  out=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer sk-bench-probe' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}],"max_tokens":8}' \
    "http://$1/v1/chat/completions")
  [[ $out == 200 ]] || bench_die "$2 answered $out to a probe"
}
probe "$MOCK_ADDR" mock-upstream
probe "$NGINX_ADDR" nginx
if ((have_gateway)); then probe "$GATEWAY_ADDR" distillguard; fi
for v in "${!VARIANT_ADDR[@]}"; do probe "${VARIANT_ADDR[$v]}" "$v"; done

echo "bench: mock-upstream $MOCK_ADDR, nginx $NGINX_ADDR, distillguard ${GATEWAY_ADDR:-none}" >&2
echo "bench: wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, $(nproc) cores" >&2

results_file=$BENCH_TMP/results.jsonl
: >"$results_file"

# The processes of each target, for CPU accounting (nginx: master and workers).
nginx_pids="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
pids_of() {
  case $1 in
    mock-direct) echo "" ;;
    nginx) echo "$nginx_pids" ;;
    distillguard) echo "$GATEWAY_PID" ;;
    dg-*) echo "${VARIANT_PID[$1]}" ;;
  esac
}
hz=$(getconf CLK_TCK)
# The gateway's threads by what they do (their names: common/thread_role.h):
# the request path, detection, and recording (the store writer and RocksDB's own).
declare -A thread_roles=([io]='^dg-io-' [analysis]='^dg-analyzer' [recording]='^(dg-store-writer|rocksdb)')

# run NAME ADDR: one measured wrk run (after a short unmeasured warm-up). Besides
# wrk's figures it records the CPU time the proxy and the mock spent per request,
# which stays comparable when other work shares the machine.
run() {
  local name=$1 addr=$2 out line proxy_before mock_before proxy_cpu mock_cpu split="" role
  local -A role_before
  [[ -n $addr ]] || return 0
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$here/chat_post.lua" "http://$addr/v1/chat/completions" >/dev/null 2>&1 || true
  # shellcheck disable=SC2046
  proxy_before=$(bench_cpu_ticks $(pids_of "$name"))
  mock_before=$(bench_cpu_ticks "$MOCK_PID")
  if [[ $name == distillguard || $name == dg-* ]]; then
    for role in "${!thread_roles[@]}"; do role_before[$role]=$(bench_thread_ticks "$(pids_of "$name")" "${thread_roles[$role]}"); done
  fi
  out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s "$here/chat_post.lua" \
    "http://$addr/v1/chat/completions" 2>&1) || bench_die "wrk failed against $name: $out"
  # shellcheck disable=SC2046
  proxy_cpu=$(($(bench_cpu_ticks $(pids_of "$name")) - proxy_before))
  mock_cpu=$(($(bench_cpu_ticks "$MOCK_PID") - mock_before))
  if [[ $name == distillguard || $name == dg-* ]]; then
    for role in "${!thread_roles[@]}"; do
      split+="\"${role}_cpu_s\":$(awk "BEGIN{print ($(bench_thread_ticks "$(pids_of "$name")" "${thread_roles[$role]}") - ${role_before[$role]})/$hz}"),"
    done
  fi
  line=$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')
  [[ -n $line ]] || bench_die "no RESULT line from wrk against $name: $out"
  line="{\"target\":\"$name\",\"proxy_cpu_s\":$(awk "BEGIN{print $proxy_cpu/$hz}"),\"mock_cpu_s\":$(awk "BEGIN{print $mock_cpu/$hz}"),$split${line#\{}"
  echo "$line" >>"$results_file"
  echo "bench: $line" >&2
}

run mock-direct "$MOCK_ADDR"
for r in $(seq "$ROUNDS"); do
  if ((r % 2 == 1)); then
    run nginx "$NGINX_ADDR"
    run distillguard "${GATEWAY_ADDR:-}"
    for v in "${!VARIANT_ADDR[@]}"; do run "$v" "${VARIANT_ADDR[$v]}"; done
  else
    for v in "${!VARIANT_ADDR[@]}"; do run "$v" "${VARIANT_ADDR[$v]}"; done
    run distillguard "${GATEWAY_ADDR:-}"
    run nginx "$NGINX_ADDR"
  fi
done

gateway_rss=0
if ((have_gateway)); then gateway_rss=$(bench_rss_kib "$GATEWAY_PID"); fi

python3 - "$results_file" "$gateway_rss" "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
gateway_rss_kib = int(sys.argv[2])
def mean(target, key):
    v = [r[key] for r in rows if r["target"] == target]
    return sum(v) / len(v)
print()
for r in rows:
    r["proxy_cpu_us_per_req"] = 1e6 * r["proxy_cpu_s"] / max(1, r["requests"])
    r["mock_cpu_us_per_req"] = 1e6 * r["mock_cpu_s"] / max(1, r["requests"])
print(f"{'target':<16}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>9}{'proxy CPU us/req':>18}{'mock CPU us/req':>17}")
for r in rows:
    errs = sum(r[k] for k in r if k.startswith("errors_"))
    proxy_cpu = "-" if r["target"] == "mock-direct" else f"{r['proxy_cpu_us_per_req']:.1f}"
    print(f"{r['target']:<16}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{errs:>9}"
          f"{proxy_cpu:>18}{r['mock_cpu_us_per_req']:>17.1f}")
summary = {}
targets = []
for r in rows:
    if r["target"] not in targets:
        targets.append(r["target"])
for t in targets:
    if any(r["target"] == t for r in rows):
        summary[t] = {k: mean(t, k) for k in ("rps", "p50_ms", "p99_ms", "proxy_cpu_us_per_req")}
print()
print(f"{'mean':<16}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
for t, s in summary.items():
    print(f"{t:<16}{s['rps']:>10.0f}{s['p50_ms']:>10.2f}{s['p99_ms']:>10.2f}")
ratios = None
n = summary["nginx"]
m = summary["mock-direct"]
print()
print(f"nginx/mock-direct: throughput {n['rps'] / m['rps']:.2f}x, p99 {n['p99_ms'] / m['p99_ms']:.2f}x")
if "distillguard" in summary:
    g = summary["distillguard"]
    ratios = {"throughput": g["rps"] / n["rps"], "p50": g["p50_ms"] / n["p50_ms"], "p99": g["p99_ms"] / n["p99_ms"]}
    ratios["cpu_per_request"] = g["proxy_cpu_us_per_req"] / n["proxy_cpu_us_per_req"]
    print(f"distillguard/nginx: throughput {ratios['throughput']:.2f}x (target >= 1.0), "
          f"p50 {ratios['p50']:.2f}x, p99 {ratios['p99']:.2f}x (target <= 1.0), "
          f"CPU per request {ratios['cpu_per_request']:.2f}x")
    # Where the gateway's CPU goes, per request: the request path (I/O threads) against
    # nginx's whole cost, then what detection and recording add to it.
    full = [r for r in rows if r["target"] == "distillguard" and "io_cpu_s" in r]
    if full:
        per = lambda k: sum(1e6 * r[k] / max(1, r["requests"]) for r in full) / len(full)
        io, an, rec = per("io_cpu_s"), per("analysis_cpu_s"), per("recording_cpu_s")
        ratios["io_threads_cpu_over_nginx"] = io / n["proxy_cpu_us_per_req"]
        print(f"distillguard CPU per request: I/O threads {io:.1f} us ({io / n['proxy_cpu_us_per_req']:.2f}x nginx's "
              f"{n['proxy_cpu_us_per_req']:.1f}), analysis {an:.1f} us, recording {rec:.1f} us, "
              f"other {max(0.0, g['proxy_cpu_us_per_req'] - io - an - rec):.1f} us")
    for t in targets:
        if t.startswith("dg-"):
            v = summary[t]
            print(f"{t}/nginx: throughput {v['rps'] / n['rps']:.2f}x, p99 {v['p99_ms'] / n['p99_ms']:.2f}x, "
                  f"CPU per request {v['proxy_cpu_us_per_req'] / n['proxy_cpu_us_per_req']:.2f}x")
    if "dg-no-recording" in summary:
        off = summary["dg-no-recording"]
        ratios["recording_on_over_off_throughput"] = g["rps"] / off["rps"]
        print(f"recording on/off: throughput {g['rps'] / off['rps']:.2f}x (target >= 0.95), "
              f"CPU per request {g['proxy_cpu_us_per_req'] / off['proxy_cpu_us_per_req']:.2f}x")
    if "dg-watermark-all" in summary:
        wm = summary["dg-watermark-all"]
        ratios["watermark_all_over_full_throughput"] = wm["rps"] / g["rps"]
        print(f"everyone watermarked / full: throughput {wm['rps'] / g['rps']:.2f}x, "
              f"p99 {wm['p99_ms'] / g['p99_ms']:.2f}x")
    print(f"distillguard resident memory after the runs: {gateway_rss_kib / 1024:.1f} MiB")
else:
    print("distillguard: not measured (no 'serve' command in this build)")
if sys.argv[3]:
    with open(sys.argv[3], "w") as f:
        json.dump({"runs": rows, "mean": summary, "distillguard_over_nginx": ratios,
                   "distillguard_rss_kib": gateway_rss_kib}, f, indent=2)
EOF
