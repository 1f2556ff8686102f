#!/usr/bin/env bash
# bench/run.sh - mlc vs the ONNX Runtime CPU peer on the same models, the same
# input .npy, the same thread count, batch 1 and 8; writes the table into
# docs/PERFORMANCE.md (between the bench:begin/bench:end markers).
#
#   bench/run.sh [--models "resnet18 resnet50 ..."] [--runs N] [--batches "1 8"]
#                [--bf16 "resnet50 vit_b_16"] [--int8 "resnet18 ..."] [--threads 2]
#                [--rounds 3] [--no-doc]
#                [--timeout SEC]
#
# Models: build/bench-models/<name>.onnx (made once by tools/export_families.py
# --full when it exists, else bench/export_models.py; never committed).
# mlc: build-release/mlc (Release, no sanitizers; built here if needed).
# Peer: /work/shared/bench (or $ORT_PEER_JS), installed by setup-ort-peer.sh.
# Every engine run is capped by --timeout (default 240 s) so that the whole
# script stays bounded; a capped or failed run shows as "fail" in the table.
# Peak RSS of both engines is measured the same way: /usr/bin/time's maximum
# resident set size of the whole process. Each model and batch is measured in
# --rounds rounds, the engines taking turns to go first, and the table gives
# the median of the rounds: this machine's load drifts between minutes, and a
# ratio of two runs a minute apart measured the drift as much as the engines.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MODELS="resnet18 resnet50 mobilenet_v3_large efficientnet_b0 convnext_tiny vit_b_16"
BATCHES="1 8"
BF16="resnet50 vit_b_16"
INT8="resnet18 resnet50 mobilenet_v3_large efficientnet_b0 convnext_tiny vit_b_16"
RUNS=10
ROUNDS=3
THREADS=2
DOC=1
TIMEOUT=240
while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --batches) BATCHES=$2; shift 2 ;;
    --bf16) BF16=$2; shift 2 ;;
    --int8) INT8=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --no-doc) DOC=0; shift ;;
    -h|--help) sed -n 2,22p "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

MD=$ROOT/build/bench-models
OUT=$ROOT/build/bench-out
mkdir -p "$MD" "$OUT"
SHARED=${MLC_SHARED:-/work/shared}
PEER_JS=${ORT_PEER_JS:-$SHARED/bench/ort_peer.js}
NODE_PATH=$(sh "$SHARED/bench/setup-ort-peer.sh")
export NODE_PATH

# Models.
missing=""
for m in $MODELS; do [ -f "$MD/$m.onnx" ] || missing="$missing $m"; done
if [ -n "$missing" ]; then
  if [ -f tools/export_families.py ]; then
    /usr/bin/python3 tools/export_families.py --full --out "$MD"
  fi
  still=""
  for m in $missing; do [ -f "$MD/$m.onnx" ] || still="$still $m"; done
  [ -z "$still" ] || /usr/bin/python3 bench/export_models.py --out "$MD" $still
fi
# Inputs: one fixed float32 tensor per batch, shared by every model and engine.
for b in $BATCHES; do
  if [ ! -f "$MD/input.in$b.npy" ]; then
    /usr/bin/python3 -c "import numpy as np,sys; np.save(sys.argv[1], np.random.default_rng(1234).standard_normal(($b,3,224,224)).astype(np.float32))" "$MD/input.in$b.npy"
  fi
done

# mlc, Release. A tree configured already keeps its test and warning
# options (a developer's release tests stay built); the build type and
# sanitizers are what the timings need.
if [ -f build-release/CMakeCache.txt ]; then
  cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMLC_SANITIZE=OFF >/dev/null
else
  cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMLC_SANITIZE=OFF -DMLC_BUILD_TESTS=OFF -DMLC_WERROR=OFF >/dev/null
fi
# Others may be mid-edit in a shared tree: keep the last good binary then.
if ! cmake --build build-release -j2 --target mlc >"$OUT/build.log" 2>&1; then
  [ -x build-release/mlc ] || { tail -20 "$OUT/build.log" >&2; exit 1; }
  echo "run.sh: build failed (see $OUT/build.log); using the existing build-release/mlc" >&2
fi

RES=$OUT/results.jsonl
: >"$RES"
# run LABEL CMD... : runs one engine, appends its JSON line plus peak RSS.
run() {
  local label=$1; shift
  local tf=$OUT/time.txt js
  if js=$(timeout "$TIMEOUT" /usr/bin/time -f '%M' -o "$tf" "$@" 2>"$OUT/stderr.txt" | tail -1) &&
     [ "${js:0:1}" = "{" ]; then
    echo "${js%\}},\"label\":\"$label\",\"peak_rss_kb\":$(tail -1 "$tf")}" >>"$RES"
  else
    echo "{\"label\":\"$label\",\"failed\":true,\"why\":$(head -c 300 "$OUT/stderr.txt" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(s.trim())))')}" >>"$RES"
  fi
  echo "  $(tail -1 "$RES")" >&2
}

