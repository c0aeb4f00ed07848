#!/usr/bin/env bash
# make eval: simulate a labelled week of traffic, replay it through the same
# engine and policy as the live gateway, and score the report against the labels.
#
#   BUILD_DIR    build tree with server/distillguard (default: build)
#   EVAL_CONFIG  gateway config to replay with (default: deploy/distillguard.yaml)
#   EVAL_OUT     where traffic, labels and report go (default: $BUILD_DIR/eval)
#   EVAL_SEED, EVAL_SCALE, EVAL_DAYS, EVAL_VOLUME   simulator knobs (see simulate.py --help)
#   DATASETS     the public prompt corpora (default: ../shared/datasets)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
CONFIG=${EVAL_CONFIG:-$ROOT/deploy/distillguard.yaml}
DATASETS=${DATASETS:-$ROOT/../shared/datasets}
OUT=${EVAL_OUT:-$BUILD_DIR/eval}
SEED=${EVAL_SEED:-20261102}
SCALE=${EVAL_SCALE:-1}
DAYS=${EVAL_DAYS:-7}
VOLUME=${EVAL_VOLUME:-1}
BIN=$BUILD_DIR/server/distillguard

[[ -x $BIN ]] || { echo "run_eval: $BIN not built (make build)" >&2; exit 1; }
mkdir -p "$OUT"
TRAFFIC=$OUT/week-$SEED-$SCALE-$DAYS-$VOLUME.jsonl
LABELS=$OUT/labels-$SEED-$SCALE-$DAYS-$VOLUME.json

# The simulation is deterministic: reuse it when its inputs have not changed.
if [[ ! -s $TRAFFIC || ! -s $LABELS || $ROOT/tests/eval/simulate.py -nt $TRAFFIC ]]; then
  echo "== simulating $DAYS day(s), scale $SCALE, volume $VOLUME, seed $SEED"
  python3 "$ROOT/tests/eval/simulate.py" --datasets "$DATASETS" --seed "$SEED" --scale "$SCALE" \
    --days "$DAYS" --volume "$VOLUME" --out "$TRAFFIC.tmp" --labels "$LABELS"
  mv "$TRAFFIC.tmp" "$TRAFFIC"
fi

echo "== replaying $(wc -l < "$TRAFFIC") events with $CONFIG"
start=$(date +%s.%N)
"$BIN" replay --config "$CONFIG" --input "$TRAFFIC" --output "$OUT/report.json" --top 20
end=$(date +%s.%N)
python3 - "$start" "$end" "$TRAFFIC" <<'PY'
import sys
s, e, path = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
n = sum(1 for _ in open(path, 'rb'))
print(f"replay: {n} events in {e - s:.1f} s ({n / max(e - s, 1e-9):,.0f} events/s, wall clock, shared machine)")
PY

echo
echo "== scoring $OUT/report.json against $LABELS"
python3 "$ROOT/tests/eval/score.py" --labels "$LABELS" --report "$OUT/report.json" --json "$OUT/scores.json"
