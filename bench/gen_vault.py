#!/usr/bin/env python3
"""Generates the benchmark vault: seeded, Obsidian-like notes stitched from real text.

    gen_vault.py OUT_DIR [--notes 10000] [--seed 8] [--sample 120] [--queries 300]
                 [--median-words 12] [--sigma 1.0] [--max-words 1500] [--code-blocks 0]

The realistic vaults of `make bench` use --median-words 200 --max-words 10000 --code-blocks 0.03.

Writes OUT_DIR/vault (the notes), OUT_DIR/sample (a fixed subset of the notes, same paths, for
throughput runs), OUT_DIR/queries.txt (search queries) and OUT_DIR/manifest.json (counts and a
hash of every note, which names the vault for the index cache).

Text comes from the BEIR corpora in ../shared/datasets (SciFact abstracts, Cranfield abstracts),
consumed in order without repetition, so no two chunks share their text by accident. Note lengths
follow a log-normal law (many short notes, a long tail), as in personal vaults.
"""

import argparse
import hashlib
import json
import math
import random
import re
import shutil
from pathlib import Path

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
FOLDERS = [
    "Inbox", "Journal", "Projects/Alpha", "Projects/Beta", "Projects/Gamma", "Research/Biology",
    "Research/Medicine", "Research/Aero", "Research/Materials", "Reading", "Reading/Papers",
    "Areas/Health", "Areas/Work", "Areas/Teaching", "Archive/2023", "Archive/2024", "Meetings",
    "Ideas", "People", "Reference",
]
TAGS = ["research", "todo", "idea", "paper", "meeting", "health", "aero", "bio", "method",
        "result", "question", "review", "draft", "project/alpha", "project/beta", "area/work",
        "reading", "summary", "data", "followup"]
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Za-z0-9])")


