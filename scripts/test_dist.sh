#!/usr/bin/env bash
# The release as a user gets it, on this machine (Linux x86_64):
#   1. scripts/dist.py packs the Linux archive; unpacked into an empty folder, with no
#      ORT_DYLIB_PATH and an empty cache, the binary prints its version, indexes the sample vault
#      and finds a note in it with the small model;
#   2. install.sh, against a local HTTP server, installs it into an empty HOME, and the installed
#      command runs; a tampered archive and a missing one are refused and install nothing;
#   3. the repository root's manifest.json and versions.json equal the plugin's.
# Usage: scripts/test_dist.sh BINARY   (the test build is enough: the packaging is what is tested)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${1:?usage: test_dist.sh BINARY}
MODEL=${VAULT_RAG_TEST_MODEL_DIR:?run make setup first}
PY=${PYTHON:-python3}

passed=0
failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }

work=$(mktemp -d)
server=""
cleanup() {
    [[ -z "$server" ]] || kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The debug binary carries debug info the release profile strips; strip it for a realistic size.
cp "$BIN" "$work/vault-rag"
strip --strip-debug "$work/vault-rag" 2>/dev/null || true
echo "== pack"
"$PY" scripts/dist.py --binary "$work/vault-rag" --out "$work/dist"
archive=$(cd "$work/dist" && ls vault-rag-*-x86_64-unknown-linux-gnu.tar.gz)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

# --- 1. the archive alone -------------------------------------------------------------------
echo "== archive in an empty folder"
mkdir -p "$work/empty" "$work/home" "$work/emptycache"
tar -xzf "$work/dist/$archive" -C "$work/empty"
dir="$work/empty/${archive%.tar.gz}"
for f in vault-rag libonnxruntime.so.1.31.1 LICENSE THIRD-PARTY-NOTICES.txt README.txt; do
    [[ -f "$dir/$f" ]] && ok "archive holds $f" || bad "archive lacks $f"
done
if grep -q "^ort 2.0.0-rc.15" "$dir/THIRD-PARTY-NOTICES.txt" && grep -q "ThirdPartyNotices.txt" "$dir/THIRD-PARTY-NOTICES.txt"; then
    ok "notices name ONNX Runtime's notices and the Rust crates"
else
    bad "notices are incomplete"
fi
# A user's shell: no development variables, an empty cache, the archive's folder as the only copy.
as_user() {
    (cd "$work/empty" && env -u ORT_DYLIB_PATH -u VAULT_RAG_TEST_MODEL_DIR -u XDG_CACHE_HOME \
        HOME="$work/home" VAULT_RAG_CACHE="$work/emptycache" "$@")
}
if out=$(as_user "$dir/vault-rag" --version) && [[ "$out" == "vault-rag $version" ]]; then
    ok "--version prints $out"
else
    bad "--version printed: $out"
fi
if as_user "$dir/vault-rag" index "$ROOT/examples/sample-vault" --model all-minilm-l6-v2 \
    --model-dir "$MODEL" --data-dir "$work/data" > "$work/index.log" 2>&1; then
    ok "index of the sample vault"
else
    bad "index failed: $(tail -n 5 "$work/index.log")"
fi
if out=$(as_user "$dir/vault-rag" search "$ROOT/examples/sample-vault" "jet lag after flying east" \
    --model-dir "$MODEL" --data-dir "$work/data" --json 2>&1) && grep -q 'Circadian Rhythm' <<< "$out"; then
    ok "search answers from the unpacked archive"
else
    bad "search failed: ${out:0:400}"
fi

# --- 2. install.sh against a local server ---------------------------------------------------
echo "== install.sh"
mkdir -p "$work/site/good" "$work/site/tampered" "$work/site/missing"
cp "$work/dist/$archive" "$work/dist/SHA256SUMS" "$work/site/good/"
cp "$work/dist/SHA256SUMS" "$work/site/tampered/"
cp "$work/dist/$archive" "$work/site/tampered/"
printf 'x' | dd of="$work/site/tampered/$archive" bs=1 seek=1000 conv=notrunc 2>/dev/null
cp "$work/dist/SHA256SUMS" "$work/site/missing/"
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PY" -m http.server --bind 127.0.0.1 --directory "$work/site" "$port" > "$work/http.log" 2>&1 &
server=$!
for _ in $(seq 50); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/good/SHA256SUMS" && break
    sleep 0.1
done

install_into() { # name base-url → runs install.sh with a fresh HOME
    mkdir -p "$work/h-$1"
    env -u ORT_DYLIB_PATH -u VAULT_RAG_TEST_MODEL_DIR -u XDG_CACHE_HOME HOME="$work/h-$1" \
        PATH="/usr/bin:/bin" VAULT_RAG_BASE_URL="$2" sh install.sh > "$work/install-$1.log" 2>&1
}
if install_into good "http://127.0.0.1:$port/good" \
    && out=$(env -u ORT_DYLIB_PATH HOME="$work/h-good" "$work/h-good/.local/bin/vault-rag" --version) \
    && [[ "$out" == "vault-rag $version" ]] \
    && grep -q "next:" "$work/install-good.log" && grep -q "is not on your PATH" "$work/install-good.log"; then
    ok "install.sh installs into ~/.local, the command runs and the next step is printed"
else
    bad "install.sh (good): $(cat "$work/install-good.log")"
fi
if [[ -f "$work/h-good/.local/lib/vault-rag/libonnxruntime.so.1.31.1" ]]; then
    ok "ONNX Runtime is installed beside the binary"
else
    bad "no ONNX Runtime in ~/.local/lib/vault-rag"
fi
# Installing again replaces the install in place.
if install_into good "http://127.0.0.1:$port/good" && [[ ! -e "$work/h-good/.local/lib/vault-rag.old" ]]; then
    ok "install.sh over an existing install"
else
    bad "install.sh (again): $(cat "$work/install-good.log")"
fi
if ! install_into tampered "http://127.0.0.1:$port/tampered" \
    && grep -q "checksum mismatch" "$work/install-tampered.log" \
    && [[ ! -e "$work/h-tampered/.local/bin/vault-rag" && ! -e "$work/h-tampered/.local/lib/vault-rag" ]]; then
    ok "a tampered archive is refused and nothing is installed"
else
    bad "install.sh (tampered): $(cat "$work/install-tampered.log")"
fi
if ! install_into missing "http://127.0.0.1:$port/missing" \
    && grep -q "HTTP 404" "$work/install-missing.log" \
    && [[ ! -e "$work/h-missing/.local/bin/vault-rag" ]]; then
    ok "a missing archive is reported (HTTP 404) and nothing is installed"
else
    bad "install.sh (missing): $(cat "$work/install-missing.log")"
fi
if ! install_into nowhere "http://127.0.0.1:$port/no-such-release" \
    && grep -q "SHA256SUMS (HTTP 404)" "$work/install-nowhere.log"; then
    ok "a release without SHA256SUMS is reported"
else
    bad "install.sh (no release): $(cat "$work/install-nowhere.log")"
fi

# --- 3. the community directory's files -----------------------------------------------------
echo "== root copies of the plugin's manifest"
for f in manifest.json versions.json; do
    if cmp -s "$f" "plugin/$f"; then ok "$f equals plugin/$f"; else bad "$f differs from plugin/$f"; fi
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
