import { describe, expect, it, vi } from "vitest";
import { App, TFile, WorkspaceLeaf } from "obsidian-test-mocks/obsidian";
import { BackendError } from "../../src/client";
import { RELATED_VIEW_TYPE, RelatedView } from "../../src/related-view";
import { FakeService } from "../helpers/fake-service";
import { healthAnswer } from "../helpers/health";
import { hit } from "../helpers/hits";

async function setup(): Promise<{ app: App; service: FakeService; view: RelatedView; clock: { now: number } }> {
	const app = App.createConfigured__({
		files: {
			"Astronomy/Mars.md": "# Mars",
			"Astronomy/Venus.md": "# Venus",
			"Astronomy/Phobos.md": "# Phobos",
			"image.png": "",
		},
	});
	const service = new FakeService();
	const clock = { now: 0 };
	const leaf = WorkspaceLeaf.create2__(app);
	const view = new RelatedView(leaf.asOriginalType3__(), {
		service,
		relatedOptions: () => ({ topK: 8, excludeLinked: true }),
		now: () => clock.now,
	});
	view.load();
	await view.onOpen();
	return { app, service, view, clock };
}

/** Opens `path` in the main area, as a user click would (fires `active-leaf-change`). */
async function activate(app: App, path: string): Promise<void> {
	const leaf = app.workspace.getLeaf(false);
	const file = app.vault.getFileByPath(path);
	if (!(file instanceof TFile)) throw new Error(`no file ${path} in the test vault`);
	await leaf.openFile(file);
	app.workspace.setActiveLeaf(leaf);
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("RelatedView", () => {
	it("asks for notes related to the active note and follows it", async () => {
		const { app, service, view } = await setup();
		expect(view.getViewType()).toBe(RELATED_VIEW_TYPE);
		expect(view.contentEl.textContent).toContain("Open a note to see related notes.");

		await activate(app, "Astronomy/Mars.md");
		expect(service.similars).toHaveLength(1);
		expect(service.similars[0]?.request).toEqual({ path: "Astronomy/Mars.md", top_k: 8, exclude_linked: true });
		service.similars[0]?.answer({
			path: "Astronomy/Mars.md",
			hits: [hit({ path: "Astronomy/Phobos.md", title: "Phobos", score: 0.734, heading_path: [] })],
			index_complete: true,
		});
		await flush();
		const items = view.contentEl.querySelectorAll(".vault-rag-related-item");
		expect(items).toHaveLength(1);
		expect(items[0]?.querySelector(".vault-rag-related-title")?.textContent).toBe("Phobos");
		expect(items[0]?.querySelector(".vault-rag-related-score")?.textContent).toBe("0.73");

		// The same note again (e.g. focus moving between panes) sends nothing new.
		app.workspace.trigger("file-open", app.vault.getFileByPath("Astronomy/Mars.md"));
		expect(service.similars).toHaveLength(1);

		await activate(app, "Astronomy/Venus.md");
		expect(service.similars).toHaveLength(2);
		expect(service.similars[1]?.request.path).toBe("Astronomy/Venus.md");
		expect(view.currentPath).toBe("Astronomy/Venus.md");
	});

	it("aborts the request for a note the user already left", async () => {
		const { app, service, view } = await setup();
		await activate(app, "Astronomy/Mars.md");
		await activate(app, "Astronomy/Venus.md");
		expect(service.similars[0]?.signal?.aborted).toBe(true);
		service.similars[1]?.answer({
			path: "Astronomy/Venus.md",
			hits: [hit({ path: "Astronomy/Mars.md", title: "Mars" })],
			index_complete: true,
		});
		await flush();
		expect(view.contentEl.querySelector(".vault-rag-related-title")?.textContent).toBe("Mars");
	});

	it("opens a related note on click and announces hovers for page preview", async () => {
		const { app, service, view } = await setup();
		await activate(app, "Astronomy/Mars.md");
		service.similars[0]?.answer({
			path: "Astronomy/Mars.md",
			hits: [hit({ path: "Astronomy/Phobos.md", title: "Phobos", line: 3 })],
			index_complete: true,
		});
		await flush();
		const item = view.contentEl.querySelector<HTMLElement>(".vault-rag-related-item");
		const hovers: unknown[] = [];
		app.workspace.on("hover-link", (info: unknown) => hovers.push(info));
		item?.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
		expect(hovers).toHaveLength(1);
		expect(hovers[0]).toMatchObject({
			source: RELATED_VIEW_TYPE,
			linktext: "Astronomy/Phobos.md",
			sourcePath: "Astronomy/Mars.md",
			targetEl: item,
		});

		const openFile = vi.spyOn(app.workspace.getLeaf(false), "openFile");
		item?.dispatchEvent(new MouseEvent("click", { bubbles: true }));
		await flush();
		expect(openFile.mock.calls[0]?.[0]?.path).toBe("Astronomy/Phobos.md");
		expect(openFile.mock.calls[0]?.[1]).toEqual({ active: true, eState: { line: 2 } });
	});

	it("shows a service error and retries once the service is running", async () => {
		const { app, service, view } = await setup();
		await activate(app, "Astronomy/Mars.md");
		service.similars[0]?.fail(
			new BackendError("unavailable", "unavailable", "The search service is starting.", { request: "GET /similar" }),
		);
		await flush();
		expect(view.contentEl.textContent).toContain("The search service is starting.");
		service.emit({ kind: "running", health: healthAnswer() });
		expect(service.similars).toHaveLength(2);
		expect(service.similars[1]?.request.path).toBe("Astronomy/Mars.md");
	});

	it("retries a note missing from the index only every 10 s", async () => {
		const { app, service, view, clock } = await setup();
		await activate(app, "Astronomy/Mars.md");
		service.similars[0]?.fail(
			new BackendError("http", "note_not_found", "not indexed", { request: "GET /similar", status: 404 }),
		);
		await flush();
		expect(view.contentEl.textContent).toContain("This note is not in the index yet.");
		clock.now = 9_999;
		service.emit({ kind: "running", health: healthAnswer() });
		expect(service.similars).toHaveLength(1);
		clock.now = 10_000;
		service.emit({ kind: "running", health: healthAnswer() });
		expect(service.similars).toHaveLength(2);
	});

	it("refreshes incomplete results at most every 10 s while indexing", async () => {
		const { app, service, clock } = await setup();
		await activate(app, "Astronomy/Mars.md");
		service.similars[0]?.answer({ path: "Astronomy/Mars.md", hits: [], index_complete: false });
		await flush();
		clock.now = 5_000;
		service.emit({ kind: "running", health: healthAnswer() });
		expect(service.similars).toHaveLength(1);
		clock.now = 10_000;
		service.emit({ kind: "running", health: healthAnswer() });
		expect(service.similars).toHaveLength(2);
	});

	it("ignores files that are not notes, and unsubscribes when closed", async () => {
		const { app, service, view } = await setup();
		await activate(app, "image.png");
		expect(service.similars).toHaveLength(0);
		expect(service.listenerCount).toBe(1);
		view.unload();
		await view.onClose();
		expect(service.listenerCount).toBe(0);
		await activate(app, "Astronomy/Mars.md");
		expect(service.similars).toHaveLength(0);
	});
});
