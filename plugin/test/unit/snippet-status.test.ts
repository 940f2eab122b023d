import { describe, expect, it } from "vitest";
import { renderSnippet, snippetParts } from "../../src/snippet";
import { describeState, EmbeddingEta, StatusBar } from "../../src/status-bar";
import { healthAnswer } from "../helpers/health";

describe("snippetParts", () => {
	it("splits marked terms from plain text", () => {
		expect(snippetParts("a **b** c **d**")).toEqual([
			{ text: "a ", bold: false },
			{ text: "b", bold: true },
			{ text: " c ", bold: false },
			{ text: "d", bold: true },
		]);
	});

	it("leaves an unpaired marker as text", () => {
		expect(snippetParts("2 ** 3 = 8")).toEqual([{ text: "2 ** 3 = 8", bold: false }]);
		const el = createDiv();
		renderSnippet(el, "**x** and ** y");
		expect(el.textContent).toBe("x and ** y");
		expect(el.querySelectorAll("strong")).toHaveLength(1);
	});
});

describe("status bar", () => {
	it("shows the embedding after the keyword pass with the time left", () => {
		let now = 0;
		const eta = new EmbeddingEta(() => now);
		const at = (missing: number) =>
			healthAnswer({
				status: "indexing",
				index: {
					state: "indexing",
					notes_done: 10000,
					notes_total: 10000,
					complete: false,
					live_updates: "on",
					vectors_missing: missing,
				},
			});
		const first = describeState({ kind: "running", health: at(12000) }, eta.observe(12000));
		expect(first.text).toBe("Vault RAG: embedding 0%");
		expect(first.tooltip).toBe("Keyword search covers all 10,000 notes. Embedding 0 of 12,000 sections, newest notes first.");
		now = 60_000;
		const later = describeState({ kind: "running", health: at(9000) }, eta.observe(9000));
		expect(later.text).toBe("Vault RAG: embedding 25%");
		expect(later.tooltip).toBe(
			"Keyword search covers all 10,000 notes. Embedding 3,000 of 12,000 sections, newest notes first, about 3 min left.",
		);
		// Without an estimate (another view), the count of sections left.
		expect(describeState({ kind: "running", health: at(9000) }).tooltip).toContain("Embedding 9,000 sections");
		// Done: the estimate resets and the bar says ready.
		expect(eta.observe(0)).toBeNull();
		expect(describeState({ kind: "running", health: healthAnswer() }, eta.observe(0)).text).toBe("Vault RAG: ready");
	});

	it("says when indexing waits for the charger, and drops the rate measured before the wait", () => {
		let now = 0;
		const eta = new EmbeddingEta(() => now);
		const paused = healthAnswer({
			status: "ok",
			index: {
				state: "paused",
				notes_done: 10000,
				notes_total: 10000,
				complete: false,
				live_updates: "on",
				vectors_missing: 9000,
			},
		});
		const view = describeState({ kind: "running", health: paused }, null, true);
		expect(view).toMatchObject({ kind: "indexing", text: "Vault RAG: paused on battery" });
		expect(view.tooltip).toContain("resumes on the charger");
		// Nothing left to index: the hold changes nothing the user would see.
		expect(describeState({ kind: "running", health: healthAnswer() }, null, true).text).toBe("Vault RAG: ready");
		eta.observe(12000);
		now = 60_000;
		eta.reset();
		now = 120_000;
		expect(eta.observe(9000)).toEqual({ done: 0, total: 9000, secondsLeft: null });
	});

	it("shows starting, indexing with a percentage, ready and error", () => {
		expect(describeState({ kind: "starting", attempt: 0 }).text).toBe("Vault RAG: starting");
		expect(describeState({ kind: "restarting", attempt: 2, delayMs: 1000, reason: "exited with code 1" }).kind).toBe(
			"starting",
		);
		const indexing = healthAnswer({
			status: "indexing",
			index: { state: "indexing", notes_done: 333, notes_total: 1000, complete: false, live_updates: "on" },
		});
		expect(describeState({ kind: "running", health: indexing }).text).toBe("Vault RAG: indexing 33%");
		const empty = healthAnswer({ status: "indexing", index: { state: "scanning", notes_done: 0, notes_total: 0, complete: false, live_updates: "on" } });
		expect(describeState({ kind: "running", health: empty }).text).toBe("Vault RAG: indexing 0%");
		expect(describeState({ kind: "running", health: healthAnswer() }).text).toBe("Vault RAG: ready");
		const loading = describeState({
			kind: "running",
			health: healthAnswer({ model_loaded: false, model: { state: "loading" }, status: "indexing" }),
		});
		expect(loading).toMatchObject({ kind: "starting", text: "Vault RAG: loading model" });
		expect(describeState({ kind: "running", health: healthAnswer({ status: "error" }) }).kind).toBe("error");
		const failed = describeState({ kind: "failed", reason: "exited with code 1. Last error: error: bad model" });
		expect(failed.text).toBe("Vault RAG: error");
		expect(failed.tooltip).toContain("bad model");
	});

	it("shows the model's download with a percentage, and what stops the service", () => {
		const downloading = describeState({
			kind: "running",
			health: healthAnswer({
				model_loaded: false,
				model: { state: "downloading", file: "onnx/model_quantized.onnx_data", bytes_done: 37_000_000, bytes_total: 100_000_000 },
			}),
		});
		expect(downloading).toMatchObject({ kind: "starting", text: "Vault RAG: downloading model 37%" });
		expect(downloading.tooltip).toContain("37 of 100 MB");
		const settings = describeState({ kind: "config-error", setting: "dim", message: "dimension 300 is not available" });
		expect(settings).toMatchObject({ kind: "error", text: "Vault RAG: check settings", tooltip: "dimension 300 is not available" });
		const needs = describeState({
			kind: "needs-download",
			download: { model: "embeddinggemma-300m", precision: "int8", repo: "r", approx_mb: 345, licence: "l", licence_url: "u" },
		});
		expect(needs.text).toBe("Vault RAG: model needed");
	});

	it("says when the vault folder is gone", () => {
		const gone = describeState({
			kind: "running",
			health: healthAnswer({ index: { state: "idle", notes_done: 3, notes_total: 3, complete: true, live_updates: "vault_missing" } }),
		});
		expect(gone).toMatchObject({ kind: "error", text: "Vault RAG: vault folder missing" });
	});

	it("writes the state into its element", () => {
		const el = createDiv();
		new StatusBar(el).update({ kind: "missing", reason: "no binary.", looked: [] });
		expect(el.textContent).toBe("Vault RAG: not installed");
		expect(el.getAttribute("aria-label")).toBe("no binary. Click for how to install it.");
		expect(el.getAttribute("data-state")).toBe("error");
	});
});
