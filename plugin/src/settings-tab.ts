/** The settings tab: backend and model options, search options, service status and its log. */
import * as fs from "node:fs";
import { ButtonComponent, PluginSettingTab, requireApiVersion, Setting, type App, type Plugin, type SettingDefinitionItem } from "obsidian";
import type { AgentTokenResponse, SearchMode } from "./api";
import { agentConfigs, httpAgentConfigs, type AgentConfig } from "./agents";
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
	/** The service binary in use and where it was found, when one was. */
	serviceBinary?(): { path: string; source: string } | null;
	/** The vault's folder on disk, for the agents' configuration. */
	vaultPath?(): string | null;
	/** The running service's port and its agent token calls; null while it is not running. */
	agentAccess?(): AgentAccess | null;
}

/** What the agents' HTTP set-up needs from the running service. */
export interface AgentAccess {
	port: number;
	token(): Promise<AgentTokenResponse>;
	rotate(): Promise<AgentTokenResponse>;
}

/** One row: Obsidian 1.13+ renders it from the definition (and finds it in settings search); older versions get the same rows from display(). */
interface Row {
	name: string;
	desc: string;
	render: (setting: Setting) => void;
}

interface Group {
	heading: string;
	rows: Row[];
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

	override getSettingDefinitions(): SettingDefinitionItem[] {
		return this.groups().map((group) => ({
			type: "group",
			heading: group.heading,
			items: group.rows.map((row) => ({ name: row.name, desc: row.desc, render: (setting: Setting) => row.render(setting) })),
		}));
	}

	/** For Obsidian before 1.13, which does not read the definitions. */
	override display(): void {
		this.renderRows();
	}

	private renderRows(): void {
		const { containerEl } = this;
		containerEl.empty();
		for (const group of this.groups()) {
			new Setting(containerEl).setName(group.heading).setHeading();
			for (const row of group.rows) row.render(new Setting(containerEl).setName(row.name).setDesc(row.desc));
		}
	}

	/** After a change that alters other rows (a model's widths). */
	private rerender(): void {
		if (requireApiVersion("1.13.0")) this.update();
		this.renderRows();
	}

	private groups(): Group[] {
		return [
			{ heading: "Search", rows: this.searchRows() },
			{ heading: "Index", rows: this.indexRows() },
			{ heading: "Model", rows: this.modelRows() },
			{ heading: "Search service", rows: this.serviceRows() },
			{ heading: "Ask your vault", rows: this.askRows() },
			{ heading: "Use with AI agents", rows: this.agentRows() },
		];
	}

	private searchRows(): Row[] {
		const s = this.host.settings;
		return [
			{
				name: "Search mode",
				desc: "Hybrid combines meaning and keywords; dense is meaning only; lexical is keywords only.",
				render: (setting) => {
					setting.addDropdown((dropdown) => {
						for (const mode of SEARCH_MODES) dropdown.addOption(mode, mode);
						dropdown.setValue(s.searchMode).onChange((value) => {
							void this.host.updateSettings({ searchMode: value as SearchMode });
						});
					});
				},
			},
			{
				name: "Results count",
				desc: `Notes shown per search and in related notes (1 to ${MAX_RESULTS}).`,
				render: (setting) => {
					setting.addText((text) =>
						text.setValue(String(s.resultsCount)).onChange((value) => {
							const count = Number(value);
							if (Number.isInteger(count) && count >= 1 && count <= MAX_RESULTS) {
								void this.host.updateSettings({ resultsCount: count });
							}
						}),
					);
				},
			},
			{
				name: "Hide linked notes in related notes",
				desc: "Leave out notes that the active note already links to.",
				render: (setting) => {
					setting.addToggle((toggle) =>
						toggle.setValue(s.relatedExcludeLinked).onChange((value) => {
							void this.host.updateSettings({ relatedExcludeLinked: value });
						}),
					);
				},
			},
			{
				name: "Pause indexing while typing",
				desc: "While the vault is being indexed, indexing waits until a few seconds after your last keystroke.",
				render: (setting) => {
					setting.addToggle((toggle) =>
						toggle.setValue(s.pauseIndexingWhileTyping).onChange((value) => {
							void this.host.updateSettings({ pauseIndexingWhileTyping: value });
						}),
					);
				},
			},
			{
				name: "Pause indexing on battery",
				desc: "While this computer runs on battery, indexing waits; it resumes when the charger is plugged in. Search keeps working over what is indexed.",
				render: (setting) => {
					setting.addToggle((toggle) =>
						toggle.setValue(s.pauseIndexingOnBattery).onChange((value) => {
							void this.host.updateSettings({ pauseIndexingOnBattery: value });
						}),
					);
				},
			},
			{
				name: "Index in the background",
				desc: "A first index runs at a lower priority than your other apps, so the computer stays responsive; turn off for the fastest first index.",
				render: (setting) => {
					setting.addToggle((toggle) =>
						toggle.setValue(s.indexInBackground).onChange((value) => {
							void this.host.updateSettings({ indexInBackground: value });
						}),
					);
				},
			},
		];
	}

