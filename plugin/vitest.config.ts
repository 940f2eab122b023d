import { defineConfig } from "vitest/config";

// Unit tests: Obsidian's API comes from obsidian-test-mocks (the `obsidian` package holds types only).
export default defineConfig({
	resolve: {
		alias: [{ find: /^obsidian$/, replacement: "obsidian-test-mocks/obsidian" }],
	},
	test: {
		include: ["test/unit/**/*.test.ts"],
		environment: "happy-dom",
		setupFiles: ["obsidian-test-mocks/vitest-setup"],
		testTimeout: 10_000,
	},
});
