import { afterEach, describe, expect, it, vi } from "vitest";
import {
	App,
	ButtonComponent,
	DropdownComponent,
	SettingTab,
	TextAreaComponent,
	TextComponent,
} from "obsidian-test-mocks/obsidian";
import type { Plugin as PluginOriginal } from "obsidian";
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

function render(state: SupervisorState = { kind: "stopped" }) {
	const texts = collect(TextComponent);
	const areas = collect(TextAreaComponent);
	const dropdowns = collect(DropdownComponent);
	const buttons = collect(ButtonComponent);
	const patches: Partial<VaultRagSettings>[] = [];
	let restarts = 0;
	const host: SettingsHost = {
		settings: { ...DEFAULT_SETTINGS, excludedFolders: ["Archive"] },
		updateSettings: (patch) => {
			patches.push(patch);
			return Promise.resolve();
		},
		serviceState: () => state,
		serviceLog: () => ["[plugin] starting /bin/vault-rag serve", "error: the index is locked"],
		restartService: () => {
			restarts += 1;
		},
	};
	const app = App.createConfigured__();
	const plugin = {} as PluginOriginal;
	const tab = new VaultRagSettingTab(app.asOriginalType__(), plugin, host);
	// As Obsidian does when the tab is opened.
	SettingTab.fromOriginalType__(tab).renderTab__();
	const text = (name: string) => texts.find((t) => rowName(t.inputEl) === name);
	const dropdown = (name: string) => dropdowns.find((d) => rowName(d.selectEl) === name);
	return { tab, patches, restarts: () => restarts, text, dropdown, areas, buttons };
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("settings tab", () => {
	it("saves edits through the host, ignoring invalid numbers", () => {
		const ui = render();
		ui.text("Model")?.setValue(" all-minilm-l6-v2 ");
		ui.text("Dimensions")?.setValue("abc");
		ui.text("Dimensions")?.setValue("128");
		ui.text("Results count")?.setValue("0");
		ui.text("Results count")?.setValue("25");
		ui.dropdown("Precision")?.setValue("fp32");
		ui.dropdown("Search mode")?.setValue("lexical");
		ui.areas[0]?.setValue("Archive\nPrivate/\n\n");
		expect(ui.patches).toEqual([
			{ model: "all-minilm-l6-v2" },
			{ dim: 128 },
			{ resultsCount: 25 },
			{ precision: "fp32" },
			{ searchMode: "lexical" },
			{ excludedFolders: ["Archive", "Private"] },
		]);
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
});

