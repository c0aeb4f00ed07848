#!/usr/bin/env bash
# How many concurrent slow SSE streams one gateway holds, and its resident
# memory per stream: mock-upstream paces tokens (TOKEN_DELAY_MS apart) so every
# stream stays open for minutes, and sse_streams opens STREAMS of them through
# distillguard, reading the gateway's RSS from /proc before and during.
#
#   BUILD_DIR=build tests/bench/sse_bench.sh
#
# Knobs: STREAMS (10000), TOKEN_DELAY_MS (2000), CONNECT_RATE (1000/s),
# HOLD_SECONDS (5), KEYS (1000 distinct API keys), GATEWAY_THREADS (2),
# TARGET=nginx|distillguard|mock (distillguard), RESULTS (a JSON file to write).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

STREAMS=${STREAMS:-10000}
TOKEN_DELAY_MS=${TOKEN_DELAY_MS:-2000}
CONNECT_RATE=${CONNECT_RATE:-1000}
HOLD_SECONDS=${HOLD_SECONDS:-5}
KEYS=${KEYS:-1000}
TARGET=${TARGET:-distillguard}
RESULTS=${RESULTS:-}
SSE=${SSE:-$BUILD_DIR/tests/bench/sse_streams}
[[ -x $SSE ]] || bench_die "no sse_streams at $SSE (cmake --build $BUILD_DIR --target sse_streams)"

# Every stream is a client socket, an upstream socket and a mock socket: raise
# the descriptor limit for everything started from here (root may raise the hard one).
want=$((STREAMS * 2 + 4096))
if (($(ulimit -Hn) < want)); then ulimit -Hn "$want" 2>/dev/null || true; fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < STREAMS * 2 + 100)); then
  # Each stream holds two descriptors in the gateway (client and upstream).
  echo "bench: WARNING: ulimit -n is $(ulimit -n) and cannot be raised here: one gateway can hold" \
    "at most about $((($(ulimit -n) - 100) / 2)) streams, fewer than the $STREAMS asked for" >&2
fi
# The mock answers every stream's connect and paces its tokens: give it two threads.
export MOCK_THREADS=${MOCK_THREADS:-2}

bench_init
bench_start_mock --token-delay-ms "$TOKEN_DELAY_MS"
case $TARGET in
  distillguard)
    bench_start_gateway "$MOCK_ADDR"
    addr=$GATEWAY_ADDR pid=$GATEWAY_PID ;;
  nginx)
    bench_start_nginx "$MOCK_ADDR"
    # nginx's memory is its master's and its workers', summed.
    sleep 0.5
    addr=$NGINX_ADDR pid=$(echo "$NGINX_PID" $(pgrep -P "$NGINX_PID") | tr ' ' ',') ;;
  mock)
    addr=$MOCK_ADDR pid=$MOCK_PID ;;
  *) bench_die "TARGET must be distillguard, nginx or mock" ;;
esac

echo "bench: $STREAMS streams through $TARGET ($addr, pid $pid), mock token delay ${TOKEN_DELAY_MS} ms, ulimit -n $(ulimit -n)" >&2
# Let the process settle (threads, pools, allocator) before the baseline.
sleep 1
out=$("$SSE" --target "$addr" --streams "$STREAMS" --pid "$pid" --connect-rate "$CONNECT_RATE" \
  --hold-seconds "$HOLD_SECONDS" --keys "$KEYS" --max-tokens 100000) || true
[[ -n $out ]] || bench_die "sse_streams printed nothing"
echo "$out" >&2
if [[ -n $RESULTS ]]; then echo "$out" >"$RESULTS"; fi

python3 - "$out" "$TARGET" "$STREAMS" <<'EOF'
import json, sys
r = json.loads(sys.argv[1]); target = sys.argv[2]; want = int(sys.argv[3])
print()
print(f"{target}: held {r['held']} of {want} concurrent SSE streams "
      f"(connect failures {r['connect_failed']}, non-200 {r['non_200']}, failed {r['failed']})")
print(f"{target}: RSS {r['rss_before_kib'] / 1024:.1f} MiB before, {max(r['rss_during_kib'], r['rss_peak_kib']) / 1024:.1f} MiB "
      f"while holding them: {r['rss_per_stream_bytes'] / 1024:.1f} KiB per stream (target < 64 KiB)")
EOF
