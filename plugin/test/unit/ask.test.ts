import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { App, WorkspaceLeaf } from "obsidian-test-mocks/obsidian";
import type { AskAnswer, AskPassage } from "../../src/api";
import { AskView } from "../../src/ask-view";
import { BackendClient, BackendError } from "../../src/client";
import { isLoopbackUrl } from "../../src/settings";
import { SseParser } from "../../src/sse";
import { FakeService } from "../helpers/fake-service";

const servers: http.Server[] = [];
afterEach(async () => {
	for (const server of servers.splice(0)) {
		server.closeAllConnections();
		await new Promise((resolve) => server.close(resolve));
	}
});

async function serve(handler: http.RequestListener): Promise<BackendClient> {
	const server = http.createServer(handler);
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	servers.push(server);
	return new BackendClient({ port: (server.address() as AddressInfo).port, token: "t" });
}

const passage = (n: number, path: string, line: number): AskPassage => ({
	n,
	id: `${path}#L${line}-${line + 2}`,
	path,
	title: path.replace(/\.md$/, "").split("/").pop() ?? path,
	heading_path: ["Top", "Part"],
	start_line: line,
	end_line: line + 2,
	line,
	link: `[[${path.replace(/\.md$/, "")}#Part]]`,
	text: "Some text.",
	tokens: 3,
});

const answer = (text: string, passages: AskPassage[]): AskAnswer => ({
	answer: text,
	answer_markdown: text.replace("[1]", "[[Astronomy/Mars#Part|1]]"),
	citations: passages.filter((p) => text.includes(`[${p.n}]`)).map((p) => ({ n: p.n, path: p.path, heading: "Part", line: p.line, end_line: p.end_line, link: p.link })),
	dropped_citations: [],
	found: true,
	model_called: true,
	model: "m",
	finish_reason: "stop",
	cancelled: false,
	passages,
	retrieval_ms: 1,
	answer_ms: 2,
});

describe("SseParser", () => {
	it("splits events across arbitrary chunk boundaries and line endings", () => {
		const parser = new SseParser();
		const text = 'event: retrieval\r\ndata: {"a":1}\r\n\r\n: keep-alive\n\nevent: token\ndata: {"text":"x"}\n\ndata: line1\ndata: line2\n\n';
		const events = [];
		for (const ch of text) events.push(...parser.push(ch));
		expect(events).toEqual([
			{ event: "retrieval", data: '{"a":1}' },
			{ event: "token", data: '{"text":"x"}' },
			{ event: "message", data: "line1\nline2" },
		]);
	});
});

describe("BackendClient.ask", () => {
	it("streams the retrieval and tokens, resolves with the answer, and turns an error event into a BackendError", async () => {
		let body = "";
		const client = await serve((req, res) => {
			body = "";
			req.setEncoding("utf8");
			req.on("data", (c: string) => (body += c));
			req.on("end", () => {
				res.writeHead(200, { "Content-Type": "text/event-stream" });
				const p = [passage(1, "Astronomy/Mars.md", 3)];
				res.write(`event: retrieval\ndata: ${JSON.stringify({ queries: ["q"], passages: p, found: true, hits_considered: 1, took_ms: 1 })}\n\n`);
				res.write(`event: token\ndata: {"text":"Red "}\n\nevent: tok`);
				res.write(`en\ndata: {"text":"planet [1]"}\n\n`);
				const final = (JSON.parse(body) as { question: string }).question === "fail"
					? `event: error\ndata: {"error":{"code":"llm_unreachable","message":"cannot reach"}}\n\n`
					: `event: done\ndata: ${JSON.stringify(answer("Red planet [1]", p))}\n\n`;
				res.end(final);
			});
		});
		const tokens: string[] = [];
		let passages = 0;
		const done = await client.ask({ question: "mars?" }, { onRetrieval: (r) => (passages = r.passages.length), onToken: (t) => tokens.push(t) });
		expect(JSON.parse(body)).toMatchObject({ question: "mars?", stream: true });
		expect(passages).toBe(1);
		expect(tokens).toEqual(["Red ", "planet [1]"]);
		expect(done.citations[0]?.path).toBe("Astronomy/Mars.md");
		const err = await client.ask({ question: "fail" }).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(BackendError);
		expect((err as BackendError).code).toBe("llm_unreachable");
	});

	it("gives a JSON error before the stream as a typed error, and closes the connection on abort", async () => {
		let closed = false;
		let requests = 0;
		const client = await serve((req, res) => {
			expect(req.headers.authorization).toBe("Bearer t");
			req.resume();
			// The first request is refused with a JSON body; the second streams until the client leaves.
			if (requests++ === 0) {
				res.writeHead(400, { "Content-Type": "application/json" });
				res.end(JSON.stringify({ error: { code: "llm_not_configured", message: "no model" } }));
				return;
			}
			res.writeHead(200, { "Content-Type": "text/event-stream" });
			res.write(`event: token\ndata: {"text":"a"}\n\n`);
			res.on("close", () => (closed = true));
		});
		const refused = await client.ask({ question: "q" }).catch((e: unknown) => e);
		expect((refused as BackendError).code).toBe("llm_not_configured");
		const controller = new AbortController();
		const pending = client.ask({ question: "q" }, { onToken: () => controller.abort() }, { signal: controller.signal });
		const err = await pending.catch((e: unknown) => e);
		expect((err as BackendError).kind).toBe("aborted");
		for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
		expect(closed).toBe(true);
	});
});

