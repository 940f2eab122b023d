#!/usr/bin/env python3
"""Writes a fixed, reproducible BEIR-layout subset of a BEIR dataset, for comparisons that cannot
afford the full corpus (EmbeddingGemma at a few hundred tokens/s on 2 cores).

Subset = the first N test queries (in queries.jsonl order) + a document pool made of every judged
document of those queries and the top K documents of a plain BM25 (k1=0.9, b=0.4, lowercase
alphanumeric tokens, title + text) for each of them. BM25 is computed over the FULL corpus, so the
pool holds the hard lexical distractors; every system compared on the subset sees the same pool.
Caveat: a pool without random documents is easier for dense retrieval than the full corpus (fewer
distractors), so compare systems on the same subset only, never a subset number with a full one.

Usage: make_subset.py --dataset DIR --out DIR [--queries 50] [--bm25-top 100]
Standard library only. Prints a JSON summary (queries, documents, sha256 of each written file).
"""
import argparse
import hashlib
import json
import math
import os
import re
import sys
from collections import Counter, defaultdict

TOKEN = re.compile(r"[a-z0-9]+")
STOP = {"a", "an", "the", "of", "and", "or", "in", "on", "to", "for", "is", "are", "with", "by", "as", "at", "be"}


def tokens(text):
    return [t for t in TOKEN.findall(text.lower()) if t not in STOP]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    sys.exit(f"{path} line {n}: invalid JSON: {e}")


def read_qrels(path):
    qrels = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.strip().split("\t")
            if n == 1 and parts[0] == "query-id" or not line.strip():
                continue
            if len(parts) != 3:
                sys.exit(f"{path} line {n}: expected 3 tab-separated fields")
            qrels[parts[0]][parts[1]] = int(parts[2])
    return qrels


def bm25_top(query, index, k, k1=0.9, b=0.4):
    postings, doc_len, avg_len, ids = index
    n = len(doc_len)
    scores = defaultdict(float)
    for term in set(tokens(query)):
        plist = postings.get(term)
        if not plist:
            continue
        idf = math.log(1 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
        for d, tf in plist:
            scores[d] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len[d] / avg_len))
    best = sorted(scores.items(), key=lambda kv: (-kv[1], ids[kv[0]]))[:k]
    return [ids[d] for d, _ in best]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--bm25-top", type=int, default=100)
    args = ap.parse_args()

    corpus_path = os.path.join(args.dataset, "corpus.jsonl")
    for p in (corpus_path, os.path.join(args.dataset, "queries.jsonl"), os.path.join(args.dataset, "qrels", "test.tsv")):
        if not os.path.isfile(p):
            sys.exit(f"{p} is missing (BEIR layout expected)")
    qrels = read_qrels(os.path.join(args.dataset, "qrels", "test.tsv"))
    queries = [q for q in read_jsonl(os.path.join(args.dataset, "queries.jsonl")) if str(q["_id"]) in qrels]
    queries = queries[: args.queries]

    docs, ids, postings, doc_len = [], [], defaultdict(list), []
    for i, d in enumerate(read_jsonl(corpus_path)):
        docs.append(d)
        ids.append(str(d["_id"]))
        toks = tokens(d.get("title", "") + " " + d["text"])
        doc_len.append(len(toks))
        for t, c in Counter(toks).items():
            postings[t].append((i, c))
    index = (postings, doc_len, sum(doc_len) / max(1, len(doc_len)), ids)

    pool = set()
    for q in queries:
        pool.update(qrels[str(q["_id"])].keys())
        pool.update(bm25_top(q["text"], index, args.bm25_top))

    os.makedirs(os.path.join(args.out, "qrels"), exist_ok=True)
    written = {}

    def out(name, lines):
        path = os.path.join(args.out, name)
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(lines)
        with open(path, "rb") as f:
            written[name] = hashlib.sha256(f.read()).hexdigest()

    out("corpus.jsonl", [json.dumps(d, ensure_ascii=False) + "\n" for d in docs if str(d["_id"]) in pool])
    out("queries.jsonl", [json.dumps({"_id": q["_id"], "text": q["text"]}, ensure_ascii=False) + "\n" for q in queries])
    rows = ["query-id\tcorpus-id\tscore\n"]
    for q in queries:
        for d, g in qrels[str(q["_id"])].items():
            rows.append(f"{q['_id']}\t{d}\t{g}\n")
    out(os.path.join("qrels", "test.tsv"), rows)
    chars = sum(len(d.get("title", "")) + len(d["text"]) for d in docs if str(d["_id"]) in pool)
    print(json.dumps({"queries": len(queries), "documents": len(pool), "characters": chars, "sha256": written}, indent=1))


if __name__ == "__main__":
    main()
