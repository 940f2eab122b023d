#!/usr/bin/env bash
# Every test: formatting, lints, Rust tests (real ONNX model), Python cross-checks, plugin tests.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
