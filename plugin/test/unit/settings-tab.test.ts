import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
	App,
	ButtonComponent,
	DropdownComponent,
	SettingTab,
	TextAreaComponent,
	TextComponent,
} from "obsidian-test-mocks/obsidian";
import type { Plugin as PluginOriginal } from "obsidian";
import { requireApiVersion } from "obsidian";
import { DEFAULT_SETTINGS, type VaultRagSettings } from "../../src/settings";
import { VaultRagSettingTab, type SettingsHost } from "../../src/settings-tab";
import type { SupervisorState } from "../../src/supervisor";

/** Records every component of one kind created while the tab renders. */
function collect<T>(factory: { create__(el: HTMLElement): T }): T[] {
	const created: T[] = [];
	const original = factory.create__.bind(factory);
	vi.spyOn(factory, "create__").mockImplementation((el: HTMLElement) => {
		const component = original(el);
		created.push(component);
		return component;
	});
	return created;
}

/** The name of the setting row that holds `control`. */
function rowName(control: HTMLElement): string {
	// The mock's row: settingEl > [controlEl > control, infoEl > [nameEl, descEl]].
	const row = control.parentElement?.parentElement;
	return row?.children[1]?.children[0]?.textContent ?? "";
}

/** Obsidian 1.13+ renders the tab from its definitions; older versions call display(). Both are tested. */
let declarative = false;

