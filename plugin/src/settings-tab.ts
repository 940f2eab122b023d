/** The settings tab: backend and model options, search options, service status and its log. */
import { PluginSettingTab, Setting, type App, type Plugin } from "obsidian";
import type { SearchMode } from "./api";
import { describeState } from "./status-bar";
import { MAX_RESULTS, parseFolderList, PRECISIONS, SEARCH_MODES, type VaultRagSettings } from "./settings";
import type { SupervisorState } from "./supervisor";

/** What the tab needs from the plugin. */
export interface SettingsHost {
	readonly settings: VaultRagSettings;
	/** Saves a change; restarts the backend (debounced) when the change needs it. */
	updateSettings(patch: Partial<VaultRagSettings>): Promise<void>;
	serviceState(): SupervisorState;
	serviceLog(): readonly string[];
	restartService(): void;
}

const PRECISION_LABELS: Record<(typeof PRECISIONS)[number], string> = {
	"": "Model default",
	int8: "int8 (smaller, faster)",
	fp32: "fp32 (full precision)",
	q4: "q4 (smallest)",
};

export class VaultRagSettingTab extends PluginSettingTab {
	private readonly host: SettingsHost;
	private logEl: HTMLElement | null = null;
	private statusEl: HTMLElement | null = null;

	constructor(app: App, plugin: Plugin, host: SettingsHost) {
		super(app, plugin);
		this.host = host;
	}

	override display(): void {
		const { containerEl } = this;
		containerEl.empty();
		const s = this.host.settings;

		new Setting(containerEl).setName("Search").setHeading();
		new Setting(containerEl)
			.setName("Search mode")
			.setDesc("Hybrid combines meaning and keywords; dense is meaning only; lexical is keywords only.")
			.addDropdown((dropdown) => {
				for (const mode of SEARCH_MODES) dropdown.addOption(mode, mode);
				dropdown.setValue(s.searchMode).onChange((value) => {
					void this.host.updateSettings({ searchMode: value as SearchMode });
				});
			});
		new Setting(containerEl)
			.setName("Results count")
			.setDesc(`Notes shown per search and in related notes (1 to ${MAX_RESULTS}).`)
			.addText((text) =>
				text.setValue(String(s.resultsCount)).onChange((value) => {
					const count = Number(value);
					if (Number.isInteger(count) && count >= 1 && count <= MAX_RESULTS) {
						void this.host.updateSettings({ resultsCount: count });
					}
				}),
			);
		new Setting(containerEl)
			.setName("Hide linked notes in related notes")
			.setDesc("Leave out notes that the active note already links to.")
			.addToggle((toggle) =>
				toggle.setValue(s.relatedExcludeLinked).onChange((value) => {
					void this.host.updateSettings({ relatedExcludeLinked: value });
				}),
			);

		new Setting(containerEl).setName("Index").setHeading();
		new Setting(containerEl)
			.setName("Excluded folders")
			.setDesc("One vault folder per line. Files excluded in Obsidian's own settings are skipped too.")
			.addTextArea((area) =>
				area.setValue(s.excludedFolders.join("\n")).onChange((value) => {
					void this.host.updateSettings({ excludedFolders: parseFolderList(value) });
				}),
			);
		this.textSetting("Index folder", "Where the index is stored. Empty: the per-user data folder (not in the vault).", "dataDir");

		new Setting(containerEl).setName("Model").setHeading();
		this.textSetting("Model", "Embedding model name. Empty: the default (embeddinggemma-300m).", "model");
		this.textSetting("Model folder", "A local folder holding the model files. Empty: the model cache.", "modelDir");
		new Setting(containerEl)
			.setName("Precision")
			.setDesc("Weight precision of the model file.")
			.addDropdown((dropdown) => {
				for (const precision of PRECISIONS) dropdown.addOption(precision, PRECISION_LABELS[precision]);
				dropdown.setValue(s.precision).onChange((value) => {
					void this.host.updateSettings({ precision: value });
				});
			});
		new Setting(containerEl)
			.setName("Dimensions")
			.setDesc("Vector size (a smaller size means a smaller index). 0: the model's default.")
			.addText((text) =>
				text.setValue(String(s.dim)).onChange((value) => {
					const dim = Number(value);
					if (Number.isInteger(dim) && dim >= 0 && dim <= 8192) void this.host.updateSettings({ dim });
				}),
			);

		new Setting(containerEl).setName("Search service").setHeading();
		this.textSetting(
			"Binary path",
			"Full path of the vault-rag program. Empty: the plugin folder's bin/ folder, then PATH.",
			"binaryPath",
		);
		const status = new Setting(containerEl).setName("Status").addButton((button) =>
			button.setButtonText("Restart").onClick(() => {
				this.host.restartService();
				this.refreshStatus();
			}),
		);
		this.statusEl = status.descEl;
		new Setting(containerEl)
			.setName("Log")
			.setDesc("The last lines written by the search service.")
			.addButton((button) => button.setButtonText("Refresh").onClick(() => this.refreshStatus()))
			.addButton((button) =>
				button.setButtonText("Copy").onClick(() => {
					void navigator.clipboard.writeText(this.host.serviceLog().join("\n"));
				}),
			);
		this.logEl = containerEl.createEl("pre", { cls: "vault-rag-log" });
		this.refreshStatus();
	}

	/** Rewrites the status line and the log tail. */
	refreshStatus(): void {
		const view = describeState(this.host.serviceState());
		this.statusEl?.setText(`${view.text.replace(/^Vault RAG: /, "")}: ${view.tooltip}`);
		this.logEl?.setText(this.host.serviceLog().join("\n"));
	}

	private textSetting(name: string, desc: string, key: "dataDir" | "model" | "modelDir" | "binaryPath"): void {
		new Setting(this.containerEl)
			.setName(name)
			.setDesc(desc)
			.addText((text) =>
				text.setValue(this.host.settings[key]).onChange((value) => {
					void this.host.updateSettings({ [key]: value.trim() });
				}),
			);
	}
}
