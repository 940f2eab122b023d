/** The status bar item: starting / loading model / indexing N% / ready / error. */
import type { SupervisorState } from "./supervisor";

export type StatusKind = "off" | "starting" | "indexing" | "ready" | "error";

export interface StatusView {
	kind: StatusKind;
	text: string;
	tooltip: string;
}

/** How far the embedding that follows a first keyword pass has got, as seen by the plugin. */
export interface EmbedProgress {
	done: number;
	total: number;
	/** Null until enough is done to tell. */
	secondsLeft: number | null;
}

/**
 * Estimates the time left from successive counts of sections waiting for a vector: the rate is
 * taken from the first count seen, so it covers whatever the machine is doing meanwhile.
 */
export class EmbeddingEta {
	private start: { at: number; missing: number } | null = null;

	constructor(private readonly now: () => number = () => Date.now()) {}

	/** Forgets the rate (indexing was held: time spent waiting says nothing of its speed). */
	reset(): void {
		this.start = null;
	}

	observe(missing: number): EmbedProgress | null {
		if (missing <= 0) {
			this.start = null;
			return null;
		}
		const at = this.now();
		if (!this.start || missing > this.start.missing) this.start = { at, missing };
		const done = this.start.missing - missing;
		const secs = (at - this.start.at) / 1000;
		const secondsLeft = done > 0 && secs >= 3 ? (missing * secs) / done : null;
		return { done, total: this.start.missing, secondsLeft };
	}
}

export function formatTimeLeft(seconds: number): string {
	if (seconds < 90) return `about ${Math.max(1, Math.round(seconds))} s left`;
	if (seconds < 5400) return `about ${Math.round(seconds / 60)} min left`;
	return `about ${(seconds / 3600).toFixed(1)} h left`;
}

/**
 * `heldOnBattery`: the plugin holds indexing because the computer runs on battery (a setting).
 */
export function describeState(
	state: SupervisorState,
	embedding?: EmbedProgress | null,
	heldOnBattery = false,
): StatusView {
	switch (state.kind) {
		case "stopped":
			return { kind: "off", text: "Vault RAG: off", tooltip: "The search service is stopped." };
		case "starting":
			return { kind: "starting", text: "Vault RAG: starting", tooltip: "Starting the search service…" };
		case "restarting":
			return {
				kind: "starting",
				text: "Vault RAG: starting",
				tooltip: `Restarting the search service (try ${state.attempt}): ${state.reason}`,
			};
		case "failed":
			return { kind: "error", text: "Vault RAG: error", tooltip: state.reason };
		case "missing":
			return { kind: "error", text: "Vault RAG: not installed", tooltip: `${state.reason} Click for how to install it.` };
		case "incompatible":
			return { kind: "error", text: "Vault RAG: update needed", tooltip: state.message };
		case "config-error":
			return { kind: "error", text: "Vault RAG: check settings", tooltip: state.message };
		case "needs-download":
			return {
				kind: "starting",
				text: "Vault RAG: model needed",
				tooltip: `The model ${state.download.model} (about ${state.download.approx_mb} MB) must be downloaded once.`,
			};
		case "running": {
			const { health } = state;
			if (health.status === "error" || health.index.state === "error") {
				return {
					kind: "error",
					text: "Vault RAG: error",
					tooltip: "The index reported an error; see the log in the plugin settings.",
				};
			}
			if (health.index.live_updates === "vault_missing") {
				return {
					kind: "error",
					text: "Vault RAG: vault folder missing",
					tooltip: "The vault folder is gone or was moved. Search still works; changes are indexed again once the folder is back.",
				};
			}
			if (health.model.state === "downloading") {
				const { bytes_done: done, bytes_total: total } = health.model;
				const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
				return {
					kind: "starting",
					text: `Vault RAG: downloading model ${percent}%`,
					tooltip: `Downloading ${health.model_name}: ${formatMb(done)} of ${formatMb(total)} MB (${health.model.file}).`,
				};
			}
			if (!health.model_loaded) {
				return {
					kind: "starting",
					text: "Vault RAG: loading model",
					tooltip: `Loading ${health.model_name}; searches answer once it is ready.`,
				};
			}
			const missing = health.index.vectors_missing ?? 0;
			if (heldOnBattery && (missing > 0 || !health.index.complete)) {
				return {
					kind: "indexing",
					text: "Vault RAG: paused on battery",
					tooltip:
						"Indexing waits while this computer runs on battery and resumes on the charger (see the plugin settings). Search works over what is indexed so far.",
				};
			}
			const written = health.index.notes_total > 0 && health.index.notes_done >= health.index.notes_total;
			if (missing > 0 && written && health.index.state !== "scanning") {
				const notes = health.index.notes_total.toLocaleString("en-US");
				if (!embedding || embedding.total <= 0) {
					return {
						kind: "indexing",
						text: "Vault RAG: embedding",
						tooltip: `Keyword search covers all ${notes} notes. Embedding ${missing.toLocaleString("en-US")} sections, newest notes first.`,
					};
				}
				const percent = Math.min(99, Math.floor((embedding.done / embedding.total) * 100));
				const left = embedding.secondsLeft === null ? "" : `, ${formatTimeLeft(embedding.secondsLeft)}`;
				return {
					kind: "indexing",
					text: `Vault RAG: embedding ${percent}%`,
					tooltip: `Keyword search covers all ${notes} notes. Embedding ${embedding.done.toLocaleString("en-US")} of ${embedding.total.toLocaleString("en-US")} sections, newest notes first${left}.`,
				};
			}
			if (health.status === "indexing" || !health.index.complete) {
				const { notes_done: done, notes_total: total } = health.index;
				const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
				return {
					kind: "indexing",
					text: `Vault RAG: indexing ${percent}%`,
					tooltip: `Indexed ${done} of ${total} notes (${health.index.state}).`,
				};
			}
			return {
				kind: "ready",
				text: "Vault RAG: ready",
				tooltip: `${health.model_name}, ${health.embedding_dim} dimensions, ${health.index.notes_total} notes.`,
			};
		}
	}
}

function formatMb(bytes: number): string {
	return (bytes / 1e6).toFixed(0);
}

export class StatusBar {
	/** `onClick` opens the service's panel; `heldOnBattery` says whether indexing waits for the charger. */
	constructor(
		private readonly el: HTMLElement,
		onClick?: () => void,
		private readonly heldOnBattery: () => boolean = () => false,
	) {
		el.addClass("vault-rag-status");
		if (onClick) {
			el.addClass("mod-clickable");
			el.addEventListener("click", onClick);
		}
	}

	private readonly eta = new EmbeddingEta();

	update(state: SupervisorState): void {
		const missing = state.kind === "running" ? (state.health.index.vectors_missing ?? 0) : 0;
		const held = this.heldOnBattery();
		if (held) this.eta.reset();
		const view = describeState(state, held ? null : this.eta.observe(missing), held);
		this.el.setText(view.text);
		this.el.setAttr("aria-label", view.tooltip);
		this.el.setAttr("data-state", view.kind);
	}
}
