#!/usr/bin/env python3
"""Writes the exact strings vault-rag embedded for an index, one {"text": ...} JSON per line, so
that the Python baselines embed identical input:

    texts_from_index.py INDEX.sqlite OUT.jsonl [--bare]

The string is EmbeddingGemma's document prompt around `Chunk::embed_text` (crates/markdown): the
heading path (`A > B`, without a last heading the text already opens with) on the first line, then
the chunk text. `--bare` leaves the prompt out (all-MiniLM-L6-v2 has none). Each line also carries the chunk's content hash (the key of its vector in the
index), which lines the baselines' vectors up with vault-rag's.
"""
import json
import sqlite3
import sys

DOC_PROMPT = "title: {title} | text: {text}"


def heading_title(line):
    hashes = len(line) - len(line.lstrip("#"))
    if 1 <= hashes <= 6 and line[hashes:].startswith(" "):
        return line[hashes + 1 :]
    return None


def embed_text(path, text):
    first = text.split("\n", 1)[0] if text else ""
    context = path[:-1] if path and heading_title(first) == path[-1] else path
    return f"{' > '.join(context)}\n{text}" if context else text


def main():
    db, out = sys.argv[1], sys.argv[2]
    prompt = "{text}" if "--bare" in sys.argv[3:] else DOC_PROMPT
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute(
        "SELECT c.id, n.title, c.heading_path, c.text, hex(c.content_hash) FROM chunks c "
        "JOIN notes n ON n.id = c.note_id ORDER BY c.id"
    ).fetchall()
    seen = set()
    with open(out, "w", encoding="utf-8") as f:
        for _id, title, path, text, digest in rows:
            # Vectors are keyed by content: a repeated chunk is embedded once.
            if digest in seen:
                continue
            seen.add(digest)
            title = (title or "").strip() or "none"
            full = prompt.format(title=title, text=embed_text(json.loads(path), text))
            f.write(json.dumps({"text": full, "hash": digest}) + "\n")
    print(len(seen))


if __name__ == "__main__":
    main()
