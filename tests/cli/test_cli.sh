#!/usr/bin/env bash
# test_cli.sh - the mlc command end to end. Each case runs the real binary on
# real files and checks the exit code and what it printed. Bad input must give
# exactly one "mlc..." error line on stderr and a non-zero exit, never a crash
# (sanitizer reports would show up on stderr and fail the one-line check).
set -u
MLC=${MLC_BIN:-build/mlc}
ROOT=${MLC_ROOT:-.}
cd "$ROOT"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }

# expect_error NAME WANT_SUBSTRING CMD...: non-zero exit, one stderr line naming the culprit.
expect_error() {
  local name=$1 want=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then bad "$name: exit $rc"; cat "$T/err" >&2; return; fi
  if [ "$lines" -ne 1 ]; then bad "$name: $lines stderr lines"; cat "$T/err" >&2; return; fi
  grep -qF -- "$want" "$T/err" || { bad "$name: stderr lacks '$want': $(cat "$T/err")"; return; }
  ok
}

MODEL=models/demo
SAMPLE=$(ls samples/*.jpg 2>/dev/null | head -1)
if [ ! -d "$MODEL" ] || [ -z "$SAMPLE" ]; then
  MODEL=tests/data/model/tiny
  SAMPLE=tests/data/model/preproc/src.png
fi

# 1. A classification prints Roboflow's response fields.
if "$MLC" classify --model "$MODEL" "$SAMPLE" --compact >"$T/out" 2>"$T/err"; then
  for f in '"inference_id"' '"time"' '"image":{"width"' '"predictions"' '"predicted_classes"' '"class_id"' '"confidence"'; do
    grep -qF "$f" "$T/out" || bad "classify output lacks $f"
  done
  ok
else
  bad "classify failed: $(cat "$T/err")"
fi

# 2. Bad inputs: one clear error each.
printf 'not an image at all' >"$T/corrupt.jpg"
expect_error corrupt-image "corrupt.jpg" "$MLC" classify --model "$MODEL" "$T/corrupt.jpg"
expect_error missing-image "nope.jpg" "$MLC" classify --model "$MODEL" "$T/nope.jpg"
expect_error threshold-high "confidence" "$MLC" classify --model "$MODEL" --confidence 1.5 "$SAMPLE"
expect_error threshold-neg "confidence" "$MLC" classify --model "$MODEL" --confidence -0.1 "$SAMPLE"
expect_error threshold-word "confidence" "$MLC" classify --model "$MODEL" --confidence bestest "$SAMPLE"
cp -r "$MODEL" "$T/pkg1" && rm "$T/pkg1/weights.onnx"
expect_error package-missing-weights "weights.onnx" "$MLC" classify --model "$T/pkg1" "$SAMPLE"
cp -r "$MODEL" "$T/pkg2" && printf '{"network_input": ' >"$T/pkg2/inference_config.json"
expect_error package-malformed-config "inference_config.json" "$MLC" classify --model "$T/pkg2" "$SAMPLE"
cp -r "$MODEL" "$T/pkg3" && head -c 100 "$MODEL/weights.onnx" >"$T/pkg3/weights.onnx"
expect_error package-truncated-onnx "weights.onnx" "$MLC" classify --model "$T/pkg3" "$SAMPLE"
cp -r "$MODEL" "$T/pkg4" && : >"$T/pkg4/class_names.txt"
expect_error package-empty-classes "class_names.txt" "$MLC" classify --model "$T/pkg4" "$SAMPLE"
expect_error missing-package "no-such-dir" "$MLC" classify --model "$T/no-such-dir" "$SAMPLE"
expect_error bad-precision "precision" "$MLC" classify --model "$MODEL" --precision fp8 "$SAMPLE"
expect_error serve-bad-precision "precision" "$MLC" serve --port 0 --precision int4
expect_error run-bad-precision "precision" "$MLC" run examples/workflows/multi_label_v3.json \
  --input image="$SAMPLE" --precision f16

# 2a. Reduced precision keeps the demo's answers: every sample's true labels,
# and a workflow's predicted classes the same as in float32.
if [ "$MODEL" = models/demo ] && [ -f samples/labels.json ]; then
  for p in bf16 int8; do
    if "$MLC" classify --model "$MODEL" --precision "$p" --truth samples/labels.json --compact \
        samples/*.jpg samples/*.png >"$T/out" 2>"$T/err"; then ok
    else bad "classify --precision $p --truth: $(tail -3 "$T/err")"; fi
  done
  for p in f32 int8; do
    "$MLC" run examples/workflows/multi_label_v3.json --input image="$SAMPLE" --precision "$p" \
      >"$T/run.$p" 2>"$T/err" || bad "run --precision $p: $(tail -3 "$T/err")"
  done
  w32=$(grep -o '"predicted_classes": *\[[^]]*\]' "$T/run.f32")
  w8=$(grep -o '"predicted_classes": *\[[^]]*\]' "$T/run.int8")
  [ -n "$w32" ] && [ "$w32" = "$w8" ] && ok || bad "run int8 '$w8' against f32 '$w32'"
fi

# 3. Active learning through the CLI keeps the image and its prediction.
cat >"$T/al.json" <<'JSON'
{"enabled": true, "persist_predictions": true,
 "sampling_strategies": [{"name": "all", "type": "random", "traffic_percentage": 1.0}],
 "batching_strategy": {"batches_name_prefix": "al", "recreation_interval": "never"}}
JSON
if "$MLC" classify --model "$MODEL" "$SAMPLE" --compact --active-learning --al-config "$T/al.json" \
     --al-local "$T/al-out" --al-queue "$T/al-q" --al-target mydata >"$T/out" 2>"$T/err"; then
  n_jpg=$(find "$T/al-out/mydata" -name '*.jpg' | wc -l)
  n_json=$(find "$T/al-out/mydata" -name '*.json' | wc -l)
  [ "$n_jpg" -eq 1 ] && [ "$n_json" -eq 1 ] || bad "active learning: $n_jpg images, $n_json annotations"
  id=$(sed -n 's/.*"inference_id":"\([^"]*\)".*/\1/p' "$T/out" | head -1)
  grep -qF "$id" "$T/al-out/mydata"/*/*.json || bad "AL annotation lacks the inference id $id"
  ok
else
  bad "classify --active-learning failed: $(cat "$T/err")"
fi
printf '{"enabled": true, "persist_predictions": true, "sampling_strategies": [{"name": "a", "type": "randm"}], "batching_strategy": {"batches_name_prefix": "al", "recreation_interval": "never"}}' >"$T/al-bad.json"
expect_error al-bad-config "randm" "$MLC" classify --model "$MODEL" "$SAMPLE" --active-learning \
  --al-config "$T/al-bad.json" --al-queue "$T/al-q2" --al-local "$T/x" --al-target d

# 4. The server offers classified images to active learning unless the request opts out;
# it computes in int8 here (--precision) and answers what float32 classify does.
if command -v curl >/dev/null; then
  "$MLC" serve --port 0 --threads 1 --precision int8 --active-learning --al-config "$T/al.json" \
    --al-local "$T/srv-al" --al-queue "$T/srv-q" 2>"$T/serve.err" &
  spid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*serving on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$T/serve.err")
    [ -n "$port" ] && break
    sleep 0.1
  done
  b64=$(base64 -w0 "$SAMPLE")
  body() { printf '{"model_id": "%s", "image": {"type": "base64", "value": "%s"}, "confidence": 0.5%s}' "$MODEL" "$b64" "$1"; }
  body ', "active_learning_target_dataset": "srvdata"' >"$T/req1.json"
  body ', "disable_active_learning": true, "active_learning_target_dataset": "optout"' >"$T/req2.json"
  c1=$(curl -s -o "$T/r1" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/req1.json" "http://127.0.0.1:$port/infer/classification")
  c2=$(curl -s -o "$T/r2" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/req2.json" "http://127.0.0.1:$port/infer/classification")
  kill -TERM $spid; wait $spid; src=$?
  [ "$c1" = 200 ] && [ "$c2" = 200 ] || bad "server AL: HTTP $c1 / $c2: $(cat "$T/r1")"
  [ $src -eq 0 ] || bad "server exit $src after SIGTERM: $(cat "$T/serve.err")"
  n=$(find "$T/srv-al/srvdata" -name '*.jpg' 2>/dev/null | wc -l)
  [ "$n" -eq 1 ] || bad "server AL: $n datapoints for srvdata, expected 1"
  [ ! -d "$T/srv-al/optout" ] || bad "server AL: a request with disable_active_learning was registered"
  "$MLC" classify --model "$MODEL" --confidence 0.5 --compact "$SAMPLE" >"$T/f32.json" 2>/dev/null
  want=$(grep -o '"predicted_classes":\[[^]]*\]' "$T/f32.json")
  got=$(grep -o '"predicted_classes":\[[^]]*\]' "$T/r1")
  [ -n "$want" ] && [ "$want" = "$got" ] || bad "server int8: '$got', classify f32: '$want'"
  ok
fi

# 4a. A packed-weights cache: the first classify writes it (MLC_PACK_CACHE),
# the second maps it (bench reports the entries it used), and the
# predictions are the same either way.
if [ -f "$MODEL/weights.onnx" ]; then
  strip_ids() { sed 's/"inference_id":"[^"]*"//g; s/"time":[0-9.e+-]*//g' "$1"; }
  "$MLC" classify --model "$MODEL" "$SAMPLE" --compact >"$T/nocache" 2>"$T/err" || bad "classify: $(cat "$T/err")"
  for k in 1 2; do
    MLC_PACK_CACHE="$T/pc" "$MLC" classify --model "$MODEL" "$SAMPLE" --compact >"$T/cache$k" 2>"$T/err" ||
      bad "classify with a pack cache: $(cat "$T/err")"
    [ "$(strip_ids "$T/cache$k")" = "$(strip_ids "$T/nocache")" ] || bad "pack cache run $k: other predictions"
  done
  ls "$T/pc"/*.mlcpack >/dev/null 2>&1 || bad "no cache file under MLC_PACK_CACHE"
  "$MLC" bench "$MODEL/weights.onnx" --runs 1 --pack-cache "$T/pc" --json >"$T/pcb" 2>"$T/err"
  grep -q '"pack_cache":{"loaded":[1-9][0-9]*,"added":0,"hits":[1-9]' "$T/pcb" || bad "warm bench: $(cat "$T/pcb")"
  ok
fi

# 4b. bench: the raw network (one JSON line) and the pipeline around it.
if [ -f "$MODEL/weights.onnx" ]; then
  if "$MLC" bench "$MODEL/weights.onnx" --runs 2 --json >"$T/bench" 2>"$T/err"; then
    for f in '"load_ms":' '"first_ms":' '"median_ms":' '"min_ms":' '"img_per_s":' '"rss_mb":'; do
      grep -qF "$f" "$T/bench" || bad "bench output lacks $f: $(cat "$T/bench")"
    done
    [ "$(wc -l <"$T/bench")" -eq 1 ] || bad "bench --json printed more than one line"
    ok
  else
    bad "bench: $(cat "$T/err")"
  fi
  if "$MLC" bench "$MODEL" --image "$SAMPLE" --runs 3 --json >"$T/pipe" 2>"$T/err"; then
    w=$(sed -n 's/.*"width":\([0-9]*\).*/\1/p' "$T/pipe")
    for f in '"decode_ms":' '"classify_ms":' '"json_ms":' '"forward_ms":' '"overhead_ms":'; do
      grep -qF "$f" "$T/pipe" || bad "bench --image output lacks $f: $(cat "$T/pipe")"
    done
    [ -n "$w" ] && [ "$w" -gt 0 ] || bad "bench --image: no image width in $(cat "$T/pipe")"
    ok
  else
    bad "bench --image: $(cat "$T/err")"
  fi
  expect_error bench-missing-image "nope.jpg" "$MLC" bench "$MODEL" --image "$T/nope.jpg" --runs 2
  expect_error bench-corrupt-image "corrupt" "$MLC" bench "$MODEL" --image "$T/corrupt.jpg" --runs 2
fi

# 4c. The launcher: libgomp in mlc-cli sees GOMP_SPINCOUNT=3000 unless the user set one.
if OMP_DISPLAY_ENV=verbose "$MLC" --version >"$T/out" 2>"$T/err"; then
  grep -q "GOMP_SPINCOUNT = '3000'" "$T/err" || bad "launcher: libgomp did not see GOMP_SPINCOUNT=3000: $(grep SPIN "$T/err")"
  grep -qF "mlc " "$T/out" || bad "launcher: --version printed $(cat "$T/out")"
  ok
else
  bad "launcher: --version failed"
fi
OMP_DISPLAY_ENV=verbose GOMP_SPINCOUNT=77 "$MLC" --version >"$T/out" 2>"$T/err"
grep -q "GOMP_SPINCOUNT = '77'" "$T/err" && ok || bad "launcher: the user's GOMP_SPINCOUNT did not win"

# 5. Usage errors exit 2.
"$MLC" classify >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "classify without args should exit 2"
"$MLC" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown command should exit 2"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
