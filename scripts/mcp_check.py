#!/usr/bin/env python3
"""Drives vault-rag's MCP server with the official MCP Python SDK: over stdio (`vault-rag mcp`,
standalone or as a bridge to a running service) or over Streamable HTTP (`serve`'s `/mcp`).

Lists the tools (exactly search_notes, similar_notes, read_note, list_notes), calls each, reads
notes as `vault:///` resources, and checks the answers against the vault on disk. Over HTTP it
also checks that a request without the token and one from a foreign Origin are refused, and runs
two clients at once. `--rotate URL --service-token T` revokes the agent token in the middle of
the session (POST URL) and checks that the session goes on (the bridge picks up the new one). `--bench N` times N
search_notes calls (median, ms); `--bridge` reports the stdio process's start-up time, peak RSS
and whether it mapped a model or ONNX Runtime (Linux). Prints one JSON line with what was seen;
exits non-zero on any mismatch.

Usage: mcp_check.py [--http URL --token T] --binary BIN --vault V --data-dir D --query Q
                    --expect PATH --note PATH --heading H --expect-section TEXT
                    [--bench N] [--bridge] [--rotate URL --service-token T]
                    -- [model flags...]
"""

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from urllib.parse import quote

EXPECTED_TOOLS = {"search_notes", "similar_notes", "read_note", "list_notes", "gather_context"}


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


