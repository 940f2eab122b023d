#!/usr/bin/env python3
"""The whole `vault-rag index` pass against the original plan's Python loop, side by side, per
model and thread count, on one sample of notes:

    pass_vs_loop.py --bin BIN --sample DIR --python VENV_PYTHON --out OUT_DIR \
        --config NAME:MODEL_DIR:LOOP_MODEL_DIR:ONNX_FILE:THREADS[:extra vault-rag args] ... [--rounds 3]

For each config and round: a fresh `vault-rag index` of the sample (scan, parse, chunk, embed,
SQLite, full text; model loading excluded, as the loop's is), then the loop (`contender.py
--kind seed`: one text per `session.run`) on the exact strings vault-rag embedded (read back from
its index; `--bare` for models without a prompt). Both rates use the loop's token count of those
strings, so they are comparable. The medians of the rounds give the ratio. Writes
OUT_DIR/pass_vs_loop.json.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_config(a, spec):
    name, model_dir, loop_dir, onnx_file, threads, *extra = spec.split(":")
    extra = [x for e in extra for x in e.split()]
    work = os.path.join(a.out, f"pass_{name}")
    texts = os.path.join(work, "texts.jsonl")
    ours, loop, tokens = [], [], None
    for r in range(a.rounds):
        data = os.path.join(work, "index")
        shutil.rmtree(data, ignore_errors=True)
        os.makedirs(work, exist_ok=True)
        summary = json.loads(subprocess.run(
            [a.bin, "index", a.sample, "--data-dir", data, "--model-dir", model_dir,
             "--threads", threads, "--json", *extra],
            check=True, capture_output=True, text=True).stdout)
        if r == 0:
            bare = ["--bare"] if "all-minilm" in " ".join(extra).lower() else []
            subprocess.run([sys.executable, os.path.join(HERE, "texts_from_index.py"),
                            os.path.join(data, "index.sqlite"), texts, *bare],
                           check=True, capture_output=True)
        seed_out = os.path.join(work, f"seed.r{r}.json")
        subprocess.run([a.python, os.path.join(HERE, "contender.py"), "--kind", "seed",
                        "--model-dir", loop_dir, "--onnx-file", onnx_file, "--texts", texts,
                        "--threads", threads, "--out", seed_out],
                       check=True, capture_output=True)
        seed = json.load(open(seed_out))
        tokens = seed["tokens"]
        loop.append(seed["tokens_per_second"])
        ours.append(round(tokens / (summary["elapsed_ms"] / 1e3), 1))
        print(f"[pass_vs_loop] {name} round {r + 1}: vault-rag {ours[-1]:.0f}, loop {loop[-1]:.0f} tokens/s",
              file=sys.stderr)
    mine, theirs = statistics.median(ours), statistics.median(loop)
    return {"config": name, "threads": int(threads), "chunks": summary.get("chunks_embedded"),
            "tokens": tokens, "vault_rag_tokens_per_second": round(mine, 1),
            "loop_tokens_per_second": round(theirs, 1), "ratio": round(mine / theirs, 2),
            "rounds_vault_rag": ours, "rounds_loop": loop}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--sample", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", action="append", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    rows = [run_config(a, spec) for spec in a.config]
    with open(os.path.join(a.out, "pass_vs_loop.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