	private askRows(): Row[] {
		const s = this.host.settings;
		const text = (name: string, desc: string, key: "llmUrl" | "llmModel", placeholder: string): Row => ({
			name,
			desc,
			render: (setting) => {
				setting.addText((input) =>
					input
						.setPlaceholder(placeholder)
						.setValue(s[key])
						.onChange((value) => void this.host.updateSettings({ [key]: value.trim() })),
				);
			},
		});
		return [
			text(
				"Chat endpoint",
				"An OpenAI-compatible endpoint: Ollama http://127.0.0.1:11434/v1, llama.cpp http://127.0.0.1:8080/v1, LM Studio http://127.0.0.1:1234/v1, or a hosted API. An address off this machine receives the passages of your notes that answer a question; you are asked once.",
				"llmUrl",
				"http://127.0.0.1:11434/v1",
			),
			text("Chat model", "The model's name at that endpoint, e.g. llama3.2 or qwen2.5:3b.", "llmModel", "llama3.2"),
			{
				name: "API key",
				desc: "Only for endpoints that need one. Stored in this plugin's data file and sent to the endpoint only.",
				render: (setting) => {
					setting.addText((input) => {
						input.inputEl.type = "password";
						input.setValue(s.llmApiKey).onChange((value) => void this.host.updateSettings({ llmApiKey: value.trim() }));
					});
				},
			},
			{
				name: "Context budget",
				desc: "Tokens of note text sent with a question (100 to 100000). 2500 suits models with a 4k context; raise it for larger ones.",
				render: (setting) => {
					setting.addText((input) =>
						input.setValue(String(s.askBudgetTokens)).onChange((value) => {
							const n = Number(value);
							if (Number.isInteger(n) && n >= 100 && n <= 100_000) void this.host.updateSettings({ askBudgetTokens: n });
						}),
					);
				},
			},
		];
	}

	private indexRows(): Row[] {
		return [
			{
				name: "Excluded folders",
				desc: "One vault folder per line. Files excluded in Obsidian's own settings are skipped too.",
				render: (setting) => {
					setting.addTextArea((area) =>
						area.setValue(this.host.settings.excludedFolders.join("\n")).onChange((value) => {
							void this.host.updateSettings({ excludedFolders: parseFolderList(value) });
						}),
					);
				},
			},
			this.textRow("Index folder", "Where the index is stored. Empty: the per-user data folder (not in the vault).", "dataDir"),
		];
	}

