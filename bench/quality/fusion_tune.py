#!/usr/bin/env python3
"""Chooses the hybrid fusion from a dense and a lexical TREC run of the same queries (what
`vault-rag eval --mode all --run-dir DIR` writes as dense.trec and lexical.trec): every fusion
function and weight below is applied to the two lists per query and scored with nDCG@10 against
the judgments, so a weight can be tuned on one split (SciFact train) and checked on others.

    fusion_tune.py --qrels QRELS.tsv --dense dense.trec --lexical lexical.trec [--weights 0.3:0.9:0.05]

Each run holds per note the score of its best chunk: cosine similarity (dense), BM25 (lexical).
Normalisations (Bruch, Gai, Ingber, ACM TOIS 2023):
  mm   min-max over the list;
  tmm  theoretical minimum (0 for BM25, 0 for cosine here), maximum of the list;
  z    standard score over the list.
A note missing from a list gets that list's minimum after normalisation.
"""
import argparse
import math
import sys
from collections import defaultdict


def read_qrels(path):
    q = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            p = line.split()
            if not p or (n == 0 and p[0] == "query-id"):
                continue
            q[p[0]][p[1]] = int(p[-1])
    return q


def read_run(path):
    r = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for line in f:
            p = line.split()
            if len(p) == 6:
                r[p[0]][p[2]] = float(p[4])
    return r


def ndcg10(judg, scores):
    ranked = sorted(scores.items(), key=lambda kv: kv[0], reverse=True)
    ranked.sort(key=lambda kv: kv[1], reverse=True)
    dcg = sum(judg.get(d, 0) / math.log2(i + 2) for i, (d, _) in enumerate(ranked[:10]) if judg.get(d, 0) > 0)
    ideal = sorted((g for g in judg.values() if g > 0), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def norm(scores, how):
    if not scores:
        return {}, 0.0
    v = list(scores.values())
    hi, lo = max(v), min(v)
    if how == "mm":
        span = hi - lo or 1.0
        out = {d: (s - lo) / span for d, s in scores.items()}
    elif how == "tmm":
        span = hi or 1.0
        out = {d: s / span for d, s in scores.items()}
    elif how == "z":
        mean = sum(v) / len(v)
        sd = math.sqrt(sum((x - mean) ** 2 for x in v) / len(v)) or 1.0
        out = {d: (s - mean) / sd for d, s in scores.items()}
    return out, min(out.values())


def convex(dense, lexical, w, how_d, how_l):
    nd, md = norm(dense, how_d)
    nl, ml = norm(lexical, how_l)
    docs = set(nd) | set(nl)
    return {d: w * nd.get(d, md) + (1 - w) * nl.get(d, ml) for d in docs}


def rrf(dense, lexical, k=20):
    out = defaultdict(float)
    for lst in (dense, lexical):
        ranked = sorted(lst.items(), key=lambda kv: kv[1], reverse=True)
        for i, (d, _) in enumerate(ranked):
            out[d] += 1 / (k + i + 1)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qrels", required=True)
    ap.add_argument("--dense", required=True)
    ap.add_argument("--lexical", required=True)
    ap.add_argument("--weights", default="0.3:0.95:0.05")
    a = ap.parse_args()
    qrels, dense, lexical = read_qrels(a.qrels), read_run(a.dense), read_run(a.lexical)
    queries = [q for q in qrels if q in dense or q in lexical]
    if not queries:
        sys.exit("no query of the judgments is in the runs")

    def mean(fn):
        return sum(ndcg10(qrels[q], fn(q)) for q in queries) / len(queries)

    print(f"{len(queries)} queries")
    print(f"dense   {mean(lambda q: dense.get(q, {})):.4f}")
    print(f"lexical {mean(lambda q: lexical.get(q, {})):.4f}")
    print(f"rrf k=20 (unweighted) {mean(lambda q: rrf(dense.get(q, {}), lexical.get(q, {}))):.4f}")
    lo, hi, step = (float(x) for x in a.weights.split(":"))
    for how_d, how_l in [("mm", "mm"), ("tmm", "tmm"), ("mm", "tmm"), ("z", "z")]:
        row, w = [], lo
        while w <= hi + 1e-9:
            row.append((w, mean(lambda q: convex(dense.get(q, {}), lexical.get(q, {}), w, how_d, how_l))))
            w += step
        best = max(row, key=lambda x: x[1])
        print(f"convex {how_d}/{how_l}: best w={best[0]:.2f} {best[1]:.4f}  " + " ".join(f"{w:.2f}:{v:.4f}" for w, v in row))


if __name__ == "__main__":
    main()
