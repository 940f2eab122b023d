/** The settings tab: backend and model options, search options, service status and its log. */
import * as fs from "node:fs";
import { PluginSettingTab, Setting, type App, type Plugin } from "obsidian";
import type { SearchMode } from "./api";
import { describeState } from "./status-bar";
import {
	DEFAULT_MODEL,
	MAX_RESULTS,
	MODELS,
	parseFolderList,
	PRECISIONS,
	SEARCH_MODES,
	validateModelSettings,
	type VaultRagSettings,
} from "./settings";
import type { DownloadRequired, SupervisorState } from "./supervisor";

/** What the tab needs from the plugin. */
export interface SettingsHost {
	readonly settings: VaultRagSettings;
	/** Saves a change; restarts the backend (debounced) when the change needs it. */
	updateSettings(patch: Partial<VaultRagSettings>): Promise<void>;
	serviceState(): SupervisorState;
	serviceLog(): readonly string[];
	restartService(): void;
	/** Opens the question before the model's download. */
	askDownload(download: DownloadRequired): void;
	/** Whether a folder exists (the model folder is checked before the service starts). */
	folderExists?(path: string): boolean;
}

type SettingKey = "model" | "dim" | "modelDir" | "precision";

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
		this.render();
	}

	private render(): void {
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
		this.textSetting(
			"Index folder",
			"Where the index is stored. Empty: the per-user data folder (not in the vault).",
			"dataDir",
		);

		new Setting(containerEl).setName("Model").setHeading();
		const modelName = (s.model.trim() || DEFAULT_MODEL).toLowerCase();
		const known = MODELS[modelName];
		const model = new Setting(containerEl)
			.setName("Model")
			.setDesc("The embedding model. Changing it embeds every note again.")
			.addDropdown((dropdown) => {
				dropdown.addOption("", `Default (${MODELS[DEFAULT_MODEL]?.label ?? DEFAULT_MODEL})`);
				for (const [name, info] of Object.entries(MODELS)) {
					if (name !== DEFAULT_MODEL) dropdown.addOption(name, info.label);
				}
				if (s.model.trim() && !known) dropdown.addOption(s.model, s.model);
				dropdown.setValue(s.model.trim().toLowerCase() === DEFAULT_MODEL ? "" : s.model).onChange((value) => {
					// Another model has other widths: go back to its default.
					void this.host.updateSettings({ model: value, dim: 0 }).then(() => this.render());
				});
			});
		const precision = new Setting(containerEl)
			.setName("Precision")
			.setDesc("Weight precision of the model file.")
			.addDropdown((dropdown) => {
				for (const p of PRECISIONS) dropdown.addOption(p, PRECISION_LABELS[p]);
				dropdown.setValue(s.precision).onChange((value) => {
					void this.host.updateSettings({ precision: value });
				});
			});
		const dim = new Setting(containerEl)
			.setName("Dimensions")
			.setDesc("Vector size: a smaller size means a smaller index and slightly lower quality.")
			.addDropdown((dropdown) => {
				dropdown.addOption("0", "Model default");
				for (const d of known?.dims ?? []) dropdown.addOption(String(d), String(d));
				if (s.dim !== 0 && !known?.dims.includes(s.dim)) dropdown.addOption(String(s.dim), String(s.dim));
				dropdown.setValue(String(s.dim)).onChange((value) => {
					void this.host.updateSettings({ dim: Number(value) });
				});
			});
		const modelDir = this.textSetting(
			"Model folder",
			"A local folder laid out like the model's Hugging Face repository. Empty: the model cache (downloaded once, after you agree).",
			"modelDir",
		);
		this.showProblems({ model, precision, dim, modelDir });

		new Setting(containerEl).setName("Search service").setHeading();		new Setting(containerEl).setName("Search service").setHeading();
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
		const state = this.host.serviceState();
		if (state.kind === "needs-download") {
			status.addButton((button) =>
				button
					.setButtonText("Download model")
					.setCta()
					.onClick(() => this.host.askDownload(state.download)),
			);
		}
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

	/** Shows, under each setting, what the plugin sees wrong with it or what the service refused. */
	private showProblems(rows: Record<SettingKey, Setting>): void {
		const exists = (path: string): boolean =>
			this.host.folderExists ? this.host.folderExists(path) : fs.existsSync(path);
		const problems: Partial<Record<SettingKey, string>> = validateModelSettings(this.host.settings, exists);
		const state = this.host.serviceState();
		if (state.kind === "config-error" && state.setting in rows) {
			problems[state.setting as SettingKey] ??= state.message;
		}
		for (const [key, message] of Object.entries(problems)) {
			rows[key as SettingKey].descEl.createDiv({ cls: "vault-rag-setting-error", text: message });
		}
	}

	private textSetting(name: string, desc: string, key: "dataDir" | "modelDir" | "binaryPath"): Setting {
		return new Setting(this.containerEl)
			.setName(name)
			.setDesc(desc)
			.addText((text) =>
				text.setValue(this.host.settings[key]).onChange((value) => {
					void this.host.updateSettings({ [key]: value.trim() });
				}),
			);
	}
}
