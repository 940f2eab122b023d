#!/usr/bin/env python3
"""Drives `vault-rag mcp` with the official MCP Python SDK over stdio.

Lists the tools (exactly search_notes, similar_notes, read_note), calls each, and checks the
answers against the vault on disk. Prints one JSON line with what was seen; exits non-zero on
any mismatch.

Usage: mcp_check.py --binary BIN --vault V --data-dir D --query Q --expect PATH
                    --note PATH --heading H --expect-section TEXT -- [model flags...]
"""

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, stdio_client

EXPECTED_TOOLS = {"search_notes", "similar_notes", "read_note"}


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def run(args, model_flags):
    params = StdioServerParameters(
        command=args.binary,
        args=["mcp", "--vault", args.vault, "--data-dir", args.data_dir, *model_flags],
        env={k: v for k, v in os.environ.items() if k.startswith(("VAULT_RAG_", "ORT_", "XDG_", "HOME"))},
    )
    failures = []
    report = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            report["server"] = init.server_info.name
            report["protocol"] = init.protocol_version

            tools = (await session.list_tools()).tools
            names = {t.name for t in tools}
            report["tools"] = sorted(names)
            if names != EXPECTED_TOOLS:
                failures.append(f"tools {sorted(names)} != {sorted(EXPECTED_TOOLS)}")
            for tool in tools:
                required = set(tool.input_schema.get("required", []))
                want = {"search_notes": {"query"}, "similar_notes": {"path"}, "read_note": {"path"}}.get(tool.name)
                if want is not None and required != want:
                    failures.append(f"{tool.name}: required {sorted(required)} != {sorted(want)}")

            # The index fills in the background: retry until the expected note is found.
            hits = []
            for _ in range(600):
                result = await session.call_tool("search_notes", {"query": args.query, "top_k": 3})
                if result.is_error:
                    failures.append(f"search_notes failed: {text_of(result)}")
                    break
                payload = result.structured_content or json.loads(text_of(result))
                hits = payload["hits"]
                if hits and hits[0]["path"] == args.expect and payload["index_complete"]:
                    break
                await asyncio.sleep(0.1)
            report["search_top"] = [h["path"] for h in hits]
            if not hits or hits[0]["path"] != args.expect:
                failures.append(f"search_notes top hit {report['search_top']} != {args.expect}")

            result = await session.call_tool("similar_notes", {"path": args.expect, "top_k": 3})
            payload = result.structured_content or json.loads(text_of(result))
            similar = [h["path"] for h in payload.get("hits", [])]
            report["similar"] = similar
            if result.is_error or not similar or args.expect in similar:
                failures.append(f"similar_notes: error={result.is_error} hits={similar}")

            result = await session.call_tool("read_note", {"path": args.note})
            on_disk = Path(args.vault, args.note).read_text(encoding="utf-8")
            if result.is_error or text_of(result) != on_disk:
                failures.append(f"read_note whole note differs: {text_of(result)[:200]!r}")

            result = await session.call_tool("read_note", {"path": args.note, "heading": args.heading})
            section = text_of(result)
            report["section"] = section
            if result.is_error or section != args.expect_section:
                failures.append(f"read_note section {section!r} != {args.expect_section!r}")

            for bad in ["../outside.md", "/etc/passwd"]:
                result = await session.call_tool("read_note", {"path": bad})
                if not result.is_error or "path_outside_vault" not in text_of(result):
                    failures.append(f"read_note {bad}: {text_of(result)[:200]!r}")
            result = await session.call_tool("read_note", {"path": args.note, "heading": "No such heading"})
            if not result.is_error or "Risks" not in text_of(result):
                failures.append(f"read_note unknown heading: {text_of(result)[:200]!r}")
            result = await session.call_tool("search_notes", {"query": "x", "top_k": 0})
            if not result.is_error or "invalid_request" not in text_of(result):
                failures.append(f"search_notes top_k 0: {text_of(result)[:200]!r}")
            report["errors_checked"] = True

    report["failures"] = failures
    print(json.dumps(report))
    return 1 if failures else 0


def main():
    argv = sys.argv[1:]
    model_flags = []
    if "--" in argv:
        cut = argv.index("--")
        argv, model_flags = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser()
    for name in ["binary", "vault", "data-dir", "query", "expect", "note", "heading", "expect-section"]:
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args(argv)
    return asyncio.run(run(args, model_flags))


if __name__ == "__main__":
    sys.exit(main())
