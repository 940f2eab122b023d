#!/usr/bin/env bash
# Retrieval-quality check on real data, with the MiniLM test model, on Cranfield (1,400 documents,
# 225 judged queries) and SciFact (5,183 documents, 300 test queries): `vault-rag eval --mode all`
# runs hybrid (convex and RRF fusion), dense and lexical over one index per collection. Then:
#   - each run file is scored by pytrec_eval (scripts/check_eval_parity.py): every query's P@10,
#     R@10, MRR@10, nDCG@10, MAP@100, R@100 and Hit@1 must agree to 1e-4;
#   - hybrid (the default: convex fusion) must not fall below the better of dense and lexical by
#     more than 0.005 nDCG@10 (TOLERANCE): fusion has to add, not average.
#
#   scripts/eval_parity.sh [path/to/vault-rag]      (default: target/release/vault-rag)
#   VAULT_RAG_EVAL_SETS="cranfield" scripts/eval_parity.sh    (a subset of the collections)
#
# Indexes are cached in $VAULT_RAG_EVAL_DATA (default target/eval-data): the first run embeds the
# corpora (about 2 minutes for Cranfield and 10 for SciFact on 2 cores), later runs reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "eval parity: $*" >&2; exit 1; }

BIN="${1:-target/release/vault-rag}"
ROOT="${VAULT_RAG_DATASETS:-fixtures/beir}"
SETS="${VAULT_RAG_EVAL_SETS:-cranfield scifact}"
MODEL="${VAULT_RAG_TEST_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-rag/models/all-MiniLM-L6-v2-int8}"
DATA="${VAULT_RAG_EVAL_DATA:-target/eval-data}"
PY=.venv/bin/python
TOLERANCE=0.005

[ -x "$BIN" ] || fail "binary $BIN is missing: build it with 'cargo build --release -p vault-rag'"
[ -f "$MODEL/model.onnx" ] || fail "MiniLM test model missing in $MODEL: run 'make setup'"
"$PY" -c 'import pytrec_eval' 2>/dev/null || fail "pytrec_eval missing in .venv: run 'make venv'"

out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
passed=0
for set in $SETS; do
  DS="$ROOT/$set"
  for f in corpus.jsonl queries.jsonl qrels/test.tsv; do
    [ -f "$DS/$f" ] || fail "$DS/$f is missing (set VAULT_RAG_DATASETS to a folder of BEIR-layout collections)"
  done
  mkdir -p "$out/$set"
  echo "== $set: indexing (cached in $DATA) and four runs"
  "$BIN" eval --dataset "$DS" --mode all --model all-minilm-l6-v2 --model-dir "$MODEL" \
    --data-dir "$DATA" --run-dir "$out/$set" --json > "$out/$set/all.json"
  for run in hybrid hybrid-rrf dense lexical; do
    [ -s "$out/$set/$run.trec" ] || fail "$set $run: empty or missing run file"
    echo "== $set $run: $(wc -l < "$out/$set/$run.trec") run lines"
    "$PY" scripts/check_eval_parity.py --qrels "$DS/qrels/test.tsv" --run "$out/$set/$run.trec" \
      --report "$out/$set/all.json" --run-name "$run" --tol 1e-4
    passed=$((passed + 1))
  done
  "$PY" - "$out/$set/all.json" "$TOLERANCE" <<'PY' || fail "$set: hybrid falls below the better single retriever"
import json, sys
runs = {r["system"]["mode"]: r["metrics"]["ndcg_at_10"] for r in json.load(open(sys.argv[1]))["runs"]}
best, tol = max(runs["dense"], runs["lexical"]), float(sys.argv[2])
print("nDCG@10: " + "  ".join(f"{k} {v:.4f}" for k, v in runs.items()))
print(f"hybrid {runs['hybrid']:.4f} vs best single {best:.4f} (tolerance {tol})")
sys.exit(0 if runs["hybrid"] >= best - tol else 1)
PY
  passed=$((passed + 1))
done
echo "eval-parity: $passed passed, 0 failed"
