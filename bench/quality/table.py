#!/usr/bin/env python3
"""Prints a markdown table of bench/quality/results/*.json (made by bench/quality/run.sh), one row per
run, in the order of the names given (glob patterns allowed), each with the command that produced it.

    table.py 'cranfield-*' scifact-bm25 ...
"""
import fnmatch
import json
import os
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def main():
    names = sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".json"))
    chosen = []
    for pattern in sys.argv[1:] or ["*"]:
        chosen += [n for n in names if fnmatch.fnmatch(n, pattern) and n not in chosen]
    print("| run | mode | model | chunk | nDCG@10 | MRR@10 | P@10 | R@10 | MAP@100 | index s | query p50 / p99 ms |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    cmds = []
    for n in chosen:
        with open(os.path.join(HERE, n + ".json")) as f:
            r = json.load(f)
        s, m, t = r["system"], r["metrics"], r["timings"]
        print(
            f"| `{n}` | {s['mode']} | {s['model']} {s['precision']}@{s['dim']} | {s['chunk_tokens']} "
            f"| {m['ndcg_at_10']:.4f} | {m['mrr_at_10']:.4f} | {m['p_at_10']:.4f} | {m['recall_at_10']:.4f} "
            f"| {m['map_at_100']:.4f} | {t['index_secs']:.0f} | {t['query_p50_ms']:.0f} / {t['query_p99_ms']:.0f} |"
        )
        cmd_path = os.path.join(HERE, n + ".cmd")
        if os.path.exists(cmd_path):
            with open(cmd_path) as f:
                cmds.append((n, f.read().strip()))
    if cmds:
        print("\nCommands:\n")
        for n, c in cmds:
            print(f"- `{n}`: `{c}`")


if __name__ == "__main__":
    main()
