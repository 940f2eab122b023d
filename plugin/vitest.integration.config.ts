import { defineConfig } from "vitest/config";

// Integration tests: the plugin's real supervisor and client against real processes (the vault-rag binary with
// the real MiniLM model, and small Node stand-ins for broken backends). They import no Obsidian API.
export default defineConfig({
	test: {
		include: ["test/integration/**/*.test.ts"],
		environment: "node",
		testTimeout: 240_000,
		hookTimeout: 60_000,
		fileParallelism: false,
	},
});
