#!/usr/bin/env bash
# Runs one `vault-rag eval` and keeps its JSON report and the exact command line next to each other:
#   bench/quality/run.sh NAME -- vault-rag eval ARGS...
# writes bench/quality/results/NAME.json and NAME.cmd (what bench/quality/table.py turns into rows).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name=$1; shift
[ "${1:-}" = "--" ] && shift
mkdir -p "$here/results"
# Recorded without this machine's paths: the home folder as ~, the folder around the checkout as ..
cmd="$*"; cmd="${cmd//$HOME\//\~/}"; cmd="${cmd//$(cd "$here/../../.." && pwd)\//../}"
printf '%s\n' "$cmd" > "$here/results/$name.cmd.part"
start=$(date +%s)
"$@" --json > "$here/results/$name.json.part"
mv "$here/results/$name.json.part" "$here/results/$name.json"
mv "$here/results/$name.cmd.part" "$here/results/$name.cmd"
echo "[quality] $name done in $(( $(date +%s) - start )) s" >&2
