import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findBinary } from "../../src/binary";
import { BackendClient, BackendError } from "../../src/client";
import { spawnProcess } from "../../src/process";
import { DEFAULT_SETTINGS, serveArgs, type VaultRagSettings } from "../../src/settings";
import { Supervisor } from "../../src/supervisor";
import { openApiMismatches } from "../helpers/openapi";
import { backendBinary, isAlive, tempVault, testModelDir, waitFor } from "./env";

const CONFIG_DIR = ".vault-config";

describe("supervisor and client against the real backend", () => {
	let bin: string;
	let settings: VaultRagSettings;
	let vault: ReturnType<typeof tempVault>;
	const cleanups: (() => void)[] = [];

	beforeAll(() => {
		bin = backendBinary();
		vault = tempVault();
		cleanups.push(vault.cleanup);
		settings = {
			...DEFAULT_SETTINGS,
			binaryPath: bin,
			model: "all-minilm-l6-v2",
			modelDir: testModelDir(),
			dataDir: vault.dataDir,
		};
	});

	afterAll(() => {
		for (const cleanup of cleanups) cleanup();
	});

	function supervisor(notices: string[]): Supervisor {
		return new Supervisor({
			findBinary: () => findBinary({ settingPath: settings.binaryPath, pluginDir: null, envPath: "", platform: process.platform }),
			args: () => serveArgs(settings, { vaultPath: vault.vault, configDir: CONFIG_DIR }),
			notify: (message) => notices.push(message),
			tuning: { healthIntervalMs: 250 },
		});
	}

	it("starts, searches, survives kill -9, and leaves no process after unload", async () => {
		const notices: string[] = [];
		const sup = supervisor(notices);
		sup.start();
		await waitFor("a healthy backend", () => sup.state.kind === "running", sup, 120_000);
		await waitFor(
			"the first indexing pass",
			() => sup.state.kind === "running" && sup.state.health.index.complete,
			sup,
			120_000,
		);
		const health = sup.state.kind === "running" ? sup.state.health : null;
		expect(health?.model_name.toLowerCase()).toContain("minilm");
		expect(health?.embedding_dim).toBe(384);

		const client = sup.client;
		if (!client) throw new Error("no client while running");
		const dense = await client.search({ query: "which planet looks red?", top_k: 3, mode: "dense" });
		expect(dense.index_complete).toBe(true);
		expect(dense.hits[0]?.path).toBe("Astronomy/Mars.md");
		expect(dense.hits[0]?.line).toBeGreaterThanOrEqual(1);

		const hybrid = await client.search({ query: "sourdough starter", top_k: 5 });
		expect(hybrid.hits[0]?.path).toBe("Kitchen/Sourdough.md");
		expect(hybrid.hits[0]?.snippet).toMatch(/\*\*[^*]+\*\*/);

		const similar = await client.similar({ path: "Astronomy/Mars.md", top_k: 4 });
		expect(similar.hits.length).toBeGreaterThan(0);
		expect(similar.hits.map((h) => h.path)).not.toContain("Astronomy/Mars.md");

		const status = await client.indexStatus();
		expect(status.notes_indexed).toBe(5);
		expect(status.failures).toEqual([]);

		const firstPid = sup.pid;
		if (firstPid === undefined) throw new Error("no pid while running");
		process.kill(firstPid, "SIGKILL");
		await waitFor(
			"a restarted, healthy backend",
			() => sup.state.kind === "running" && sup.pid !== undefined && sup.pid !== firstPid,
			sup,
			120_000,
		);
		expect(isAlive(firstPid)).toBe(false);
		const again = await sup.client?.search({ query: "which planet looks red?", top_k: 3, mode: "dense" });
		expect(again?.hits[0]?.path).toBe("Astronomy/Mars.md");

		const secondPid = sup.pid;
		if (secondPid === undefined) throw new Error("no pid after restart");
		await sup.stop();
		expect(isAlive(secondPid)).toBe(false);
		expect(sup.state.kind).toBe("stopped");
		expect(sup.pid).toBeUndefined();
		expect(notices).toEqual([]);
	});

	it("gets typed errors for bad requests and a wrong token, and the API matches the types", async () => {
		const notices: string[] = [];
		const sup = supervisor(notices);
		sup.start();
		try {
			await waitFor("a healthy backend", () => sup.state.kind === "running", sup, 120_000);
			const client = sup.client;
			if (!client) throw new Error("no client while running");

			const tooMany = await client.search({ query: "mars", top_k: 1000 }).catch((err: unknown) => err);
			expect(tooMany).toBeInstanceOf(BackendError);
			expect(tooMany).toMatchObject({ kind: "http", status: 400, code: "invalid_request" });

			// The typing hold: accepted with the indexer's state; out of range it is a typed 400.
			expect((await client.indexYield(1)).state).toMatch(/^(idle|scanning|indexing|paused)$/);
			const tooLong = await client.indexYield(3600).catch((err: unknown) => err);
			expect(tooLong).toMatchObject({ kind: "http", status: 400, code: "invalid_request" });
			// The open notes go first; a path out of the vault is refused by name.
			expect((await client.indexFocus(["Space/Mars.md", "Nowhere.md"])).state).toMatch(/^(idle|scanning|indexing|paused)$/);
			const outside = await client.indexFocus(["../outside.md"]).catch((err: unknown) => err);
			expect(outside).toMatchObject({ kind: "http", status: 400, code: "path_outside_vault" });

			const missing = await client.similar({ path: "Nowhere/Nothing.md" }).catch((err: unknown) => err);
			expect(missing).toMatchObject({ kind: "http", status: 404, code: "note_not_found" });

			const stranger = new BackendClient({ port: client.port, token: "not-the-token" });
			const refused = await stranger.health().catch((err: unknown) => err);
			stranger.close();
			expect(refused).toMatchObject({ kind: "http", status: 401, code: "unauthorized" });

			// The agents' token: another key than the plugin's, that opens /mcp only, and a new one on revocation.
			const agent = await client.agentToken();
			expect(agent.token).toMatch(/^[0-9a-f]{64}$/);
			expect(agent.mcp_path).toBe("/mcp");
			const asAgent = new BackendClient({ port: client.port, token: agent.token ?? "" });
			expect((await asAgent.health()).version).toBeTruthy();
			const scoped = await asAgent.search({ query: "mars" }).catch((err: unknown) => err);
			expect(scoped).toMatchObject({ kind: "http", status: 403, code: "forbidden_for_agents" });
			const agentHold = await asAgent.indexYield(5).catch((err: unknown) => err);
			expect(agentHold).toMatchObject({ kind: "http", status: 403, code: "forbidden_for_agents" });
			const agentFocus = await asAgent.indexFocus(["a.md"]).catch((err: unknown) => err);
			expect(agentFocus).toMatchObject({ kind: "http", status: 403, code: "forbidden_for_agents" });
			const renewed = await client.rotateAgentToken();
			expect(renewed.token).not.toBe(agent.token);
			const revoked = await asAgent.health().catch((err: unknown) => err);
			asAgent.close();
			expect(revoked).toMatchObject({ kind: "http", status: 401 });
			expect((await client.agentToken()).token).toBe(renewed.token);

			const document = await client.request<unknown>("GET", "/openapi.json", undefined);
			expect(openApiMismatches(document)).toEqual([]);
		} finally {
			await sup.stop();
		}
		expect(notices).toEqual([]);
	});

	it("exits by itself when its stdin closes (Obsidian quitting without unloading)", async () => {
		const proc = spawnProcess(bin, serveArgs(settings, { vaultPath: vault.vault, configDir: CONFIG_DIR }), {
			...process.env,
			VAULT_RAG_TOKEN: "stdin-test",
		});
		const exited = new Promise<number | null>((resolve) => proc.onExit((code) => resolve(code)));
		const listening = new Promise<void>((resolve) => {
			let out = "";
			proc.onStdout((text) => {
				out += text;
				if (out.includes('"listening"')) resolve();
			});
		});
		await listening;
		proc.closeStdin();
		const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 20_000));
		const outcome = await Promise.race([exited, timeout]);
		if (outcome === "timeout") proc.kill("SIGKILL");
		expect(outcome).not.toBe("timeout");
		expect(proc.pid !== undefined && isAlive(proc.pid)).toBe(false);
	});
});
