import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App, Scope } from "obsidian-test-mocks/obsidian";
import type { Hit } from "../../src/api";
import { BackendError } from "../../src/client";
import { SearchModal } from "../../src/search-modal";
import { globalTimers } from "../helpers/fake-process";
import { FakeService } from "../helpers/fake-service";
import { hit } from "../helpers/hits";

function setup(): { app: App; service: FakeService; modal: SearchModal } {
	const app = App.createConfigured__({
		files: { "Astronomy/Mars.md": "# Planets\n\n## Mars\n\nThe red planet.\n", "Inbox.md": "hello" },
	});
	const service = new FakeService();
	const modal = new SearchModal(app.asOriginalType__(), {
		service,
		searchOptions: () => ({ mode: "hybrid", topK: 15 }),
		timers: globalTimers,
	});
	return { app, service, modal };
}

const answer = (hits: Hit[], complete = true, coverage = 1) => ({
	hits,
	mode: "hybrid" as const,
	took_ms: 3,
	index_complete: complete,
	dense_coverage: coverage,
});

beforeEach(() => {
	vi.useFakeTimers();
});

afterEach(() => {
	vi.useRealTimers();
});

describe("SearchModal", () => {
	it("waits 200 ms after the last keystroke and sends one search with the settings", async () => {
		const { service, modal } = setup();
		const first = modal.getSuggestions("re");
		await vi.advanceTimersByTimeAsync(100);
		const second = modal.getSuggestions("red planet");
		// The superseded call resolves at once with the current results (none yet).
		await expect(first).resolves.toEqual([]);
		await vi.advanceTimersByTimeAsync(199);
		expect(service.searches).toHaveLength(0);
		await vi.advanceTimersByTimeAsync(1);
		expect(service.searches).toHaveLength(1);
		expect(service.searches[0]?.request).toEqual({ query: "red planet", top_k: 15, mode: "hybrid" });
		const hits = [hit()];
		service.searches[0]?.answer(answer(hits));
		await expect(second).resolves.toEqual(hits);
	});

	it("aborts a search in flight when the query changes, keeping the shown results", async () => {
		const { service, modal } = setup();
		const first = modal.getSuggestions("mars");
		await vi.advanceTimersByTimeAsync(200);
		const shown = [hit()];
		service.searches[0]?.answer(answer(shown));
		await first;

		const stale = modal.getSuggestions("mars rover");
		await vi.advanceTimersByTimeAsync(200);
		expect(service.searches[1]?.signal?.aborted).toBe(false);
		const fresh = modal.getSuggestions("mars rovers");
		expect(service.searches[1]?.signal?.aborted).toBe(true);
		await expect(stale).resolves.toEqual(shown);
		await vi.advanceTimersByTimeAsync(200);
		expect(service.searches).toHaveLength(3);
		service.searches[2]?.answer(answer([]));
		await expect(fresh).resolves.toEqual([]);
	});

	it("passes folder and tag filters typed in the query", async () => {
		const { service, modal } = setup();
		void modal.getSuggestions("moons tag:planets folder:Astronomy");
		await vi.advanceTimersByTimeAsync(200);
		expect(service.searches[0]?.request).toEqual({
			query: "moons",
			tag: "planets",
			folder: "Astronomy",
			top_k: 15,
			mode: "hybrid",
		});
	});

	it("sends nothing for an empty query", async () => {
		const { service, modal } = setup();
		expect(modal.getSuggestions("   ")).toEqual([]);
		await vi.advanceTimersByTimeAsync(1_000);
		expect(service.searches).toHaveLength(0);
	});

	it("shows why there are no results when the service is down", async () => {
		const { service, modal } = setup();
		const result = modal.getSuggestions("mars");
		await vi.advanceTimersByTimeAsync(200);
		service.searches[0]?.fail(
			new BackendError("unavailable", "unavailable", "The search service is starting.", { request: "POST /search" }),
		);
		await expect(result).resolves.toEqual([]);
		expect(modal.emptyStateText).toBe("The search service is starting.");
	});

	it("says when the index is still being built", async () => {
		const { service, modal } = setup();
		const result = modal.getSuggestions("mars");
		await vi.advanceTimersByTimeAsync(200);
		service.searches[0]?.answer(answer([hit()], false));
		await result;
		expect(modal.modalEl.textContent).toContain("The index is still being built");
	});

	it("says how much search by meaning covers while embedding runs", async () => {
		const { service, modal } = setup();
		const result = modal.getSuggestions("mars");
		await vi.advanceTimersByTimeAsync(200);
		service.searches[0]?.answer(answer([hit()], false, 0.376));
		await result;
		expect(modal.modalEl.textContent).toContain(
			"Still embedding: search by meaning covers 37% of the vault so far, keyword matches cover all of it.",
		);
	});

	it("renders title, path, heading path and the snippet with bold terms, as text only", () => {
		const { modal } = setup();
		const el = createDiv();
		modal.renderSuggestion(
			hit({ snippet: 'See **Mars** <img src=x onerror="alert(1)"> and **Phobos**' }),
			el,
		);
		expect(el.querySelector(".vault-rag-result-title")?.textContent).toBe("Mars");
		expect(el.querySelector(".vault-rag-result-path")?.textContent).toBe("Astronomy/Mars.md");
		expect(el.querySelector(".vault-rag-result-headings")?.textContent).toBe("Planets › Mars");
		const snippet = el.querySelector(".vault-rag-result-snippet");
		expect([...(snippet?.querySelectorAll("strong") ?? [])].map((s) => s.textContent)).toEqual(["Mars", "Phobos"]);
		expect(snippet?.querySelector("img")).toBeNull();
		expect(snippet?.textContent).toBe('See Mars <img src=x onerror="alert(1)"> and Phobos');
	});

	it("shows the score, with why the hit ranked as its tooltip", () => {
		const { modal } = setup();
		const el = createDiv();
		modal.renderSuggestion(
			hit({ score: 0.8123, explain: { dense_rank: 1, dense_similarity: 0.61, lexical_rank: 3, matched_terms: ["mar"], fusion: "convex", dense_weight: 0.7 } }),
			el,
		);
		const score = el.querySelector(".vault-rag-result-score");
		expect(score?.textContent).toBe("0.81");
		expect(score?.getAttribute("aria-label")).toBe(
			"Score 0.81\nMeaning: #1, similarity 0.61\nKeywords: #3, matched mar\nBlend: 70 % meaning, 30 % keywords",
		);
	});

	it("opens the note at the hit's line on Enter", async () => {
		const { app, modal } = setup();
		const leaf = app.workspace.getLeaf(false);
		const openFile = vi.spyOn(leaf, "openFile");
		modal.onChooseSuggestion(hit({ line: 12 }), new KeyboardEvent("keydown", { key: "Enter" }));
		await vi.advanceTimersByTimeAsync(0);
		expect(openFile).toHaveBeenCalledTimes(1);
		const [file, state] = openFile.mock.calls[0] ?? [];
		expect(file?.path).toBe("Astronomy/Mars.md");
		expect(state).toEqual({ active: true, eState: { line: 11 } });
		expect(app.workspace.getActiveFile()?.path).toBe("Astronomy/Mars.md");
	});

	it("binds Mod-Enter to choosing the selected hit", () => {
		const register = vi.spyOn(Scope.prototype, "register");
		const { modal } = setup();
		const call = register.mock.calls.find(([modifiers, key]) => key === "Enter" && modifiers?.includes("Mod"));
		expect(call).toBeDefined();
		const choose = vi.spyOn(modal, "selectActiveSuggestion");
		const evt = new KeyboardEvent("keydown", { key: "Enter", ctrlKey: true });
		expect(call?.[2](evt, { key: "Enter", modifiers: "Mod", vkey: "Enter" })).toBe(false);
		expect(choose).toHaveBeenCalledWith(evt);
		register.mockRestore();
	});

	it("opens the note in a new tab on Mod-Enter", async () => {
		const { app, modal } = setup();
		const current = app.workspace.getLeaf(false);
		const getLeaf = vi.spyOn(app.workspace, "getLeaf");
		modal.onChooseSuggestion(hit(), new KeyboardEvent("keydown", { key: "Enter", ctrlKey: true }));
		await vi.advanceTimersByTimeAsync(0);
		expect(getLeaf).toHaveBeenCalledWith("tab");
		const opened = getLeaf.mock.results[0]?.value as typeof current;
		expect(opened).not.toBe(current);
		expect(opened.file__?.path).toBe("Astronomy/Mars.md");
		expect(current.file__).toBeNull();
	});
});
