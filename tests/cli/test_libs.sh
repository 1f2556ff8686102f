#!/usr/bin/env bash
# test_libs.sh - libcurl and libmicrohttpd are loaded on first use (dlopen),
# not at start-up: linked, they and the ~30 libraries they need (TLS,
# Kerberos, LDAP, SSH, HTTP/2) cost every mlc process about 4.5 ms before
# main. Checks that mlc-cli does not list them among its libraries, that a
# command touching no network runs where they cannot be loaded, and that a
# command needing one it cannot load fails with one clear error line.
# "Cannot be loaded" is made with LD_LIBRARY_PATH pointing at empty files of
# the two sonames: the dynamic loader finds those first and refuses them.
set -u
MLC=${MLC_BIN:-build/mlc}
CLI=$(dirname "$MLC")/mlc-cli
ROOT=${MLC_ROOT:-.}
cd "$ROOT"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }

MODEL=models/demo
SAMPLE=$(ls samples/*.jpg 2>/dev/null | head -1)
if [ ! -d "$MODEL" ] || [ -z "$SAMPLE" ]; then
  MODEL=tests/data/model/tiny
  SAMPLE=tests/data/model/preproc/src.png
fi

# 1. Neither library, nor what they pull in, is loaded at start-up.
if ldd "$CLI" >"$T/ldd" 2>&1; then
  pulled=$(grep -oE 'lib(curl|microhttpd|gnutls|nghttp2|ssh2?|ldap|krb5|gssapi_krb5)[-.][^ ]*' \
    "$T/ldd" | sort -u | tr '\n' ' ')
  [ -z "$pulled" ] && ok || bad "mlc-cli loads at start-up: $pulled"
else
  bad "ldd $CLI: $(cat "$T/ldd")"
fi

mkdir "$T/broken"
: >"$T/broken/libcurl.so.4"
: >"$T/broken/libmicrohttpd.so.12"
broken() { LD_LIBRARY_PATH="$T/broken${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }

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

# 2. A local classification never loads them.
if broken "$MLC" classify --model "$MODEL" "$SAMPLE" --compact >"$T/out" 2>"$T/err"; then
  grep -qF '"predictions"' "$T/out" && ok || bad "classify without the libraries printed $(cat "$T/out")"
else
  bad "classify needs libcurl or libmicrohttpd: $(cat "$T/err")"
fi

# 3. What needs them says which one is missing, and does not crash.
expect_error serve-without-mhd "libmicrohttpd" broken "$MLC" serve --port 0 --threads 1
MODEL_CACHE_DIR="$T/cache" API_BASE_URL=http://127.0.0.1:9 ROBOFLOW_API_KEY=k \
  expect_error download-without-curl "libcurl" broken "$MLC" classify --model project/1 "$SAMPLE"
cat >"$T/wf.json" <<JSON
{"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
 "steps": [{"type": "roboflow_core/roboflow_multi_label_classification_model@v1",
            "name": "m", "images": "\$inputs.image", "model_id": "$MODEL"}],
 "outputs": [{"type": "JsonField", "name": "p", "selector": "\$steps.m.predictions"}]}
JSON
expect_error url-image-without-curl "libcurl" broken "$MLC" run "$T/wf.json" \
  --input image=http://127.0.0.1:9/x.jpg

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
