#!/usr/bin/env python3
"""Where an EmbeddingGemma ONNX graph spends its time: ONNX Runtime's profiler over the sample texts,
aggregated by op type and by layer-independent node name (layer numbers folded together).

    profile_graph.py MODEL.onnx --texts sample_texts.jsonl --tokenizer tokenizer.json
               [--mode single|batched] [--threads 2] [--opt 99] [--top 25] [--json out.json]

Also prints the node count of the graph as loaded and after ONNX Runtime's optimisation (the file
written through optimized_model_filepath).
"""
import argparse
import collections
import glob
import json
import os
import re
import tempfile
import time

import numpy as np
import onnxruntime as ort

from texts import batched_feeds, load_ids, run_feeds, single_feeds

LEVELS = {0: ort.GraphOptimizationLevel.ORT_DISABLE_ALL, 1: ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
          2: ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, 99: ort.GraphOptimizationLevel.ORT_ENABLE_ALL}


def optimized_node_count(model, opt, threads):
    """(nodes as loaded, nodes after ORT's optimiser, op histogram after)."""
    import onnx

    loaded = len(onnx.load(model, load_external_data=False).graph.node)
    with tempfile.TemporaryDirectory() as d:
        so = ort.SessionOptions()
        so.graph_optimization_level = LEVELS[opt]
        so.intra_op_num_threads = threads
        so.optimized_model_filepath = os.path.join(d, "opt.onnx")
        so.add_session_config_entry("session.optimized_model_external_initializers_file_name", "opt.data")
        so.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
        ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        g = onnx.load(so.optimized_model_filepath, load_external_data=False).graph
        ops = collections.Counter(n.op_type for n in g.node)
    return loaded, sum(ops.values()), ops


def family(node_name):
    """A node name with layer numbers folded: '/encoder/layers.3/mlp/Mul_1' -> 'layers.N/mlp/Mul_1'."""
    name = re.sub(r"layers\.\d+", "layers.N", node_name)
    name = re.sub(r"_kernel_time$", "", name)
    name = re.sub(r"^([A-Za-z]+)_\d+$", r"\1_N", name)  # numbered nodes of the rebuilt graph
    return name.lstrip("/").replace("encoder/", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--texts", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--mode", choices=["single", "batched"], default="single")
    ap.add_argument("--budget", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--opt", type=int, default=99, choices=sorted(LEVELS))
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--json")
    a = ap.parse_args()

    ids = load_ids(a.texts, a.tokenizer)
    feeds = single_feeds(ids) if a.mode == "single" else batched_feeds(ids, a.budget)
    tokens = sum(len(x) for x in ids)
    with tempfile.TemporaryDirectory() as d:
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.graph_optimization_level = LEVELS[a.opt]
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(d, "prof")
        s = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
        warm_runs = min(3, len(feeds))
        for _, feed in feeds[:warm_runs]:  # warm-up, dropped below
            s.run(["sentence_embedding"], feed)
        t0 = time.perf_counter()
        run_feeds(s, feeds, len(ids))
        wall = time.perf_counter() - t0
        s.end_profiling()
        (path,) = glob.glob(os.path.join(d, "prof*.json"))
        events = json.load(open(path))

    runs = [e for e in events if e.get("name") == "model_run"]
    cutoff = runs[warm_runs - 1]["ts"] + runs[warm_runs - 1]["dur"]
    nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] > cutoff]
    run_us = sum(e["dur"] for e in runs if e["ts"] > cutoff)
    by_op, by_fam, count_op = collections.Counter(), collections.Counter(), collections.Counter()
    for e in nodes:
        op = e["args"].get("op_name", "?")
        by_op[op] += e["dur"]
        count_op[op] += 1
        by_fam[family(e["name"])] += e["dur"]
    node_us = sum(by_op.values())
    n_runs = len([r for r in runs if r["ts"] > cutoff])
    loaded, optimized, ops = optimized_node_count(a.model, a.opt, a.threads)
    print(f"{a.model}: {a.mode}, {len(ids)} texts, {tokens} tokens, {n_runs} runs, wall {wall:.2f}s "
          f"({tokens / wall:.0f} tok/s); nodes {loaded} loaded -> {optimized} after ORT level {a.opt}")
    print(f"model_run total {run_us / 1e6:.2f}s, sum of node kernels {node_us / 1e6:.2f}s "
          f"(outside kernels {(run_us - node_us) / 1e6:.2f}s), {len(nodes) / max(n_runs, 1):.0f} kernels/run")
    print("\nby op type:          share    seconds   calls/run  us/call")
    for op, us in by_op.most_common(a.top):
        print(f"  {op:<22} {100 * us / node_us:5.1f}%  {us / 1e6:8.3f}  {count_op[op] / n_runs:8.0f}  {us / count_op[op]:8.1f}")
    print("\nby node (layers folded):")
    for fam, us in by_fam.most_common(a.top):
        print(f"  {fam:<70} {100 * us / node_us:5.1f}%")
    print("\nops after optimisation:", dict(ops.most_common()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": a.model, "mode": a.mode, "tokens": tokens, "wall_s": wall, "run_s": run_us / 1e6,
                       "node_s": node_us / 1e6, "nodes_loaded": loaded, "nodes_optimized": optimized,
                       "ops_optimized": dict(ops), "by_op_s": {k: v / 1e6 for k, v in by_op.items()},
                       "by_node_s": {k: v / 1e6 for k, v in by_fam.most_common(80)}}, f, indent=1)


if __name__ == "__main__":
    main()