start=$(date +%s)
# Load average (1, 5, 15 min) at the start and the end: the table notes it.
cut -d' ' -f1-3 /proc/loadavg >"$OUT/loadavg.txt"
date -u '+%Y-%m-%d %H:%M UTC' >"$OUT/when.txt"
for m in $MODELS; do
  for b in $BATCHES; do
    in=$MD/input.in$b.npy
    for r in $(seq 1 "$ROUNDS"); do
      echo "$m batch $b round $r" >&2
      [ $((r % 2)) = 0 ] || run "ort $m $b f32" node "$PEER_JS" "$MD/$m.onnx" --threads "$THREADS" \
        --runs "$RUNS" --input "$in" --output "$OUT/$m.$b.ort.npy"
      run "mlc $m $b f32" build-release/mlc bench "$MD/$m.onnx" --threads "$THREADS" --runs "$RUNS" \
        --input "$in" --output "$OUT/$m.$b.mlc.npy" --json
      case " $BF16 " in
        *" $m "*) run "mlc $m $b bf16" build-release/mlc bench "$MD/$m.onnx" --threads "$THREADS" \
                    --runs "$RUNS" --precision bf16 --input "$in" --output "$OUT/$m.$b.bf16.npy" --json ;;
      esac
      case " $INT8 " in
        *" $m "*) run "mlc $m $b int8" build-release/mlc bench "$MD/$m.onnx" --threads "$THREADS" \
                    --runs "$RUNS" --precision int8 --input "$in" --output "$OUT/$m.$b.int8.npy" --json ;;
      esac
      [ $((r % 2)) = 1 ] || run "ort $m $b f32" node "$PEER_JS" "$MD/$m.onnx" --threads "$THREADS" \
        --runs "$RUNS" --input "$in" --output "$OUT/$m.$b.ort.npy"
    done
  done
done
# Time to first result as the issue counts it for mlc: process start to the
# output file written (mlc tensor: load, bind, one run; bench/first_output.js
# watches for the file), batch 1, best of 3 (a process start is short enough
# for a stolen slice to matter); the process's exit, after it frees the net,
# is recorded beside it. Then the same from a warm packed-weights cache
# (--pack-cache, filled by one run first), and `mlc bench` from it (load,
# first run, peak RSS) into the results as "mlc MODEL 1 PREC warm".
: >"$OUT/process.txt"
PC=$OUT/pack-cache
rm -rf "$PC"
mkdir -p "$PC"
best_of3() { # prints "<best ms to output> <its ms to exit>"
  local best="" exit_ms="" r to_out to_exit
  for k in 1 2 3; do
    r=$(node bench/first_output.js "$OUT/$m.proc.npy" "$TIMEOUT" -- build-release/mlc tensor \
      "$MD/$m.onnx" --threads "$THREADS" --input "$MD/input.in1.npy" --output "$OUT/$m.proc.npy" "$@")
    [ "$r" = fail ] && continue
    read -r to_out to_exit <<<"$r"
    if [ -z "$best" ] || awk "BEGIN{exit !($to_out < $best)}"; then best=$to_out exit_ms=$to_exit; fi
  done
  echo "${best:-fail} ${exit_ms:-fail}"
}
for m in $MODELS; do
  cold=$(best_of3)
  timeout "$TIMEOUT" build-release/mlc tensor "$MD/$m.onnx" --threads "$THREADS" \
    --input "$MD/input.in1.npy" --output "$OUT/$m.proc.npy" --pack-cache "$PC" || true
  warm=$(best_of3 --pack-cache "$PC")
  echo "$m $cold $warm" >>"$OUT/process.txt"
  precs="f32"
  case " $BF16 " in *" $m "*) precs="f32 bf16" ;; esac
  for p in $precs; do
    # f32's cache was filled by the mlc tensor run above; bf16 has a file of its own.
    [ "$p" = f32 ] || timeout "$TIMEOUT" build-release/mlc bench "$MD/$m.onnx" --threads "$THREADS" \
      --runs 1 --precision "$p" --pack-cache "$PC" --input "$MD/input.in1.npy" >/dev/null || true
    run "mlc $m 1 $p warm" build-release/mlc bench "$MD/$m.onnx" --threads "$THREADS" --runs 3 \
      --precision "$p" --pack-cache "$PC" --input "$MD/input.in1.npy" --json
  done
done
# The pipeline around the network: a 1280x720 JPEG through decode, classify
# and JSON with the demo package, against its forward alone.
if [ ! -f "$OUT/photo_1280x720.jpg" ]; then
  /usr/bin/python3 -c "from PIL import Image; Image.open('samples/05_square_triangle.jpg').convert('RGB').resize((1280, 720), Image.BICUBIC).save('$OUT/photo_1280x720.jpg', quality=90)" || true
fi
rm -f "$OUT/pipeline.json"
[ -f "$OUT/photo_1280x720.jpg" ] &&
  build-release/mlc bench models/demo --image "$OUT/photo_1280x720.jpg" --threads "$THREADS" \
    --runs 50 --json >"$OUT/pipeline.json" 2>/dev/null || true
echo "total $(( $(date +%s) - start )) s" >&2
cut -d' ' -f1-3 /proc/loadavg >>"$OUT/loadavg.txt"

[ "$DOC" = 1 ] || exit 0
node bench/table.js "$RES" "$OUT" "$ROOT/docs/PERFORMANCE.md" "$THREADS" "$RUNS" "$ROUNDS"
echo "wrote docs/PERFORMANCE.md" >&2
