#!/usr/bin/env python3
"""Packs a release archive: vault-rag-<version>-<target>.tar.gz (.zip for Windows).

It holds one folder, vault-rag-<version>-<target>/, with the binary, ONNX Runtime's shared library
for that target right beside it (the binary looks there first), LICENSE, THIRD-PARTY-NOTICES.txt
(ONNX Runtime's licence and notices, then every Rust crate compiled into the binary with its
licence files) and README.txt. SHA256SUMS in the output folder is rewritten for every archive
there.

    dist.py --binary target/release/vault-rag [--target T] [--out dist] [--extra FILE ...]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ort  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LICENCE_PREFIXES = ("license", "licence", "copying", "notice", "unlicense")

README = """vault-rag {version} for {target}

Private, local semantic search for an Obsidian vault.

  vault-rag index  ~/Notes --download    index a vault (the model is downloaded once, with consent)
  vault-rag search ~/Notes "a question"  search it
  vault-rag serve --vault ~/Notes        the service the Obsidian plugin talks to

Keep {library} in the same folder as the vault-rag executable: it is the
ONNX Runtime {ort_version} library the embedder loads.

Documentation and releases: https://github.com/vault-rag/vault-rag
"""


def cargo_metadata(target: str) -> dict:
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--filter-platform", target],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def shipped_crates(meta: dict) -> list[dict]:
    """Third-party packages linked into the vault-rag binary: normal dependencies, transitively."""
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p["id"] for p in meta["packages"] if p["name"] == "vault-rag")
    seen, todo = set(), [root]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for dep in nodes[current]["deps"]:
            if any(kind["kind"] is None for kind in dep["dep_kinds"]):
                todo.append(dep["pkg"])
    third_party = [packages[i] for i in seen if packages[i].get("source")]
    return sorted(third_party, key=lambda p: (p["name"], p["version"]))


def licence_files(package: dict) -> list[Path]:
    folder = Path(package["manifest_path"]).parent
    return sorted(
        f for f in folder.iterdir()
        if f.is_file() and f.name.lower().startswith(LICENCE_PREFIXES)
    )


def notices(row: ort.Wheel, wheel: Path, target: str) -> str:
    parts = [
        "Third-party software in this archive\n",
        "=" * 72,
        f"ONNX Runtime {row.version} ({row.library_name}), from the official `onnxruntime` wheel on PyPI",
        f"({row.wheel}, sha256 {row.wheel_sha256}). https://github.com/microsoft/onnxruntime\n",
    ]
    with zipfile.ZipFile(wheel) as z:
        for member in ("onnxruntime/LICENSE", "onnxruntime/ThirdPartyNotices.txt"):
            parts += [f"--- {member.split('/')[-1]}", z.read(member).decode("utf-8", "replace")]
    crates = shipped_crates(cargo_metadata(target))
    parts += ["=" * 72, f"Rust crates compiled into vault-rag ({len(crates)})\n"]
    for package in crates:
        parts.append("-" * 72)
        parts.append(f"{package['name']} {package['version']}: {package.get('license') or 'see its repository'}")
        if package.get("repository"):
            parts.append(package["repository"])
        files = licence_files(package)
        if not files:
            parts.append("(no licence file in the published crate; the licence above applies)")
        for f in files:
            parts += [f"--- {f.name}", f.read_text("utf-8", "replace")]
    return "\n".join(parts) + "\n"


def write_archive(path: Path, folder: str, entries: list[tuple[str, bytes, int]]) -> None:
    tmp = path.with_name(path.name + ".part")
    if path.suffix == ".zip":
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for name, data, mode in entries:
                info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
    else:
        with tarfile.open(tmp, "w:gz", compresslevel=9) as t:
            for name, data, mode in entries:
                info = tarfile.TarInfo(f"{folder}/{name}")
                info.size, info.mode, info.mtime = len(data), mode, 1577836800
                t.addfile(info, io.BytesIO(data))
    os.replace(tmp, path)


def write_sums(out: Path) -> None:
    lines = []
    for archive in sorted(out.iterdir()):
        if archive.name.startswith("vault-rag-") and archive.name.endswith((".tar.gz", ".zip")):
            lines.append(f"{ort.sha256(archive)}  {archive.name}\n")
    (out / "SHA256SUMS").write_text("".join(lines))


def version() -> str:
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout)
    return next(p["version"] for p in meta["packages"] if p["name"] == "vault-rag")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, type=Path)
    parser.add_argument("--target", default=None)
    parser.add_argument("--out", default=ROOT / "dist", type=Path)
    parser.add_argument("--extra", action="append", default=[], type=Path,
                        help="another file to put beside the binary (the MSVC runtime on Windows)")
    args = parser.parse_args()

    target = args.target or ort.host_target()
    row = ort.lookup(target)
    windows = "windows" in target
    if not args.binary.is_file():
        sys.exit(f"no binary at {args.binary}: build it first (cargo build --release -p vault-rag)")
    library = ort.fetch(row)
    wheel = ort.fetch_wheel(row)
    ver = version()
    folder = f"vault-rag-{ver}-{target}"
    exe = "vault-rag.exe" if windows else "vault-rag"
    entries = [
        (exe, args.binary.read_bytes(), 0o755),
        (row.library_name, library.read_bytes(), 0o755),
        ("LICENSE", (ROOT / "LICENSE").read_bytes(), 0o644),
        ("THIRD-PARTY-NOTICES.txt", notices(row, wheel, target).encode(), 0o644),
        ("README.txt", README.format(version=ver, target=target, library=row.library_name,
                                     ort_version=row.version).encode(), 0o644),
    ]
    entries += [(f.name, f.read_bytes(), 0o755) for f in args.extra]

    args.out.mkdir(parents=True, exist_ok=True)
    archive = args.out / (folder + (".zip" if windows else ".tar.gz"))
    write_archive(archive, folder, entries)
    write_sums(args.out)
    size = archive.stat().st_size
    print(f"{archive} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
