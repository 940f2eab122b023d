target/release/vault-rag eval --vault examples/sample-vault --known-item 40 --model all-minilm-l6-v2 --model-dir ~/.cache/vault-rag/models/all-MiniLM-L6-v2-int8
