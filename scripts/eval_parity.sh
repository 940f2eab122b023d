#!/usr/bin/env bash
# Retrieval-quality check on real data: `vault-rag eval` on Cranfield (1,400 documents, 225 judged
# queries) with the MiniLM test model, lexical and hybrid, then its run files scored by pytrec_eval
# (scripts/check_eval_parity.py): every query's P@10, R@10, MRR@10, nDCG@10, MAP@100 must agree to 1e-4.
#
#   scripts/eval_parity.sh [path/to/vault-rag]      (default: target/release/vault-rag)
#
# The index is cached in $VAULT_RAG_EVAL_DATA (default target/eval-data): the first run embeds the
# corpus (about a minute with a release binary), later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "eval parity: $*" >&2; exit 1; }

BIN="${1:-target/release/vault-rag}"
DS="${VAULT_RAG_DATASETS:-fixtures/beir}/cranfield"
MODEL="${VAULT_RAG_TEST_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-rag/models/all-MiniLM-L6-v2-int8}"
DATA="${VAULT_RAG_EVAL_DATA:-target/eval-data}"
PY=.venv/bin/python

[ -x "$BIN" ] || fail "binary $BIN is missing: build it with 'cargo build --release -p vault-rag'"
for f in corpus.jsonl queries.jsonl qrels/test.tsv; do
  [ -f "$DS/$f" ] || fail "$DS/$f is missing (set VAULT_RAG_DATASETS to a folder of BEIR-layout collections)"
done
[ -f "$MODEL/model.onnx" ] || fail "MiniLM test model missing in $MODEL: run 'make setup'"
"$PY" -c 'import pytrec_eval' 2>/dev/null || fail "pytrec_eval missing in .venv: run 'make venv'"

out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
passed=0
for mode in lexical hybrid; do
  "$BIN" eval --dataset "$DS" --mode "$mode" --model all-minilm-l6-v2 --model-dir "$MODEL" \
    --data-dir "$DATA" --run-file "$out/$mode.trec" --json > "$out/$mode.json"
  lines=$(wc -l < "$out/$mode.trec")
  [ "$lines" -gt 0 ] || fail "$mode: empty run file"
  echo "== $mode: $(wc -l < "$out/$mode.trec") run lines"
  "$PY" scripts/check_eval_parity.py --qrels "$DS/qrels/test.tsv" --run "$out/$mode.trec" \
    --report "$out/$mode.json" --tol 1e-4
  passed=$((passed + 1))
done
echo "eval-parity: $passed passed, 0 failed"
