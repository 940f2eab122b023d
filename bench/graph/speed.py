#!/usr/bin/env python3
"""Throughput and agreement of EmbeddingGemma ONNX variants, measured back to back in one process.

    speed.py --texts sample_texts.jsonl --tokenizer tokenizer.json [--rounds 5] [--threads 2]
             [--fp32 model.onnx] [--json out.json] NAME=MODEL.onnx[:key=value,...] ...

The first variant is the baseline. Each round runs every variant once one text per `session.run`
and once in padded batches (vault-rag's planner, --budget tokens), in an order rotated per round,
so a busy neighbour slows all variants alike; the table reports medians over the rounds. Cosines
are per text between sentence_embedding vectors (single mode): against the baseline and, with
--fp32, against the fp32 graph (computed once, cached in --fp32-cache).

Per-variant keys: threads=N, opt=0|1|2|99, spin=0|1, mode=seq|par (session options) and
budget=N (batch token budget of that variant's batched pass).
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import onnxruntime as ort

from texts import batched_feeds, load_ids, run_feeds, single_feeds

LEVELS = {"0": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "1": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
          "2": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "99": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}


def session(path, threads, opts):
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(opts.get("threads", threads))
    if "opt" in opts:
        so.graph_optimization_level = LEVELS[opts["opt"]]
    if "spin" in opts:
        so.add_session_config_entry("session.intra_op.allow_spinning", opts["spin"])
    if opts.get("mode") == "par":
        so.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def parse_variant(spec):
    name, rest = spec.split("=", 1)
    path, _, keys = rest.partition(":")
    opts = dict(kv.split("=", 1) for kv in keys.split(",") if kv)
    return name, os.path.expanduser(path), opts


def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    c = (a * b).sum(1)
    return float(c.mean()), float(c.min())


def nodes(path):
    import onnx

    return len(onnx.load(path, load_external_data=False).graph.node)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--texts", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=int, default=512)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--fp32")
    ap.add_argument("--fp32-cache", default="/tmp/graph/fp32_vectors.npy")
    ap.add_argument("--no-batched", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()

    ids = load_ids(a.texts, a.tokenizer, a.limit)
    n, tokens = len(ids), sum(len(x) for x in ids)
    single, batched = single_feeds(ids), {}
    variants = [parse_variant(v) for v in a.variants]
    sessions, vectors, times = {}, {}, {}
    for name, path, opts in variants:
        t0 = time.perf_counter()
        sessions[name] = session(path, a.threads, opts)
        vectors[name] = run_feeds(sessions[name], single, n)  # also the warm-up
        batched[name] = batched_feeds(ids, int(opts.get("budget", a.budget)))
        vectors[name + "/batched"] = run_feeds(sessions[name], batched[name], n)
        times[name] = {"single": [], "batched": []}
        print(f"loaded {name} ({path}, {opts}) in {time.perf_counter() - t0:.1f}s", flush=True)
    fp32 = None
    if a.fp32:
        if os.path.exists(a.fp32_cache) and np.load(a.fp32_cache).shape[0] == n:
            fp32 = np.load(a.fp32_cache)
        else:
            fp32 = run_feeds(session(a.fp32, a.threads, {}), single, n)
            np.save(a.fp32_cache, fp32)

    modes = ["single"] + ([] if a.no_batched else ["batched"])
    for r in range(a.rounds):
        k = r % len(variants)
        for name, _, _ in variants[k:] + variants[:k]:
            for mode in modes:
                feeds = single if mode == "single" else batched[name]
                t0 = time.perf_counter()
                for _, feed in feeds:
                    sessions[name].run(["sentence_embedding"], feed)
                times[name][mode].append(time.perf_counter() - t0)
        line = "  ".join(f"{name} {tokens / times[name]['single'][-1]:.0f}" for name, _, _ in variants)
        print(f"round {r + 1}: tok/s single  {line}", flush=True)

    base = variants[0][0]
    rows = []
    for name, path, opts in variants:
        med = {m: statistics.median(times[name][m]) for m in modes}
        row = {"variant": name, "file": path, "session": opts, "nodes": nodes(path),
               "tok_s_single": tokens / med["single"],
               "ratio_single": statistics.median(times[base]["single"]) / med["single"],
               "cos_base": cosines(vectors[name], vectors[base]),
               "cos_batched_vs_single": cosines(vectors[name + "/batched"], vectors[name]),
               "times": times[name]}
        row["tok_s_single_best"] = tokens / min(times[name]["single"])
        if "batched" in med:
            row["tok_s_batched_best"] = tokens / min(times[name]["batched"])
            row["tok_s_batched"] = tokens / med["batched"]
            row["ratio_batched"] = statistics.median(times[base]["batched"]) / med["batched"]
        if fp32 is not None:
            row["cos_fp32"] = cosines(vectors[name], fp32)
        rows.append(row)
    print(f"\n{n} texts, {tokens} tokens, {a.threads} threads, {a.rounds} rounds (medians); cosine mean/min")
    print(f"{'variant':<28}{'nodes':>6}{'single':>8}{'ratio':>7}{'batched':>9}{'ratio':>7}{'best s/b':>11}  {'vs base':>15}  {'vs fp32':>15}")
    for r in rows:
        fp = f"{r['cos_fp32'][0]:.4f}/{r['cos_fp32'][1]:.4f}" if "cos_fp32" in r else "-"
        print(f"{r['variant']:<28}{r['nodes']:>6}{r['tok_s_single']:>8.0f}{r['ratio_single']:>7.2f}"
              f"{r.get('tok_s_batched', 0):>9.0f}{r.get('ratio_batched', 0):>7.2f}"
              f"{r['tok_s_single_best']:>6.0f}/{r.get('tok_s_batched_best', 0):<4.0f}  "
              f"{r['cos_base'][0]:.4f}/{r['cos_base'][1]:.4f}  {fp:>15}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"texts": n, "tokens": tokens, "threads": a.threads, "rounds": a.rounds, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
