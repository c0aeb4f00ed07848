#!/usr/bin/env bash
# Throughput with every client watermarked over the full pipeline, on one
# binary, side by side: a gateway of each variant on one mock-upstream, wrk
# rounds alternating (full, watermark-all, watermark-all, full, ...) under the
# load of proxy_bench.sh, so that other work on the machine hits both alike.
# Prints each round's req/s and ratio watermark-all / full, and the median
# ratio (issue 5: "stays within 10%", a ratio of 0.90 or more).
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
full_addr=$GATEWAY_ADDR
bench_start_gateway "$MOCK_ADDR" watermark-all
wm_addr=$GATEWAY_ADDR

# rps ADDR: a short warm-up, then one measured run; prints its requests per second.
rps() {
  local out line
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d2s -s "$here/chat_post.lua" "http://$1/v1/chat/completions" \
    >/dev/null 2>&1 || true
  out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s "$here/chat_post.lua" \
    "http://$1/v1/chat/completions" 2>&1) || bench_die "wrk failed against $1: $out"
  line=$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')
  [[ -n $line ]] || bench_die "no RESULT line from wrk against $1: $out"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); e=sum(v for k,v in r.items() if k.startswith("errors_")); print(r["rps"] if e == 0 else "errors")' "$line"
}

# The watermark really is on: a response of the watermark-all gateway differs from the full one's.
probe() {
  curl -s -H 'Authorization: Bearer sk-bench-0001' -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Explain photosynthesis in detail."}],"max_tokens":160,"user":"u"}' \
    "http://$1/v1/chat/completions"
}
[[ $(probe "$full_addr") != "$(probe "$wm_addr")" ]] || bench_die "the watermark-all gateway answered as the full one"

echo "binary $DG: wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
ratios=()
for r in $(seq "$ROUNDS"); do
  if ((r % 2)); then
    full=$(rps "$full_addr"); wm=$(rps "$wm_addr")
  else
    wm=$(rps "$wm_addr"); full=$(rps "$full_addr")
  fi
  [[ $full != errors && $wm != errors ]] || bench_die "round $r had errors (full $full, watermark-all $wm)"
  ratio=$(python3 -c "print(f'{$wm / $full:.3f}')")
  ratios+=("$ratio")
  printf 'round %d: full %8.0f req/s, watermark-all %8.0f req/s, ratio %s\n' "$r" "$full" "$wm" "$ratio"
done
python3 -c 'import statistics,sys; print("median ratio watermark-all / full: %.3f (rounds %s)" % (statistics.median(map(float, sys.argv[1:])), ", ".join(sys.argv[1:])))' "${ratios[@]}"
