import { defineConfig } from "eslint/config";
import globals from "globals";
import obsidianmd from "eslint-plugin-obsidianmd";

export default defineConfig([
	// scripts/screenshots/ is a browser page for README pictures, with its own stand-in of Obsidian's API.
	{ ignores: ["dist/", "node_modules/", "main.js", "coverage/", "scripts/screenshots/"] },
	...obsidianmd.configs.recommended,
	{
		languageOptions: {
			globals: { ...globals.node },
			parserOptions: {
				projectService: {
					allowDefaultProject: ["eslint.config.mjs", "esbuild.config.mjs", "scripts/*.mjs", "test/fixtures/bin/*.mjs"],
					maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 32,
				},
				tsconfigRootDir: import.meta.dirname,
			},
		},
	},
	{
		// Build and CI scripts report on the terminal; they are not part of the plugin.
		files: ["scripts/**/*.mjs"],
		rules: {
			"no-console": "off",
			"obsidianmd/rule-custom-message": "off",
			"no-restricted-globals": "off",
			"obsidianmd/prefer-window-timers": "off",
		},
	},
	{
		// Tests run in Node, where there is no popout window to be compatible with.
		files: ["test/**/*.ts"],
		rules: { "obsidianmd/prefer-window-timers": "off" },
	},
]);
