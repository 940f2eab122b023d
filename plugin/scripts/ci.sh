#!/usr/bin/env bash
# The plugin's whole check: install (npm ci), type-check, lint, unit tests, build, integration tests against the
# real backend. Ends with one plain `N passed, N failed` line for the tests.
# Integration tests need the release binary (VAULT_RAG_BIN, default ../target/release/vault-rag) and the test
# model (VAULT_RAG_TEST_MODEL_DIR, default from `make setup`); they fail, not skip, without them.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
	echo "== npm ci"
	npm ci --no-audit --no-fund
fi

echo "== tsc --noEmit"
npx tsc --noEmit
echo "== eslint"
npx eslint --max-warnings 0 .

reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT
status=0

echo "== unit tests"
npx vitest run --reporter=default --reporter=json --outputFile.json="$reports/unit.json" || status=1

echo "== build"
npm run build
for file in main.js manifest.json styles.css; do
	[[ -s "dist/$file" ]] || { echo "dist/$file was not built" >&2; status=1; }
done

echo "== integration tests"
npx vitest run --config vitest.integration.config.ts --reporter=default --reporter=json \
	--outputFile.json="$reports/integration.json" || status=1

node scripts/summary.mjs "$reports/unit.json" "$reports/integration.json" || status=1
exit "$status"
