#!/usr/bin/env bash
# `make bench`: memory, throughput and latency of vault-rag against the seed's Python plan and
# sentence-transformers, EmbeddingGemma int8 at 256 dimensions, 2 threads. Results in bench/out/
# (results.json, results.md, rss_indexing.png, latency.png); docs/benchmarks.md explains them.
#
# Environment: GEMMA_DIR (EmbeddingGemma ONNX files; built by ../shared/tools/embeddinggemma/build.sh
# when missing), BENCH_CACHE (generated vault, model layout, the full index; reused across runs),
# ST_HOME (sentence-transformers venv + checkpoint, bench/quality/st_setup.sh), THREADS (2),
# SKIP_ST=1 (leave out sentence-transformers), SKIP_BUILD=1 (use the binary as built), STEPS (below).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
dev_cache="${XDG_CACHE_HOME:-$HOME/.cache}/vault-rag-dev"
GEMMA_DIR="${GEMMA_DIR:-$dev_cache/embeddinggemma-300m-onnx}"
BENCH_CACHE="${BENCH_CACHE:-$dev_cache/bench}"
ST_HOME="${ST_HOME:-$dev_cache/st-reference}"
THREADS="${THREADS:-2}"
OUT="$root/bench/out"
BIN="$root/target/release/vault-rag"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-rag/onnxruntime/1.31.1/libonnxruntime.so.1.31.1}"
say() { printf '[bench] %s\n' "$*" >&2; }
# STEPS picks steps (default all): full restart serve throughput passes q4 levers realistic. Results of
# steps not run are kept from the previous run in bench/out. REAL_SIZES: the realistic vaults'
# note counts (default "10000 100000").
ALL_STEPS="full restart serve throughput passes q4 levers realistic"
STEPS="${STEPS:-$ALL_STEPS}"
step() { [[ " $STEPS " == *" $1 "* ]]; }
load() { printf '%s: %s\n' "$1" "$(uptime | sed 's/.*load average/load average/')" >> "$OUT/load.txt"; }

