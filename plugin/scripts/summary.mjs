// Prints `N passed, N failed` over vitest JSON reports. A test that never ran because its file failed
// (a failing beforeAll, an import error) counts as failed, and a report that is missing counts as one failure.
import { existsSync, readFileSync } from "node:fs";

let passed = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
	if (!existsSync(file)) {
		console.error(`no test report at ${file}`);
		failed += 1;
		continue;
	}
	const report = JSON.parse(readFileSync(file, "utf8"));
	for (const suite of report.testResults ?? []) {
		const results = suite.assertionResults ?? [];
		const suiteFailed = suite.status === "failed";
		if (suiteFailed && results.length === 0) failed += 1;
		for (const test of results) {
			if (test.status === "passed") passed += 1;
			else if (test.status === "failed" || suiteFailed) failed += 1;
		}
	}
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
