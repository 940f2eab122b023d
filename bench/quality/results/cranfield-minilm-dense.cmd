target/release/vault-rag eval --dataset ../shared/datasets/cranfield --mode dense --model all-minilm-l6-v2 --model-dir ~/.cache/vault-rag/models/all-MiniLM-L6-v2-int8
