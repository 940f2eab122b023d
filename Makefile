# Everything a fresh clone needs is fetched by `scripts/setup.sh` (PyPI only, pinned + sha256).
SHELL := /bin/bash
CACHE ?= $(or $(VAULT_RAG_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vault-rag)
PYTHON ?= $(shell command -v python3 || command -v python)
# The library for this OS and CPU (scripts/onnxruntime-wheels.tsv); `make setup` puts it there.
ifeq ($(origin ORT_DYLIB_PATH),undefined)
ORT_DYLIB_PATH := $(shell VAULT_RAG_CACHE="$(CACHE)" "$(PYTHON)" scripts/ort.py path)
endif
VAULT_RAG_TEST_MODEL_DIR ?= $(CACHE)/models/all-MiniLM-L6-v2-int8
export ORT_DYLIB_PATH VAULT_RAG_TEST_MODEL_DIR
BIN := target/release/vault-rag

.PHONY: setup build demo test lint fmt venv llm dist

setup:
	@bash scripts/setup.sh

build: setup
	cargo build --release -p vault-rag

demo: build
	@bash scripts/demo.sh

# dist/vault-rag-<version>-<target>.tar.gz for this machine (ONNX Runtime beside the binary,
# licences) and dist/SHA256SUMS. The release workflow does the same on each platform's runner.
dist: build
	"$(PYTHON)" scripts/dist.py --binary $(BIN)

venv:
	@bash scripts/venv.sh

# llama.cpp's OpenAI-compatible server and a small chat model, for the ask tests (scripts/test.sh runs it too).
llm:
	@bash scripts/llm.sh >/dev/null

test: setup venv
	@bash scripts/test.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

# The Obsidian plugin: plugin/dist/{main.js,manifest.json,styles.css}, the three files Obsidian installs.
.PHONY: plugin plugin-test
plugin:
	cd plugin && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm run build

# Type-check, lint, unit tests, build, and integration tests against the release binary.
plugin-test: build
	@VAULT_RAG_BIN="$(CURDIR)/$(BIN)" bash plugin/scripts/ci.sh

# Model-card check of EmbeddingGemma through the Rust embedder (not part of `make test`: the
# model is 1.7 GB). GEMMA_DIR holds the files in the Hugging Face layout, e.g. the snapshot
# folder of the Hugging Face cache after `vault-rag embed --precision fp32 --download x`.
GEMMA_DIR ?= $(HOME)/.cache/vault-rag-dev/embeddinggemma-300m-onnx
.PHONY: check-embeddinggemma
check-embeddinggemma: setup
	cargo run --release -p vault-rag-embed --example check_embeddinggemma -- "$(GEMMA_DIR)"

# Memory, throughput and latency against the seed's Python plan and sentence-transformers, on a
# generated 10,000-note vault (long on 2 cores: the full index is built once and cached; see
# docs/benchmarks.md). GEMMA_DIR holds the EmbeddingGemma files (see bench/run.sh for how they
# are found or built).
.PHONY: bench
bench: setup venv
	GEMMA_DIR="$(GEMMA_DIR)" bash bench/run.sh
