#!/usr/bin/env python3
"""The Python baselines of the benchmark, one per process:

  --kind seed  the original plan's ONNXEmbeddingService loop: ONNX Runtime with default session
               options, the model's tokenizer.json through `tokenizers`, 512-token truncation, one
               text per `session.run`, output `sentence_embedding` (int8 file by default); for a
               model without that output (all-MiniLM-L6-v2's `last_hidden_state`), the mean over
               the text's tokens, as sentence-transformers pools it
  --kind st    sentence-transformers on PyTorch (fp32 checkpoint), `encode` with its default batch
               size, 512-token limit

    contender.py --kind seed --model-dir DIR --texts texts.jsonl --out result.json [--vectors v.npy]

texts.jsonl holds one {"text": ...} per line, prompts already applied (the exact strings
vault-rag embedded). Prints and writes one JSON object: load and embed seconds, tokens, tokens/s,
RSS after load and peak (VmRSS / VmHWM of this process).
"""
import argparse
import json
import os
import time

import numpy as np

MAX_TOKENS = 512


def status_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return None


class Seed:
    def __init__(self, model_dir, onnx_file, threads):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            os.path.join(model_dir, onnx_file), opts, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.inputs = {i.name for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        self.output = "sentence_embedding" if "sentence_embedding" in outputs else "last_hidden_state"

    def count(self, texts):
        return [len(self.tokenizer.encode(t).ids) for t in texts]

    def embed(self, texts):
        out = []
        for t in texts:
            ids = np.array([self.tokenizer.encode(t).ids], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            (emb,) = self.session.run([self.output], feed)
            if self.output == "last_hidden_state":
                pooled = emb[0].mean(axis=0)
                out.append(pooled / np.linalg.norm(pooled))
            else:
                out.append(emb[0])
        return np.stack(out)


class St:
    def __init__(self, model_dir, threads):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.model = SentenceTransformer(model_dir, device="cpu")
        self.model.max_seq_length = MAX_TOKENS

    def count(self, texts):
        tok = self.model.tokenizer
        return [len(tok(t, truncation=True, max_length=MAX_TOKENS)["input_ids"]) for t in texts]

    def embed(self, texts):
        # prompt="": the texts carry their prompts already.
        return self.model.encode(texts, prompt="", convert_to_numpy=True, normalize_embeddings=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["seed", "st"], required=True)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--onnx-file", default="onnx/model_quantized.onnx")
    ap.add_argument("--texts", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vectors")
    a = ap.parse_args()
    with open(a.texts, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]

    started = time.monotonic()
    model = Seed(a.model_dir, a.onnx_file, a.threads) if a.kind == "seed" else St(a.model_dir, a.threads)
    load_s = time.monotonic() - started
    rss_loaded = status_mib("VmRSS")
    tokens = model.count(texts)
    started = time.monotonic()
    vectors = model.embed(texts)
    embed_s = time.monotonic() - started
    if a.vectors:
        np.save(a.vectors, vectors.astype(np.float32))
    result = {
        "kind": a.kind,
        "texts": len(texts),
        "tokens": sum(tokens),
        "load_seconds": round(load_s, 2),
        "embed_seconds": round(embed_s, 2),
        "tokens_per_second": round(sum(tokens) / embed_s, 1),
        "rss_after_load_mib": round(rss_loaded, 1),
        "rss_end_mib": round(status_mib("VmRSS"), 1),
        "peak_rss_mib": round(status_mib("VmHWM"), 1),
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
