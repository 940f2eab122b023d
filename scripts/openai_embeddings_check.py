#!/usr/bin/env python3
"""Checks `/v1/embeddings` of a running `vault-rag serve` with the official `openai` client.

The vectors the OpenAI client gets (float and its default base64 encoding, document and query
prompts) must equal those of the server's own `POST /embed`. Prints one JSON line with what was
compared and exits non-zero on any mismatch.

Usage: openai_embeddings_check.py --port N [--token T]
"""

import argparse
import json
import math
import sys
import urllib.request

import openai

TEXTS = [
    "Feed the sourdough starter every day.",
    "The borrow checker keeps references valid.",
    "Kyoto temples at dawn",
]
# Same server, same texts, same batch: vectors should agree to float rounding. Background
# indexing can batch differently, and int8 models quantize activations per batch.
MIN_COSINE = 0.999


def post_embed(port, token, texts, kind):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/embed",
        data=json.dumps({"texts": texts, "kind": kind}).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.load(resp)


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", default=None)
    args = parser.parse_args()

    client = openai.OpenAI(base_url=f"http://127.0.0.1:{args.port}/v1", api_key=args.token or "unused", max_retries=0)
    failures = []
    report = {"openai_version": openai.__version__, "checks": []}

    for kind in ["document", "query"]:
        reference = post_embed(args.port, args.token, TEXTS, kind)
        for encoding in ["float", None]:  # None: the client's default (base64, decoded by the client)
            kwargs = {"model": "text-embedding-3-small", "input": TEXTS}
            if encoding:
                kwargs["encoding_format"] = encoding
            if kind == "query":
                kwargs["extra_body"] = {"kind": "query"}
            resp = client.embeddings.create(**kwargs)
            vectors = [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]
            worst_cos = min(cosine(a, b) for a, b in zip(vectors, reference["vectors"]))
            max_diff = max(abs(x - y) for a, b in zip(vectors, reference["vectors"]) for x, y in zip(a, b))
            check = {
                "kind": kind,
                "encoding": encoding or "default",
                "model": resp.model,
                "dims": len(vectors[0]),
                "min_cosine": worst_cos,
                "max_abs_diff": max_diff,
                "prompt_tokens": resp.usage.prompt_tokens,
            }
            report["checks"].append(check)
            if len(vectors) != len(TEXTS):
                failures.append(f"{kind}/{encoding}: {len(vectors)} vectors for {len(TEXTS)} texts")
            if resp.model != reference["model"]:
                failures.append(f"{kind}/{encoding}: model {resp.model} != {reference['model']}")
            if len(vectors[0]) != reference["dim"]:
                failures.append(f"{kind}/{encoding}: dims {len(vectors[0])} != {reference['dim']}")
            if worst_cos < MIN_COSINE:
                failures.append(f"{kind}/{encoding}: min cosine {worst_cos} < {MIN_COSINE}")
            if resp.usage.prompt_tokens <= 0:
                failures.append(f"{kind}/{encoding}: usage.prompt_tokens {resp.usage.prompt_tokens}")

    one = client.embeddings.create(model="x", input="single string input", encoding_format="float")
    norm = math.sqrt(sum(x * x for x in one.data[0].embedding))
    report["single_input_norm"] = norm
    if len(one.data) != 1 or abs(norm - 1.0) > 1e-3:
        failures.append(f"single string input: {len(one.data)} vectors, norm {norm}")

    # Errors come back as OpenAI-style API errors with the server's status.
    try:
        client.embeddings.create(model="x", input=[], encoding_format="float")
        failures.append("empty input was accepted")
    except openai.BadRequestError as err:
        report["empty_input_error"] = err.status_code
    try:
        openai.OpenAI(base_url=f"http://127.0.0.1:{args.port}/v1", api_key="wrong-token", max_retries=0).embeddings.create(
            model="x", input="x"
        )
        if args.token:
            failures.append("a wrong token was accepted")
    except openai.AuthenticationError as err:
        report["wrong_token_error"] = err.status_code
        if not args.token:
            failures.append("no token configured, yet the request was refused")

    report["failures"] = failures
    print(json.dumps(report))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
