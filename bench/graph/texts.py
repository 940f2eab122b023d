"""Shared input handling for the graph benchmarks: the sample texts, tokenized like vault-rag
does (tokenizer.json, 512-token truncation), and the two ways they are fed to a session.

  single   one text per `session.run` (the original plan's loop)
  batched  sorted longest first, packed under a padded token budget (vault-rag's batch planner)
"""
import json

import numpy as np

MAX_TOKENS = 512


def load_ids(texts_jsonl, tokenizer_json, limit=None):
    """Token ids of each text in texts.jsonl ({"text": ...} per line, prompts applied)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_json)
    tok.enable_truncation(MAX_TOKENS)
    with open(texts_jsonl, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    if limit:
        texts = texts[:limit]
    return [np.array(tok.encode(t).ids, dtype=np.int64) for t in texts]


def single_feeds(ids):
    """One feed per text, in input order."""
    return [([i], {"input_ids": x[None, :], "attention_mask": np.ones((1, len(x)), np.int64)})
            for i, x in enumerate(ids)]


def batched_feeds(ids, budget=512, pad_id=0):
    """Feeds packed like vault-rag's batch::plan: longest first, rows x width <= budget."""
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    feeds, start = [], 0
    while start < len(order):
        width = max(len(ids[order[start]]), 1)
        rows = min(max(budget // width, 1), len(order) - start)
        part = order[start:start + rows]
        x = np.full((rows, width), pad_id, np.int64)
        m = np.zeros((rows, width), np.int64)
        for r, i in enumerate(part):
            x[r, :len(ids[i])] = ids[i]
            m[r, :len(ids[i])] = 1
        feeds.append((part, {"input_ids": x, "attention_mask": m}))
        start += rows
    return feeds


def run_feeds(session, feeds, n, output="sentence_embedding"):
    """Vectors [n, dim] in input order."""
    out = [None] * n
    for rows, feed in feeds:
        (emb,) = session.run([output], feed)
        for r, i in enumerate(rows):
            out[i] = emb[r]
    return np.stack(out)
