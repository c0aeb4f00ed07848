#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets with clang (ASan+UBSan, build-fuzz/)
# and runs each for a bounded time over its seed corpus.
#
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_TARGETS   targets to run (default: all)
#   FUZZ_PARALLEL  targets run at once (default 1; the machine has 2 cores)
#   FUZZ_BUILD_DIR build directory (default build-fuzz)
#
# New interesting inputs go to $FUZZ_BUILD_DIR/corpus/<target>/ (not into the
# tree); crashes go to $FUZZ_BUILD_DIR/artifacts/<target>/. A crash found is
# a failure: copy the input to tests/fuzz/corpus/<target>/crash-<what> once
# fixed, so `make test` replays it forever. Exits 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SECONDS_PER=${FUZZ_SECONDS:-60}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
PARALLEL=${FUZZ_PARALLEL:-1}
ALL="http_request request_body sse_parser watermark config"
TARGETS=${FUZZ_TARGETS:-$ALL}
JOBS=${JOBS:-$(nproc)}

# Warnings are not errors here: clang warns where GCC does not, and a clang-only
# warning in another part must not stop the fuzzing (the GCC build keeps -Werror).
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDG_FUZZ=ON -DDG_WERROR=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target $(for t in $TARGETS; do printf 'fuzz_%s ' "$t"; done)

dict_of() {
  case "$1" in
    http_request) echo tests/fuzz/dict/http.dict ;;
    config) echo tests/fuzz/dict/yaml.dict ;;
    *) echo tests/fuzz/dict/json.dict ;;
  esac
}
max_len_of() {
  case "$1" in
    http_request) echo 20000 ;;  # past the 16 KiB header limit
    config) echo 8192 ;;
    *) echo 16384 ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
  local t=$1
  local work="$BUILD/corpus/$t" art="$BUILD/artifacts/$t" log="$BUILD/fuzz-$t.log"
  mkdir -p "$work" "$art"
  echo "fuzzing $t for ${SECONDS_PER}s (log: $log)"
  # The first corpus directory receives new inputs; the seeds are read only.
  if "$BUILD/tests/fuzz/fuzz_$t" "$work" "tests/fuzz/corpus/$t" -max_total_time="$SECONDS_PER" \
      -max_len="$(max_len_of "$t")" -dict="$(dict_of "$t")" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$art/" -print_final_stats=1 >"$log" 2>&1; then
    echo "$t: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') runs, no crash," \
         "corpus $(find "$work" -type f | wc -l) inputs"
    return 0
  fi
  echo "$t: CRASH, see $log and $art/"
  grep -E 'ERROR|FUZZ FINDING|SUMMARY|Test unit written' "$log" | head -10 || true
  return 1
}

failed=0
pids=()
names=()
for t in $TARGETS; do
  run_one "$t" &
  pids+=($!)
  names+=("$t")
  if (( ${#pids[@]} >= PARALLEL )); then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if (( failed )); then
  echo "fuzzing found crashes (see above)"
  exit 1
fi
echo "fuzzing: no crash in any target"
