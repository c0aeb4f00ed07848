#!/usr/bin/env bash
# `make soak`: a fixed mixed load against the gateway for SOAK_MINUTES (default
# 30), printing per minute the gateway's resident memory, the errors and the
# p99 of plain and streaming requests; at the end, whether RSS grew after
# warm-up. Exits 1 on any error or on growth, so it can gate a release.
#
# The load, every minute: wrk with SOAK_WRK_CONNECTIONS keep-alive connections
# POSTing chat completions (tests/bench/chat_post.lua), and SOAK_STREAMS
# clients each streaming chat completions (SSE, one token every 2 ms from
# mock-upstream) back to back, a quarter of them on a fresh connection each time.
# "framing" counts stray bytes between two responses on a keep-alive connection
# (an error for real clients; the soak client skips them and goes on).
#
# The load is fixed, not as much as the machine takes: each wrk connection
# waits SOAK_DELAY_MS between a response and its next request. Flat out, the
# I/O threads, wrk and the mock take both cores, the store writer (a
# background thread) falls behind, and the storage queue fills towards its
# bound (storage.queue_max_mb) for as long as the run lasts: bounded, but it
# reads as growth. At a load the machine sustains, growth means a leak.
#
# Memory is sampled every 5 s and each minute shows medians of its samples:
# resident (rss) and anonymous (anon) memory, RocksDB's block cache and
# memtables and the storage queue (the gateway's own gauges), and `other`, the
# anonymous memory that is none of them (detector state, connection buffers,
# malloc's free lists); rss_max is
# the minute's highest sample; fds are the gateway's open descriptors and ssts
# the table files in its database at the end of the minute. RSS saws up and down by tens of MiB within a
# minute (RocksDB write batches, the storage queue behind a write stall,
# compaction buffers), so growth is judged on medians: the median of the first
# few minutes after warm-up against the median of as many last minutes. A
# leak raises both the median and the floor; a buffer that fills and drains
# does not.
#
#   SOAK_MINUTES          minutes of load (default 30)
#   SOAK_WARMUP_MINUTES   minutes before the RSS baseline is taken (default 20% of the run, at least 1)
#   SOAK_WRK_CONNECTIONS  (default 16)    SOAK_STREAMS (default 8)
#   SOAK_DELAY_MS         pause per wrk connection between requests (default 3:
#                         about 4,000 requests/s with 16 connections; 0 = flat out)
#   SOAK_GROWTH_PCT       RSS growth after warm-up counted as growth (default 10 %, and at least 8 MiB)
#   SOAK_WRITE_BUFFER_MB  the gateway's storage.write_buffer_mb (default 8, see below)
#   SOAK_BLOCK_CACHE_MB   the gateway's storage.block_cache_mb (default 8, see below)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh

MINUTES=${SOAK_MINUTES:-30}
WARMUP=${SOAK_WARMUP_MINUTES:-$(( MINUTES / 5 > 1 ? MINUTES / 5 : 1 ))}
WRK_CONN=${SOAK_WRK_CONNECTIONS:-16}
STREAMS=${SOAK_STREAMS:-8}
DELAY_MS=${SOAK_DELAY_MS:-3}
GROWTH_PCT=${SOAK_GROWTH_PCT:-10}
(( WARMUP < MINUTES )) || bench_die "SOAK_WARMUP_MINUTES ($WARMUP) must be below SOAK_MINUTES ($MINUTES)"
command -v wrk >/dev/null || bench_die "wrk not found (make deps installs it)"

bench_init
bench_start_mock --token-delay-ms 2
# RocksDB's memtables fill for as long as they are not flushed: with the
# default 64 MiB each, RSS climbs for the first 10-15 minutes of this load and
# then stays flat. 8 MiB memtables reach that steady size within the warm-up,
# so growth after it means a leak, not a buffer filling. The block cache is
# the same: it keeps the index and filter blocks of every new table file (and
# of deleted ones, until evicted) and climbs to its bound over half an hour
# with the default 64 MiB; 8 MiB fills within the warm-up.
GATEWAY_WRITE_BUFFER_MB=${SOAK_WRITE_BUFFER_MB:-8} GATEWAY_BLOCK_CACHE_MB=${SOAK_BLOCK_CACHE_MB:-8} \
  bench_start_gateway "$MOCK_ADDR"
echo "soak: $MINUTES min, warm-up $WARMUP min; gateway pid $GATEWAY_PID on $GATEWAY_ADDR, mock on $MOCK_ADDR"
echo "load: wrk $WRK_CONN connections (plain JSON, ${DELAY_MS} ms between requests) + $STREAMS streaming clients (SSE)"
DB_DIR=$(dirname "$GATEWAY_LOG")/db
printf '%6s %8s %8s %8s %8s %8s %8s %8s %9s %9s %8s %8s %9s %8s %7s %5s %5s\n' minute rss_mib rss_max anon_mib \
  cache_mib memtbl_mb queue_mb other_mb plain_rps plain_p99 plain_err streams strm_p99 strm_err framing fds ssts

