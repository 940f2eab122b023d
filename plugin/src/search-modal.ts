/** The "Semantic search" modal: search as you type, open a hit at its line. */
import { Keymap, Platform, SuggestModal, type App } from "obsidian";
import type { Hit, SearchMode, SearchResponse } from "./api";
import { BackendError } from "./client";
import { explainText } from "./explain";
import { openHit } from "./navigation";
import { parseQuery, type ParsedQuery } from "./query";
import { nodeTimers, type Timers } from "./process";
import { describeError, type SearchService } from "./service";
import { renderSnippet } from "./snippet";

export interface SearchModalOptions {
	service: SearchService;
	/** Read when a search is sent, so settings changes apply to the next keystroke. */
	searchOptions: () => { mode: SearchMode; topK: number };
	debounceMs?: number;
	timers?: Timers;
}

export const SEARCH_DEBOUNCE_MS = 200;

export class SearchModal extends SuggestModal<Hit> {
	private readonly options: SearchModalOptions;
	private readonly timers: Timers;
	private readonly debounceMs: number;
	private pending: { resolve: (hits: Hit[]) => void; timer: unknown } | null = null;
	private controller: AbortController | null = null;
	private lastHits: Hit[] = [];
	private readonly statusEl: HTMLElement;

	constructor(app: App, options: SearchModalOptions) {
		super(app);
		this.options = options;
		this.timers = options.timers ?? nodeTimers;
		this.debounceMs = options.debounceMs ?? SEARCH_DEBOUNCE_MS;
		this.limit = 100;
		this.emptyStateText = "Type to search your notes by meaning.";
		this.setPlaceholder("Search notes by meaning… (\"exact phrase\", word*, folder:name, tag:name)");
		const mod = Platform.isMacOS ? "⌘" : "Ctrl";
		this.setInstructions([
			{ command: "↑↓", purpose: "to navigate" },
			{ command: "↵", purpose: "to open" },
			{ command: `${mod} ↵`, purpose: "to open in a new tab" },
			{ command: "esc", purpose: "to dismiss" },
		]);
		this.statusEl = this.modalEl.createDiv({ cls: "vault-rag-search-status" });
		this.scope.register(["Mod"], "Enter", (evt) => {
			this.selectActiveSuggestion(evt);
			return false;
		});
	}

	/**
	 * Debounced: only the last query of a burst of keystrokes reaches the backend. A superseded call resolves at
	 * once with the current results (so the list does not flash empty) and its request, if sent, is aborted.
	 */
	getSuggestions(query: string): Hit[] | Promise<Hit[]> {
		this.cancelPending();
		const parsed = parseQuery(query);
		if (parsed.query.length === 0) {
			this.lastHits = [];
			this.setStatus("");
			this.emptyStateText = "Type to search your notes by meaning.";
			return [];
		}
		return new Promise<Hit[]>((resolve) => {
			const timer = this.timers.setTimeout(() => {
				this.pending = null;
				void this.runSearch(parsed).then(resolve);
			}, this.debounceMs);
			this.pending = { resolve, timer };
		});
	}

	renderSuggestion(hit: Hit, el: HTMLElement): void {
		el.addClass("vault-rag-result");
		const head = el.createDiv({ cls: "vault-rag-result-head" });
		head.createSpan({ cls: "vault-rag-result-title", text: hit.title });
		head.createSpan({ cls: "vault-rag-result-path", text: hit.path });
		// Obsidian shows an element's aria-label as its tooltip: the score explains itself on hover.
		head.createSpan({ cls: "vault-rag-result-score", text: hit.score.toFixed(2), attr: { "aria-label": explainText(hit) } });
		if (hit.heading_path.length > 0) {
			el.createDiv({ cls: "vault-rag-result-headings", text: hit.heading_path.join(" › ") });
		}
		if (hit.snippet.length > 0) {
			renderSnippet(el.createDiv({ cls: "vault-rag-result-snippet" }), hit.snippet);
		}
	}

	onChooseSuggestion(hit: Hit, evt: MouseEvent | KeyboardEvent): void {
		void openHit(this.app, hit, Keymap.isModEvent(evt));
	}

	override onClose(): void {
		this.cancelPending();
		super.onClose();
	}

	private cancelPending(): void {
		if (this.pending) {
			this.timers.clearTimeout(this.pending.timer);
			this.pending.resolve(this.lastHits);
			this.pending = null;
		}
		this.controller?.abort();
		this.controller = null;
	}

	private async runSearch(parsed: ParsedQuery): Promise<Hit[]> {
		const controller = new AbortController();
		this.controller = controller;
		const { mode, topK } = this.options.searchOptions();
		try {
			const response = await this.options.service.search(
				{ ...parsed, top_k: topK, mode },
				{ signal: controller.signal },
			);
			this.lastHits = response.hits;
			this.emptyStateText = "No matching notes.";
			this.setStatus(indexNote(response));
			return response.hits;
		} catch (err) {
			if (err instanceof BackendError && err.kind === "aborted") return this.lastHits;
			this.lastHits = [];
			this.emptyStateText = describeError(err);
			this.setStatus(this.emptyStateText);
			return [];
		} finally {
			if (this.controller === controller) this.controller = null;
		}
	}

	private setStatus(text: string): void {
		this.statusEl.setText(text);
		this.statusEl.toggleClass("is-empty", text.length === 0);
	}
}

/** What the modal says about an index that is still being built ("" once it is complete). */
export function indexNote(response: Pick<SearchResponse, "index_complete" | "dense_coverage">): string {
	const coverage = response.dense_coverage ?? 1;
	if (coverage < 1) {
		const percent = Math.floor(coverage * 100);
		return `Still embedding: search by meaning covers ${percent}% of the vault so far, keyword matches cover all of it.`;
	}
	return response.index_complete ? "" : "The index is still being built; results may be incomplete.";
}
