#!/usr/bin/env bash
# `make demo`: index the sample vault into a temporary data directory with the best model found
# on this machine, then run a few searches (hybrid, lexical) and a related-notes query.
#
# Model: EmbeddingGemma-300m int8 when its files are here ($VAULT_RAG_GEMMA_DIR, else
# ~/.cache/vault-rag-dev/embeddinggemma-300m-onnx, else the Hugging Face cache), otherwise the
# small all-MiniLM-L6-v2 model that `make setup` installs.
# Queries: examples/demo-queries.txt, one per line as `mode<TAB>query[<TAB>expected note]`
# (mode: hybrid, dense, lexical or similar; a line without a tab is a hybrid query).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${VAULT_RAG_BIN:-target/release/vault-rag}
VAULT=${VAULT_RAG_DEMO_VAULT:-examples/sample-vault}
QUERIES=${VAULT_RAG_DEMO_QUERIES:-examples/demo-queries.txt}
CACHE=${VAULT_RAG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-rag}
MINILM_DIR=${VAULT_RAG_TEST_MODEL_DIR:-$CACHE/models/all-MiniLM-L6-v2-int8}
MAX_SEARCHES=${VAULT_RAG_DEMO_SEARCHES:-6}

if [[ ! -x "$BIN" ]]; then
    echo "demo: $BIN not found; run \`make build\` first" >&2
    exit 1
fi
if [[ ! -d "$VAULT" ]]; then
    echo "demo: sample vault $VAULT not found" >&2
    exit 1
fi

# --- pick the model ---------------------------------------------------------------------------
gemma_dir=""
candidates=()
[[ -n "${VAULT_RAG_GEMMA_DIR:-}" ]] && candidates+=("$VAULT_RAG_GEMMA_DIR")
candidates+=("$HOME/.cache/vault-rag-dev/embeddinggemma-300m-onnx")
hf_snapshots="${HF_HOME:-$HOME/.cache/huggingface}/hub/models--onnx-community--embeddinggemma-300m-ONNX/snapshots"
if [[ -d "$hf_snapshots" ]]; then
    for d in "$hf_snapshots"/*; do candidates+=("$d"); done
fi
for d in "${candidates[@]}"; do
    if [[ -f "$d/onnx/model_quantized.onnx" && -f "$d/tokenizer.json" ]]; then
        gemma_dir=$d
        break
    fi
done
if [[ -n "$gemma_dir" ]]; then
    MODEL_ARGS=(--model embeddinggemma-300m --precision int8 --model-dir "$gemma_dir")
    echo "Model: EmbeddingGemma-300m, int8, 768 dimensions (files: $gemma_dir)"
elif [[ -f "$MINILM_DIR/model.onnx" && -f "$MINILM_DIR/tokenizer.json" ]]; then
    MODEL_ARGS=(--model all-minilm-l6-v2 --precision int8 --model-dir "$MINILM_DIR")
    echo "Model: all-MiniLM-L6-v2, int8, 384 dimensions (files: $MINILM_DIR)"
    echo "       EmbeddingGemma files were not found; set VAULT_RAG_GEMMA_DIR to use it."
else
    echo "demo: no embedding model found; run \`make setup\`" >&2
    exit 1
fi

DATA=$(mktemp -d "${TMPDIR:-/tmp}/vault-rag-demo.XXXXXX")
trap 'rm -rf "$DATA"' EXIT
COMMON=(--data-dir "$DATA" "${MODEL_ARGS[@]}")

echo "Vault: $VAULT ($(find "$VAULT" -name '*.md' -not -path '*/.*' | wc -l | tr -d ' ') notes); index: $DATA"
echo
echo "== Indexing"
"$BIN" index "$VAULT" "${COMMON[@]}"

# --- the queries ------------------------------------------------------------------------------
declare -a modes=() texts=() expected=()
if [[ -f "$QUERIES" ]]; then
    while IFS= read -r line || [[ -n "$line" ]]; do
        line=${line%$'\r'}
        [[ -z "${line// }" || "$line" == \#* ]] && continue
        if [[ "$line" == *$'\t'* ]]; then
            IFS=$'\t' read -r mode text want <<<"$line"
        else
            mode=hybrid text=$line want=""
        fi
        case "$mode" in hybrid|dense|lexical|similar) ;; *) continue ;; esac
        modes+=("$mode") texts+=("$text") expected+=("${want:-}")
    done <"$QUERIES"
fi
if [[ ${#modes[@]} -eq 0 ]]; then
    # No query file: generic questions and the first note's related notes.
    first=$(cd "$VAULT" && find . -name '*.md' -not -path '*/.*' | sed 's|^\./||' | sort | head -n 1)
    modes=(hybrid hybrid lexical similar)
    texts=("how do I get started" "ideas for next week" "TODO" "$first")
    expected=("" "" "" "")
fi

# Several hybrid searches, then at least one lexical and one related-notes query.
pick=()
hybrids=0
for i in "${!modes[@]}"; do
    if [[ ${modes[$i]} == hybrid || ${modes[$i]} == dense ]] && (( hybrids < MAX_SEARCHES - 2 )); then
        pick+=("$i")
        hybrids=$((hybrids + 1))
    fi
done
for want_mode in lexical similar; do
    for i in "${!modes[@]}"; do
        if [[ ${modes[$i]} == "$want_mode" ]]; then
            pick+=("$i")
            break
        fi
    done
done

found=0
checked=0
for i in "${pick[@]}"; do
    mode=${modes[$i]} text=${texts[$i]} want=${expected[$i]}
    echo
    if [[ $mode == similar ]]; then
        echo "== Notes related to $text"
        out=$("$BIN" similar "$VAULT" "$text" --top-k 5 "${COMMON[@]}")
    else
        echo "== $mode: $text"
        out=$("$BIN" search "$VAULT" "$text" --mode "$mode" --top-k 5 "${COMMON[@]}")
    fi
    echo "$out"
    if [[ -n "$want" ]]; then
        checked=$((checked + 1))
        if grep -qF " $want:" <<<"$out"; then
            found=$((found + 1))
            echo "   expected note $want: in the top 5"
        else
            echo "   expected note $want: NOT in the top 5"
        fi
    fi
done
if (( checked > 0 )); then
    echo
    echo "Expected notes found in the top 5: $found of $checked"
fi
