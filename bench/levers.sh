#!/usr/bin/env bash
# Memory and time levers of the embedder, one process per setting, on the same texts:
#   levers.sh MODEL_DIR (external weights) SINGLE_FILE_DIR OUT
# Writes OUT/levers.json: for each setting, RSS after load, RSS and peak after embedding, tokens/s.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ext=$1; single=$2; out=$3
ex="${EMBED_TIMING:-$root/target/release/examples/embed_timing}"
texts="$out/lever_texts.txt"
# The sample's chunk texts without their prompt (the embedder adds it), one per line.
if [ -n "${LEVER_TEXTS_FILE:-}" ]; then
  head -n "${LEVER_TEXTS:-80}" "$LEVER_TEXTS_FILE" > "$texts"
else
  python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    text = json.loads(line)["text"].split(" | text: ", 1)[-1]
    print(" ".join(text.split()))' "$out/sample_texts.jsonl" | head -n "${LEVER_TEXTS:-80}" > "$texts"
fi
run() {
  local name=$1 dir=$2; shift 2
  local json
  json=$(env THREADS="${THREADS:-2}" "$@" "$ex" "$texts" embeddinggemma-300m "$dir")
  printf '{"setting": "%s", "env": "%s", "result": %s}\n' "$name" "$*" "$json"
}
{
  # The path from ONNX Runtime's defaults to vault-rag's, one lever at a time...
  run "single file, ORT defaults, tokenizers library" "$single" VAULT_RAG_MALLOC_TRIM=0 VAULT_RAG_COMPACT_TOKENIZER=0 VAULT_RAG_DROP_MAPPED=0
  run "+ external weights (mmap)" "$ext" VAULT_RAG_MALLOC_TRIM=0 VAULT_RAG_COMPACT_TOKENIZER=0 VAULT_RAG_DROP_MAPPED=0
  run "+ malloc_trim" "$ext" VAULT_RAG_COMPACT_TOKENIZER=0 VAULT_RAG_DROP_MAPPED=0
  run "+ compact tokenizer" "$ext" VAULT_RAG_DROP_MAPPED=0
  run "+ mapped pages dropped (vault-rag's default)" "$ext"
  # ...then one setting changed from the default.
  run "  arena off" "$ext" VAULT_RAG_ORT_ARENA=0
  run "  prepacking off" "$ext" VAULT_RAG_ORT_PREPACK=0
  run "  spinning off" "$ext" VAULT_RAG_ORT_SPIN=0
  run "  optimisation level 1" "$ext" VAULT_RAG_ORT_OPT=1
  run "  optimisation level 2" "$ext" VAULT_RAG_ORT_OPT=2
  run "  one text per run (batch budget 1)" "$ext" BATCH_TOKENS=1
  run "  batch budget 2048 tokens" "$ext" BATCH_TOKENS=2048
  run "  batch budget 8192 tokens" "$ext" BATCH_TOKENS=8192
  run "  q4 instead of int8" "$ext" PRECISION=q4
} | python3 -c 'import json, sys; json.dump([json.loads(l) for l in sys.stdin], sys.stdout, indent=1)' > "$out/levers.json"
python3 - "$out/levers.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1])):
    x = r["result"]
    print(f'{r["setting"]:<50} load {x["rss_after_load_mib"]:>6} MiB  end {x["rss_end_mib"]:>6}  peak {x["peak_rss_mib"]:>6}  {x["tokens_per_second"]:>6} tok/s')
PY
