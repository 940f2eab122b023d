#!/usr/bin/env python3
"""ONNX Runtime's shared library for a target, from the official `onnxruntime` wheel on PyPI.

The wheel and the library inside it are pinned by sha256 in scripts/onnxruntime-wheels.tsv.
Wheels are kept in <cache>/onnxruntime/wheels/, libraries in <cache>/onnxruntime/<version>/.

    ort.py target            the release target of this machine
    ort.py path [TARGET]     where the library of TARGET lives in the cache (fetches nothing)
    ort.py fetch [TARGET]    fetches and verifies it if needed, prints its path
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLE = HERE / "onnxruntime-wheels.tsv"


@dataclass
class Wheel:
    target: str
    version: str
    wheel: str
    wheel_sha256: str
    member: str
    library_sha256: str

    @property
    def library_name(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    @property
    def platform_tag(self) -> str:
        # onnxruntime-1.31.1-cp311-cp311-<platform>.whl
        return self.wheel[: -len(".whl")].split("-", 4)[4]


def log(message: str) -> None:
    print(f"[setup] {message}", file=sys.stderr)


def cache_dir() -> Path:
    if os.environ.get("VAULT_RAG_CACHE"):
        return Path(os.environ["VAULT_RAG_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vault-rag"


def rows() -> list[Wheel]:
    out = []
    for line in TABLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            out.append(Wheel(*line.split("\t")))
    return out


def lookup(target: str) -> Wheel:
    for row in rows():
        if row.target == target:
            return row
    known = ", ".join(r.target for r in rows())
    sys.exit(f"no ONNX Runtime wheel is pinned for {target} (known: {known})")


def host_target() -> str:
    system = platform.system()
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}.get(machine)
    if arch is None:
        sys.exit(f"unsupported CPU: {machine}")
    if system == "Linux":
        return f"{arch}-unknown-linux-gnu"
    if system == "Darwin":
        return f"{arch}-apple-darwin"
    if system == "Windows" or system.startswith(("MINGW", "MSYS", "CYGWIN")):
        return f"{arch}-pc-windows-msvc"
    sys.exit(f"unsupported operating system: {system}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_path(row: Wheel) -> Path:
    return cache_dir() / "onnxruntime" / row.version / row.library_name


def fetch_wheel(row: Wheel) -> Path:
    """The verified wheel in the cache, downloaded from PyPI when missing."""
    wheels = cache_dir() / "onnxruntime" / "wheels"
    wheel = wheels / row.wheel
    if wheel.is_file() and sha256(wheel) == row.wheel_sha256:
        return wheel
    wheels.mkdir(parents=True, exist_ok=True)
    log(f"fetching ONNX Runtime {row.version} for {row.target} from PyPI ({row.wheel})")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
             "--abi", "cp311", "--platform", row.platform_tag, "-d", tmp, f"onnxruntime=={row.version}"],
            check=True,
        )
        got = Path(tmp) / row.wheel
        if not got.is_file():
            sys.exit(f"pip did not download {row.wheel} (got {sorted(os.listdir(tmp))})")
        actual = sha256(got)
        if actual != row.wheel_sha256:
            sys.exit(f"sha256 mismatch for {row.wheel}: expected {row.wheel_sha256}, got {actual}")
        os.replace(got, wheel)
    return wheel


def fetch(row: Wheel) -> Path:
    dest = library_path(row)
    if dest.is_file() and sha256(dest) == row.library_sha256:
        return dest
    wheel = fetch_wheel(row)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    with zipfile.ZipFile(wheel) as z:
        part.write_bytes(z.read(row.member))
    actual = sha256(part)
    if actual != row.library_sha256:
        part.unlink()
        sys.exit(f"sha256 mismatch for {row.member} in {row.wheel}: expected {row.library_sha256}, got {actual}")
    os.replace(part, dest)
    return dest


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("target", "path", "fetch"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "target":
        print(host_target())
        return 0
    row = lookup(argv[1] if len(argv) > 1 else host_target())
    print(library_path(row) if argv[0] == "path" else fetch(row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
