#!/usr/bin/env bash
# bench/agree.sh - what reduced precision does to the block's answers: the
# bundled demo model's whole held-out test split (600 images, made by
# tools/demo/make_demo.py --test-images, the same images its training run
# tested on) through `mlc classify` in f32, bf16 and int8; the predicted
# classes of each against float32's, the largest confidence difference, and
# exact-match accuracy against the true labels. Writes the table into
# docs/PERFORMANCE.md between the agree:begin/agree:end markers.
#
#   bench/agree.sh [--threads N] [--no-doc]
#
# Development time only: generating the images needs /usr/bin/python3 with
# python3-opencv and python3-numpy (Debian); mlc itself is build-release/mlc.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=2
DOC=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS=$2; shift 2 ;;
    --no-doc) DOC=0; shift ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "agree.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
IMG=build/demo-test
OUT=build/bench-out
mkdir -p "$OUT"
[ -f "$IMG/labels.json" ] || /usr/bin/python3 tools/demo/make_demo.py --test-images "$IMG"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMLC_SANITIZE=OFF -DMLC_BUILD_TESTS=OFF -DMLC_WERROR=OFF >/dev/null
cmake --build build-release -j2 --target mlc >/dev/null
files=("$IMG"/test_*.*)
for p in f32 bf16 int8; do
  build-release/mlc classify --model models/demo --precision "$p" --threads "$THREADS" --compact \
    "${files[@]}" >"$OUT/agree.$p.json"
done
table=$(node bench/agree.js --truth "$IMG/labels.json" "$OUT/agree.f32.json" "$OUT/agree.bf16.json" \
  "$OUT/agree.int8.json")
echo "$table"
[ "$DOC" = 1 ] || exit 0
node - "$table" "$(date -u '+%Y-%m-%d %H:%M UTC')" "${#files[@]}" <<'JS'
const fs = require('fs');
const [table, when, n] = process.argv.slice(2);
const doc = 'docs/PERFORMANCE.md';
let text = fs.readFileSync(doc, 'utf8');
const body = `Measured ${when} (\`bench/agree.sh\`): the demo package (\`models/demo\`) on its ${n} ` +
  'held-out test images through `mlc classify --precision P`, thresholds as shipped ' +
  '("best", the recommended per-class ones).\n\n' + table.replace(/\| agree\./g, '| ') + '\n';
const a = text.indexOf('<!-- agree:begin -->'), z = text.indexOf('<!-- agree:end -->');
if (a < 0 || z < 0) throw new Error(`${doc}: no agree:begin/agree:end markers`);
text = text.slice(0, a) + '<!-- agree:begin -->\n' + body + text.slice(z);
fs.writeFileSync(doc, text);
console.error(`wrote ${doc}`);
JS
