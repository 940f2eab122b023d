// @vitest-environment happy-dom
/**
 * The Ask view against the real service and a real model: the release binary with the MiniLM model, and
 * SmolLM2-135M-Instruct behind llama.cpp's OpenAI-compatible server (set up by `scripts/llm.sh`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import "obsidian-test-mocks/vitest-setup";
import { App, WorkspaceLeaf } from "obsidian-test-mocks/obsidian";
import { AskView } from "../../src/ask-view";
import { supervisedService } from "../../src/service";
import { DEFAULT_SETTINGS } from "../../src/settings";
import type { Supervisor } from "../../src/supervisor";
import { realSupervisor, tempVault, waitFor } from "./env";

const MODEL = "smollm2-135m";

function llmFile(env: string, fallback: string): string {
	const file = process.env[env] ?? fallback;
	if (!fs.existsSync(file)) throw new Error(`${file} is missing (${env}): run \`bash scripts/llm.sh\` (part of \`make test\`).`);
	return file;
}

async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const port = (server.address() as net.AddressInfo).port;
			server.close(() => resolve(port));
		});
	});
}

async function listening(port: number, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const ok = await new Promise<boolean>((resolve) => {
			const socket = net.connect(port, "127.0.0.1", () => {
				socket.destroy();
				resolve(true);
			});
			socket.once("error", () => resolve(false));
		});
		if (ok) return;
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
	throw new Error(`the model server did not listen on ${port} within ${timeoutMs} ms`);
}

/** The fixture vault's notes, for Obsidian's API stand-in. */
function vaultFiles(root: string): Record<string, string> {
	const files: Record<string, string> = {};
	const walk = (dir: string): void => {
		for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
			const full = path.join(dir, entry.name);
			if (entry.isDirectory()) walk(full);
			else if (entry.name.endsWith(".md")) files[path.relative(root, full).split(path.sep).join("/")] = fs.readFileSync(full, "utf8");
		}
	};
	walk(root);
	return files;
}

describe("the Ask view with the real service and a real model", () => {
	let llama: ChildProcess;
	let llmUrl: string;
	let supervisor: Supervisor;
	let vault: ReturnType<typeof tempVault>;

	beforeAll(async () => {
		const cache = process.env.VAULT_RAG_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "vault-rag");
		const python = llmFile("VAULT_RAG_TEST_LLM_PYTHON", path.resolve(__dirname, "../../../.venv-llm/bin/python"));
		const gguf = llmFile("VAULT_RAG_TEST_GGUF", path.join(cache, "llm/SmolLM2-135M-Instruct.Q4_1.gguf"));
		const port = await freePort();
		llama = spawn(
			python,
			["-m", "llama_cpp.server", "--model", gguf, "--model_alias", MODEL, "--host", "127.0.0.1", "--port", String(port), "--n_ctx", "2048", "--n_threads", "2"],
			{ stdio: "ignore" },
		);
		llmUrl = `http://127.0.0.1:${port}/v1`;
		vault = tempVault();
		supervisor = realSupervisor(vault).supervisor;
		supervisor.start();
		await listening(port, 120_000);
		await waitFor("the index", async () => (await supervisor.client?.indexStatus().catch(() => null))?.complete === true, supervisor, 180_000);
	});

	afterAll(async () => {
		llama?.kill();
		await supervisor?.stop();
		vault?.cleanup();
	});

	it("streams an answer from the notes and opens a cited note at its line", async () => {
		const app = App.createConfigured__({ files: vaultFiles(vault.vault) });
		const leaf = WorkspaceLeaf.create2__(app);
		const service = supervisedService(supervisor);
		const view = new AskView(leaf.asOriginalType3__(), {
			ask: (request, handlers, options) => service.ask(request, handlers, options),
			settings: () => ({ ...DEFAULT_SETTINGS, llmUrl, llmModel: MODEL }),
			allowRemote: async () => undefined,
		});
		view.load();
		await view.onOpen();
		const answerEl = (): string => view.contentEl.querySelector(".vault-rag-ask-answer")?.textContent ?? "";
		const seen: string[] = [];
		const observer = new MutationObserver(() => seen.push(answerEl()));
		observer.observe(view.contentEl, { subtree: true, childList: true, characterData: true });

		const answer = await view.ask("At what temperature do I bake the sourdough bread?", []);
		observer.disconnect();
		if (!answer) throw new Error(`no answer: ${view.contentEl.textContent}`);
		expect(answer.model_called).toBe(true);
		expect(answer.passages[0]?.path).toBe("Kitchen/Sourdough.md");
		// The text grew piece by piece before the final answer replaced it.
		expect(new Set(seen.filter((s) => s.length > 0)).size).toBeGreaterThan(2);
		expect(answerEl().trim().length).toBeGreaterThan(0);
		const passages = view.contentEl.querySelectorAll(".vault-rag-ask-passage");
		expect(passages.length).toBe(answer.passages.length);

		// Every citation link opens its note at the passage's section.
		const links = [...view.contentEl.querySelectorAll<HTMLElement>(".vault-rag-ask-answer > .vault-rag-ask-cite")];
		expect(links.length).toBeGreaterThan(0);
		expect(links.length).toBe(answer.answer.match(/\[\d+\]/g)?.filter((m) => answer.citations.some((c) => `[${c.n}]` === m)).length ?? 0);
		const opened = vi.spyOn(WorkspaceLeaf.prototype, "openFile");
		for (const link of links) {
			const citation = answer.citations.find((c) => `[${c.n}]` === link.textContent);
			if (!citation) throw new Error(`a link without a citation: ${link.textContent}`);
			expect(answer.passages.some((p) => p.n === citation.n && p.path === citation.path && p.line === citation.line)).toBe(true);
			link.click();
			await new Promise((resolve) => setTimeout(resolve, 0));
			const call = opened.mock.calls.at(-1);
			expect(call?.[0]?.path).toBe(citation.path);
			expect(call?.[1]).toMatchObject({ eState: { line: citation.line - 1 } });
		}
		// A passage title opens the same place whether or not the small model cited it.
		const first = view.contentEl.querySelector<HTMLElement>(".vault-rag-ask-passage-head a");
		first?.click();
		await new Promise((resolve) => setTimeout(resolve, 0));
		const call = opened.mock.calls.at(-1);
		expect(call?.[0]?.path).toBe("Kitchen/Sourdough.md");
		expect(call?.[1]).toMatchObject({ eState: { line: (answer.passages[0]?.line ?? 1) - 1 } });
		opened.mockRestore();
	});

	it("says so without a model call when the notes hold nothing on the question", async () => {
		const service = supervisedService(supervisor);
		const answer = await service.ask({ question: "What is the boiling point of liquid nitrogen?", llm: { base_url: llmUrl, model: MODEL } }, {}, {});
		expect(answer.found).toBe(false);
		expect(answer.model_called).toBe(false);
	});
});
