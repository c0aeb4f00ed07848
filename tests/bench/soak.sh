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
#   SOAK_MINUTES          minutes of load (default 30)
#   SOAK_WARMUP_MINUTES   minutes before the RSS baseline is taken (default 20% of the run, at least 1)
#   SOAK_WRK_CONNECTIONS  (default 16)    SOAK_STREAMS (default 8)
#   SOAK_GROWTH_PCT       RSS growth after warm-up counted as growth (default 10 %, and at least 8 MiB)
#   SOAK_WRITE_BUFFER_MB  the gateway's storage.write_buffer_mb (default 8, see below)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh

MINUTES=${SOAK_MINUTES:-30}
WARMUP=${SOAK_WARMUP_MINUTES:-$(( MINUTES / 5 > 1 ? MINUTES / 5 : 1 ))}
WRK_CONN=${SOAK_WRK_CONNECTIONS:-16}
STREAMS=${SOAK_STREAMS:-8}
GROWTH_PCT=${SOAK_GROWTH_PCT:-10}
(( WARMUP < MINUTES )) || bench_die "SOAK_WARMUP_MINUTES ($WARMUP) must be below SOAK_MINUTES ($MINUTES)"
command -v wrk >/dev/null || bench_die "wrk not found (make deps installs it)"

bench_init
bench_start_mock --token-delay-ms 2
# RocksDB's memtables fill for as long as they are not flushed: with the
# default 64 MiB each, RSS climbs for the first 10-15 minutes of this load and
# then stays flat. 8 MiB memtables reach that steady size within the warm-up,
# so growth after it means a leak, not a buffer filling.
GATEWAY_WRITE_BUFFER_MB=${SOAK_WRITE_BUFFER_MB:-8} bench_start_gateway "$MOCK_ADDR"
echo "soak: $MINUTES min, warm-up $WARMUP min; gateway pid $GATEWAY_PID on $GATEWAY_ADDR, mock on $MOCK_ADDR"
echo "load: wrk $WRK_CONN connections (plain JSON) + $STREAMS streaming clients (SSE)"
printf '%6s %9s %9s %9s %8s %9s %9s %8s %8s %8s\n' minute rss_mib plain_rps plain_p99 plain_err \
  streams stream_p99 strm_err framing fds

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

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

rss_series=()
total_errors=0
for minute in $(seq 1 "$MINUTES"); do
  wrk_out=$BENCH_TMP/wrk-$minute.txt
  wrk -t 2 -c "$WRK_CONN" -d 60s -s tests/bench/chat_post.lua "http://$GATEWAY_ADDR" >"$wrk_out" 2>&1 &
  wrk_pid=$!
  stream_minute >"$BENCH_TMP/streams-$minute.txt" 2>&1 &
  stream_pid=$!
  BENCH_PIDS+=("$wrk_pid" "$stream_pid")  # stopped by the EXIT trap if the soak is interrupted
  wait "$stream_pid" || true
  wait "$wrk_pid" || true
  read -r _ s_n s_p99 s_err s_framing < <(grep '^STREAMS' "$BENCH_TMP/streams-$minute.txt" || echo "STREAMS 0 nan 1 0")
  res=$(grep '^RESULT ' "$wrk_out" | cut -d' ' -f2-)
  [[ -n $res ]] || bench_die "wrk printed no result: $(cat "$wrk_out")"
  read -r rps p99 werr < <(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["rps"], r["p99_ms"], r["errors_connect"]+r["errors_read"]+r["errors_write"]+r["errors_status"]+r["errors_timeout"])' "$res")
  kill -0 "$GATEWAY_PID" 2>/dev/null || bench_die "the gateway died in minute $minute: $(tail -5 "$GATEWAY_LOG")"
  rss=$(bench_rss_kib "$GATEWAY_PID")
  fds=$(ls "/proc/$GATEWAY_PID/fd" | wc -l)
  rss_series+=("$rss")
  total_errors=$(( total_errors + werr + s_err + s_framing ))
  printf '%6d %9.1f %9.1f %9.2f %8d %9d %9.1f %8d %8d %8d\n' "$minute" "$(mib "$rss")" "$rps" "$p99" \
    "$werr" "$s_n" "$s_p99" "$s_err" "$s_framing" "$fds"
done

base=${rss_series[$((WARMUP - 1))]}
last=${rss_series[$((MINUTES - 1))]}
max_after=$base
for ((i = WARMUP; i < MINUTES; i++)); do (( rss_series[i] > max_after )) && max_after=${rss_series[i]}; done
growth_kib=$(( last - base ))
limit_kib=$(( base * GROWTH_PCT / 100 > 8192 ? base * GROWTH_PCT / 100 : 8192 ))
echo
printf 'RSS after warm-up (minute %d): %.1f MiB; at the end: %.1f MiB; peak after warm-up: %.1f MiB\n' \
  "$WARMUP" "$(mib "$base")" "$(mib "$last")" "$(mib "$max_after")"
status=0
if (( growth_kib > limit_kib )); then
  printf 'verdict: RSS GREW after warm-up by %.1f MiB (limit %.1f MiB)\n' "$(mib "$growth_kib")" \
    "$(mib "$limit_kib")"
  status=1
else
  printf 'verdict: no RSS growth after warm-up (%+.1f MiB, limit %.1f MiB)\n' "$(mib "$growth_kib")" \
    "$(mib "$limit_kib")"
fi
if (( total_errors > 0 )); then
  echo "verdict: $total_errors errors"
  status=1
else
  echo "verdict: zero errors"
fi
exit $status
