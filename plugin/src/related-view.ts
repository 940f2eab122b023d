/** The related-notes sidebar view: notes similar to the active one, following the editor. */
import { ItemView, Keymap, TFile, type WorkspaceLeaf } from "obsidian";
import type { Hit } from "./api";
import { BackendError } from "./client";
import { explainText } from "./explain";
import { openHit } from "./navigation";
import { describeError, type SearchService } from "./service";
import type { SupervisorState } from "./supervisor";

export const RELATED_VIEW_TYPE = "vault-rag-related";

export interface RelatedViewOptions {
	service: SearchService;
	relatedOptions: () => { topK: number; excludeLinked: boolean };
	/** Monotonic clock in ms (injected for tests). */
	now?: () => number;
}

/** While the index is incomplete or the note not indexed yet, results are refreshed at most this often. */
const INCOMPLETE_REFRESH_MS = 10_000;

export class RelatedView extends ItemView {
	private readonly options: RelatedViewOptions;
	private readonly now: () => number;
	private controller: AbortController | null = null;
	private shownPath: string | null = null;
	/** The last answer: `retry` when it failed because the service was down (retried as soon as it is up). */
	private lastOutcome: { ok: boolean; complete: boolean; retry: boolean; at: number } | null = null;
	private listEl!: HTMLElement;
	private messageEl!: HTMLElement;

	constructor(leaf: WorkspaceLeaf, options: RelatedViewOptions) {
		super(leaf);
		this.options = options;
		this.now = options.now ?? (() => performance.now());
	}

	getViewType(): string {
		return RELATED_VIEW_TYPE;
	}

	getDisplayText(): string {
		return "Related notes";
	}

	override getIcon(): string {
		return "sparkles";
	}

	/** Path of the note whose related notes are shown (or being fetched). */
	get currentPath(): string | null {
		return this.shownPath;
	}

	override async onOpen(): Promise<void> {
		this.contentEl.empty();
		this.contentEl.addClass("vault-rag-related");
		this.messageEl = this.contentEl.createDiv({ cls: "vault-rag-related-message" });
		this.listEl = this.contentEl.createDiv({ cls: "vault-rag-related-list" });
		this.registerEvent(this.app.workspace.on("active-leaf-change", () => void this.refresh()));
		this.registerEvent(this.app.workspace.on("file-open", () => void this.refresh()));
		this.register(this.options.service.onStateChange((state) => this.onServiceState(state)));
		await this.refresh();
	}

	override async onClose(): Promise<void> {
		this.controller?.abort();
		this.controller = null;
		await super.onClose();
	}

	/** Shows the notes related to the active note; `force` refetches even if that note is already shown. */
	async refresh(force = false): Promise<void> {
		const file = this.app.workspace.getActiveFile();
		if (!file || file.extension !== "md") {
			this.controller?.abort();
			this.shownPath = null;
			this.listEl.empty();
			this.showMessage("Open a note to see related notes.");
			return;
		}
		if (!force && file.path === this.shownPath) return;
		this.controller?.abort();
		const controller = new AbortController();
		this.controller = controller;
		this.shownPath = file.path;
		const { topK, excludeLinked } = this.options.relatedOptions();
		try {
			const response = await this.options.service.similar(
				{ path: file.path, top_k: topK, exclude_linked: excludeLinked },
				{ signal: controller.signal },
			);
			if (controller.signal.aborted) return;
			this.lastOutcome = { ok: true, complete: response.index_complete, retry: false, at: this.now() };
			this.render(file, response.hits, response.index_complete);
		} catch (err) {
			if (err instanceof BackendError && err.kind === "aborted") return;
			const down = err instanceof BackendError && (err.kind === "unavailable" || err.kind === "connection");
			this.lastOutcome = { ok: false, complete: false, retry: down, at: this.now() };
			this.listEl.empty();
			this.showMessage(describeError(err));
		} finally {
			if (this.controller === controller) this.controller = null;
		}
	}

	private onServiceState(state: SupervisorState): void {
		if (state.kind !== "running" || this.shownPath === null || this.controller !== null) return;
		const last = this.lastOutcome;
		// Health answers arrive every few seconds: refetch when the service came back, and otherwise (an
		// incomplete index, a note not indexed yet) at most every INCOMPLETE_REFRESH_MS.
		const stale = !last || last.retry || (!last.complete && this.now() - last.at >= INCOMPLETE_REFRESH_MS);
		if (stale) void this.refresh(true);
	}

	private render(source: TFile, hits: Hit[], complete: boolean): void {
		this.listEl.empty();
		if (hits.length === 0) {
			this.showMessage(complete ? "No related notes found." : "No related notes yet; the index is still being built.");
			return;
		}
		this.showMessage(complete ? "" : "The index is still being built; results may be incomplete.");
		for (const hit of hits) {
			const item = this.listEl.createDiv({ cls: "vault-rag-related-item tree-item-self is-clickable" });
			const head = item.createDiv({ cls: "vault-rag-related-head" });
			head.createSpan({ cls: "vault-rag-related-title", text: hit.title });
			head.createSpan({ cls: "vault-rag-related-score", text: hit.score.toFixed(2), attr: { "aria-label": explainText(hit) } });
			if (hit.heading_path.length > 0) {
				item.createDiv({ cls: "vault-rag-related-headings", text: hit.heading_path.join(" › ") });
			}
			item.createDiv({ cls: "vault-rag-related-path", text: hit.path });
			item.addEventListener("click", (evt) => {
				void openHit(this.app, hit, Keymap.isModEvent(evt));
			});
			item.addEventListener("mouseover", (evt) => {
				this.app.workspace.trigger("hover-link", {
					event: evt,
					source: RELATED_VIEW_TYPE,
					hoverParent: this,
					targetEl: item,
					linktext: hit.path,
					sourcePath: source.path,
				});
			});
		}
	}

	private showMessage(text: string): void {
		this.messageEl.setText(text);
		this.messageEl.toggleClass("is-empty", text.length === 0);
	}
}
