import { defineConfig } from "eslint/config";
import globals from "globals";
import obsidianmd from "eslint-plugin-obsidianmd";
import { DEFAULT_ACRONYMS } from "eslint-plugin-obsidianmd/dist/lib/rules/ui/acronyms.js";

export default defineConfig([
	{ ignores: ["dist/", "node_modules/", "main.js", "coverage/"] },
	...obsidianmd.configs.recommended,
	{
		languageOptions: {
			globals: { ...globals.node },
			parserOptions: {
				projectService: {
					allowDefaultProject: ["eslint.config.mjs", "esbuild.config.mjs", "scripts/*.mjs", "test/fixtures/bin/*.mjs"],
				},
				tsconfigRootDir: import.meta.dirname,
			},
		},
		rules: {
			// The product name, "Vault RAG", keeps its acronym.
			"obsidianmd/ui/sentence-case": ["warn", { acronyms: [...DEFAULT_ACRONYMS, "RAG"] }],
			// minAppVersion is below 1.13, so the tab must keep display(); the declarative API would duplicate it.
			"obsidianmd/settings-tab/prefer-setting-definitions": "off",
		},
	},
	{
		// Build and CI scripts report on the terminal; they are not part of the plugin.
		files: ["scripts/**/*.mjs"],
		rules: { "no-console": "off", "obsidianmd/rule-custom-message": "off" },
	},
	{
		// Tests run in Node, where there is no popout window to be compatible with.
		files: ["test/**/*.ts"],
		rules: { "obsidianmd/prefer-window-timers": "off" },
	},
]);
