#!/usr/bin/env bash
# Makes .venv with the pinned Python packages the tests use. Re-run is cheap: a stamp of the
# requirements file skips the install when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
REQ=scripts/requirements-test.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --only-binary=:all: -r "$REQ"
echo "$want" > "$stamp"
echo "[venv] ready: .venv" >&2
