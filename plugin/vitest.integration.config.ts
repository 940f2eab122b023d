import { defineConfig } from "vitest/config";

// Integration tests: the plugin's real supervisor and client against real processes (the vault-rag binary with
// the real MiniLM model, and small Node stand-ins for broken backends). A test that loads the whole plugin takes
// Obsidian's API from obsidian-test-mocks, as the unit tests do.
export default defineConfig({
	resolve: {
		alias: [{ find: /^obsidian$/, replacement: "obsidian-test-mocks/obsidian" }],
	},
	test: {
		include: ["test/integration/**/*.test.ts"],
		environment: "node",
		testTimeout: 240_000,
		hookTimeout: 60_000,
		fileParallelism: false,
	},
});
