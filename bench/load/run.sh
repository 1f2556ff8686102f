#!/usr/bin/env bash
# Load tests for `mlc serve` with wrk, bounded in time. Runs against the
# bundled demo model (models/demo as "demo/1"; falls back to the tiny test
# package when the demo is absent) and prints one RESULT line per run:
#   1. /infer/classification, one base64 JPEG per request;
#   2. /workflows/run with the multi-label block (v3);
#   3. overload: 1 worker, queue 4, 64 connections -> 503s above the bound;
#   4. batch: 8 images per request (the upper bound of request batching);
#   5. soak: classification for $SOAK seconds, RSS sampled every 10 s.
# Use an optimised build (no sanitizers):
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel --target mlc
#   MLC_BIN=build-rel/mlc bench/load/run.sh
# Env: MLC_BIN, DUR (seconds per run, 20), SOAK (seconds, 180), THREADS (workers, 2),
#      CONNS (wrk connections, 8).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MLC=${MLC_BIN:-$ROOT/build/mlc}
DUR=${DUR:-20}
SOAK=${SOAK:-180}
THREADS=${THREADS:-2}
CONNS=${CONNS:-8}
command -v wrk >/dev/null || { echo "wrk missing (scripts/bootstrap installs it)"; exit 1; }
[ -x "$MLC" ] || { echo "mlc binary missing at $MLC"; exit 1; }

WORK=$(mktemp -d /tmp/mlc-load-XXXXXX)
SRV=""
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

MODEL=$ROOT/models/demo; IMG=$(ls "$ROOT"/samples/*.jpg 2>/dev/null | head -1)
if [ ! -d "$MODEL" ] || [ -z "$IMG" ]; then MODEL=$ROOT/tests/data/model/tiny; IMG=$ROOT/tests/data/model/preproc/src.png; fi
mkdir -p "$WORK/cache/demo" && ln -s "$MODEL" "$WORK/cache/demo/1"
echo "model: $MODEL  image: $IMG ($(stat -c %s "$IMG") bytes)"
B64=$(base64 -w0 "$IMG")
printf '{"model_id": "demo/1", "image": {"type": "base64", "value": "%s"}, "confidence": 0.5}' \
  "$B64" >"$WORK/classify.json"
printf '{"api_key": "K", "use_cache": true, "enable_profiling": false, "inputs": {"image": {"type": "base64", "value": "%s"}}, "specification": {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}], "steps": [{"type": "roboflow_core/roboflow_multi_label_classification_model@v3", "name": "ml", "images": "$inputs.image", "model_id": "demo/1", "confidence_mode": "best"}], "outputs": [{"type": "JsonField", "name": "predictions", "selector": "$steps.ml.predictions"}]}}' \
  "$B64" >"$WORK/workflow.json"
# Eight images in one request: one forward pass of batch 8 (what batching
# concurrent requests would buy at best).
{ printf '{"model_id": "demo/1", "confidence": 0.5, "image": ['
  for i in 1 2 3 4 5 6 7; do printf '{"type": "base64", "value": "%s"}, ' "$B64"; done
  printf '{"type": "base64", "value": "%s"}]}' "$B64"; } >"$WORK/batch8.json"

start() { # $1 threads, $2 queue
  MODEL_CACHE_DIR="$WORK/cache" OFFLINE_MODE=1 "$MLC" serve --port 0 --threads "$1" --queue "$2" \
    >"$WORK/srv.out" 2>"$WORK/srv.log" &
  SRV=$!
  PORT=""
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*serving on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/srv.log")
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  [ -n "$PORT" ] || { cat "$WORK/srv.log"; exit 1; }
  # warm: load the model and compile the workflow once
  curl -sf -m 60 -H 'Content-Type: application/json' --data-binary @"$WORK/classify.json" \
    "http://127.0.0.1:$PORT/infer/classification" >/dev/null
  curl -sf -m 60 -H 'Content-Type: application/json' --data-binary @"$WORK/workflow.json" \
    "http://127.0.0.1:$PORT/workflows/run" >/dev/null
}
stop() { kill -TERM "$SRV"; wait "$SRV" || true; SRV=""; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$SRV/status"; }
run() { # $1 label, $2 body, $3 path, $4 conns, $5 duration
  echo "== $1"
  MLC_BODY=$2 MLC_PATH=$3 timeout $(( $5 + 30 )) wrk -t2 -c"$4" -d"$5"s --timeout 30s \
    -s "$ROOT/bench/load/post_json.lua" "http://127.0.0.1:$PORT" | grep RESULT
}

echo "cores: $(nproc)  workers: $THREADS  wrk connections: $CONNS  duration: ${DUR}s"
start "$THREADS" 64
run "classification" "$WORK/classify.json" /infer/classification "$CONNS" "$DUR"
run "workflow" "$WORK/workflow.json" /workflows/run "$CONNS" "$DUR"
run "batch of 8 images per request (images/s = rps x 8)" "$WORK/batch8.json" /infer/classification "$CONNS" "$DUR"
stop

start 1 4
run "overload: 1 worker, queue 4, 64 connections" "$WORK/classify.json" /infer/classification 64 "$DUR"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^mlc_http_rejected_busy_total|^mlc_http_requests_total\{route="/infer/classification"'
stop

start "$THREADS" 64
echo "== soak ${SOAK}s: RSS (kB) at start $(rss_kb)"
( for i in $(seq 10 10 "$SOAK"); do sleep 10; echo "rss_kb t=${i}s $(rss_kb)"; done ) &
SAMPLER=$!
run "soak classification" "$WORK/classify.json" /infer/classification "$CONNS" "$SOAK"
wait "$SAMPLER" 2>/dev/null || true
echo "rss_kb end $(rss_kb)"
stop