# One minute of streaming clients; prints "STREAMS n p99_ms errors".
stream_minute() {
  python3 - "$GATEWAY_ADDR" "$STREAMS" 60 <<'PY'
import json, socket, sys, threading, time
host, port = sys.argv[1].rsplit(":", 1)
clients, seconds = int(sys.argv[2]), float(sys.argv[3])
lat, errors, framing, lock = [], [0], [0], threading.Lock()
body = json.dumps({"model": "gpt-4o-mini", "stream": True, "max_tokens": 120,
                   "messages": [{"role": "user", "content": "Tell me a story about a lighthouse keeper."}]}).encode()
def req(i):
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer sk-soak-stream-%d\r\nContent-Length: %d\r\n\r\n%s" % (i, len(body), body))
def read_response(s, buf):
    # Reads one chunked SSE response; returns the bytes after it. Strict on
    # purpose: bytes between two responses on a keep-alive connection (a
    # second terminal chunk, say) are an error, as they are for real clients.
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        if not c: raise OSError("closed in header")
        buf += c
    if buf.startswith(b"0\r\n\r\n"):
        # A second terminal chunk after the previous response: counted, then skipped
        # so that the load goes on as a lenient client would.
        with lock: framing[0] += 1
        buf = buf[5:]
        return read_response(s, buf)
    head, buf = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"): raise OSError("status " + head[:20].decode("latin-1"))
    while b"0\r\n\r\n" not in buf or b"[DONE]" not in buf:
        c = s.recv(65536)
        if not c: raise OSError("closed in body")
        buf += c
    return buf.split(b"0\r\n\r\n", 1)[1]
def client(i):
    end = time.time() + seconds
    fresh = i % 4 == 0
    s, buf = None, b""
    while time.time() < end:
        t0 = time.time()
        try:
            if s is None:
                s = socket.create_connection((host, int(port)), timeout=30)
            s.sendall(req(i))
            buf = read_response(s, buf)
            with lock: lat.append((time.time() - t0) * 1000)
            if fresh:
                s.close(); s, buf = None, b""
        except OSError:
            with lock: errors[0] += 1
            if s: s.close()
            s, buf = None, b""
    if s: s.close()
threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
lat.sort()
p99 = lat[min(len(lat) - 1, int(0.99 * (len(lat) - 1)))] if lat else float("nan")
print("STREAMS %d %.1f %d %d" % (len(lat), p99, errors[0], framing[0]))
PY
}

# Every 5 s for the minute: "rss_kib anon_kib cache_bytes memtable_bytes queue_bytes"
# (the gauges -1 when the admin listener does not answer).
sample_memory() {
  local out=$1 m
  for _ in $(seq 11); do
    sleep 5
    kill -0 "$GATEWAY_PID" 2>/dev/null || return 0
    m=$(curl -s -m 2 "http://$GATEWAY_ADMIN/metrics" 2>/dev/null || true)
    printf '%s %s\n' "$(awk '/^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} END {print r, a}' \
      "/proc/$GATEWAY_PID/status")" \
      "$(awk '$1 == "distillguard_storage_block_cache_bytes" {c = $2}
              $1 == "distillguard_storage_memtable_bytes" {t = $2}
              $1 == "distillguard_storage_queue_bytes" {q = $2}
              END {print (c == "" ? -1 : c), (t == "" ? -1 : t), (q == "" ? -1 : q)}' <<<"$m")" >>"$out"
  done
}

# Medians of a minute's samples in MiB: "rss rss_max anon cache memtable queue other".
memory_summary() {
  python3 - "$1" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 5]
if not rows:
    print("nan nan nan nan nan nan nan"); sys.exit()
med = lambda xs: statistics.median(xs) if xs else float("nan")
rss = [r[0] / 1024 for r in rows]
anon = [r[1] / 1024 for r in rows]
known = [r for r in rows if min(r[2:]) >= 0]
cache = med([r[2] / 1048576 for r in known])
mem = med([r[3] / 1048576 for r in known])
queue = med([r[4] / 1048576 for r in known])
other = med([r[1] / 1024 - (r[2] + r[3] + r[4]) / 1048576 for r in known])
print("%.1f %.1f %.1f %.1f %.1f %.1f %.1f" % (med(rss), max(rss), med(anon), cache, mem, queue, other))
PY
}

