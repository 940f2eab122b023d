import { describe, expect, it } from "vitest";
import {
	consentKey,
	DEFAULT_SETTINGS,
	loadSettings,
	needsRestart,
	parseFolderList,
	serveArgs,
	validateModelSettings,
} from "../../src/settings";

describe("settings", () => {
	it("loads defaults from nothing and keeps valid stored values", () => {
		expect(loadSettings(null)).toEqual(DEFAULT_SETTINGS);
		const loaded = loadSettings({ model: "all-minilm-l6-v2", dim: 256, searchMode: "dense", resultsCount: 7 });
		expect(loaded.model).toBe("all-minilm-l6-v2");
		expect(loaded.dim).toBe(256);
		expect(loaded.searchMode).toBe("dense");
		expect(loaded.resultsCount).toBe(7);
	});

	it("replaces malformed stored values by defaults", () => {
		const loaded = loadSettings({
			model: 42,
			precision: "fp64",
			dim: -3,
			searchMode: "fuzzy",
			resultsCount: 5000,
			excludedFolders: ["Archive", 7, "", "Private"],
			relatedExcludeLinked: "yes",
		});
		expect(loaded).toEqual({ ...DEFAULT_SETTINGS, excludedFolders: ["Archive", "Private"] });
	});

	it("restarts the backend only for settings the backend reads", () => {
		const base = loadSettings({});
		expect(needsRestart(base, { ...base, searchMode: "lexical", resultsCount: 3 })).toBe(false);
		expect(needsRestart(base, { ...base, model: "all-minilm-l6-v2" })).toBe(true);
		expect(needsRestart(base, { ...base, excludedFolders: ["Archive"] })).toBe(true);
		expect(needsRestart(base, { ...base, excludedFolders: [] })).toBe(false);
	});

	it("parses excluded folders one per line", () => {
		expect(parseFolderList(" Archive/ \n\n/Private\\Old\nArchive\r\n")).toEqual(["Archive", "Private/Old"]);
	});

	it("builds the serve command line", () => {
		const target = { vaultPath: "/home/me/Vault", configDir: ".config-obs" };
		expect(serveArgs(DEFAULT_SETTINGS, target)).toEqual([
			"serve",
			"--host",
			"127.0.0.1",
			"--port",
			"0",
			"--exit-on-stdin-close",
			"--vault",
			"/home/me/Vault",
			"--config-dir",
			".config-obs",
		]);
		const custom = {
			...DEFAULT_SETTINGS,
			model: "all-minilm-l6-v2",
			modelDir: "/models/minilm",
			precision: "int8",
			dim: 128,
			dataDir: "/data/idx",
			excludedFolders: ["Archive"],
		};
		expect(serveArgs({ ...DEFAULT_SETTINGS, servicePort: 8765 }, target).slice(3, 5)).toEqual(["--port", "8765"]);
		expect(loadSettings({ servicePort: 70000 }).servicePort).toBe(0);
		expect(loadSettings({ servicePort: 8765 }).servicePort).toBe(8765);
		expect(serveArgs(custom, target).slice(10)).toEqual([
			"--model",
			"all-minilm-l6-v2",
			"--model-dir",
			"/models/minilm",
			"--precision",
			"int8",
			"--dim",
			"128",
			"--data-dir",
			"/data/idx",
			"--exclude",
			"Archive/**",
		]);
	});

	it("passes --download only for the model and precision the user agreed to, never with a model folder", () => {
		const target = { vaultPath: "/v", configDir: ".config" };
		const agreed = { ...DEFAULT_SETTINGS, downloadConsent: [consentKey("", "")] };
		expect(consentKey("", "")).toBe("embeddinggemma-300m/int8");
		expect(serveArgs(agreed, target)).toContain("--download");
		expect(serveArgs({ ...agreed, precision: "q4" }, target)).not.toContain("--download");
		expect(serveArgs({ ...agreed, modelDir: "/models/x" }, target)).not.toContain("--download");
		expect(serveArgs(DEFAULT_SETTINGS, target)).not.toContain("--download");
		// Background priority is the service's default; only turning it off is passed on.
		expect(serveArgs(DEFAULT_SETTINGS, target)).not.toContain("--index-priority");
		expect(serveArgs({ ...DEFAULT_SETTINGS, indexInBackground: false }, target).slice(-2)).toEqual(["--index-priority", "normal"]);
		expect(loadSettings({ indexInBackground: "no" }).indexInBackground).toBe(true);
		expect(loadSettings({ downloadConsent: ["a/int8", 3] }).downloadConsent).toEqual(["a/int8"]);
	});

	it("checks the model settings it can before the service starts", () => {
		const none = () => false;
		expect(validateModelSettings(DEFAULT_SETTINGS, none)).toEqual({});
		expect(validateModelSettings({ ...DEFAULT_SETTINGS, model: "bert" }, none).model).toContain("Unknown model");
		expect(validateModelSettings({ ...DEFAULT_SETTINGS, model: "all-minilm-l6-v2", dim: 256 }, none).dim).toContain("384");
		expect(validateModelSettings({ ...DEFAULT_SETTINGS, modelDir: "/m" }, none).modelDir).toContain("/m");
		expect(validateModelSettings({ ...DEFAULT_SETTINGS, modelDir: "/m" }, () => true)).toEqual({});
	});
});
