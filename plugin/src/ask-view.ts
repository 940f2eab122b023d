/** The Ask view: questions answered from the vault's notes, streamed, with citations that open the note. */
import { ItemView, Keymap, MarkdownView, Modal, Notice, Setting, type App, type WorkspaceLeaf } from "obsidian";
import type { AskAnswer, AskCitation, AskPassage, AskRequest, AskRetrieval, AskTurn } from "./api";
import { BackendError, type AskHandlers, type AskOptions } from "./client";
import { openHit } from "./navigation";
import { describeError } from "./service";
import { isLoopbackUrl } from "./settings";

export const ASK_VIEW_TYPE = "vault-rag-ask";

/** Earlier turns sent with a follow-up question. */
const HISTORY_TURNS = 6;

export interface AskSettings {
	llmUrl: string;
	llmModel: string;
	llmApiKey: string;
	askBudgetTokens: number;
	llmRemoteAllowed: string;
}

export interface AskViewOptions {
	ask(request: AskRequest, handlers: AskHandlers, options: AskOptions): Promise<AskAnswer>;
	settings: () => AskSettings;
	/** Remembers that the user agreed to send passages to `url`. */
	allowRemote: (url: string) => Promise<void>;
	/** Asks the user whether passages may go to `url` (a modal; injected for tests). */
	confirmRemote?: (app: App, url: string) => Promise<boolean>;
	copy?: (text: string) => void;
}

interface Exchange {
	question: string;
	excluded: string[];
	answer: AskAnswer | null;
	el: HTMLElement;
}

export class AskView extends ItemView {
	private readonly options: AskViewOptions;
	private readonly exchanges: Exchange[] = [];
	private controller: AbortController | null = null;
	/** The editor "Insert into note" writes to: the last Markdown view that was active. */
	private lastEditor: MarkdownView | null = null;
	private logEl!: HTMLElement;
	private inputEl!: HTMLTextAreaElement;
	private askButton!: HTMLButtonElement;
	private stopButton!: HTMLButtonElement;

	constructor(leaf: WorkspaceLeaf, options: AskViewOptions) {
		super(leaf);
		this.options = options;
	}

	getViewType(): string {
		return ASK_VIEW_TYPE;
	}

	getDisplayText(): string {
		return "Ask your vault";
	}

	override getIcon(): string {
		return "message-circle-question";
	}

	get busy(): boolean {
		return this.controller !== null;
	}

	override async onOpen(): Promise<void> {
		this.contentEl.empty();
		this.contentEl.addClass("vault-rag-ask");
		this.logEl = this.contentEl.createDiv({ cls: "vault-rag-ask-log" });
		this.logEl.createDiv({
			cls: "vault-rag-ask-hint",
			text: "Ask a question about your notes. The answer cites the notes it comes from.",
		});
		const form = this.contentEl.createDiv({ cls: "vault-rag-ask-form" });
		this.inputEl = form.createEl("textarea", {
			cls: "vault-rag-ask-input",
			attr: { placeholder: "Ask about your notes… (Enter to send, Shift+Enter for a new line)", rows: "3", "aria-label": "Question" },
		});
		const buttons = form.createDiv({ cls: "vault-rag-ask-buttons" });
		this.askButton = buttons.createEl("button", { cls: "mod-cta", text: "Ask" });
		this.stopButton = buttons.createEl("button", { text: "Stop" });
		const clear = buttons.createEl("button", { text: "New conversation" });
		this.stopButton.disabled = true;
		this.askButton.addEventListener("click", () => void this.submit());
		this.stopButton.addEventListener("click", () => this.stop());
		clear.addEventListener("click", () => this.clear());
		this.inputEl.addEventListener("keydown", (evt) => {
			if (evt.key === "Enter" && !evt.shiftKey && !evt.isComposing) {
				evt.preventDefault();
				void this.submit();
			} else if (evt.key === "Escape" && this.busy) {
				evt.preventDefault();
				this.stop();
			}
		});
		this.registerEvent(
			this.app.workspace.on("active-leaf-change", (leaf) => {
				if (leaf?.view instanceof MarkdownView) this.lastEditor = leaf.view;
			}),
		);
	}

	override async onClose(): Promise<void> {
		this.stop();
		await super.onClose();
	}

	/** Asks what is in the input box. */
	async submit(): Promise<void> {
		const question = this.inputEl.value.trim();
		if (question.length === 0 || this.busy) return;
		this.inputEl.value = "";
		await this.ask(question, []);
	}

