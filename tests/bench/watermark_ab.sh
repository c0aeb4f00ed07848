#!/usr/bin/env bash
# Throughput with every client watermarked over the full pipeline, on one
# binary, side by side: a gateway of each variant on one mock-upstream, wrk
# rounds alternating (full, watermark-all, watermark-all, full, ...) under the
# load of proxy_bench.sh, so that other work on the machine hits both alike.
# Prints each round's req/s and ratio watermark-all / full, and the median
# ratio (issue 5: "stays within 10%", a ratio of 0.90 or more). Beside it, the
# gateway's CPU per request (utime + stime over the run / requests, as
# cpu_ab.sh) and the ratio full / watermark-all of it: the throughput ratio a
# CPU-bound gateway would show, steadier than req/s while others load the machine.
#
#   tests/bench/watermark_ab.sh [BINARY (build/server/distillguard)] [ROUNDS (5)] [DURATION (8s)]
#
# Knobs (environment): CONNECTIONS (64), WRK_THREADS (2), GATEWAY_THREADS (2).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DG=${1:-${BUILD_DIR:-build}/server/distillguard}
ROUNDS=${2:-5}
DURATION=${3:-8s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
# shellcheck source=lib.sh
source "$here/lib.sh"
command -v wrk >/dev/null || bench_die "wrk not found (make deps installs it)"
bench_init
bench_start_mock
bench_start_gateway "$MOCK_ADDR" full
full_addr=$GATEWAY_ADDR full_pid=$GATEWAY_PID
bench_start_gateway "$MOCK_ADDR" watermark-all
wm_addr=$GATEWAY_ADDR wm_pid=$GATEWAY_PID
hz=$(getconf CLK_TCK)

# run ADDR PID: a short warm-up, then one measured run; prints "REQ/S CPU_US_PER_REQUEST".
run() {
  local out line before after
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d2s -s "$here/chat_post.lua" "http://$1/v1/chat/completions" \
    >/dev/null 2>&1 || true
  before=$(bench_cpu_ticks "$2")
  out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s "$here/chat_post.lua" \
    "http://$1/v1/chat/completions" 2>&1) || bench_die "wrk failed against $1: $out"
  after=$(bench_cpu_ticks "$2")
  line=$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')
  [[ -n $line ]] || bench_die "no RESULT line from wrk against $1: $out"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); e=sum(v for k,v in r.items() if k.startswith("errors_")); t=int(sys.argv[2]); hz=int(sys.argv[3]); print("errors" if e else "%.1f %.2f" % (r["rps"], 1e6 * t / hz / max(1, r["requests"])))' \
    "$line" "$((after - before))" "$hz"
}

# The watermark really is on: a response of the watermark-all gateway differs from the full one's.
probe() {
  curl -s -H 'Authorization: Bearer sk-bench-0001' -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Explain photosynthesis in detail."}],"max_tokens":160,"user":"u"}' \
    "http://$1/v1/chat/completions"
}
[[ $(probe "$full_addr") != "$(probe "$wm_addr")" ]] || bench_die "the watermark-all gateway answered as the full one"

echo "binary $DG: wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
ratios=() cpu_ratios=()
for r in $(seq "$ROUNDS"); do
  if ((r % 2)); then
    full=$(run "$full_addr" "$full_pid"); wm=$(run "$wm_addr" "$wm_pid")
  else
    wm=$(run "$wm_addr" "$wm_pid"); full=$(run "$full_addr" "$full_pid")
  fi
  [[ $full != errors && $wm != errors ]] || bench_die "round $r had errors (full $full, watermark-all $wm)"
  read -r full_rps full_cpu <<<"$full"
  read -r wm_rps wm_cpu <<<"$wm"
  ratio=$(python3 -c "print(f'{$wm_rps / $full_rps:.3f}')")
  cpu_ratio=$(python3 -c "print(f'{$full_cpu / $wm_cpu:.3f}')")
  ratios+=("$ratio") cpu_ratios+=("$cpu_ratio")
  printf 'round %d: full %8.0f req/s %6.1f us/req, watermark-all %8.0f req/s %6.1f us/req; ratio %s, CPU ratio %s\n' \
    "$r" "$full_rps" "$full_cpu" "$wm_rps" "$wm_cpu" "$ratio" "$cpu_ratio"
done
python3 -c 'import statistics,sys; print("median ratio watermark-all / full: %.3f (rounds %s)" % (statistics.median(map(float, sys.argv[1:])), ", ".join(sys.argv[1:])))' "${ratios[@]}"
python3 -c 'import statistics,sys; print("median CPU-per-request ratio full / watermark-all: %.3f (rounds %s)" % (statistics.median(map(float, sys.argv[1:])), ", ".join(sys.argv[1:])))' "${cpu_ratios[@]}"