describe("isLoopbackUrl", () => {
	it("tells this machine from others", () => {
		expect(isLoopbackUrl("http://127.0.0.1:11434/v1")).toBe(true);
		expect(isLoopbackUrl("http://localhost:8080/v1")).toBe(true);
		expect(isLoopbackUrl("http://[::1]:1234/v1")).toBe(true);
		expect(isLoopbackUrl("https://api.openai.com/v1")).toBe(false);
		expect(isLoopbackUrl("http://192.168.1.5:11434/v1")).toBe(false);
		expect(isLoopbackUrl("not a url")).toBe(false);
	});
});

describe("AskView", () => {
	async function setup(settings: Partial<{ llmUrl: string; llmRemoteAllowed: string }> = {}) {
		const app = App.createConfigured__({ files: { "Astronomy/Mars.md": "# Mars\n\nRed.\n\n## Part\n\nText." } });
		const service = new FakeService();
		const allowed: string[] = [];
		const confirms: string[] = [];
		let confirmAnswer = true;
		const leaf = WorkspaceLeaf.create2__(app);
		const view = new AskView(leaf.asOriginalType3__(), {
			ask: (r, h, o) => service.ask(r, h, o),
			settings: () => ({ llmUrl: "", llmModel: "m", llmApiKey: "", askBudgetTokens: 2500, llmRemoteAllowed: "", ...settings }),
			allowRemote: async (url) => void allowed.push(url),
			confirmRemote: async (_app, url) => {
				confirms.push(url);
				return confirmAnswer;
			},
		});
		view.load();
		await view.onOpen();
		return { app, service, view, allowed, confirms, setConfirm: (v: boolean) => (confirmAnswer = v) };
	}
	const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

	it("streams the answer, links citations to their lines, and asks again without a removed passage", async () => {
		const { service, view } = await setup();
		const input = view.contentEl.querySelector("textarea");
		if (!input) throw new Error("no input");
		input.value = "What colour is Mars?";
		input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
		await flush();
		expect(service.asks).toHaveLength(1);
		const call = service.asks[0];
		if (!call) throw new Error("no call");
		expect(call.request).toMatchObject({ question: "What colour is Mars?", history: [], budget_tokens: 2500, exclude: [] });
		expect(call.request.llm).toBeUndefined();
		const p = [passage(1, "Astronomy/Mars.md", 5), passage(2, "Astronomy/Venus.md", 1)];
		call.handlers.onRetrieval?.({ queries: [], passages: p, found: true, hits_considered: 2, took_ms: 1 });
		call.handlers.onToken?.("Mars is ");
		call.handlers.onToken?.("red [1].");
		expect(view.contentEl.querySelector(".vault-rag-ask-answer")?.textContent).toBe("Mars is red [1].");
		expect(view.contentEl.querySelectorAll(".vault-rag-ask-passage")).toHaveLength(2);
		call.answer(answer("Mars is red [1].", p));
		await flush();
		const cite = view.contentEl.querySelector<HTMLElement>(".vault-rag-ask-answer .vault-rag-ask-cite");
		expect(cite?.textContent).toBe("[1]");
		expect(cite?.dataset.path).toBe("Astronomy/Mars.md");
		expect(cite?.dataset.line).toBe("5");
		expect(view.contentEl.textContent).toContain("Insert into note");

		// A follow-up carries the conversation; removing a passage asks the same question without it.
		const remove = view.contentEl.querySelectorAll<HTMLButtonElement>(".vault-rag-ask-remove")[1];
		remove?.click();
		await flush();
		expect(service.asks).toHaveLength(2);
		expect(service.asks[1]?.request).toMatchObject({
			question: "What colour is Mars?",
			exclude: ["Astronomy/Venus.md#L1-3"],
			history: [
				{ role: "user", content: "What colour is Mars?" },
				{ role: "assistant", content: "Mars is red [1]." },
			],
		});
		// Stop aborts the request in flight.
		view.stop();
		await flush();
		expect(service.asks[1]?.signal?.aborted).toBe(true);
		expect(view.busy).toBe(false);
		expect(view.contentEl.textContent).toContain("Stopped.");
	});

	it("asks once before sending passages off this machine, and says how to set up a model", async () => {
		const remote = await setup({ llmUrl: "https://api.example.com/v1" });
		remote.setConfirm(false);
		expect(await remote.view.ask("q", [])).toBeNull();
		expect(remote.confirms).toEqual(["https://api.example.com/v1"]);
		expect(remote.service.asks).toHaveLength(0);
		remote.setConfirm(true);
		void remote.view.ask("q", []);
		await flush();
		expect(remote.allowed).toEqual(["https://api.example.com/v1"]);
		expect(remote.service.asks[0]?.request.llm).toMatchObject({ base_url: "https://api.example.com/v1", model: "m" });

		const agreed = await setup({ llmUrl: "https://api.example.com/v1", llmRemoteAllowed: "https://api.example.com/v1" });
		void agreed.view.ask("q", []);
		await flush();
		expect(agreed.confirms).toEqual([]);
		agreed.service.asks[0]?.fail(new BackendError("http", "llm_not_configured", "no model", { request: "POST /ask", status: 400 }));
		await flush();
		expect(agreed.view.contentEl.textContent).toContain("Settings → Vault RAG → Ask your vault");
	});
});