	private modelRows(): Row[] {
		const s = this.host.settings;
		const known = MODELS[(s.model.trim() || DEFAULT_MODEL).toLowerCase()];
		const problems = this.problems();
		const withProblem = (key: SettingKey, render: (setting: Setting) => void) => (setting: Setting) => {
			render(setting);
			const message = problems[key];
			if (message) setting.descEl.createDiv({ cls: "vault-rag-setting-error", text: message });
		};
		return [
			{
				name: "Model",
				desc: "The embedding model. Changing it embeds every note again.",
				render: withProblem("model", (setting) => {
					setting.addDropdown((dropdown) => {
						dropdown.addOption("", `Default (${MODELS[DEFAULT_MODEL]?.label ?? DEFAULT_MODEL})`);
						for (const [name, info] of Object.entries(MODELS)) {
							if (name !== DEFAULT_MODEL) dropdown.addOption(name, info.label);
						}
						if (s.model.trim() && !known) dropdown.addOption(s.model, s.model);
						dropdown.setValue(s.model.trim().toLowerCase() === DEFAULT_MODEL ? "" : s.model).onChange((value) => {
							// Another model has other widths: go back to its default.
							void this.host.updateSettings({ model: value, dim: 0 }).then(() => this.rerender());
						});
					});
				}),
			},
			{
				name: "Precision",
				desc: "Weight precision of the model file.",
				render: withProblem("precision", (setting) => {
					setting.addDropdown((dropdown) => {
						for (const p of PRECISIONS) dropdown.addOption(p, PRECISION_LABELS[p]);
						dropdown.setValue(s.precision).onChange((value) => {
							void this.host.updateSettings({ precision: value });
						});
					});
				}),
			},
			{
				name: "Dimensions",
				desc: "Vector size: a smaller size means a smaller index and slightly lower quality.",
				render: withProblem("dim", (setting) => {
					setting.addDropdown((dropdown) => {
						dropdown.addOption("0", "Model default");
						for (const d of known?.dims ?? []) dropdown.addOption(String(d), String(d));
						if (s.dim !== 0 && !known?.dims.includes(s.dim)) dropdown.addOption(String(s.dim), String(s.dim));
						dropdown.setValue(String(s.dim)).onChange((value) => {
							void this.host.updateSettings({ dim: Number(value) });
						});
					});
				}),
			},
			{
				...this.textRow(
					"Model folder",
					"A local folder laid out like the model's Hugging Face repository. Empty: the model cache (downloaded once, after you agree).",
					"modelDir",
				),
				render: withProblem("modelDir", (setting) => this.textRow("", "", "modelDir").render(setting)),
			},
		];
	}