mkdir -p "$OUT" "$BENCH_CACHE"
[ "${STEPS}" = "$ALL_STEPS" ] && rm -f "$OUT"/*.json "$OUT"/*.csv "$OUT"/*.txt "$OUT"/*.png "$OUT"/*.md "$OUT"/*.log
load "start ($STEPS)"

# 1. Model files: the shared tool's single-file exports, re-laid out with external weights
#    (model.onnx + model.onnx_data), which ONNX Runtime memory-maps.
if [ ! -f "$GEMMA_DIR/onnx/model_quantized.onnx" ]; then
  say "building EmbeddingGemma ONNX files into $GEMMA_DIR (about 8 minutes)"
  bash "$root/../shared/tools/embeddinggemma/build.sh" "$GEMMA_DIR"
fi
venv="$BENCH_CACHE/venv"
if [ ! -f "$venv/.done" ]; then
  say "bench venv (matplotlib, onnx, onnxruntime; wheels only, pinned)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    matplotlib==3.11.2 numpy==2.3.5 onnx==1.19.1 onnxruntime==1.31.1 tokenizers==0.22.2
  touch "$venv/.done"
fi
MODEL_DIR="$BENCH_CACHE/model-external"
"$venv/bin/python" bench/externalize.py "$GEMMA_DIR" "$MODEL_DIR" >&2

# 2. The binary and the vault.
[ "${SKIP_BUILD:-0}" = 1 ] || nice -n 10 cargo build --release -p vault-rag >&2
python3 bench/gen_vault.py "$BENCH_CACHE/gen" > "$OUT/manifest.json"
hash=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vault_hash"])' "$OUT/manifest.json")
FULL="$BENCH_CACHE/index/$hash-int8"
model_args=(--model-dir "$MODEL_DIR" --precision int8 --dim 256 --threads "$THREADS")

# 3. The full index (long on 2 cores): built once per vault, RSS sampled over the whole run and
#    kept with it. An interrupted build resumes where it stopped.
if step full && [ ! -s "$FULL/run/index-full.json" ]; then
  say "indexing the 10,000-note vault into $FULL (long; resumable)"
  mkdir -p "$FULL/run"
  nice -n 10 python3 bench/measure.py --name index-full --out "$FULL/run" --interval 1 \
    --stdout "$FULL/run/index-full.json" -- "$BIN" index "$BENCH_CACHE/gen/vault" --data-dir "$FULL" \
    "${model_args[@]}" --json > "$FULL/run/measure.json"
fi
if [ -s "$FULL/run/index-full.json" ]; then
python3 - "$FULL/run" > "$FULL/done.json" <<'PY'
import json, sys, os
d = sys.argv[1]
summary = json.load(open(os.path.join(d, "index-full.json")))
print(json.dumps({"summary": {k: v for k, v in summary.items() if k != "failures"},
                  "failures": len(summary.get("failures", [])),
                  "measure": json.load(open(os.path.join(d, "measure.json")))}))
PY
cp "$FULL/done.json" "$OUT/index_full.json"
cp "$FULL/run/index-full.rss.csv" "$FULL/run/index-full.time.txt" "$OUT/"
load "after full index"
fi

# 4. Restart with no changes: nothing may be embedded.
if step restart; then
  "$BIN" index "$BENCH_CACHE/gen/vault" --data-dir "$FULL" "${model_args[@]}" --json > "$OUT/restart.json"
fi

# 5. Serve the full index: start to healthy, latency, steady memory.
if step serve; then
  python3 bench/serve_bench.py --bin "$BIN" --vault "$BENCH_CACHE/gen/vault" --data-dir "$FULL" \
    --queries "$BENCH_CACHE/gen/queries.txt" --out "$OUT" --name serve -- "${model_args[@]}" >&2
  load "after serve"
fi

# 6. Throughput on the fixed sample, three processes, identical texts, one after the other, in
#    ROUNDS rounds (default 3): the machine's speed drifts, so each ratio uses the medians.
sample_dir="$OUT/sample-index"
if step throughput; then
rm -f "$OUT"/*.r[0-9]*.json
for round in $(seq 1 "${ROUNDS:-3}"); do
  rm -rf "$sample_dir"
  python3 bench/measure.py --name vault_rag --out "$OUT" --stdout "$OUT/vault_rag.summary.json" -- \
    "$BIN" index "$BENCH_CACHE/gen/sample" --data-dir "$sample_dir" "${model_args[@]}" --json > "$OUT/vault_rag.measure.json"
  cp "$OUT/vault_rag.summary.json" "$OUT/vault_rag.r$round.summary.json"
  python3 bench/texts_from_index.py "$sample_dir/index.sqlite" "$OUT/sample_texts.jsonl" >&2
  python3 bench/measure.py --name seed --out "$OUT" -- "$root/.venv/bin/python" bench/contender.py --kind seed \
    --model-dir "$GEMMA_DIR" --texts "$OUT/sample_texts.jsonl" --threads "$THREADS" --out "$OUT/seed.json" \
    --vectors "$OUT/seed.npy" >&2
  cp "$OUT/seed.json" "$OUT/seed.r$round.json"
  if [ "${SKIP_ST:-0}" != 1 ]; then
    [ -x "$ST_HOME/venv/bin/python" ] || bash bench/quality/st_setup.sh
    python3 bench/measure.py --name st --out "$OUT" -- "$ST_HOME/venv/bin/python" bench/contender.py --kind st \
      --model-dir "$ST_HOME/checkpoint" --texts "$OUT/sample_texts.jsonl" --threads "$THREADS" --out "$OUT/st.json" \
      --vectors "$OUT/st.npy" >&2
    cp "$OUT/st.json" "$OUT/st.r$round.json"
  fi
done
"$venv/bin/python" bench/throughput.py "$OUT" >&2
load "after throughput"
fi

# 6b. The whole pass against the Python loop, per model and thread count (MiniLM at 1 and 2
#     threads, EmbeddingGemma int8 at 768 dimensions at THREADS), on the realistic vault's fixed
#     sample of 80 long and short notes, in ROUNDS rounds (medians).
if step passes; then
  real_sample="$BENCH_CACHE/real-10000"
  [ -d "$real_sample/sample" ] || python3 bench/gen_vault.py "$real_sample" --notes 10000 --median-words 200 \
    --sigma 1.0 --max-words 10000 --code-blocks 0.03 > /dev/null
  minilm="${VAULT_RAG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-rag}/models/all-MiniLM-L6-v2-int8"
  python3 bench/pass_vs_loop.py --bin "$BIN" --sample "$real_sample/sample" --python "$root/.venv/bin/python" \
    --out "$OUT" --rounds "${ROUNDS:-3}" \
    --config "minilm-1:$minilm:$minilm:model.onnx:1:--model all-minilm-l6-v2" \
    --config "minilm-2:$minilm:$minilm:model.onnx:2:--model all-minilm-l6-v2" \
    --config "gemma-$THREADS:$MODEL_DIR:$GEMMA_DIR:onnx/model_quantized.onnx:$THREADS:--precision int8 --dim 768" >&2
  load "after passes"
fi

# 7. q4: no full q4 index is built (another long run); its steady memory is measured on the
#    sample, next to int8 on the same sample, which shows how much the 10k index adds.
if step q4; then
  "$BIN" index "$BENCH_CACHE/gen/sample" --data-dir "$OUT/sample-index-q4" --model-dir "$MODEL_DIR" \
    --precision q4 --dim 256 --threads "$THREADS" --json > "$OUT/sample_q4.summary.json"
  python3 bench/serve_bench.py --bin "$BIN" --vault "$BENCH_CACHE/gen/sample" --data-dir "$OUT/sample-index-q4" \
    --queries "$BENCH_CACHE/gen/queries.txt" --out "$OUT" --name serve_q4 --no-latency -- \
    --model-dir "$MODEL_DIR" --precision q4 --dim 256 --threads "$THREADS" >&2
  python3 bench/serve_bench.py --bin "$BIN" --vault "$BENCH_CACHE/gen/sample" --data-dir "$sample_dir" \
    --queries "$BENCH_CACHE/gen/queries.txt" --out "$OUT" --name serve_sample --no-latency -- "${model_args[@]}" >&2
fi

# 8. Memory and time levers, one process per setting.
#    Without the step, the table of the last run that measured them (kept in BENCH_CACHE) is used.
if step levers; then
  nice -n 10 cargo build --release -p vault-rag-embed --example embed_timing >&2
  bash bench/levers.sh "$MODEL_DIR" "$GEMMA_DIR" "$OUT" >&2
  cp "$OUT/levers.json" "$BENCH_CACHE/levers.json"
elif [ -f "$BENCH_CACHE/levers.json" ]; then
  cp "$BENCH_CACHE/levers.json" "$OUT/levers.json"
fi
# 9. Realistic vaults: log-normal note lengths with a median of 200 words and a tail to 10,000,
#    code blocks, REAL_SIZES notes, with the default model settings (int8, 768 dimensions).
#    Embedding 10,000 such notes takes hours on 2 cores, so the index is built by the real
#    indexer with the real model for its first 384 sections and, after them, mixes of those real
#    vectors (crates/cli/examples/fill_index.rs): stored as `vault-rag index` stores them, and
#    the real part's tokens/s estimates a real first index. Cached per vault.
if step realistic; then
  nice -n 10 cargo build --release -p vault-rag --example fill_index >&2
  real_args=(--model-dir "$MODEL_DIR" --precision int8 --dim 768 --threads "$THREADS")
  first_size=${REAL_SIZES:-10000}; first_size=${first_size%% *}
  for size in ${REAL_SIZES:-10000 100000}; do
    gen="$BENCH_CACHE/real-$size"
    python3 bench/gen_vault.py "$gen" --notes "$size" --median-words 200 --sigma 1.0 \
      --max-words 10000 --code-blocks 0.03 > "$OUT/real_${size}_manifest.json"
    h=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vault_hash"])' "$OUT/real_${size}_manifest.json")
    idx="$BENCH_CACHE/index/$h-fill-768"
    if [ ! -s "$idx/run/fill.json" ]; then
      say "building the realistic $size-note index into $idx"
      rm -rf "$idx" && mkdir -p "$idx/run"
      python3 bench/measure.py --name fill --out "$idx/run" --interval 1 --stdout "$idx/run/fill.json" -- \
        "$root/target/release/examples/fill_index" "$gen/vault" --data-dir "$idx" "${real_args[@]}" \
        > "$idx/run/measure.json"
    fi
    cp "$idx/run/fill.json" "$OUT/real_${size}_fill.json"
    cp "$idx/run/measure.json" "$OUT/real_${size}_fill_measure.json"
    python3 bench/serve_bench.py --bin "$BIN" --vault "$gen/vault" --data-dir "$idx" \
      --queries "$gen/queries.txt" --out "$OUT" --name "real_$size" -- "${real_args[@]}" >&2
    # Side by side on the first size: the same service with its weights always prepacked (the
    # layout it used to hold at rest; by default it holds them only for bulk work).
    if [ "$size" = "$first_size" ]; then
      VAULT_RAG_ORT_PREPACK=1 python3 bench/serve_bench.py --bin "$BIN" --vault "$gen/vault" --data-dir "$idx" \
        --queries "$gen/queries.txt" --out "$OUT" --name "real_${size}_prepacked" -- "${real_args[@]}" >&2
    fi
    load "after realistic $size"
  done
  # Search from the first minute with the default model, on the first size.
  first=${REAL_SIZES:-10000}; first=${first%% *}
  python3 bench/first_minute.py "$BENCH_CACHE/real-$first/vault" --bin "$BIN" --watch 60 -- \
    "${real_args[@]}" > "$OUT/real_${first}_first_minute.json"
  load "after first minute"
fi
load end
"$venv/bin/python" bench/report.py "$OUT"
