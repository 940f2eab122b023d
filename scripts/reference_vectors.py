#!/usr/bin/env python3
"""Reference vectors of all-MiniLM-L6-v2, computed with Python ONNX Runtime, for the Rust tests.

Tokenizes each text with the model's tokenizer.json (special tokens on, truncation at 256 tokens,
no padding: the file's baked-in fixed padding of 128 is switched off), runs the ONNX model on
each text alone, averages `last_hidden_state` over the attention mask and L2-normalises. The
Rust embedder must reproduce these vectors (cosine >= 0.9999) and the token ids exactly.

usage: scripts/reference_vectors.py [--model-dir DIR] [--out FILE]
  DIR  default $VAULT_RAG_TEST_MODEL_DIR, else ~/.cache/vault-rag/models/all-MiniLM-L6-v2-int8
  FILE default crates/embed/tests/fixtures/minilm_reference.json
Run from a venv made by scripts/venv.sh (onnxruntime, tokenizers, numpy pinned).
"""
import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

MAX_TOKENS = 256

LONG_ENGLISH = " ".join(
    f"Paragraph {i}: the indexer scans the vault, splits notes into chunks under their headings, "
    f"embeds every chunk and stores the vectors next to a full-text index." for i in range(30)
)

TEXTS = [
    ("short", "hello"),
    ("empty", ""),
    ("whitespace", "   \n\t  "),
    ("query", "how do I configure the backup schedule"),
    ("sentence", "The quick brown fox jumps over the lazy dog."),
    ("long_english", LONG_ENGLISH),
    ("long_single_word", "a" * 1500),
    ("chinese", "我喜欢在周末去公园散步，然后在咖啡馆看书。"),
    ("japanese", "東京は日本の首都で、人口が最も多い都市です。"),
    ("korean", "안녕하세요, 오늘 날씨가 정말 좋네요."),
    ("long_cjk", "知识管理系统帮助人们整理笔记。" * 40),
    ("arabic_rtl", "مرحبا بالعالم، هذه جملة باللغة العربية للاختبار."),
    ("hebrew_rtl", "שלום עולם, זהו משפט בעברית."),
    ("russian", "Быстрая коричневая лиса прыгает через ленивую собаку."),
    ("emoji", "I love 🍕 and 🚀! 🎉🎉 👨‍👩‍👧‍👦"),
    ("accents_nfc", "Café naïve résumé Ångström façade"),
    ("accents_nfd", "Cafe\u0301 nai\u0308ve re\u0301sume\u0301"),
    ("markdown", "# Project Alpha\n\n## Goals\n\n- [ ] ship the **beta** by Friday\n- see [[Meeting Notes#Decisions|decisions]] and ![[diagram.png]]\n\n> [!note] Callout\n> Remember #planning/q3 ^block-id"),
    ("frontmatter", "---\ntitle: Weekly review\ntags: [review, weekly]\naliases:\n  - Review\n---\nWhat went well this week?"),
    ("table", "| Name | Qty | Price |\n|------|----:|------:|\n| Apple | 3 | 1.20 |\n| Pear | 10 | 0.99 |"),
    ("rust_code", "```rust\nfn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}\n```"),
    ("python_code", "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"),
    ("punctuation", "WHAT?!... yes—no; (maybe) [x] {y} <z> \"quoted\" 'single' `tick`"),
    ("numbers", "2024-03-15 at 14:30, pi = 3.14159, total $1,299.99, 42%"),
    ("url", "https://example.com/path/to/page?q=vault+rag&lang=en#section-2"),
    ("latex", "$E = mc^2$ and $$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$"),
    ("mixed_scripts", "Obsidian 笔记 notes ノート заметки ملاحظات 📝"),
]


def default_model_dir():
    env = os.environ.get("VAULT_RAG_TEST_MODEL_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(cache) / "vault-rag" / "models" / "all-MiniLM-L6-v2-int8"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", type=Path, default=default_model_dir())
    ap.add_argument("--out", type=Path, default=root / "crates/embed/tests/fixtures/minilm_reference.json")
    args = ap.parse_args()
    model, tok_path = args.model_dir / "model.onnx", args.model_dir / "tokenizer.json"
    for p in (model, tok_path):
        if not p.is_file():
            sys.exit(f"{p} is missing: run `make setup` (scripts/setup.sh) first")

    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_path))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_TOKENS)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])

    entries = []
    for name, text in TEXTS:
        ids = tok.encode(text).ids
        feed = {
            "input_ids": np.array([ids], dtype=np.int64),
            "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
            "token_type_ids": np.zeros((1, len(ids)), dtype=np.int64),
        }
        states = session.run(["last_hidden_state"], feed)[0][0].astype(np.float64)
        vec = states.mean(axis=0)
        vec /= np.linalg.norm(vec)
        entries.append({"name": name, "text": text, "ids": ids, "vector": [round(float(x), 8) for x in vec]})

    out = {
        "model": "all-minilm-l6-v2",
        "model_sha256": sha256(model),
        "tokenizer_sha256": sha256(tok_path),
        "onnxruntime": ort.__version__,
        "max_tokens": MAX_TOKENS,
        "pooling": "masked mean of last_hidden_state, L2-normalised",
        "texts": entries,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    longest = max(len(e["ids"]) for e in entries)
    print(f"wrote {args.out}: {len(entries)} texts, longest {longest} tokens", file=sys.stderr)


if __name__ == "__main__":
    main()