	/** Asks `question`, leaving out the passages (or notes) in `excluded`. */
	async ask(question: string, excluded: string[]): Promise<AskAnswer | null> {
		const settings = this.options.settings();
		const url = settings.llmUrl.trim();
		if (url.length > 0 && !isLoopbackUrl(url) && settings.llmRemoteAllowed !== url) {
			const confirm = this.options.confirmRemote ?? confirmRemote;
			if (!(await confirm(this.app, url))) return null;
			await this.options.allowRemote(url);
		}
		this.logEl.querySelector(".vault-rag-ask-hint")?.remove();
		const exchange: Exchange = { question, excluded, answer: null, el: this.logEl.createDiv({ cls: "vault-rag-ask-exchange" }) };
		const history = this.history();
		this.exchanges.push(exchange);
		exchange.el.createDiv({ cls: "vault-rag-ask-question", text: question });
		const status = exchange.el.createDiv({ cls: "vault-rag-ask-status", text: "Searching your notes…" });
		const answerEl = exchange.el.createDiv({ cls: "vault-rag-ask-answer" });
		const passagesEl = exchange.el.createDiv({ cls: "vault-rag-ask-passages" });
		const request: AskRequest = { question, history, budget_tokens: settings.askBudgetTokens, exclude: excluded };
		if (url.length > 0) {
			request.llm = { base_url: url, model: settings.llmModel.trim() || undefined, api_key: settings.llmApiKey || undefined };
		}
		const controller = new AbortController();
		this.setBusy(controller);
		let streamed = "";
		try {
			const answer = await this.options.ask(
				request,
				{
					onRetrieval: (retrieval: AskRetrieval) => {
						status.setText(retrieval.found ? `${retrieval.passages.length} passages from your notes; asking the model…` : "");
						this.renderPassages(passagesEl, exchange, retrieval.passages);
					},
					onToken: (text: string) => {
						streamed += text;
						answerEl.setText(streamed);
						this.logEl.scrollTop = this.logEl.scrollHeight;
					},
				},
				{ signal: controller.signal },
			);
			exchange.answer = answer;
			status.setText(answer.model_called ? "" : "No model was asked: no note matches the question closely enough.");
			this.renderAnswer(answerEl, answer);
			this.renderPassages(passagesEl, exchange, answer.passages);
			this.renderActions(exchange);
			return answer;
		} catch (err) {
			if (err instanceof BackendError && err.kind === "aborted") {
				status.setText("Stopped.");
			} else {
				status.setText(askErrorText(err));
				status.addClass("mod-warning");
			}
			return null;
		} finally {
			this.setBusy(null);
		}
	}

	stop(): void {
		this.controller?.abort();
	}

	clear(): void {
		this.stop();
		this.exchanges.length = 0;
		this.logEl.empty();
	}

	private setBusy(controller: AbortController | null): void {
		this.controller = controller;
		this.askButton.disabled = controller !== null;
		this.stopButton.disabled = controller === null;
	}

	/** The conversation so far, as turns for a follow-up. */
	private history(): AskTurn[] {
		const turns: AskTurn[] = [];
		for (const e of this.exchanges) {
			if (!e.answer?.model_called) continue;
			turns.push({ role: "user", content: e.question }, { role: "assistant", content: e.answer.answer });
		}
		return turns.slice(-HISTORY_TURNS);
	}

	/** The answer's text with each `[n]` as a link that opens the cited place. */
	private renderAnswer(el: HTMLElement, answer: AskAnswer): void {
		el.empty();
		const byNumber = new Map(answer.citations.map((c) => [c.n, c]));
		const pattern = /\[(\d+)\]/g;
		let last = 0;
		for (const match of answer.answer.matchAll(pattern)) {
			el.appendText(answer.answer.slice(last, match.index));
			const citation = byNumber.get(Number(match[1]));
			if (citation) this.citationLink(el, citation);
			else el.appendText(match[0]);
			last = match.index + match[0].length;
		}
		el.appendText(answer.answer.slice(last));
		if (answer.citations.length > 0) {
			const sources = el.createDiv({ cls: "vault-rag-ask-sources" });
			for (const c of answer.citations) {
				const row = sources.createDiv({ cls: "vault-rag-ask-source" });
				this.citationLink(row, c);
				row.appendText(` ${c.link.replace(/^\[\[|\]\]$/g, "").replace("#", " › ")}`);
			}
		}
	}

