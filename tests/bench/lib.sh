# Shared helpers of the benchmark scripts (sourced, not run). Everything a
# script starts is recorded in BENCH_PIDS and stopped by bench_cleanup, which
# the scripts install as an EXIT trap.
# shellcheck shell=bash

BUILD_DIR=${BUILD_DIR:-build}
DG=${DG:-$BUILD_DIR/server/distillguard}
DG_MOCK=${DG_MOCK:-$DG}  # the binary whose mock-upstream serves (to compare gateway builds on one mock)
BENCH_PIDS=()
BENCH_TMP=""

bench_die() {
  echo "bench: $*" >&2
  exit 1
}

bench_init() {
  [[ -x $DG ]] || bench_die "no distillguard binary at $DG (set BUILD_DIR or DG)"
  BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/dg-bench.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]}"; do
    # Give each a few seconds to drain, then insist.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  BENCH_PIDS=()
  if [[ -n $BENCH_TMP && -z ${BENCH_KEEP:-} ]]; then rm -rf "$BENCH_TMP"; fi
}

# Waits for {"msg":"listening",...} in LOG and prints the value of KEY from it
# (e.g. "127.0.0.1:43125"). Fails if PID dies first or after 30 s.
bench_wait_listening() {
  local log=$1 key=$2 pid=$3
  for _ in $(seq 300); do
    if grep -q '"msg":"listening"' "$log" 2>/dev/null; then
      grep '"msg":"listening"' "$log" | head -1 | grep -o "\"$key\":\"[^\"]*\"" | cut -d'"' -f4
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; bench_die "process $pid exited before listening"; }
    sleep 0.1
  done
  cat "$log" >&2
  bench_die "no listening line in $log"
}

# A free loopback TCP port (for programs that cannot bind port 0 and report it).
bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until HOST:PORT accepts connections.
bench_wait_port() {
  local addr=$1
  for _ in $(seq 300); do
    if python3 -c "import socket,sys; h,p='$addr'.rsplit(':',1); socket.create_connection((h,int(p)),0.2).close()" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  bench_die "nothing listens on $addr"
}

# start_mock [--token-delay-ms N] ...: sets MOCK_ADDR and MOCK_PID.
bench_start_mock() {
  local log=$BENCH_TMP/mock-$RANDOM.log
  "$DG_MOCK" mock-upstream --listen 127.0.0.1:0 --threads "${MOCK_THREADS:-1}" "$@" 2>"$log" &
  MOCK_PID=$!
  BENCH_PIDS+=("$MOCK_PID")
  MOCK_ADDR=$(bench_wait_listening "$log" mock_upstream "$MOCK_PID")
}

# bench_start_nginx UPSTREAM_ADDR: sets NGINX_ADDR and NGINX_PID.
bench_start_nginx() {
  local upstream=$1 prefix=$BENCH_TMP/nginx port user_line=""
  command -v nginx >/dev/null || bench_die "nginx not found (make deps installs nginx-light)"
  mkdir -p "$prefix"
  port=$(bench_free_port)
  # A root master hands its workers to 'nobody', who cannot write our temp dirs.
  if [[ $(id -u) -eq 0 ]]; then user_line="user root;"; fi
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@LISTEN@|127.0.0.1:$port|g" -e "s|@UPSTREAM@|$upstream|g" \
      -e "s|@WORKERS@|${NGINX_WORKERS:-2}|g" -e "s|@USER_LINE@|$user_line|g" \
      -e "s|@BUFFERING@|${NGINX_BUFFERING:-off}|g" \
      "$(dirname "${BASH_SOURCE[0]}")/nginx.conf.in" >"$prefix/nginx.conf"
  nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" 2>"$prefix/stderr.log" &
  NGINX_PID=$!
  BENCH_PIDS+=("$NGINX_PID")
  NGINX_ADDR=127.0.0.1:$port
  bench_wait_port "$NGINX_ADDR"
}

# bench_start_gateway UPSTREAM_ADDR [VARIANT]: sets GATEWAY_ADDR, GATEWAY_ADMIN and GATEWAY_PID.
# VARIANT (default full):
#   full          every request identified, analysed and recorded; policy in shadow mode
#   no-recording  the same with storage.enabled false (issue: recording costs under 5%)
#   watermark-all every response watermarked (policy enforce, watermark.everyone, the
#                 other actions in shadow so that the bench's few keys are never refused)
bench_start_gateway() {
  local upstream=$1 variant=${2:-full} dir=$BENCH_TMP/gateway-$RANDOM
  local recording=true policy
  # The bench's few API keys send thousands of requests a second, which the
  # detectors rightly flag: shadow mode still scores and records every request,
  # but answers them all, so that every run measures the same full path.
  policy='  mode: shadow'
  case $variant in
    full) ;;
    no-recording) recording=false ;;
    watermark-all)
      policy=$'  mode: enforce\n  actions: {watermark: enforce, shape: shadow, throttle: shadow, block: shadow}\n  watermark:\n    everyone: true'
      ;;
    *) bench_die "unknown gateway variant '$variant'" ;;
  esac
  mkdir -p "$dir/state"
  cat >"$dir/distillguard.yaml" <<EOF
listen: 127.0.0.1:0
threads: ${GATEWAY_THREADS:-2}
state_dir: $dir/state
upstream:
  url: http://$upstream
admin:
  listen: 127.0.0.1:0
storage:
  enabled: $recording
  path: $dir/db
  write_buffer_mb: ${GATEWAY_WRITE_BUFFER_MB:-64}
  block_cache_mb: ${GATEWAY_BLOCK_CACHE_MB:-64}
log:
  level: info
policy:
$policy
EOF
  "$DG" serve --config "$dir/distillguard.yaml" 2>"$dir/gateway.log" &
  GATEWAY_PID=$!
  BENCH_PIDS+=("$GATEWAY_PID")
  GATEWAY_ADDR=$(bench_wait_listening "$dir/gateway.log" proxy "$GATEWAY_PID")
  GATEWAY_ADMIN=$(bench_wait_listening "$dir/gateway.log" admin "$GATEWAY_PID")
  GATEWAY_LOG=$dir/gateway.log
}

# CPU time (user + system) of the PIDs and their threads, in clock ticks.
bench_cpu_ticks() {
  local total=0 pid t
  for pid in "$@"; do
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}

# bench_thread_ticks PID PATTERN: CPU ticks of PID's threads whose name
# matches PATTERN (e.g. '^dg-io-' for the gateway's I/O threads).
bench_thread_ticks() {
  local total=0 task t
  for task in /proc/"$1"/task/*; do
    grep -qE "$2" "$task/comm" 2>/dev/null || continue
    t=$(awk '{print $14 + $15}' "$task/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}

# Resident memory of PID in KiB.
bench_rss_kib() {
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}
