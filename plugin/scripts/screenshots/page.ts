/**
 * The screenshot page: renders one of the plugin's real views (chosen by the URL's hash) with data the real service
 * answered for the sample vault (window.SCREENSHOT_DATA, written by scripts/screenshots.mjs).
 */
import type { AskAnswer, HealthResponse, Hit } from "../../src/api";
import { AskView } from "../../src/ask-view";
import { RelatedView } from "../../src/related-view";
import { SearchModal } from "../../src/search-modal";
import type { SearchService } from "../../src/service";
import { ServicePanel } from "../../src/service-panel";
import { VaultRagSettingTab } from "../../src/settings-tab";
import { DEFAULT_SETTINGS } from "../../src/settings";
import type { SupervisorState } from "../../src/supervisor";
import { StatusBar } from "../../src/status-bar";
import { TFile } from "./obsidian-shim";

interface Data {
	query: string;
	search: Hit[];
	notePath: string;
	noteTitle: string;
	noteText: string;
	similar: Hit[];
	health: HealthResponse;
	binary: string;
	port: number;
	agentToken: string | null;
	askQuestion: string;
	ask: AskAnswer;
}

const data = (window as unknown as { SCREENSHOT_DATA: Data }).SCREENSHOT_DATA;
// The settings read `process.platform` (as in Obsidian's Electron renderer); the page shows a Mac.
(globalThis as unknown as { process?: unknown }).process ??= { platform: "darwin", env: {} };
const running: SupervisorState = { kind: "running", health: data.health };
const service: SearchService = {
	search: async () => ({ hits: data.search, index_complete: true }) as never,
	similar: async () => ({ hits: data.similar, index_complete: true }) as never,
	onStateChange: () => () => undefined,
};
const app = {
	workspace: { getActiveFile: () => new TFile(data.notePath), on: () => ({}), trigger: () => undefined },
	vault: { getFileByPath: () => null },
};

/** The window around a view: a ribbon, a note, a status bar. */
function workspace(): { main: HTMLElement; side: HTMLElement } {
	const root = document.body.createDiv("app-container");
	const row = root.createDiv("workspace");
	row.createDiv("workspace-ribbon");
	const main = row.createDiv("workspace-main");
	const side = row.createDiv("workspace-side");
	const status = root.createDiv("status-bar").createDiv("status-bar-item");
	new StatusBar(status).update(running);
	return { main, side };
}

function note(el: HTMLElement): void {
	el.createDiv({ cls: "note-title", text: data.noteTitle });
	// A plain rendering of the note behind the view: headings and paragraphs, markup dropped.
	for (const raw of data.noteText.split(/\n{2,}/)) {
		const para = raw.replace(/\*\*?/g, "").replace(/\s\^[\w-]+/g, "").trim();
		if (para.startsWith("## ")) el.createEl("h2", { text: para.slice(3) });
		else if (para && !para.startsWith("# ")) el.createEl("p", { text: para.replace(/\n- /g, " · ").replace(/^- /, "").replace(/\n/g, " ") });
	}
}

async function scene(name: string): Promise<void> {
	if (name === "search") {
		note(workspace().main);
		const modal = new SearchModal(app as never, {
			service,
			searchOptions: () => ({ mode: "hybrid", topK: 6 }),
			debounceMs: 0,
			timers: { setTimeout: (cb, ms) => window.setTimeout(cb, ms), clearTimeout: (h) => window.clearTimeout(h as number) },
		});
		modal.open();
		await (modal as unknown as { type(q: string): Promise<void> }).type(data.query);
	} else if (name === "related") {
		const { main, side } = workspace();
		note(main);
		const view = new RelatedView({ app } as never, { service, relatedOptions: () => ({ topK: 8, excludeLinked: false }) });
		side.appendChild(view.containerEl);
		view.containerEl.querySelector(".view-header-title")?.setText(view.getDisplayText());
		await view.onOpen();
	} else if (name === "ask") {
		const { main, side } = workspace();
		note(main);
		const answer = data.ask;
		const view = new AskView({ app } as never, {
			// Replays the real service's answer through the view, as the stream would deliver it.
			ask: async (_request, handlers) => {
				handlers.onRetrieval?.({ queries: [data.askQuestion], passages: answer.passages, found: answer.found, hits_considered: 8, took_ms: answer.retrieval_ms });
				for (const piece of answer.answer.match(/\S+\s*/g) ?? []) handlers.onToken?.(piece);
				return answer;
			},
			settings: () => ({ ...DEFAULT_SETTINGS, llmUrl: "http://127.0.0.1:11434/v1", llmModel: "smollm2-135m" }),
			allowRemote: async () => undefined,
		});
		side.appendChild(view.containerEl);
		view.containerEl.querySelector(".view-header-title")?.setText(view.getDisplayText());
		await view.onOpen();
		await view.ask(data.askQuestion, []);
		view.containerEl.querySelector("details")?.setAttribute("open", "");
	} else if (name === "install") {
		note(workspace().main);
		new ServicePanel(app as never, {
			state: () => ({
				kind: "missing",
				reason: "The vault-rag search service is not installed (or not where the plugin looks).",
				looked: ["~/.local/bin/vault-rag", "~/.local/lib/vault-rag/vault-rag", "~/.cargo/bin/vault-rag", "/opt/homebrew/bin/vault-rag"],
			}),
			binary: () => null,
			onChange: () => () => undefined,
			checkAgain: () => undefined,
			platform: "darwin",
			copy: () => undefined,
		}).open();
	} else if (name === "settings" || name === "agents") {
		const frame = document.body.createDiv("modal-container mod-dim").createDiv("modal mod-settings");
		const agentReply = { token: data.agentToken, mcp_path: "/mcp" };
		const tab = new VaultRagSettingTab(app as never, {} as never, {
			settings: {
				...DEFAULT_SETTINGS,
				model: "all-minilm-l6-v2",
				excludedFolders: ["Archive", "Templates"],
				servicePort: data.port,
			},
			updateSettings: async () => undefined,
			serviceState: () => running,
			serviceLog: () => ["[plugin] using ~/.local/bin/vault-rag (the installer's folder, version 0.1.0)", "[plugin] healthy"],
			restartService: () => undefined,
			askDownload: () => undefined,
			folderExists: () => true,
			serviceBinary: () => ({ path: data.binary, source: "the installer's folder" }),
			vaultPath: () => "/Users/you/Notes",
			agentAccess: () => ({ port: data.port, token: async () => agentReply, rotate: async () => agentReply }),
		});
		frame.appendChild(tab.containerEl);
		tab.display();
		// The agents scene shows only the "Use with AI agents" part of the tab.
		const rows = [...tab.containerEl.children] as HTMLElement[];
		const start = rows.findIndex((el) => el.textContent === "Use with AI agents");
		rows.forEach((el, i) => {
			const agents = start >= 0 && i >= start;
			if (agents !== (name === "agents")) el.style.display = "none";
		});
		await new Promise((resolve) => setTimeout(resolve, 0));
	}
	document.body.dataset.ready = "1";
}

void scene(location.hash.slice(1));
