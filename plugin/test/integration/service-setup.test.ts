// @vitest-environment happy-dom
/**
 * Installing the service, as a new user meets it: the real plugin (with Obsidian's API from obsidian-test-mocks)
 * in a home folder without the service shows its install panel; once the service is where the installer puts it,
 * "Check again" finds it there and the real backend answers; a service of the wrong version is explained.
 */
import "obsidian-test-mocks/vitest-setup";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { App, ButtonComponent, FileSystemAdapter, Plugin } from "obsidian-test-mocks/obsidian";
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from "vitest";
import { installCommand } from "../../src/binary";
import VaultRagPlugin from "../../src/main";
import { ServicePanel } from "../../src/service-panel";
import { backendBinary, fixtureBin, tempVault, testModelDir, waitFor } from "./env";

const manifest = {
	id: "vault-rag",
	name: "Vault RAG",
	version: "0.1.0",
	minAppVersion: "1.7.2",
	description: "test",
	author: "test",
	isDesktopOnly: true,
};

describe("installing the service", () => {
	let vault: ReturnType<typeof tempVault>;
	let home: string;
	const saved = {
		HOME: process.env.HOME,
		PATH: process.env.PATH,
		SHELL: process.env.SHELL,
		ORT_DYLIB_PATH: process.env.ORT_DYLIB_PATH,
	};
	let plugin: VaultRagPlugin | undefined;
	let modelDir = "";
	let binary = "";
	let runtime = "";
	let opened: MockInstance<() => void> | undefined;
	/** Every panel opened so far, in order. */
	const panels = (): ServicePanel[] => (opened?.mock.contexts ?? []) as ServicePanel[];
	const buttons: ButtonComponent[] = [];

	beforeAll(async () => {
		vault = tempVault();
		// Found before HOME changes: they default to the developer's cache and build.
		modelDir = testModelDir();
		binary = backendBinary();
		runtime =
			process.env.ORT_DYLIB_PATH ?? path.join(os.homedir(), ".cache/vault-rag/onnxruntime/1.31.1/libonnxruntime.so.1.31.1");
		if (!fs.existsSync(runtime)) throw new Error(`ONNX Runtime is missing at ${runtime}: run \`make setup\`.`);
		home = fs.mkdtempSync(path.join(os.tmpdir(), "vault-rag-home-"));
		// A user's machine without the service: nothing on PATH, no login shell that knows it.
		process.env.HOME = home;
		process.env.PATH = path.dirname(process.execPath);
		delete process.env.SHELL;
		// Installed, the service finds ONNX Runtime beside itself.
		delete process.env.ORT_DYLIB_PATH;
		opened = vi.spyOn(ServicePanel.prototype, "open");
		const create = ButtonComponent.create__.bind(ButtonComponent);
		vi.spyOn(ButtonComponent, "create__").mockImplementation((el: HTMLElement) => {
			const made = create(el);
			buttons.push(made);
			return made;
		});
		const app = App.createConfigured__({ adapter: FileSystemAdapter.create__(vault.vault).asOriginalType__() });
		plugin = new VaultRagPlugin(app.asOriginalType__(), { ...manifest, dir: `${app.vault.configDir}/plugins/vault-rag` });
		Plugin.fromOriginalType2__(plugin).data__ = {
			model: "all-minilm-l6-v2",
			modelDir,
			dataDir: vault.dataDir,
		};
		await plugin.onload();
		app.workspace.setLayoutReady__();
	});

	afterAll(async () => {
		await plugin?.supervisor.stop();
		for (const [key, value] of Object.entries(saved)) {
			if (value === undefined) delete process.env[key];
			else process.env[key] = value;
		}
		vi.restoreAllMocks();
		vault.cleanup();
		fs.rmSync(home, { recursive: true, force: true });
	});

	function loaded(): VaultRagPlugin {
		if (!plugin) throw new Error("the plugin did not load");
		return plugin;
	}

	/** The status bar item opens the panel again (the mock closes a modal right after opening it). */
	function reopenPanel(): ServicePanel | undefined {
		Plugin.fromOriginalType2__(loaded()).statusBarItems__[0]?.click();
		return panels().at(-1);
	}

	function click(label: string): void {
		const button = buttons.filter((b) => b.buttonEl.textContent === label).pop();
		if (!button) throw new Error(`no "${label}" button`);
		button.simulateClick__();
	}

	it("shows the install panel when the service is missing", () => {
		expect(loaded().supervisor.state.kind).toBe("missing");
		expect(panels()).toHaveLength(1);
		const panel = panels()[0];
		expect(panel?.titleEl.textContent).toBe("Install the search service");
		expect(panel?.contentEl.querySelector("code")?.textContent).toBe(installCommand(process.platform));
		expect(panel?.contentEl.textContent).toContain(path.join(home, ".local", "bin", "vault-rag"));
	});

	it("finds the service in the installer's folder after \"Check again\", and it answers", async () => {
		// The layout install.sh makes: the program and ONNX Runtime in ~/.local/lib/vault-rag, a link in ~/.local/bin.
		const lib = path.join(home, ".local", "lib", "vault-rag");
		fs.mkdirSync(lib, { recursive: true });
		fs.mkdirSync(path.join(home, ".local", "bin"), { recursive: true });
		fs.copyFileSync(binary, path.join(lib, "vault-rag"));
		fs.chmodSync(path.join(lib, "vault-rag"), 0o755);
		fs.copyFileSync(runtime, path.join(lib, path.basename(runtime)));
		fs.symlinkSync(path.join(lib, "vault-rag"), path.join(home, ".local", "bin", "vault-rag"));
		click("Check again");
		await waitFor("the service to answer", () => loaded().supervisor.state.kind === "running", loaded().supervisor, 120_000);
		expect(loaded().supervisor.binary).toEqual({
			path: path.join(home, ".local", "bin", "vault-rag"),
			source: "the installer's folder",
		});
		const state = loaded().supervisor.state;
		expect(state.kind === "running" && state.health.version).toBe(manifest.version);
		// The panel now says which program runs.
		expect(reopenPanel()?.contentEl.textContent).toContain("found in the installer's folder");
	});

	it("explains a service of the wrong version instead of starting it", async () => {
		await loaded().updateSettings({ binaryPath: fixtureBin("old-version.mjs") });
		click("Restart");
		await waitFor("the version check", () => loaded().supervisor.state.kind === "incompatible", loaded().supervisor);
		const panel = reopenPanel();
		const state = loaded().supervisor.state;
		expect(state.kind === "incompatible" && state.message).toContain("vault-rag 0.0.9, older than this plugin needs");
		expect(loaded().supervisor.pid).toBeUndefined();
		expect(panel?.titleEl.textContent).toBe("Update needed");
		expect(panel?.contentEl.textContent).toContain(installCommand(process.platform));
	});
});