	private citationLink(parent: HTMLElement, c: AskCitation): void {
		const link = parent.createEl("a", {
			cls: "vault-rag-ask-cite",
			text: `[${c.n}]`,
			attr: { href: "#", "aria-label": `${c.path}, line ${c.line}`, "data-path": c.path, "data-line": String(c.line) },
		});
		link.addEventListener("click", (evt) => {
			evt.preventDefault();
			void openHit(this.app, { path: c.path, line: c.line }, Keymap.isModEvent(evt));
		});
		link.addEventListener("mouseover", (evt) => {
			this.app.workspace.trigger("hover-link", {
				event: evt,
				source: ASK_VIEW_TYPE,
				hoverParent: this,
				targetEl: link,
				linktext: c.path,
				state: { scroll: Math.max(0, c.line - 1) },
			});
		});
	}

	/** The passages that were sent, each with a button that leaves it out and asks again. */
	private renderPassages(el: HTMLElement, exchange: Exchange, passages: AskPassage[]): void {
		el.empty();
		if (passages.length === 0) return;
		const details = el.createEl("details");
		details.createEl("summary", { text: `${passages.length} passages sent (${passages.reduce((n, p) => n + p.tokens, 0)} tokens)` });
		for (const p of passages) {
			const row = details.createDiv({ cls: "vault-rag-ask-passage" });
			const head = row.createDiv({ cls: "vault-rag-ask-passage-head" });
			const title = head.createEl("a", { text: `[${p.n}] ${[p.title, ...p.heading_path.slice(1)].join(" › ")}`, attr: { href: "#" } });
			title.addEventListener("click", (evt) => {
				evt.preventDefault();
				void openHit(this.app, { path: p.path, line: p.line }, Keymap.isModEvent(evt));
			});
			const remove = head.createEl("button", {
				cls: "vault-rag-ask-remove clickable-icon",
				text: "×",
				attr: { "aria-label": "Leave this passage out and ask again" },
			});
			remove.addEventListener("click", () => {
				if (this.busy) return;
				void this.ask(exchange.question, [...exchange.excluded, p.id]);
			});
			row.createDiv({ cls: "vault-rag-ask-passage-path", text: `${p.path}, lines ${p.start_line}–${p.end_line}` });
			row.createDiv({ cls: "vault-rag-ask-passage-text", text: p.text });
		}
	}

	private renderActions(exchange: Exchange): void {
		const answer = exchange.answer;
		if (!answer) return;
		const actions = exchange.el.createDiv({ cls: "vault-rag-ask-actions" });
		const copy = actions.createEl("button", { text: "Copy answer" });
		copy.addEventListener("click", () => {
			(this.options.copy ?? ((text: string) => void navigator.clipboard.writeText(text)))(answer.answer_markdown);
			new Notice("Answer copied.");
		});
		const insert = actions.createEl("button", { text: "Insert into note" });
		insert.addEventListener("click", () => this.insert(answer));
	}

	/** Writes the answer, with wikilinks for its citations, at the cursor of the last note edited. */
	insert(answer: AskAnswer): boolean {
		const view = this.lastEditor ?? this.app.workspace.getActiveViewOfType(MarkdownView);
		if (!view?.file) {
			new Notice("Open a note to insert the answer into.");
			return false;
		}
		view.editor.replaceSelection(`${answer.answer_markdown.trim()}\n`);
		return true;
	}
}

function askErrorText(err: unknown): string {
	if (err instanceof BackendError && err.kind === "http") {
		switch (err.code) {
			case "llm_not_configured":
				return "No chat model is set. Choose one in Settings → Vault RAG → Ask your vault (for example Ollama at http://127.0.0.1:11434/v1).";
			case "llm_unreachable":
				return `The chat model cannot be reached: ${err.message}`;
			case "llm_unauthorized":
				return "The chat endpoint refused the API key. Check it in Settings → Vault RAG → Ask your vault.";
			default:
				if (err.code.startsWith("llm_")) return `The chat model failed: ${err.message}`;
		}
	}
	return describeError(err);
}

/** Asks once whether passages of the user's notes may be sent to an endpoint off this machine. */
function confirmRemote(app: App, url: string): Promise<boolean> {
	return new Promise((resolve) => {
		let answered = false;
		const modal = new Modal(app);
		modal.setTitle("Send note passages off this machine?");
		modal.contentEl.createEl("p", {
			text: `The chat endpoint ${url} is not on this computer. To answer, the passages of your notes that match each question are sent there.`,
		});
		new Setting(modal.contentEl)
			.addButton((b) =>
				b.setButtonText("Cancel").onClick(() => {
					answered = true;
					modal.close();
					resolve(false);
				}),
			)
			.addButton((b) =>
				b
					.setButtonText("Send")
					.setCta()
					.onClick(() => {
						answered = true;
						modal.close();
						resolve(true);
					}),
			);
		modal.onClose = () => {
			if (!answered) resolve(false);
		};
		modal.open();
	});
}
