#!/usr/bin/env bash
# Two `mlc serve` instances behind Debian's nginx on loopback, using
# deploy/nginx-mlc.conf with its ports rewritten. Checks that requests reach
# both backends through the proxy (two distinct /info uuids), that errors and
# Retry-After pass through, a classification through the proxy when the demo
# model is present, and that both servers exit 0 on SIGTERM. Bounded: every
# step has a timeout and the whole script runs under `timeout`.
set -euo pipefail
ROOT=${MLC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
MLC=${MLC_BIN:-$ROOT/build/mlc}
[ -n "${MLC_NGINX_INNER:-}" ] || exec env MLC_NGINX_INNER=1 timeout 120 "$0" "$@"
command -v nginx >/dev/null || { echo "nginx missing (scripts/bootstrap installs nginx-light)"; exit 1; }
[ -x "$MLC" ] || { echo "mlc binary missing at $MLC"; exit 1; }

WORK=$(mktemp -d /tmp/mlc-nginx-XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A model cache with the demo package as "demo/1" (Roboflow's layout).
mkdir -p "$WORK/cache/demo"
[ -d "$ROOT/models/demo" ] && ln -s "$ROOT/models/demo" "$WORK/cache/demo/1"

PORT=""
start_mlc() { # $1 = name; sets PORT to the bound port
  MODEL_CACHE_DIR="$WORK/cache" OFFLINE_MODE=1 "$MLC" serve --host 127.0.0.1 --port 0 \
    --threads 1 --queue 8 >"$WORK/$1.out" 2>"$WORK/$1.log" &
  PIDS+=($!)
  PORT=""
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*serving on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/$1.log")
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  [ -n "$PORT" ] || { echo "mlc $1 did not start"; cat "$WORK/$1.log"; exit 1; }
}
start_mlc a; P1=$PORT
start_mlc b; P2=$PORT
S1=${PIDS[0]}
S2=${PIDS[1]}

# nginx on a free port below the ephemeral range (32768+, where the other
# tests' connections take their local ports): a port can still be taken
# between the probe and nginx's bind, so a failed start tries another.
NP=""
NGINX_PID=""
for attempt in 1 2 3 4 5; do
  cand_port=""
  base=$((20000 + ($$ * 7 + attempt * 1009) % 12000))
  for cand in $(seq "$base" $((base + 50))); do
    if ! (exec 3<>/dev/tcp/127.0.0.1/$cand) 2>/dev/null; then cand_port=$cand; break; fi
  done
  [ -n "$cand_port" ] || continue
  sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$cand_port/" -e "s/127\.0\.0\.1:9001/127.0.0.1:$P1/" \
      -e "s/127\.0\.0\.1:9002/127.0.0.1:$P2/" "$ROOT/deploy/nginx-mlc.conf" >"$WORK/nginx.conf"
  nginx -p "$WORK/" -c "$WORK/nginx.conf" -e "$WORK/error.log" >"$WORK/nginx.stdout" 2>"$WORK/nginx.stderr" &
  NGINX_PID=$!
  for _ in $(seq 1 50); do
    curl -sf -m 1 "http://127.0.0.1:$cand_port/nginx-health" >/dev/null && { NP=$cand_port; break; }
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$NP" ] && break
  echo "nginx did not start on port $cand_port (attempt $attempt): $(tail -c 300 "$WORK/nginx.stderr" "$WORK/error.log" 2>/dev/null | tr '\n' ' ')"
  kill "$NGINX_PID" 2>/dev/null || true
  wait "$NGINX_PID" 2>/dev/null || true
done
[ -n "$NP" ] || { echo "nginx did not start"; exit 1; }
PIDS+=("$NGINX_PID")

fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }

# Both backends answer through the proxy.
uuids=""
for _ in $(seq 1 8); do
  u=$(curl -s -m 5 "http://127.0.0.1:$NP/info" | sed -n 's/.*"uuid":"\([^"]*\)".*/\1/p')
  uuids="$uuids $u"
done
n=$(echo "$uuids" | tr ' ' '\n' | sort -u | grep -c . || true)
check "two distinct backends behind nginx ($n)" '[ "$n" -eq 2 ]'
check "healthz through nginx" '[ "$(curl -s -o /dev/null -w %{http_code} -m 5 http://127.0.0.1:$NP/healthz)" = 200 ]'
code=$(curl -s -o "$WORK/err.json" -w '%{http_code}' -m 5 -H 'Content-Type: application/json' \
       -d '{"model_id": "a/b/c", "image": {"type": "base64", "value": "x"}}' \
       "http://127.0.0.1:$NP/infer/classification")
check "400 + Roboflow message through nginx" '[ "$code" = 400 ] && grep -q "Invalid Model ID" "$WORK/err.json"'
# Into a file first: `curl | grep -q` under pipefail fails when grep exits early.
curl -s -m 5 -o "$WORK/metrics.txt" "http://127.0.0.1:$NP/metrics" || true
check "metrics through nginx" 'grep -q mlc_http_requests_total "$WORK/metrics.txt"'

SAMPLE=$(ls "$ROOT"/samples/*.jpg 2>/dev/null | head -1 || true)
if [ -n "$SAMPLE" ] && [ -d "$ROOT/models/demo" ]; then
  { printf '{"model_id": "demo/1", "image": {"type": "base64", "value": "'
    base64 -w0 "$SAMPLE"
    printf '"}, "confidence": 0.5}'; } >"$WORK/req.json"
  for _ in 1 2; do
    code=$(curl -s -o "$WORK/out.json" -w '%{http_code}' -m 30 -H 'Content-Type: application/json' \
           --data-binary @"$WORK/req.json" "http://127.0.0.1:$NP/infer/classification")
    check "classification through nginx" '[ "$code" = 200 ] && grep -q predicted_classes "$WORK/out.json"'
  done
fi

# Graceful stop: SIGTERM, both exit 0.
kill -TERM "$S1" "$S2"
rc1=0; rc2=0
wait "$S1" || rc1=$?
wait "$S2" || rc2=$?
check "mlc servers exit 0 on SIGTERM ($rc1, $rc2)" '[ "$rc1" = 0 ] && [ "$rc2" = 0 ]'
exit $fail
