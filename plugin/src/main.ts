/** Plugin lifecycle: wires the supervisor, views, commands and settings together. */
import * as os from "node:os";
import * as path from "node:path";
import { debounce, FileSystemAdapter, Notice, Plugin, type WorkspaceLeaf } from "obsidian";
import { AskView, ASK_VIEW_TYPE } from "./ask-view";
import { checkBinaryVersion, checkVersion, findBinary, installCommand, loginShellLookup } from "./binary";
import { DownloadModal } from "./download-modal";
import { RelatedView, RELATED_VIEW_TYPE } from "./related-view";
import { SearchModal } from "./search-modal";
import { ServicePanel } from "./service-panel";
import { supervisedService, type SearchService } from "./service";
import { consentKey, loadSettings, needsRestart, serveArgs, type VaultRagSettings } from "./settings";
import { VaultRagSettingTab, type SettingsHost } from "./settings-tab";
import { StatusBar } from "./status-bar";
import { OpenNotes } from "./open-notes";
import { TypingHold } from "./typing-hold";
import { BATTERY_RENEW_MS, BatteryHold, systemBattery } from "./battery-hold";
import { Supervisor, type DownloadRequired } from "./supervisor";

/** Text settings are saved on every keystroke; the backend restarts once typing pauses. */
const RESTART_DEBOUNCE_MS = 1_500;

export default class VaultRagPlugin extends Plugin {
	declare settings: VaultRagSettings;
	supervisor!: Supervisor;
	private service!: SearchService;
	/** The consent question is asked once per session; the settings can ask again. */
	private downloadAsked = false;
	/** Holds indexing while on battery, when the setting asks for it. */
	private battery: BatteryHold | null = null;
	/** The install panel opens by itself once per session; the status bar opens it any time. */
	private panelShown = false;
	private readonly scheduleRestart = debounce(() => void this.supervisor.restart(), RESTART_DEBOUNCE_MS, true);

	override async onload(): Promise<void> {
		this.settings = loadSettings(await this.loadData());
		const vaultPath = this.vaultPath();
		const pluginDir = this.manifest.dir ?? `${this.app.vault.configDir}/plugins/${this.manifest.id}`;
		const command = installCommand(process.platform);
		this.supervisor = new Supervisor({
			findBinary: () =>
				findBinary({
					settingPath: this.settings.binaryPath,
					pluginDir: vaultPath ? path.join(vaultPath, pluginDir) : null,
					envPath: process.env.PATH,
					platform: process.platform,
					home: os.homedir(),
					localAppData: process.env.LOCALAPPDATA,
					loginShellLookup: (name) => loginShellLookup(name),
				}),
			versionCheck: {
				ofBinary: (binary) => checkBinaryVersion(binary, command),
				ofReported: (version, binary) => checkVersion(version, binary, command),
			},
			args: () => serveArgs(this.settings, { vaultPath: vaultPath ?? "", configDir: this.app.vault.configDir }),
			notify: (message) => new Notice(message, 15_000),
		});
		this.service = supervisedService(this.supervisor);

		const statusBar = new StatusBar(
			this.addStatusBarItem(),
			() => this.openServicePanel(),
			() => this.battery?.holding ?? false,
		);
		statusBar.update(this.supervisor.state);
		this.register(this.supervisor.onChange((state) => statusBar.update(state)));
		this.register(
			this.supervisor.onChange((state) => {
				if (state.kind === "needs-download" && !this.downloadAsked) {
					this.downloadAsked = true;
					this.askDownload(state.download);
				}
				if ((state.kind === "missing" || state.kind === "incompatible") && !this.panelShown) {
					this.panelShown = true;
					this.openServicePanel();
				}
			}),
		);

		this.registerView(
			RELATED_VIEW_TYPE,
			(leaf) =>
				new RelatedView(leaf, {
					service: this.service,
					relatedOptions: () => ({
						topK: this.settings.resultsCount,
						excludeLinked: this.settings.relatedExcludeLinked,
					}),
				}),
		);
		this.registerHoverLinkSource(RELATED_VIEW_TYPE, { display: "Vault RAG", defaultMod: true });
		this.registerView(
			ASK_VIEW_TYPE,
			(leaf) =>
				new AskView(leaf, {
					ask: (request, handlers, options) => this.service.ask(request, handlers, options),
					settings: () => this.settings,
					allowRemote: (url) => this.updateSettings({ llmRemoteAllowed: url }),
				}),
		);
		this.registerHoverLinkSource(ASK_VIEW_TYPE, { display: "Vault RAG: Ask", defaultMod: false });

		this.addCommand({ id: "semantic-search", name: "Semantic search", callback: () => this.openSearch() });
		this.addCommand({
			id: "open-related-notes",
			name: "Open related notes",
			callback: () => void this.revealRelated(),
		});
		this.addCommand({ id: "ask-your-vault", name: "Ask your vault", callback: () => void this.revealAsk() });
		this.addCommand({
			id: "show-search-service",
			name: "Show search service status",
			callback: () => this.openServicePanel(),
		});
		this.addCommand({
			id: "restart-search-service",
			name: "Restart search service",
			callback: () => void this.supervisor.restart(),
		});
		this.addSettingTab(new VaultRagSettingTab(this.app, this, this.settingsHost()));

		const indexing = (): boolean => {
			const state = this.supervisor.state;
			return state.kind === "running" && (state.health.status === "indexing" || !state.health.index.complete);
		};
		const typing = new TypingHold({
			now: () => Date.now(),
			active: () => this.settings.pauseIndexingWhileTyping && indexing(),
			send: async (seconds) => {
				const client = this.supervisor.client;
				if (client) await client.indexYield(seconds);
			},
		});
		this.registerEvent(this.app.workspace.on("editor-change", () => typing.onTyping()));
		const battery = new BatteryHold({
			battery: systemBattery,
			// A held pass reports itself paused: the hold goes on until the charger is plugged in.
			active: () =>
				this.settings.pauseIndexingOnBattery &&
				(indexing() || (this.supervisor.state.kind === "running" && this.supervisor.state.health.index.state === "paused")),
			send: async (seconds) => {
				const client = this.supervisor.client;
				if (client) await client.indexYield(seconds);
			},
			changed: () => statusBar.update(this.supervisor.state),
		});
		this.battery = battery;
		this.registerInterval(window.setInterval(() => battery.tick(), BATTERY_RENEW_MS));
		this.register(() => battery.stop());
		const open = new OpenNotes({
			waiting: indexing,
			send: async (paths) => {
				const client = this.supervisor.client;
				if (client) await client.indexFocus(paths);
			},
		});
		this.registerEvent(
			this.app.workspace.on("file-open", (file) => {
				if (file) open.opened(file.path);
			}),
		);
		this.register(this.supervisor.onChange(() => open.onServiceChange()));

		this.app.workspace.onLayoutReady(() => {
			// The notes of the last session go first too (the list is most recent first).
			for (const path of [...this.app.workspace.getLastOpenFiles()].reverse()) open.opened(path);
			if (vaultPath === null) {
				new Notice("Semantic search needs a vault stored in a local folder.");
				return;
			}
			this.supervisor.start();
			void battery.start();
		});
	}

