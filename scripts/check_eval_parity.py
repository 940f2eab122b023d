#!/usr/bin/env python3
"""Checks that `vault-rag eval` computes the standard metrics: scores its TREC run file with
pytrec_eval (trec_eval's own C code) and compares every query and the means with the numbers in its
`--json` report.

    check_eval_parity.py --qrels QRELS.tsv --run RUN.trec --report REPORT.json [--run-name NAME] [--tol 1e-4]

A report of several runs (`--mode all`) names the one to check with --run-name (its `system.mode`).

Measures: ndcg_cut_10, P_10, recall_10, recall_100, map_cut_100 and success_1 (Hit@1) on the run as written (trec_eval re-sorts it by
score, ties by document id descending); MRR@10 = recip_rank on the run cut to its 10 best documents in
that same order. Queries are those of the report (judged queries that were evaluated); a query with no
line in the run scores 0 (trec_eval -c), as the report counts it. Exits 1 on any difference > tol.
"""
import argparse
import json
import sys
from collections import defaultdict

import pytrec_eval

MEASURES = {"ndcg_cut.10", "P.10", "recall.10", "recall.100", "map_cut.100", "success.1"}
KEYS = [  # report key, pytrec_eval key
    ("p_at_10", "P_10"),
    ("recall_at_10", "recall_10"),
    ("mrr_at_10", "recip_rank"),
    ("ndcg_at_10", "ndcg_cut_10"),
    ("map_at_100", "map_cut_100"),
    ("recall_at_100", "recall_100"),
    ("hit_at_1", "success_1"),
]


def read_qrels(path):
    qrels = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts or (n == 1 and parts[0] == "query-id"):
                continue
            if len(parts) == 4:
                parts = [parts[0], parts[2], parts[3]]
            if len(parts) != 3:
                sys.exit(f"{path} line {n}: expected `query-id corpus-id score`")
            qrels[parts[0]][parts[1]] = int(parts[2])
    return qrels


def read_run(path):
    run = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                sys.exit(f"{path} line {n}: expected `qid Q0 docid rank score tag`")
            qid, _, doc, _, score, _ = parts
            if doc in run[qid]:
                sys.exit(f"{path} line {n}: document {doc} listed twice for query {qid}")
            run[qid][doc] = float(score)
    return run


def top10(docs):
    # trec_eval's order: score descending, then document id descending
    ranked = sorted(docs.items(), key=lambda kv: kv[0], reverse=True)
    ranked.sort(key=lambda kv: kv[1], reverse=True)
    return dict(ranked[:10])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qrels", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--run-name")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()

    with open(args.report, encoding="utf-8") as f:
        report = json.load(f)
    if "runs" in report:
        picked = [r for r in report["runs"] if r["system"]["mode"] == args.run_name]
        if len(picked) != 1:
            names = [r["system"]["mode"] for r in report["runs"]]
            sys.exit(f"{args.report} holds runs {names}: name one with --run-name")
        report = picked[0]
    queries = sorted(report["per_query"])
    if not queries:
        sys.exit("the report has no queries")
    all_qrels = read_qrels(args.qrels)
    missing = [q for q in queries if q not in all_qrels]
    if missing:
        sys.exit(f"queries {missing[:5]} of the report are not in {args.qrels}")
    qrels = {q: all_qrels[q] for q in queries}
    run = read_run(args.run)
    extra = set(run) - set(queries)
    if extra:
        sys.exit(f"run has queries the report did not evaluate: {sorted(extra)[:5]}")

    full = pytrec_eval.RelevanceEvaluator(qrels, MEASURES).evaluate(run)
    cut = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(
        {q: top10(d) for q, d in run.items()}
    )
    zeros = {k: 0.0 for _, k in KEYS}
    worst, failures = 0.0, []
    means = {k: 0.0 for k, _ in KEYS}
    for q in queries:
        ref = dict(full.get(q, zeros))
        ref["recip_rank"] = cut.get(q, zeros)["recip_rank"]
        for ours_key, ref_key in KEYS:
            ours = report["per_query"][q][ours_key]
            diff = abs(ours - ref[ref_key])
            worst = max(worst, diff)
            means[ours_key] += ref[ref_key] / len(queries)
            if diff > args.tol:
                failures.append(f"query {q} {ours_key}: vault-rag {ours:.6f} pytrec_eval {ref[ref_key]:.6f}")
    for key, _ in KEYS:
        diff = abs(report["metrics"][key] - means[key])
        worst = max(worst, diff)
        if diff > args.tol:
            failures.append(f"mean {key}: vault-rag {report['metrics'][key]:.6f} pytrec_eval {means[key]:.6f}")
    if report.get("queries") != len(queries):
        failures.append(f"report counts {report.get('queries')} queries but lists {len(queries)}")

    summary = "  ".join(f"{k}={means[k]:.4f}" for k, _ in KEYS)
    print(f"pytrec_eval on {args.run}: {len(queries)} queries  {summary}  max |diff| {worst:.2e}")
    if failures:
        print("\n".join(failures[:20]), file=sys.stderr)
        print(f"PARITY FAILED: {len(failures)} difference(s) above {args.tol}", file=sys.stderr)
        sys.exit(1)
    print(f"parity ok (tolerance {args.tol})")


if __name__ == "__main__":
    main()
