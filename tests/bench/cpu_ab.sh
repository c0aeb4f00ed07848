#!/usr/bin/env bash
# Gateway CPU per request of two builds, side by side on one mock-upstream,
# alternating (base, new, new, base, ...), under the same wrk load as
# proxy_bench.sh. CPU per request (utime + stime of the gateway process over
# the run, divided by the requests wrk counted) stays comparable when other
# work shares the machine, where req/s and latency do not.
#
#   tests/bench/cpu_ab.sh BASE_BINARY NEW_BINARY [ROUNDS (4)] [DURATION (10s)]
#
# Knobs (environment): CONNECTIONS (64), WRK_THREADS (2), GATEWAY_THREADS (2),
# VARIANT (full; see lib.sh). The mock is NEW_BINARY's.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
(($# >= 2)) || { echo "usage: $0 BASE_BINARY NEW_BINARY [ROUNDS] [DURATION]" >&2; exit 2; }
BASE=$1
NEW=$2
ROUNDS=${3:-4}
DURATION=${4:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
export DG=$NEW  # lib.sh reads DG and DG_MOCK
export DG_MOCK=$NEW
# shellcheck source=lib.sh
source "$here/lib.sh"
command -v wrk >/dev/null || bench_die "wrk not found (make deps installs it)"
[[ -x $BASE ]] || bench_die "no binary at $BASE"
bench_init
bench_start_mock
DG=$BASE bench_start_gateway "$MOCK_ADDR" "${VARIANT:-full}"
base_addr=$GATEWAY_ADDR base_pid=$GATEWAY_PID
DG=$NEW bench_start_gateway "$MOCK_ADDR" "${VARIANT:-full}"
new_addr=$GATEWAY_ADDR new_pid=$GATEWAY_PID
hz=$(getconf CLK_TCK)

# run NAME ADDR PID: a short warm-up, then one measured run.
run() {
  local name=$1 addr=$2 pid=$3 before after io_before io_after out line
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d2s -s "$here/chat_post.lua" "http://$addr/v1/chat/completions" \
    >/dev/null 2>&1 || true
  before=$(bench_cpu_ticks "$pid")
  io_before=$(bench_thread_ticks "$pid" '^dg-io-')
  out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s "$here/chat_post.lua" \
    "http://$addr/v1/chat/completions" 2>&1) || bench_die "wrk failed against $name: $out"
  after=$(bench_cpu_ticks "$pid")
  io_after=$(bench_thread_ticks "$pid" '^dg-io-')
  line=$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')
  [[ -n $line ]] || bench_die "no RESULT line from wrk against $name: $out"
  python3 - "$name" "$line" "$((after - before))" "$((io_after - io_before))" "$hz" <<'PY'
import json, sys
name, r, ticks, io_ticks, hz = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
errors = sum(v for k, v in r.items() if k.startswith("errors_"))
per_req = lambda t: 1e6 * t / hz / max(1, r["requests"])
# "I/O" is the request path alone (threads dg-io-*; 0 for builds that do not name them).
print("%-5s req/s %8.0f  p50 %6.2f ms  p99 %6.2f ms  CPU %6.1f us/req (I/O threads %5.1f)  errors %d"
      % (name, r["rps"], r["p50_ms"], r["p99_ms"], per_req(ticks), per_req(io_ticks), errors))
PY
}

echo "base $BASE, new $NEW: wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, $(nproc) cores"
for r in $(seq "$ROUNDS"); do
  if ((r % 2)); then
    run base "$base_addr" "$base_pid"
    run new "$new_addr" "$new_pid"
  else
    run new "$new_addr" "$new_pid"
    run base "$base_addr" "$base_pid"
  fi
done