function render(
	state: SupervisorState = { kind: "stopped" },
	settings: Partial<VaultRagSettings> = {},
	agentAccess: SettingsHost["agentAccess"] = undefined,
) {
	const texts = collect(TextComponent);
	const areas = collect(TextAreaComponent);
	const dropdowns = collect(DropdownComponent);
	const buttons = collect(ButtonComponent);
	const patches: Partial<VaultRagSettings>[] = [];
	let restarts = 0;
	const asked: string[] = [];
	const host: SettingsHost = {
		settings: { ...DEFAULT_SETTINGS, excludedFolders: ["Archive"], ...settings },
		updateSettings: (patch) => {
			patches.push(patch);
			return Promise.resolve();
		},
		serviceState: () => state,
		serviceLog: () => ["[plugin] starting /bin/vault-rag serve", "error: the index is locked"],
		restartService: () => {
			restarts += 1;
		},
		askDownload: (download) => asked.push(download.model),
		folderExists: (path) => path === "/models/here",
		serviceBinary: () => ({ path: "/home/ann/.local/bin/vault-rag", source: "the installer's folder" }),
		vaultPath: () => "/home/ann/Notes",
		agentAccess,
	};
	const app = App.createConfigured__();
	const plugin = {} as PluginOriginal;
	const tab = new VaultRagSettingTab(app.asOriginalType__(), plugin, host);
	// As Obsidian does when the tab is added (1.13+: definitions), then opened.
	if (declarative) {
		if (requireApiVersion("1.13.0")) tab.update();
	}
	SettingTab.fromOriginalType__(tab).renderTab__();
	const text = (name: string) => texts.find((t) => rowName(t.inputEl) === name);
	const dropdown = (name: string) => dropdowns.find((d) => rowName(d.selectEl) === name);
	const errorOf = (name: string) => {
		const rows = [...tab.containerEl.querySelectorAll(".vault-rag-setting-error")];
		const row = rows.find((el) => el.parentElement?.parentElement?.children[0]?.textContent === name);
		return row?.textContent ?? null;
	};
	return { tab, patches, restarts: () => restarts, text, dropdown, areas, buttons, asked, errorOf };
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe.each([
	["display()", false],
	["definitions", true],
])("settings tab, rendered by %s", (_how, fromDefinitions) => {
	beforeEach(() => {
		declarative = fromDefinitions;
	});

	it("saves edits through the host, ignoring invalid numbers", () => {
		const ui = render();
		ui.dropdown("Dimensions")?.setValue("128");
		ui.text("Results count")?.setValue("0");
		ui.text("Results count")?.setValue("25");
		ui.dropdown("Precision")?.setValue("fp32");
		ui.dropdown("Search mode")?.setValue("lexical");
		ui.areas[0]?.setValue("Archive\nPrivate/\n\n");
		expect(ui.patches).toEqual([
			{ dim: 128 },
			{ resultsCount: 25 },
			{ precision: "fp32" },
			{ searchMode: "lexical" },
			{ excludedFolders: ["Archive", "Private"] },
		]);
	});

	it("offers each model's own widths, and a model change goes back to its default width", () => {
		const gemma = render();
		const widths = (ui: ReturnType<typeof render>) =>
			[...(ui.dropdown("Dimensions")?.selectEl.options ?? [])].map((o) => o.value);
		expect(widths(gemma)).toEqual(["0", "768", "512", "256", "128"]);
		gemma.dropdown("Model")?.setValue("all-minilm-l6-v2");
		expect(gemma.patches).toEqual([{ model: "all-minilm-l6-v2", dim: 0 }]);
		vi.restoreAllMocks();
		expect(widths(render({ kind: "stopped" }, { model: "all-minilm-l6-v2" }))).toEqual(["0", "384"]);
	});

	it("shows what is wrong next to the setting: checked here, or refused by the service", () => {
		const local = render({ kind: "stopped" }, { dim: 300, modelDir: "/models/gone" });
		expect(local.errorOf("Dimensions")).toContain("768, 512, 256, 128");
		expect(local.errorOf("Model folder")).toContain("/models/gone");
		expect(local.errorOf("Model")).toBeNull();
		vi.restoreAllMocks();
		const refused = render(
			{ kind: "config-error", setting: "precision", message: "the model folder lacks onnx/model_q4.onnx" },
			{ precision: "q4", modelDir: "/models/here" },
		);
		expect(refused.errorOf("Precision")).toContain("onnx/model_q4.onnx");
		expect(refused.errorOf("Model folder")).toBeNull();
		expect(refused.tab.containerEl.textContent).toContain("check settings");
	});

	it("offers the model's download while the service waits for it", () => {
		const ui = render({
			kind: "needs-download",
			download: {
				model: "embeddinggemma-300m",
				precision: "int8",
				repo: "onnx-community/embeddinggemma-300m-ONNX",
				approx_mb: 345,
				licence: "Gemma Terms of Use",
				licence_url: "https://ai.google.dev/gemma/terms",
			},
		});
		expect(ui.tab.containerEl.textContent).toContain("about 345 MB");
		ui.buttons.find((b) => b.buttonEl.textContent === "Download model")?.simulateClick__();
		expect(ui.asked).toEqual(["embeddinggemma-300m"]);
	});

	it("shows the service state and its log, and restarts it on request", () => {
		const ui = render({ kind: "failed", reason: "exited with code 1. Last error: error: the index is locked" });
		const content = ui.tab.containerEl.textContent;
		expect(content).toContain("error: exited with code 1");
		expect(ui.tab.containerEl.querySelector("pre.vault-rag-log")?.textContent).toBe(
			"[plugin] starting /bin/vault-rag serve\nerror: the index is locked",
		);
		const restart = ui.buttons.find((b) => b.buttonEl.textContent === "Restart");
		restart?.simulateClick__();
		expect(ui.restarts()).toBe(1);
	});

	it("shows each agent the command that uses the running service, with the program's full path", () => {
		const ui = render({ kind: "stopped" });
		const configs = [...ui.tab.containerEl.querySelectorAll("pre.vault-rag-agent-config")].map((el) => el.textContent ?? "");
		expect(configs).toHaveLength(4);
		expect(configs[1]).toBe("claude mcp add vault-rag -- '/home/ann/.local/bin/vault-rag' mcp --vault '/home/ann/Notes'");
		expect(ui.tab.containerEl.textContent).toContain("an agent starts its own");
	});

	it("gives agents over HTTP the URL and the agent token, and revokes the token", async () => {
		let token = "a".repeat(64);
		let rotations = 0;
		const access = {
			port: 51234,
			token: () => Promise.resolve({ token, mcp_path: "/mcp" }),
			rotate: () => {
				rotations += 1;
				token = "b".repeat(64);
				return Promise.resolve({ token, mcp_path: "/mcp" });
			},
		};
		const ui = render({ kind: "stopped" }, { servicePort: 51234 }, () => access);
		await new Promise((resolve) => setTimeout(resolve, 0));
		const configs = () =>
			[...ui.tab.containerEl.querySelectorAll("pre.vault-rag-agent-config")].map((el) => el.textContent ?? "");
		expect(configs()).toHaveLength(7);
		expect(configs()[4]).toBe(
			`claude mcp add --transport http vault-rag http://127.0.0.1:51234/mcp --header "Authorization: Bearer ${"a".repeat(64)}"`,
		);
		expect(JSON.parse(configs()[5] ?? "")).toEqual({
			mcpServers: { "vault-rag": { url: "http://127.0.0.1:51234/mcp", headers: { Authorization: `Bearer ${"a".repeat(64)}` } } },
		});
		expect(ui.text("Service port")?.inputEl.value).toBe("51234");
		const revoke = ui.buttons.find((b) => b.buttonEl.textContent === "Revoke and make a new one");
		revoke?.simulateClick__();
		await new Promise((resolve) => setTimeout(resolve, 0));
		await new Promise((resolve) => setTimeout(resolve, 0));
		expect(rotations).toBe(1);
		expect(configs().join("\n")).toContain("b".repeat(64));
		expect(configs().join("\n")).not.toContain("a".repeat(64));
	});

	it("asks for a fixed port before HTTP configurations can last", () => {
		const ui = render({ kind: "stopped" }, {}, () => ({
			port: 40001,
			token: () => new Promise(() => undefined),
			rotate: () => new Promise(() => undefined),
		}));
		expect(ui.tab.containerEl.textContent).toContain("until it restarts: set a service port above");
		for (const value of ["abc", "70000", "8765", ""]) ui.text("Service port")?.setValue(value);
		expect(ui.patches).toEqual([{ servicePort: 8765 }, { servicePort: 0 }]);
	});

	it("names each heading once and lists every setting for Obsidian's settings search", () => {
		const ui = render();
		expect(ui.tab.containerEl.textContent?.match(/Search service/g)).toHaveLength(1);
		const names = ui.tab
			.getSettingDefinitions()
			.flatMap((item) => ("items" in item ? (item.items ?? []) : [item]))
			.map((item) => ("name" in item ? item.name : ""));
		expect(names).toEqual(expect.arrayContaining(["Search mode", "Model", "Dimensions", "Program path", "Log"]));
	});
});