	private serviceRows(): Row[] {
		const found = this.host.serviceBinary?.() ?? null;
		const where = found ? ` In use: ${found.path} (${found.source}).` : "";
		return [
			this.textRow(
				"Program path",
				`Full path of the vault-rag program. Empty: looked for where the installer puts it, then Cargo, Homebrew and PATH.${where}`,
				"binaryPath",
			),
			{
				name: "Status",
				desc: "",
				render: (status) => {
					status.addButton((button) =>
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
					this.refreshStatus();
				},
			},
			{
				name: "Log",
				desc: "The last lines written by the search service.",
				render: (setting) => {
					setting
						.addButton((button) => button.setButtonText("Refresh").onClick(() => this.refreshStatus()))
						.addButton((button) =>
							button.setButtonText("Copy").onClick(() => {
								void navigator.clipboard.writeText(this.host.serviceLog().join("\n"));
							}),
						);
					// The log takes a full-width line under its row (styles.css).
					setting.settingEl.addClass("vault-rag-log-setting");
					this.logEl = setting.settingEl.createEl("pre", { cls: "vault-rag-log" });
					this.refreshStatus();
				},
			},
		];
	}

	/** For each MCP client, what to paste so that it searches this vault through the service. */
	private agentRows(): Row[] {
		const vault = this.host.vaultPath?.() ?? null;
		if (!vault) return [];
		const binary = this.host.serviceBinary?.()?.path ?? "vault-rag";
		const running = this.host.serviceState().kind === "running";
		const intro: Row = {
			name: "How agents connect",
			desc:
				"Claude, Cursor and other MCP clients can search and read this vault with the tools search_notes, similar_notes, read_note and list_notes. " +
				(running
					? "The service is running: agents set up below use it, with no second model in memory."
					: "While Obsidian's service is not running, an agent starts its own for this vault."),
			render: () => undefined,
		};
		return [
			intro,
			...agentConfigs(binary, vault, process.platform).map((config) => configRow(config)),
			...this.httpAgentRows(),
		];
	}

	/** The HTTP set-up: a fixed port, the agent token (revocable) and what to paste. */
	private httpAgentRows(): Row[] {
		const port = this.host.settings.servicePort;
		const portRow: Row = {
			name: "Service port",
			desc:
				"For agents that connect over HTTP: a fixed port on 127.0.0.1 keeps their configuration valid across restarts. " +
				"0 picks a free port each time (the commands above still work).",
			render: (setting) => {
				setting.addText((text) =>
					text
						.setPlaceholder("0")
						.setValue(port > 0 ? String(port) : "")
						.onChange((value) => {
							const parsed = Number(value.trim() || "0");
							if (Number.isInteger(parsed) && parsed >= 0 && parsed <= 65535) {
								void this.host.updateSettings({ servicePort: parsed });
							}
						}),
				);
			},
		};
		const access = this.host.agentAccess?.() ?? null;
		if (!access) {
			return [portRow, { name: "Over HTTP", desc: "Shown while the service is running.", render: () => undefined }];
		}
		const url = `http://127.0.0.1:${access.port}/mcp`;
		const tokenRow: Row = {
			name: "Agent token",
			desc:
				"Agents over HTTP send this token; it opens only the MCP endpoint, not the plugin's own access. " +
				"Revoke it if a configuration leaked: agents set up with it stop working, the bridge commands above do not.",
			render: (setting) => {
				setting.addButton((button) =>
					button
						.setButtonText("Revoke and make a new one")
						.onClick(() => {
							button.setDisabled(true);
							void access.rotate().finally(() => this.rerender());
						}),
				);
			},
		};
		const configsRow: Row = {
			name: "HTTP configurations",
			desc:
				port > 0
					? `The service listens on ${url}.`
					: `The service listens on ${url} until it restarts: set a service port above for a lasting configuration.`,
			render: (setting) => {
				setting.settingEl.addClass("vault-rag-log-setting");
				const box = setting.settingEl.createDiv({ cls: "vault-rag-agent-http" });
				box.createEl("p", { text: "Loading the agent token…" });
				void access.token().then(
					(reply) => {
						box.empty();
						for (const config of httpAgentConfigs(url, reply.token)) renderConfig(box, config);
					},
					(err: unknown) => {
						box.empty();
						box.createEl("p", { text: `The service did not give the agent token: ${String(err)}` });
					},
				);
			},
		};
		return [portRow, tokenRow, configsRow];
	}

	/** Rewrites the status line and the log tail. */
	refreshStatus(): void {
		const view = describeState(this.host.serviceState());
		this.statusEl?.setText(`${view.text.replace(/^Vault RAG: /, "")}: ${view.tooltip}`);
		this.logEl?.setText(this.host.serviceLog().join("\n"));
	}

	/** What the plugin sees wrong with each model setting, or what the service refused. */
	private problems(): Partial<Record<SettingKey, string>> {
		const exists = (path: string): boolean =>
			this.host.folderExists ? this.host.folderExists(path) : fs.existsSync(path);
		const problems: Partial<Record<SettingKey, string>> = validateModelSettings(this.host.settings, exists);
		const state = this.host.serviceState();
		const keys: readonly string[] = ["model", "dim", "modelDir", "precision"];
		if (state.kind === "config-error" && keys.includes(state.setting)) {
			problems[state.setting as SettingKey] ??= state.message;
		}
		return problems;
	}

	private textRow(name: string, desc: string, key: "dataDir" | "modelDir" | "binaryPath"): Row {
		return {
			name,
			desc,
			render: (setting) => {
				setting.addText((text) =>
					text.setValue(this.host.settings[key]).onChange((value) => {
						void this.host.updateSettings({ [key]: value.trim() });
					}),
				);
			},
		};
	}
}

/** A row with one client's configuration and a copy button. */
function configRow(config: AgentConfig): Row {
	return {
		name: config.client,
		desc: config.where,
		render: (setting) => {
			setting.addButton((button) =>
				button.setButtonText("Copy").onClick(() => {
					void navigator.clipboard.writeText(config.text);
				}),
			);
			setting.settingEl.addClass("vault-rag-log-setting");
			setting.settingEl.createEl("pre", { cls: "vault-rag-agent-config", text: config.text });
		},
	};
}

/** A configuration inside a row (the HTTP ones arrive after the row is drawn). */
function renderConfig(parent: HTMLElement, config: AgentConfig): void {
	const head = parent.createDiv({ cls: "vault-rag-agent-http-head" });
	head.createEl("strong", { text: config.client });
	head.createSpan({ text: ` ${config.where} ` });
	new ButtonComponent(head).setButtonText("Copy").onClick(() => {
		void navigator.clipboard.writeText(config.text);
	});
	parent.createEl("pre", { cls: "vault-rag-agent-config", text: config.text });
}
