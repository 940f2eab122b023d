#!/usr/bin/env python3
"""Throughput of the three processes on the same texts, and a check that they embedded the same
strings: the cosine between vault-rag's stored vectors and each baseline's (cut to 256 and
re-normalised, as vault-rag does), chunk by chunk.

    throughput.py OUT_DIR     (reads vault_rag.summary.json, seed.json, st.json, *.npy, sample_texts.jsonl)

vault-rag's tokens/s is the baselines' token count (same texts, same tokenizer) over the whole
`vault-rag index` pass minus model loading: scanning, parsing, chunking, SQLite and FTS included.
With several rounds (run.sh's ROUNDS: *.rN.json), each process's tokens/s is the median of its
rounds (the per-round values are kept next to it).
Writes OUT_DIR/vault_rag.json and OUT_DIR/vector_check.json.
"""
import glob
import json
import os
import sqlite3
import statistics
import sys

import numpy as np


def main():
    out = sys.argv[1]
    summary = json.load(open(os.path.join(out, "vault_rag.summary.json")))
    measure = json.load(open(os.path.join(out, "vault_rag.measure.json")))
    texts = [json.loads(line) for line in open(os.path.join(out, "sample_texts.jsonl"), encoding="utf-8")]
    seed = json.load(open(os.path.join(out, "seed.json")))
    tokens = seed["tokens"]
    secs = summary["elapsed_ms"] / 1e3
    rounds = sorted(glob.glob(os.path.join(out, "vault_rag.r*.summary.json")))
    own = [tokens / (json.load(open(p))["elapsed_ms"] / 1e3) for p in rounds]
    for kind in ("seed", "st"):
        per_round = [json.load(open(p))["tokens_per_second"]
                     for p in sorted(glob.glob(os.path.join(out, f"{kind}.r*.json")))]
        if per_round and os.path.exists(os.path.join(out, f"{kind}.json")):
            last = json.load(open(os.path.join(out, f"{kind}.json")))
            last["tokens_per_second"] = round(statistics.median(per_round), 1)
            last["rounds_tokens_per_second"] = per_round
            json.dump(last, open(os.path.join(out, f"{kind}.json"), "w"), indent=1)
    if own:
        secs = tokens / statistics.median(own)
    json.dump({
        "kind": "vault-rag",
        "texts": len(texts),
        "chunks_embedded": summary.get("chunks_embedded"),
        "tokens": tokens,
        "embed_seconds": round(secs, 2),
        "tokens_per_second": round(tokens / secs, 1),
        "rounds_tokens_per_second": [round(x, 1) for x in own],
        "wall_seconds_with_load": measure.get("wall_seconds"),
        "peak_rss_mib": measure.get("time_peak_mib"),
    }, open(os.path.join(out, "vault_rag.json"), "w"), indent=1)

    con = sqlite3.connect(os.path.join(out, "sample-index", "index.sqlite"))
    stored = {h.hex().upper(): np.frombuffer(v, dtype="<f2").astype(np.float64)
              for h, v in con.execute("SELECT content_hash, vec FROM vectors")}
    check = {}
    for kind in ("seed", "st"):
        path = os.path.join(out, f"{kind}.npy")
        if not os.path.exists(path):
            continue
        vecs = np.load(path).astype(np.float64)
        cos = []
        for t, v in zip(texts, vecs):
            mine = stored.get(t["hash"])
            if mine is None:
                continue
            cut = v[: mine.shape[0]]
            cos.append(float(mine @ cut / (np.linalg.norm(mine) * np.linalg.norm(cut))))
        check[kind] = {"compared": len(cos), "mean_cosine": round(float(np.mean(cos)), 4),
                       "min_cosine": round(float(np.min(cos)), 4)}
    json.dump(check, open(os.path.join(out, "vector_check.json"), "w"), indent=1)
    print(json.dumps(check))


if __name__ == "__main__":
    main()
