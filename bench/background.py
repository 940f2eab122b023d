#!/usr/bin/env python3
"""Indexing in the background, measured from outside: the CPU a first index leaves to the
user's other programs, and how fast searches answer meanwhile.

    background.py VAULT --bin target/release/vault-rag [--window 30] [MODEL FLAGS for serve...]

Runs, one after the other:
  alone        `--hogs` CPU-bound loops (default: one per core, a machine kept fully busy by the
               user's programs) with nothing else: their rate is 100 %.
  background   `serve --index-priority background` on VAULT with an empty data directory; once
               the notes are written and embedding runs, the same loops for `--window` seconds,
               and a hybrid search every `--search-every` seconds (a user searching now and then).
  normal       the same with `--index-priority normal`.
For each: the loops' rate (share of the alone rate), search latency p50/p95, and the sections
embedded per second during the window. Prints one JSON object.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HOG = "import sys,time\nn=0\nend=time.monotonic()+float(sys.argv[1])\nwhile time.monotonic()<end:\n n+=1\nprint(n/float(sys.argv[1]))"
QUERIES = ["notes about the garden and the river", "how to plan a project", "meeting with the team",
           "recipe for bread", "history of the harbour", "reading list and books"]


def call(port, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def hogs(n, seconds):
    """Loop iterations per second of each of `n` CPU-bound processes run together."""
    procs = [subprocess.Popen([sys.executable, "-c", HOG, str(seconds)], stdout=subprocess.PIPE, text=True)
             for _ in range(n)]
    return [float(p.communicate()[0]) for p in procs]


def percentile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round((len(s) - 1) * q)))] if s else None


def during_index(args, priority, alone):
    data = Path(tempfile.mkdtemp(prefix=f"background-{priority}-"))
    token = "background-bench"
    env = dict(os.environ, VAULT_RAG_TOKEN=token, VAULT_RAG_LOG="warn")
    proc = subprocess.Popen(
        [args.bin, "serve", "--vault", str(args.vault), "--data-dir", str(data), "--port", "0",
         "--index-priority", priority, *args.model],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    port = json.loads(proc.stdout.readline())["port"]
    try:
        # Wait until the keyword pass is over and embedding runs (the long part of a first index).
        deadline = time.monotonic() + 600
        while True:
            st = call(port, token, "GET", "/index/status")
            if st["notes_indexed"] >= st["notes_total"] > 0 and st["vectors_missing"] > 0 \
                    and st["dense_coverage"] > 0:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"embedding did not start: {st}")
            time.sleep(0.2)
        before = st
        latencies, stop = [], threading.Event()

        def searches():
            i = 0
            while not stop.is_set():
                t = time.perf_counter()
                call(port, token, "POST", "/search", {"query": QUERIES[i % len(QUERIES)], "top_k": 10})
                latencies.append((time.perf_counter() - t) * 1000)
                i += 1
                stop.wait(args.search_every)

        searcher = threading.Thread(target=searches)
        t0 = time.monotonic()
        searcher.start()
        rates = hogs(args.hogs, args.window)
        stop.set()
        searcher.join()
        elapsed = time.monotonic() - t0
        after = call(port, token, "GET", "/index/status")
        if after["vectors_missing"] == 0:
            raise SystemExit("the vault was embedded before the window ended: use a larger vault")
        return {
            "priority": priority,
            "background_reported": before["background"],
            "loops_rate_share": round(sum(rates) / sum(alone), 3),
            "search_ms_p50": round(statistics.median(latencies), 1),
            "search_ms_p95": round(percentile(latencies, 0.95), 1),
            "searches": len(latencies),
            "sections_per_s": round((after["sections_embedded"] - before["sections_embedded"]) / elapsed, 2),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vault", type=Path)
    ap.add_argument("--bin", default="target/release/vault-rag")
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--hogs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--search-every", type=float, default=3.0)
    ap.add_argument("--only", choices=["background", "normal"], help="one of the two runs")
    args, model = ap.parse_known_args()
    args.model = [a for a in model if a != "--"]
    alone = hogs(args.hogs, args.window / 2)
    out = {"hogs": args.hogs, "window_s": args.window, "search_every_s": args.search_every,
           "user": os.getuid(), "loops_alone_per_s": round(sum(alone)),
           "load_average": os.getloadavg()[0], "runs": []}
    for priority in [args.only] if args.only else ("background", "normal"):
        out["runs"].append(during_index(args, priority, alone))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
