#!/usr/bin/env bash
# `make bench`: every benchmark of distillguard, in one run.
#   1. proxy_bench.sh: wrk POST load against mock-upstream directly, through
#      nginx and through distillguard, side by side (req/s, p50, p99, ratios).
#   2. sse_bench.sh: concurrent slow SSE streams held by one gateway, and its
#      resident memory per stream.
#   3. The part benchmarks (Google Benchmark programs built with the tree):
#      detectors, enforcement, storage, when present. BENCH_PARTS=0 skips them.
# Results as JSON land in $BENCH_OUT (default $BUILD_DIR/bench-results).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export BUILD_DIR=${BUILD_DIR:-build}
BENCH_OUT=${BENCH_OUT:-$BUILD_DIR/bench-results}
mkdir -p "$BENCH_OUT"

# `make bench` has built everything; run alone, build first (make build).
for bin in "$BUILD_DIR/server/distillguard" "$BUILD_DIR/tests/bench/sse_streams"; do
  [[ -x $bin ]] || { echo "bench: $bin is missing: run make build first" >&2; exit 1; }
done

echo "== proxy throughput and latency: mock-upstream, nginx, distillguard =="
RESULTS=$BENCH_OUT/proxy_bench.json "$here/proxy_bench.sh"
echo
echo "== concurrent slow SSE streams through distillguard =="
RESULTS=$BENCH_OUT/sse_streams.json "$here/sse_bench.sh"

if [[ ${BENCH_PARTS:-1} != 0 ]]; then
  for b in detectors_bench enforcement_bench storage_bench; do
    if [[ -x $BUILD_DIR/tests/bench/$b ]]; then
      echo
      echo "== $b =="
      "$BUILD_DIR/tests/bench/$b" --benchmark_min_time=0.2 \
        --benchmark_out="$BENCH_OUT/$b.json" --benchmark_out_format=json
    fi
  done
fi
echo
echo "bench: results in $BENCH_OUT"