def load_sentences(rng):
    docs = []
    for name in ("scifact", "cranfield"):
        with open(DATASETS / name / "corpus.jsonl", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                text = " ".join(d.get("text", "").split())
                if len(text.split()) >= 20:
                    docs.append((d.get("title", "") or text[:80], text))
    rng.shuffle(docs)
    titles = [t for t, _ in docs]
    sentences = []
    for _, text in docs:
        parts = [s.strip() for s in SENTENCE.split(text) if len(s.split()) >= 3]
        # Cranfield is lower case: capitalise the first letter for a note-like look.
        sentences.extend(s[0].upper() + s[1:] for s in parts)
    return titles, sentences


class Stream:
    """Hands out sentences in order; wraps around (with a marker) only if the corpus runs out."""

    def __init__(self, sentences):
        self.items, self.pos, self.round = sentences, 0, 0

    def take(self):
        if self.pos == len(self.items):
            self.pos, self.round = 0, self.round + 1
        s = self.items[self.pos]
        self.pos += 1
        return s if self.round == 0 else f"{s} (rev {self.round})"


def short_title(raw, rng, words=None):
    ws = re.sub(r"[^\w\s-]", " ", raw).split()
    n = words or rng.randint(2, 6)
    t = " ".join(ws[:n]) or "Untitled"
    return t[0].upper() + t[1:]


CODE = [
    ("python", ["import numpy as np", "", "def {w}(xs):", "    return np.mean(xs) * {n}"]),
    ("bash", ["cd ~/data/{w}", "for f in *.csv; do wc -l \"$f\"; done | sort -n | tail -{n}"]),
    ("sql", ["SELECT {w}, count(*) FROM samples", "WHERE batch = {n}", "GROUP BY {w};"]),
    ("js", ["const {w} = rows.filter((r) => r.value > {n});", "console.log({w}.length);"]),
]


def code_block(rng):
    lang, lines = rng.choice(CODE)
    word = rng.choice(["dose", "drag", "strain", "cells", "lift", "load", "ratio", "yield"])
    n = rng.randint(2, 99)
    return [f"```{lang}"] + [l.format(w=word, n=n) for l in lines] + ["```", ""]


def make_note(rng, stream, words, title, all_titles, heading_pool, code_rate=0.0):
    out = []
    if rng.random() < 0.35:
        tags = rng.sample(TAGS, rng.randint(1, 3))
        out += ["---", f"tags: [{', '.join(tags)}]"]
        if rng.random() < 0.3:
            out.append(f"aliases: [{short_title(title, rng, 2)}]")
        out += [f"created: 2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", "---", ""]
    if rng.random() < 0.3:
        out += [f"# {title}", ""]
    sections = 1 + words // 140
    per_section = max(words // sections, 4)
    for s in range(sections):
        if s > 0 or rng.random() < 0.4:
            level = "##" if s == 0 or rng.random() < 0.7 else "###"
            out += [f"{level} {short_title(rng.choice(heading_pool), rng)}", ""]
        written = 0
        while written < per_section:
            bullets = rng.random() < 0.2
            para = []
            for _ in range(rng.randint(1, 4)):
                sent = stream.take()
                room = per_section - written
                if len(sent.split()) > room + 8:
                    # A short note: a fragment of a sentence, as jotted down.
                    sent = " ".join(sent.split()[: max(room, 4)]).rstrip(",;:") + "."
                if rng.random() < 0.12:
                    sent += f" See [[{rng.choice(all_titles)}]]."
                if rng.random() < 0.06:
                    sent += f" #{rng.choice(TAGS)}"
                para.append(sent)
                written += len(sent.split())
                if written >= per_section:
                    break
            if bullets:
                task = rng.random() < 0.3
                out += [("- [ ] " if task else "- ") + p for p in para]
            else:
                out.append(" ".join(para))
            out.append("")
            # Only drawn when asked for, so vaults made without code keep their exact text.
            if code_rate and rng.random() < code_rate:
                out += code_block(rng)
            if rng.random() < 0.02:
                out += [f"%% private remark {rng.randint(0, 999)} %%", ""]
    return "\n".join(out).rstrip() + "\n"


def same_files(vault, notes):
    if not vault.is_dir():
        return False
    on_disk = {p.relative_to(vault).as_posix() for p in vault.rglob("*.md")}
    if on_disk != set(notes):
        return False
    return all((vault / rel).read_text(encoding="utf-8") == text for rel, text in notes.items())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--notes", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--sample", type=int, default=80)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--median-words", type=float, default=12.0)
    ap.add_argument("--sigma", type=float, default=1.0)
    # Longest note, in words of text: 1,500 keeps the default vault (and its cached index) as it
    # was; the realistic vault lets the tail run to 10,000.
    ap.add_argument("--max-words", type=int, default=1500)
    # Chance of a fenced code block after a paragraph (0 for the default vault, as before).
    ap.add_argument("--code-blocks", type=float, default=0.0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    titles, sentences = load_sentences(rng)
    stream = Stream(sentences)

    names, seen = [], set()
    for i in range(a.notes):
        base = short_title(titles[i % len(titles)], rng)
        name = base if base.lower() not in seen else f"{base} {i}"
        seen.add(name.lower())
        names.append(name)

    vault = a.out / "vault"
    digest = hashlib.blake2b(digest_size=16)
    notes, total_words, longest = {}, 0, 0
    for i, name in enumerate(names):
        words = int(min(max(rng.lognormvariate(math.log(a.median_words), a.sigma), 5), a.max_words))
        text = make_note(rng, stream, words, name, names, titles, a.code_blocks)
        rel = f"{rng.choice(FOLDERS)}/{name}.md"
        digest.update(rel.encode() + b"\0" + text.encode() + b"\0")
        notes[rel] = text
        total_words += len(text.split())
        longest = max(longest, len(text.split()))
    paths = list(notes)
    # An existing vault with exactly these notes is left alone: its files keep their mtimes, so
    # the cached index stays up to date (and an indexer reading it is not disturbed).
    if not same_files(vault, notes):
        if vault.exists():
            shutil.rmtree(vault)
        for rel, text in notes.items():
            p = vault / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
    if (a.out / "sample").exists():
        shutil.rmtree(a.out / "sample")
    # Obsidian's own folder, which the indexer must skip.
    (vault / ".obsidian").mkdir(exist_ok=True)
    if not (vault / ".obsidian" / "app.json").exists():
        (vault / ".obsidian" / "app.json").write_text("{}\n")

    step = max(len(paths) // max(a.sample, 1), 1)
    sample = paths[::step][: a.sample]
    for rel in sample:
        dst = a.out / "sample" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(vault / rel, dst)

    # Queries: a few words of a sentence or a title, as typed in a search box.
    queries = []
    for _ in range(a.queries):
        if rng.random() < 0.5:
            ws = rng.choice(sentences).split()
            start = rng.randint(0, max(len(ws) - 6, 0))
            queries.append(" ".join(ws[start : start + rng.randint(3, 8)]).strip(".,;:"))
        else:
            queries.append(rng.choice(names).lower())
    (a.out / "queries.txt").write_text("\n".join(queries) + "\n", encoding="utf-8")

    manifest = {
        "notes": len(paths), "words": total_words, "seed": a.seed,
        "median_words": a.median_words, "sigma": a.sigma, "max_words": a.max_words,
        "code_blocks": a.code_blocks,
        "longest_note_words": longest,
        "sample_notes": len(sample), "vault_hash": digest.hexdigest(),
        "sentences_available": len(sentences), "sentences_used": stream.pos + stream.round * len(sentences),
    }
    (a.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