@contextlib.asynccontextmanager
async def connect(args, model_flags):
    """A client session over the transport the arguments name."""
    if args.http:
        client = create_mcp_http_client(headers={"Authorization": f"Bearer {args.token}"})
        async with client, streamable_http_client(args.http, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                yield session
        return
    params = StdioServerParameters(
        command=args.binary,
        args=["mcp", "--vault", args.vault, "--data-dir", args.data_dir, *model_flags],
        env={k: v for k, v in os.environ.items() if k.startswith(("VAULT_RAG_", "ORT_", "XDG_", "HOME"))},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            yield session


def children():
    """Pids of this process's children (Linux)."""
    me = str(os.getpid())
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            if stat[stat.rfind(")") + 2 :].split()[1] == me:
                out.append(int(entry))
    return out


def bridge_report(pid):
    """Peak RSS (MiB) of the stdio process, and whether it mapped a model or ONNX Runtime."""
    status = Path("/proc", str(pid), "status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    maps = Path("/proc", str(pid), "maps").read_text()
    return {
        "rss_peak_mb": round(hwm / 1024, 1),
        "maps_onnxruntime": "libonnxruntime" in maps,
        "maps_model": ".onnx" in maps,
    }


async def refused_without_token_or_from_a_foreign_origin(args, failures):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx2.AsyncClient() as client:
        r = await client.post(args.http, json=body, headers=headers)
        if r.status_code != 401:
            failures.append(f"/mcp without a token: HTTP {r.status_code}")
        r = await client.post(args.http, json=body, headers={
            **headers, "Authorization": f"Bearer {args.token}", "Origin": "https://evil.example"})
        if r.status_code != 403:
            failures.append(f"/mcp from a foreign Origin: HTTP {r.status_code}")


async def two_clients_at_once(args, model_flags, failures):
    async def one(query):
        async with connect(args, model_flags) as session:
            await session.initialize()
            result = await session.call_tool("search_notes", {"query": query, "top_k": 3})
            return (result.structured_content or {}).get("hits", [])
    a, b = await asyncio.gather(one(args.query), one("tomato seedlings"))
    if not a or not b:
        failures.append(f"two clients at once: {len(a)} and {len(b)} hits")


async def check_gather_context(session, args, failures, report):
    """gather_context returns numbered passages of the expected note, quoted from its lines."""
    result = await session.call_tool("gather_context", {"question": args.query, "budget_tokens": 800})
    body = result.structured_content or {}
    passages = body.get("passages") or []
    report["context_passages"] = len(passages)
    if result.is_error or not body.get("found") or not passages:
        failures.append(f"gather_context found nothing: {text_of(result)[:300]!r}")
        return
    if [p.get("n") for p in passages] != list(range(1, len(passages) + 1)):
        failures.append(f"gather_context passages are not numbered 1..n: {[p.get('n') for p in passages]}")
    if sum(p.get("tokens", 0) for p in passages) > 800:
        failures.append("gather_context passages exceed the budget")
    mine = [p for p in passages if p.get("path") == args.expect]
    if not mine:
        failures.append(f"gather_context has no passage of {args.expect}: {[p.get('path') for p in passages]}")
    result = await session.call_tool("gather_context", {"question": "  "})
    if not result.is_error or "invalid_request" not in text_of(result):
        failures.append(f"gather_context with an empty question: {text_of(result)[:200]!r}")


async def check_hit_fields(session, args, hit, failures, report):
    """A hit names its passage (lines) and how to cite it; read_note reads exactly those lines."""
    stem = args.expect[: -len(".md")]
    report["top_link"] = hit.get("link")
    if not str(hit.get("link", "")).startswith(f"[[{stem}"):
        failures.append(f"search_notes hit link {hit.get('link')!r} does not name {stem}")
    for field in ["line", "end_line", "score", "snippet", "heading_path", "title"]:
        if field not in hit:
            failures.append(f"search_notes hit lacks {field}: {hit}")
    why = hit.get("explain") or {}
    if why.get("fusion") != "convex" or not isinstance(why.get("dense_weight"), (int, float)):
        failures.append(f"search_notes hit does not explain its fusion: {hit}")
    lines = Path(args.vault, args.expect).read_text(encoding="utf-8").splitlines()
    result = await session.call_tool("read_note", {
        "path": args.expect, "start_line": hit["line"], "end_line": hit["end_line"]})
    want = "\n".join(lines[hit["line"] - 1 : hit["end_line"]])
    if result.is_error or text_of(result) != want:
        failures.append(f"read_note lines {hit['line']}-{hit['end_line']}: {text_of(result)[:200]!r} != {want[:200]!r}")
    result = await session.call_tool("read_note", {"path": args.expect, "start_line": len(lines) + 5})
    if not result.is_error or "invalid_request" not in text_of(result):
        failures.append(f"read_note past the end: {text_of(result)[:200]!r}")


def notes_on_disk(vault):
    """The notes the indexer may index in the fixture vault (no dot-folders)."""
    root = Path(vault)
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.md")
        if not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


async def check_listing_and_resources(session, args, failures, report):
    """list_notes pages through exactly the vault's notes; resources list and read them."""
    expected = notes_on_disk(args.vault)
    seen, cursor, pages = [], None, 0
    while True:
        call = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        result = await session.call_tool("list_notes", call)
        if result.is_error:
            failures.append(f"list_notes: {text_of(result)[:200]}")
            break
        page = result.structured_content
        pages += 1
        seen += [n["path"] for n in page["notes"]]
        if page["total"] != len(expected):
            failures.append(f"list_notes total {page['total']} != {len(expected)}")
        cursor = page.get("next_cursor")
        if not cursor or pages > 100:
            break
    report["list_notes_pages"] = pages
    if seen != expected:
        failures.append(f"list_notes paged {seen} != {expected}")
    folder = args.expect.rsplit("/", 1)[0]
    result = await session.call_tool("list_notes", {"folder": folder, "order": "modified"})
    inside = [n["path"] for n in result.structured_content["notes"]] if not result.is_error else []
    if not inside or any(not p.startswith(folder + "/") for p in inside):
        failures.append(f"list_notes folder {folder}: {inside}")
    result = await session.call_tool("list_notes", {"modified_since": "2999-01-01"})
    if result.is_error or result.structured_content["notes"]:
        failures.append(f"list_notes modified_since the future: {text_of(result)[:200]}")
    result = await session.call_tool("list_notes", {"modified_since": "yesterday"})
    if not result.is_error or "modified_since" not in text_of(result):
        failures.append(f"list_notes bad date: {text_of(result)[:200]!r}")

    resources, cursor = [], None
    for _ in range(100):
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_resources(params=params)
        resources += page.resources
        cursor = page.next_cursor
        if not cursor:
            break
    uris = sorted(str(r.uri) for r in resources)
    want = sorted("vault:///" + quote(p, safe="/") for p in expected)
    report["resources"] = len(uris)
    if uris != want:
        failures.append(f"resources {uris[:5]}... != {want[:5]}...")
    note_uri = "vault:///" + quote(args.note, safe="/")
    read = await session.read_resource(note_uri)
    on_disk = Path(args.vault, args.note).read_text(encoding="utf-8")
    if read.contents[0].text != on_disk:
        failures.append(f"resources/read {note_uri}: {read.contents[0].text[:200]!r}")
    try:
        await session.read_resource("vault:///.obsidian/app.json")
        failures.append("resources/read of the config folder succeeded")
    except Exception as err:  # the SDK raises McpError for a JSON-RPC error
        if "note_not_found" not in str(err):
            failures.append(f"resources/read of the config folder: {err}")


async def run(args, model_flags):
    failures = []
    report = {"transport": "http" if args.http else "stdio"}
    started = time.monotonic()
    async with connect(args, model_flags) as session:
            init = await session.initialize()
            report["initialize_ms"] = round((time.monotonic() - started) * 1000, 1)
            report["server"] = init.server_info.name
            report["protocol"] = init.protocol_version

            tools = (await session.list_tools()).tools
            names = {t.name for t in tools}
            report["tools"] = sorted(names)
            if names != EXPECTED_TOOLS:
                failures.append(f"tools {sorted(names)} != {sorted(EXPECTED_TOOLS)}")
            for tool in tools:
                required = set(tool.input_schema.get("required", []))
                want = {"search_notes": {"query"}, "similar_notes": {"path"}, "read_note": {"path"},
                        "list_notes": set(), "gather_context": {"question"}}.get(tool.name)
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
            else:
                await check_hit_fields(session, args, hits[0], failures, report)
                await check_gather_context(session, args, failures, report)

            if args.rotate:
                async with httpx2.AsyncClient() as client:
                    r = await client.post(args.rotate, headers={"Authorization": f"Bearer {args.service_token}"})
                    if r.status_code != 200 or not r.json().get("token"):
                        failures.append(f"rotating the agent token: HTTP {r.status_code} {r.text[:200]}")
                result = await session.call_tool("search_notes", {"query": args.query, "limit": 1})
                report["session_survives_rotation"] = not result.is_error
                if result.is_error:
                    failures.append(f"search_notes after the agent token was renewed: {text_of(result)[:200]}")

            await check_listing_and_resources(session, args, failures, report)

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

            if args.bench:
                times = []
                for _ in range(args.bench):
                    t = time.perf_counter()
                    result = await session.call_tool("search_notes", {"query": args.query, "top_k": 5})
                    times.append((time.perf_counter() - t) * 1000)
                    if result.is_error:
                        failures.append(f"bench search_notes failed: {text_of(result)}")
                        break
                report["search_notes_median_ms"] = round(statistics.median(times), 2)
            if args.bridge:
                pids = children()
                if len(pids) != 1:
                    failures.append(f"expected one stdio process, found {pids}")
                else:
                    bridge = bridge_report(pids[0])
                    report["bridge"] = bridge
                    if bridge["maps_onnxruntime"] or bridge["maps_model"]:
                        failures.append(f"the bridge loaded a model: {bridge}")

    if args.http:
        await refused_without_token_or_from_a_foreign_origin(args, failures)
        await two_clients_at_once(args, model_flags, failures)
        report["refusals_and_two_clients_checked"] = True

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
    parser.add_argument("--http", help="the /mcp URL of a running serve")
    parser.add_argument("--token")
    parser.add_argument("--bench", type=int, default=0)
    parser.add_argument("--bridge", action="store_true")
    parser.add_argument("--rotate", help="POST URL that revokes the agent token mid-session")
    parser.add_argument("--service-token")
    args = parser.parse_args(argv)
    return asyncio.run(run(args, model_flags))


if __name__ == "__main__":
    sys.exit(main())