rss_series=()
total_errors=0
for minute in $(seq 1 "$MINUTES"); do
  wrk_out=$BENCH_TMP/wrk-$minute.txt
  WRK_DELAY_MS=$DELAY_MS wrk -t 2 -c "$WRK_CONN" -d 60s -s tests/bench/chat_post.lua "http://$GATEWAY_ADDR" >"$wrk_out" 2>&1 &
  wrk_pid=$!
  stream_minute >"$BENCH_TMP/streams-$minute.txt" 2>&1 &
  stream_pid=$!
  samples=$BENCH_TMP/memory-$minute.txt
  sample_memory "$samples" &
  sample_pid=$!
  BENCH_PIDS+=("$wrk_pid" "$stream_pid" "$sample_pid")  # stopped by the EXIT trap if the soak is interrupted
  wait "$stream_pid" || true
  wait "$wrk_pid" || true
  wait "$sample_pid" || true
  read -r _ s_n s_p99 s_err s_framing < <(grep '^STREAMS' "$BENCH_TMP/streams-$minute.txt" || echo "STREAMS 0 nan 1 0")
  res=$(grep '^RESULT ' "$wrk_out" | cut -d' ' -f2-)
  [[ -n $res ]] || bench_die "wrk printed no result: $(cat "$wrk_out")"
  read -r rps p99 werr < <(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["rps"], r["p99_ms"], r["errors_connect"]+r["errors_read"]+r["errors_write"]+r["errors_status"]+r["errors_timeout"])' "$res")
  kill -0 "$GATEWAY_PID" 2>/dev/null || bench_die "the gateway died in minute $minute: $(tail -5 "$GATEWAY_LOG")"
  # No sample at all (a gateway too slow to answer): one now.
  [[ -s $samples ]] || printf '%s -1 -1 -1\n' "$(awk '/^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} END {print r, a}' \
    "/proc/$GATEWAY_PID/status")" >"$samples"
  read -r rss_med rss_max anon_med cache_med mem_med queue_med other_med < <(memory_summary "$samples")
  fds=$(ls "/proc/$GATEWAY_PID/fd" | wc -l)
  ssts=$(find "$DB_DIR" -maxdepth 1 -name '*.sst' | wc -l)
  rss_series+=("$rss_med")
  total_errors=$(( total_errors + werr + s_err + s_framing ))
  printf '%6d %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f %9.1f %9.2f %8d %8d %9.1f %8d %7d %5d %5d\n' "$minute" \
    "$rss_med" "$rss_max" "$anon_med" "$cache_med" "$mem_med" "$queue_med" "$other_med" "$rps" "$p99" \
    "$werr" "$s_n" "$s_p99" "$s_err" "$s_framing" "$fds" "$ssts"
done

# Growth: the median of the per-minute medians of the last W minutes against
# that of the first W minutes after warm-up (W up to 5, a third of what
# follows the warm-up).
read -r base_mib last_mib window < <(python3 - "$WARMUP" "${rss_series[@]}" <<'PY'
import statistics, sys
warmup, series = int(sys.argv[1]), [float(x) for x in sys.argv[2:]]
after = series[warmup:]
w = max(1, min(5, len(after) // 3))
print("%.1f %.1f %d" % (statistics.median(after[:w]), statistics.median(after[-w:]), w))
PY
)
growth_mib=$(awk -v a="$last_mib" -v b="$base_mib" 'BEGIN { printf "%.1f", a - b }')
limit_mib=$(awk -v b="$base_mib" -v p="$GROWTH_PCT" 'BEGIN { l = b * p / 100; printf "%.1f", (l > 8 ? l : 8) }')
echo
printf 'RSS (median of minutes %d-%d after the %d-minute warm-up): %.1f MiB; of the last %d minutes: %.1f MiB\n' \
  "$((WARMUP + 1))" "$((WARMUP + window))" "$WARMUP" "$base_mib" "$window" "$last_mib"
status=0
if awk -v g="$growth_mib" -v l="$limit_mib" 'BEGIN { exit !(g > l) }'; then
  printf 'verdict: RSS GREW after warm-up by %.1f MiB (limit %.1f MiB)\n' "$growth_mib" "$limit_mib"
  status=1
else
  printf 'verdict: no RSS growth after warm-up (%+.1f MiB, limit %.1f MiB)\n' "$growth_mib" "$limit_mib"
fi
# Events the store dropped (its queue full, or a write failing) are records lost: errors too.
read -r written dropped < <(curl -s -m 5 "http://$GATEWAY_ADMIN/metrics" | awk '
  $1 == "distillguard_storage_events_written_total" {w += $2}
  $1 ~ /^distillguard_storage_events_dropped_total/ {d += $2}
  END {printf "%d %d\n", w, d}')
echo "storage: $written events written, $dropped dropped"
total_errors=$(( total_errors + dropped ))
if (( total_errors > 0 )); then
  echo "verdict: $total_errors errors"
  status=1
else
  echo "verdict: zero errors"
fi
exit $status
