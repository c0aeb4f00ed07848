#!/usr/bin/env bash
# make run: the gateway on 127.0.0.1:8080 (admin and metrics on 127.0.0.1:9901)
# in front of the built-in demo model, or in front of $UPSTREAM when it is set
# (UPSTREAM=https://api.example.com make run). State lives in ./state. Ctrl-C
# stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build}"
CONFIG="${CONFIG:-deploy/distillguard.yaml}"
UPSTREAM="${UPSTREAM:-}"
BIN="$BUILD_DIR/server/distillguard"
STATE="$PWD/state"
MOCK_ADDR="127.0.0.1:8000"

if [[ ! -x "$BIN" ]]; then
  echo "run: $BIN is missing; run 'make build' first" >&2
  exit 1
fi
mkdir -p "$STATE"
chmod 700 "$STATE"

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup INT TERM EXIT

if [[ -z "$UPSTREAM" ]]; then
  UPSTREAM="http://$MOCK_ADDR"
  echo "run: starting the demo model (distillguard mock-upstream) on $MOCK_ADDR" >&2
  "$BIN" mock-upstream --listen "$MOCK_ADDR" --token-delay-ms 20 &
  pids+=($!)
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null; then break; fi
    sleep 0.1
  done
fi

# The shipped config with the few keys a local run needs changed.
RUN_CONFIG="$STATE/distillguard.run.yaml"
python3 - "$CONFIG" "$RUN_CONFIG" "$UPSTREAM" "$STATE" <<'PY'
import re, sys
src, dst, upstream, state = sys.argv[1:]
text = open(src).read()
def put(block, key, value, text):
    # Replaces `key:` inside `block:` (or at top level when block is None).
    if block is None:
        return re.sub(r"(?m)^%s:.*$" % key, "%s: %s" % (key, value), text, count=1)
    pat = re.compile(r"(?m)^(%s:\n(?:[ \t]+.*\n|\n)*?)([ \t]+)%s:.*$" % (block, key))
    return pat.sub(lambda m: "%s%s%s: %s" % (m.group(1), m.group(2), key, value), text, count=1)
text = put(None, "listen", "127.0.0.1:8080", text)
text = put(None, "state_dir", '"%s"' % state, text)
text = put("upstream", "url", '"%s"' % upstream, text)
text = put("admin", "listen", "127.0.0.1:9901", text)
text = put("storage", "path", '"%s/db"' % state, text)
open(dst, "w").write(text)
PY
"$BIN" check-config "$RUN_CONFIG" >/dev/null

echo "run: distillguard on http://127.0.0.1:8080 -> $UPSTREAM (admin http://127.0.0.1:9901); Ctrl-C stops" >&2
"$BIN" serve --config "$RUN_CONFIG" &
pids+=($!)
# Exit when either process does (or on Ctrl-C, through the trap).
wait -n "${pids[@]}" || true
