// Bundles src/main.ts into the CommonJS main.js that Obsidian loads, and copies the other two plugin files
// next to it in dist/. `node esbuild.config.mjs` watches; `node esbuild.config.mjs production` builds once.
import { builtinModules } from "node:module";
import { copyFile, mkdir } from "node:fs/promises";
import esbuild from "esbuild";

const production = process.argv[2] === "production";
const outdir = "dist";

const context = await esbuild.context({
	entryPoints: ["src/main.ts"],
	bundle: true,
	format: "cjs",
	platform: "node",
	target: "es2022",
	outfile: `${outdir}/main.js`,
	external: [
		"obsidian",
		"electron",
		"@codemirror/*",
		"@lezer/*",
		...builtinModules,
		...builtinModules.map((name) => `node:${name}`),
	],
	logLevel: "info",
	sourcemap: production ? false : "inline",
	treeShaking: true,
	minify: production,
});

await mkdir(outdir, { recursive: true });
await copyFile("manifest.json", `${outdir}/manifest.json`);
await copyFile("styles.css", `${outdir}/styles.css`);

if (production) {
	await context.rebuild();
	await context.dispose();
} else {
	await context.watch();
}
