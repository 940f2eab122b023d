target/release/vault-rag eval --dataset ~/.cache/vault-rag-dev/quality/cranfield-sub50 --mode hybrid --model all-minilm-l6-v2 --model-dir ~/.cache/vault-rag/models/all-MiniLM-L6-v2-int8