	override onunload(): void {
		this.scheduleRestart.cancel();
		// Obsidian does not wait for this; the process exits on stdin close, SIGTERM, or SIGKILL 3 s later.
		void this.supervisor.stop();
	}

	openSearch(): SearchModal {
		const modal = new SearchModal(this.app, {
			service: this.service,
			searchOptions: () => ({ mode: this.settings.searchMode, topK: this.settings.resultsCount }),
		});
		modal.open();
		return modal;
	}

	revealRelated(): Promise<WorkspaceLeaf | null> {
		return this.revealView(RELATED_VIEW_TYPE);
	}

	revealAsk(): Promise<WorkspaceLeaf | null> {
		return this.revealView(ASK_VIEW_TYPE);
	}

	/** Shows the side view of `type`, opening it in the right sidebar the first time. */
	private async revealView(type: string): Promise<WorkspaceLeaf | null> {
		const { workspace } = this.app;
		let leaf = workspace.getLeavesOfType(type)[0] ?? null;
		if (!leaf) {
			leaf = workspace.getRightLeaf(false);
			if (!leaf) return null;
			await leaf.setViewState({ type, active: true });
		}
		await workspace.revealLeaf(leaf);
		return leaf;
	}

	/** The service's panel: install guidance when it is missing, else where it runs from and its state. */
	openServicePanel(): ServicePanel {
		const panel = new ServicePanel(this.app, {
			state: () => this.supervisor.state,
			binary: () => this.supervisor.binary,
			onChange: (listener) => this.supervisor.onChange(listener),
			checkAgain: () => void this.supervisor.restart(),
			platform: process.platform,
			copy: (text) => void navigator.clipboard.writeText(text),
		});
		panel.open();
		return panel;
	}

	/** Asks before the model is downloaded; a yes is remembered and the service restarts with it. */
	askDownload(download: DownloadRequired): DownloadModal {
		const modal = new DownloadModal(this.app, download, (agreed) => {
			if (!agreed) return;
			const key = consentKey(download.model, download.precision);
			const consent = [...new Set([...this.settings.downloadConsent, key])];
			void this.updateSettings({ downloadConsent: consent });
		});
		modal.open();
		return modal;
	}

	async updateSettings(patch: Partial<VaultRagSettings>): Promise<void> {
		const before = this.settings;
		this.settings = { ...before, ...patch };
		await this.saveData(this.settings);
		if (needsRestart(before, this.settings)) this.scheduleRestart();
		if (before.pauseIndexingOnBattery !== this.settings.pauseIndexingOnBattery) this.battery?.tick();
	}

	private settingsHost(): SettingsHost {
		const settings = (): VaultRagSettings => this.settings;
		return {
			get settings() {
				return settings();
			},
			updateSettings: (patch) => this.updateSettings(patch),
			serviceState: () => this.supervisor.state,
			serviceLog: () => this.supervisor.logTail,
			restartService: () => void this.supervisor.restart(),
			askDownload: (download) => void this.askDownload(download),
			serviceBinary: () => this.supervisor.binary,
			vaultPath: () => this.vaultPath(),
			agentAccess: () => {
				const client = this.supervisor.client;
				return client
					? { port: client.port, token: () => client.agentToken(), rotate: () => client.rotateAgentToken() }
					: null;
			},
		};
	}

	private vaultPath(): string | null {
		const adapter = this.app.vault.adapter;
		return adapter instanceof FileSystemAdapter ? adapter.getBasePath() : null;
	}
}
