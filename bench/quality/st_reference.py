#!/usr/bin/env python3
"""Reference retrieval numbers for EmbeddingGemma on a BEIR-layout dataset, computed outside vault-rag:
whole documents (no chunking) embedded as `title: {title} | text: {text}`, queries as
`task: search result | query: {q}`, inputs cut at 2,048 tokens, optional Matryoshka cut + L2, exact
cosine top 100, metrics by pytrec_eval (same measures as scripts/check_eval_parity.py).

Backends:
  --backend st    sentence-transformers (PyTorch) on the original checkpoint (bench/quality/st_setup.sh)
  --backend onnx  ONNX Runtime on an exported file (e.g. onnx/model.onnx), output `sentence_embedding`

    st_reference.py --dataset DIR --backend st --model-dir CKPT [--dims 768,256] [--run-file F] [--threads 2]

Prints one JSON object: metrics, query count, documents, seconds, tokens/s.
"""
import argparse
import json
import os
import sys
import time
from collections import defaultdict

import numpy as np
import pytrec_eval

QUERY_PROMPT = "task: search result | query: {q}"
DOC_PROMPT = "title: {title} | text: {text}"
MAX_TOKENS = 2048


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path):
    qrels = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts or (n == 1 and parts[0] == "query-id"):
                continue
            qrels[parts[0]][parts[1]] = int(parts[2])
    return dict(qrels)


class StBackend:
    def __init__(self, model_dir, threads):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.model = SentenceTransformer(model_dir, device="cpu")
        self.model.max_seq_length = MAX_TOKENS
        self.tokenizer = self.model.tokenizer

    def encode(self, texts, batch_size):
        # prompt="" so that no default prompt is added: the texts carry their prompts already.
        return self.model.encode(
            texts, prompt="", batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=False
        )

    def count_tokens(self, texts):
        return sum(len(self.tokenizer(t, truncation=True, max_length=MAX_TOKENS)["input_ids"]) for t in texts)


class OnnxBackend:
    def __init__(self, model_dir, threads, file):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(os.path.join(model_dir, file), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)

    def encode(self, texts, batch_size):
        encs = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        out = np.zeros((len(texts), 768), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            (emb,) = self.session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})
            out[idx] = emb
        return out

    def count_tokens(self, texts):
        return sum(len(e.ids) for e in self.tokenizer.encode_batch(texts))


def cut(vectors, dim):
    v = vectors[:, :dim].astype(np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--backend", choices=["st", "onnx"], required=True)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--onnx-file", default="onnx/model.onnx")
    ap.add_argument("--dims", default="768", help="comma-separated Matryoshka widths, e.g. 768,256")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--run-file", help="TREC run of the first width")
    args = ap.parse_args()

    qrels = read_qrels(os.path.join(args.dataset, "qrels", "test.tsv"))
    queries = [q for q in read_jsonl(os.path.join(args.dataset, "queries.jsonl")) if str(q["_id"]) in qrels]
    corpus = read_jsonl(os.path.join(args.dataset, "corpus.jsonl"))
    if not queries or not corpus:
        sys.exit(f"{args.dataset}: no judged queries or no documents")

    if args.backend == "st":
        backend = StBackend(args.model_dir, args.threads)
    else:
        backend = OnnxBackend(args.model_dir, args.threads, args.onnx_file)
    doc_texts = [DOC_PROMPT.format(title=d.get("title") or "none", text=d["text"]) for d in corpus]
    query_texts = [QUERY_PROMPT.format(q=q["text"]) for q in queries]

    start = time.time()
    doc_raw = backend.encode(doc_texts, args.batch_size)
    doc_secs = time.time() - start
    start = time.time()
    query_raw = backend.encode(query_texts, args.batch_size)
    query_secs = time.time() - start
    tokens = backend.count_tokens(doc_texts)

    ids = [str(d["_id"]) for d in corpus]
    results = {}
    for i, dim in enumerate(int(x) for x in args.dims.split(",")):
        scores = cut(query_raw, dim) @ cut(doc_raw, dim).T
        run = {}
        for qi, q in enumerate(queries):
            top = np.argsort(-scores[qi], kind="stable")[:100]
            run[str(q["_id"])] = {ids[j]: float(scores[qi, j]) for j in top}
        if args.run_file and i == 0:
            write_run(args.run_file, run)
        results[str(dim)] = metrics(run, qrels)
    print(json.dumps({
        "backend": args.backend,
        "queries": len(queries),
        "documents": len(corpus),
        "metrics_by_dim": results,
        "document_tokens": tokens,
        "embed_seconds": round(doc_secs, 1),
        "document_tokens_per_second": round(tokens / doc_secs, 1),
        "query_seconds": round(query_secs, 2),
    }, indent=1))


def write_run(path, run):
    with open(path, "w", encoding="utf-8") as f:
        for qid, docs in run.items():
            ranked = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))
            for rank, (doc, s) in enumerate(ranked, 1):
                f.write(f"{qid} Q0 {doc} {rank} {s!r} st-reference\n")


def metrics(run, qrels):
    judged = {q: qrels[q] for q in run}
    full = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10", "P.10", "recall.10", "map_cut.100"}).evaluate(run)
    top10 = {q: dict(sorted(d.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:10]) for q, d in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(top10)
    n = len(run)

    def mean(key, res):
        return sum(res[q][key] for q in run) / n

    return {
        "p_at_10": mean("P_10", full),
        "recall_at_10": mean("recall_10", full),
        "mrr_at_10": mean("recip_rank", rr),
        "ndcg_at_10": mean("ndcg_cut_10", full),
        "map_at_100": mean("map_cut_100", full),
    }


if __name__ == "__main__":
    main()
