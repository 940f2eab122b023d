#!/usr/bin/env python3
"""Search from the first minute: how soon a new vault is searchable, measured from outside.

    first_minute.py VAULT --bin target/release/vault-rag [--watch 120] [MODEL FLAGS for serve...]

Starts `vault-rag serve` on VAULT with an empty data directory and polls `/index/status` every
100 ms. Reports, in seconds from the spawn: healthy (first 200 from /health); every note
written (keyword and title search cover the whole vault); the first vector in memory (the first
search by meaning that finds anything); then the embedding rate over `--watch` seconds and the
time the whole vault would take at that rate. Also: a keyword search for a word of the last note
right after the notes are written, and the dense coverage a hybrid search reports then. The
service is stopped after `--watch` seconds (a full embedding of a large vault takes far longer).
Prints one JSON object.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def call(port, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vault", type=Path)
    ap.add_argument("--bin", default="target/release/vault-rag")
    ap.add_argument("--watch", type=float, default=120.0)
    args, model = ap.parse_known_args()
    args.model = [a for a in model if a != "--"]
    notes = sorted(p for p in args.vault.rglob("*.md") if ".obsidian" not in p.parts)
    last_word = notes[-1].read_text(encoding="utf-8").split()[-1].strip(".,;:()[]#*")
    data = Path(tempfile.mkdtemp(prefix="first-minute-"))
    token = "first-minute-token"
    env = dict(os.environ, VAULT_RAG_TOKEN=token, VAULT_RAG_LOG="warn")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [args.bin, "serve", "--vault", str(args.vault), "--data-dir", str(data), "--port", "0",
         *args.model],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    port = json.loads(proc.stdout.readline())["port"]
    out = {"notes": len(notes)}
    try:
        while True:
            try:
                call(port, token, "GET", "/health")
                break
            except OSError:
                time.sleep(0.05)
        out["healthy_s"] = round(time.monotonic() - t0, 2)
        first_vector = None
        written = None
        samples = []
        while time.monotonic() - t0 < args.watch:
            s = call(port, token, "GET", "/index/status")
            now = time.monotonic() - t0
            if written is None and s["notes_indexed"] >= len(notes):
                written = now
                out["all_notes_written_s"] = round(now, 2)
                out["sections"] = s["chunks"]
                hit = call(port, token, "POST", "/search",
                           {"query": last_word, "mode": "lexical", "top_k": 5})
                out["keyword_search_then"] = {"query": last_word, "hits": len(hit["hits"])}
                hybrid = call(port, token, "POST", "/search", {"query": last_word, "top_k": 5})
                out["dense_coverage_then"] = hybrid["dense_coverage"]
            if first_vector is None and s["chunks"] > 0 and s["dense_coverage"] > 0:
                first_vector = now
                out["first_vector_s"] = round(now, 2)
            if written is not None:
                samples.append((now, s["vectors_missing"]))
            if s["complete"]:
                out["complete_s"] = round(now, 2)
                break
            time.sleep(0.1)
        if len(samples) >= 2 and "complete_s" not in out:
            (ta, ma), (tb, mb) = samples[0], samples[-1]
            rate = (ma - mb) / max(tb - ta, 1e-9)
            out["sections_per_s"] = round(rate, 2)
            out["sections_left"] = mb
            if rate > 0:
                out["estimated_complete_s"] = round(tb + mb / rate)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
