#!/bin/sh
# Installs the vault-rag service for the current user (macOS, Linux). No administrator rights.
#
#   curl -fsSL https://github.com/vault-rag/vault-rag/releases/latest/download/install.sh | sh
#
# It picks the archive for this OS and CPU from the release, checks it against the release's
# SHA256SUMS, and unpacks it into ~/.local/lib/vault-rag (the binary with ONNX Runtime beside it),
# linked from ~/.local/bin/vault-rag. A wrong checksum or a missing archive installs nothing.
#
# Settings (environment variables):
#   VAULT_RAG_VERSION   a release such as 0.1.0 (default: the latest)
#   VAULT_RAG_BASE_URL  where the archives and SHA256SUMS are (default: the GitHub release)
#   VAULT_RAG_LIB_DIR   where the files go (default: ~/.local/lib/vault-rag)
#   VAULT_RAG_BIN_DIR   where the command is linked (default: ~/.local/bin)
set -eu

REPO_URL="https://github.com/vault-rag/vault-rag"

say() { printf 'vault-rag install: %s\n' "$*"; }
fail() {
    printf 'vault-rag install: error: %s\n' "$*" >&2
    printf 'vault-rag install: nothing was installed.\n' >&2
    exit 1
}

case "$(uname -s)" in
    Linux) os=unknown-linux-gnu ;;
    Darwin) os=apple-darwin ;;
    *) fail "unsupported system $(uname -s): on Windows use install.ps1 (see $REPO_URL)" ;;
esac
case "$(uname -m)" in
    x86_64 | amd64) cpu=x86_64 ;;
    aarch64 | arm64) cpu=aarch64 ;;
    *) fail "unsupported CPU $(uname -m)" ;;
esac
# A shell under Rosetta reports x86_64 on an Apple Silicon Mac: take the native build.
if [ "$os" = apple-darwin ] && [ "$cpu" = x86_64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
    cpu=aarch64
fi
target="$cpu-$os"

if [ -n "${VAULT_RAG_BASE_URL:-}" ]; then
    base=${VAULT_RAG_BASE_URL%/}
elif [ -n "${VAULT_RAG_VERSION:-}" ]; then
    base="$REPO_URL/releases/download/v${VAULT_RAG_VERSION#v}"
else
    base="$REPO_URL/releases/latest/download"
fi
lib_dir=${VAULT_RAG_LIB_DIR:-$HOME/.local/lib/vault-rag}
bin_dir=${VAULT_RAG_BIN_DIR:-$HOME/.local/bin}

# fetch URL FILE: fails with the HTTP status in the message.
fetch() {
    if command -v curl >/dev/null 2>&1; then
        code=$(curl -sSL --retry 2 -o "$2" -w '%{http_code}' "$1") || fail "cannot download $1 (network error)"
        [ "$code" = 200 ] || fail "cannot download $1 (HTTP $code)"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1" || fail "cannot download $1"
    else
        fail "neither curl nor wget is installed"
    fi
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t vault-rag)
trap 'rm -rf "$tmp"' EXIT INT TERM

say "looking for the $target build at $base"
fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS"
line=$(grep -E "  vault-rag-[^ ]+-$target\.tar\.gz\$" "$tmp/SHA256SUMS" | head -n 1 || true)
[ -n "$line" ] || fail "the release has no archive for $target (see $base/SHA256SUMS)"
want=${line%%  *}
archive=${line#*  }

say "downloading $archive"
fetch "$base/$archive" "$tmp/$archive"
got=$(sha256_of "$tmp/$archive")
[ "$got" = "$want" ] || fail "checksum mismatch for $archive: expected $want, got $got (a damaged or altered download)"

mkdir -p "$tmp/unpacked"
tar -xzf "$tmp/$archive" -C "$tmp/unpacked" || fail "cannot unpack $archive"
src="$tmp/unpacked/${archive%.tar.gz}"
[ -x "$src/vault-rag" ] || fail "$archive holds no vault-rag executable"

# Replace the previous install only once the new one is complete.
mkdir -p "$(dirname "$lib_dir")" "$bin_dir"
rm -rf "$lib_dir.new"
cp -R "$src" "$lib_dir.new"
if [ "$os" = apple-darwin ]; then
    # Files fetched by a browser carry Gatekeeper's quarantine flag; these were checked above.
    xattr -dr com.apple.quarantine "$lib_dir.new" 2>/dev/null || true
fi
rm -rf "$lib_dir.old"
[ ! -e "$lib_dir" ] || mv "$lib_dir" "$lib_dir.old"
mv "$lib_dir.new" "$lib_dir"
rm -rf "$lib_dir.old"
ln -sf "$lib_dir/vault-rag" "$bin_dir/vault-rag"

if ! version=$("$bin_dir/vault-rag" --version 2>&1); then
    printf 'vault-rag install: installed in %s, but it does not start:\n%s\n' "$lib_dir" "$version" >&2
    if [ "$os" = apple-darwin ]; then
        printf 'If macOS says it "cannot be opened", run:  xattr -dr com.apple.quarantine "%s"\n' "$lib_dir" >&2
    fi
    exit 1
fi

say "installed $version"
say "  command: $bin_dir/vault-rag"
say "  files:   $lib_dir"
case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) say "$bin_dir is not on your PATH; add it, e.g.:  echo 'export PATH=\"$bin_dir:\$PATH\"' >> ~/.profile" ;;
esac
if [ "$os" = apple-darwin ]; then
    say "if macOS ever blocks it as unverified, run:  xattr -dr com.apple.quarantine \"$lib_dir\""
fi
say "next: in Obsidian, install the Vault RAG plugin and press \"Check again\" in its panel;"
say "      or from a terminal:  vault-rag index /path/to/your/vault"
