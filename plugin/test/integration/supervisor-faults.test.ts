/**
 * The supervisor against backends that fail in each way a real one can: a crash loop, a process that hangs
 * before or after it announces its port (stand-ins and the real binary frozen with SIGSTOP), and a port that
 * another process holds. Real processes throughout; every test ends with no process of its own left.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findBinary } from "../../src/binary";
import { spawnProcess, type SpawnFn } from "../../src/process";
import { DEFAULT_SETTINGS, serveArgs, type VaultRagSettings } from "../../src/settings";
import { describeState } from "../../src/status-bar";
import { backoffDelay, Supervisor, type SupervisorTuning } from "../../src/supervisor";
import { backendBinary, fixtureBin, isAlive, tempVault, testModelDir, waitFor } from "./env";

const CONFIG_DIR = ".vault-config";

/** Short delays so that a whole crash loop takes about a second; the defaults are covered by the unit tests. */
const FAST: Partial<SupervisorTuning> = {
	backoffBaseMs: 50,
	backoffMaxMs: 400,
	healthIntervalMs: 100,
	healthTimeoutMs: 200,
	killGraceMs: 300,
};

interface Spawned {
	pid: number;
	at: number;
}

/** Real processes, with their pids and start times recorded. */
function recordingSpawn(spawned: Spawned[]): SpawnFn {
	return (command, args, env) => {
		const proc = spawnProcess(command, args, env);
		if (proc.pid !== undefined) spawned.push({ pid: proc.pid, at: Date.now() });
		return proc;
	};
}

interface Setup {
	binary: string;
	args?: string[];
	tuning?: Partial<SupervisorTuning>;
	env?: NodeJS.ProcessEnv;
}

function supervise(setup: Setup, notices: string[], spawned: Spawned[]): Supervisor {
	return new Supervisor({
		findBinary: () =>
			findBinary({ settingPath: setup.binary, pluginDir: null, envPath: "", platform: process.platform }),
		args: () => setup.args ?? [],
		notify: (message) => notices.push(message),
		spawn: recordingSpawn(spawned),
		env: setup.env,
		tuning: { ...FAST, ...setup.tuning },
	});
}

/** A plain HTTP server on a free loopback port that counts the requests it gets. */
async function occupyPort(): Promise<{ port: number; requests: () => number; close: () => Promise<void> }> {
	let requests = 0;
	const server = http.createServer((_req, res) => {
		requests += 1;
		res.end("not vault-rag");
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as AddressInfo;
	return {
		port,
		requests: () => requests,
		close: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}

describe("a backend in a crash loop", () => {
	it("is restarted with doubling delays, then given up with an error state and one notice", async () => {
		const notices: string[] = [];
		const spawned: Spawned[] = [];
		const sup = supervise({ binary: fixtureBin("exit-at-once.mjs") }, notices, spawned);
		const started = Date.now();
		sup.start();
		await waitFor("giving up", () => sup.state.kind === "failed", sup, 30_000);
		// Five restarts after the first start, each later than the one before by at least its backoff delay.
		expect(spawned).toHaveLength(6);
		const gaps = spawned.slice(1).map((s, i) => s.at - (spawned[i]?.at ?? started));
		gaps.forEach((gap, i) => {
			expect(gap).toBeGreaterThanOrEqual(backoffDelay(i + 1, { backoffBaseMs: 50, backoffMaxMs: 400 }) - 5);
		});
		expect(gaps[3] ?? 0).toBeGreaterThan(gaps[0] ?? 0);
		const view = describeState(sup.state);
		expect(view.kind).toBe("error");
		expect(view.tooltip).toContain("cannot load the model");
		expect(notices).toHaveLength(1);
		expect(notices[0]).toContain("was not restarted after 5 tries");
		expect(notices[0]).toContain("error: cannot load the model: /nonexistent/model.onnx");
		expect(sup.logTail.filter((line) => line.startsWith("error: cannot load the model"))).toHaveLength(6);
		// Given up means given up: nothing more is started, nothing is left running.
		await new Promise((resolve) => setTimeout(resolve, 1_500));
		expect(spawned).toHaveLength(6);
		expect(spawned.some((s) => isAlive(s.pid))).toBe(false);
		// A manual restart ("Restart search service") starts over with a fresh count.
		await sup.restart();
		await waitFor("giving up again", () => sup.state.kind === "failed", sup, 30_000);
		expect(spawned).toHaveLength(12);
		await sup.stop();
	});
});

describe("a hung backend", () => {
	it("that never announces a port is killed at the startup timeout, retried, then reported", async () => {
		const notices: string[] = [];
		const spawned: Spawned[] = [];
		const sup = supervise(
			{ binary: fixtureBin("silent.mjs"), tuning: { startupTimeoutMs: 600, maxRestarts: 1 } },
			notices,
			spawned,
		);
		sup.start();
		await waitFor("giving up", () => sup.state.kind === "failed", sup, 30_000);
		expect(spawned).toHaveLength(2);
		const log = sup.logTail.join("\n");
		expect(log).toContain("no listening line within 600 ms");
		// It ignores SIGTERM, so only SIGKILL could end it.
		expect(log).toContain("silent backend: ignoring SIGTERM");
		expect(log).toContain("sending SIGKILL");
		expect(describeState(sup.state)).toMatchObject({ kind: "error" });
		expect(sup.state.kind === "failed" && sup.state.reason).toContain("no listening line");
		expect(notices).toHaveLength(1);
		expect(spawned.some((s) => isAlive(s.pid))).toBe(false);
	});

	it("that announces a port nobody accepts on fails its health checks and is reported", async () => {
		const notices: string[] = [];
		const spawned: Spawned[] = [];
		const sup = supervise(
			{ binary: fixtureBin("no-listener.mjs"), tuning: { maxRestarts: 1 } },
			notices,
			spawned,
		);
		sup.start();
		await waitFor("giving up", () => sup.state.kind === "failed", sup, 30_000);
		expect(spawned).toHaveLength(2);
		expect(sup.state.kind === "failed" && sup.state.reason).toContain("stopped answering health checks");
		expect(sup.logTail.join("\n")).toMatch(/health check 3\/3 failed: .*(ECONNREFUSED|refused)/i);
		expect(notices).toHaveLength(1);
		expect(spawned.some((s) => isAlive(s.pid))).toBe(false);
	});

	describe("the real backend", () => {
		let vault: ReturnType<typeof tempVault>;
		let settings: VaultRagSettings;
		beforeAll(() => {
			vault = tempVault();
			settings = {
				...DEFAULT_SETTINGS,
				model: "all-minilm-l6-v2",
				modelDir: testModelDir(),
				dataDir: vault.dataDir,
			};
		});
		afterAll(() => vault.cleanup());

		it("frozen with SIGSTOP is killed, restarted, and answers searches again", async () => {
			const notices: string[] = [];
			const spawned: Spawned[] = [];
			const sup = supervise(
				{
					binary: backendBinary(),
					args: serveArgs(settings, { vaultPath: vault.vault, configDir: CONFIG_DIR }),
					// Generous health timeouts: the machine may be busy, and only a real hang may count.
					tuning: { healthIntervalMs: 200, healthTimeoutMs: 1_500, unhealthyAfter: 3, killGraceMs: 1_000 },
				},
				notices,
				spawned,
			);
			sup.start();
			try {
				await waitFor(
					"an indexed backend",
					() => sup.state.kind === "running" && sup.state.health.index.complete,
					sup,
					120_000,
				);
				const frozen = sup.pid;
				if (frozen === undefined) throw new Error("no pid while running");
				process.kill(frozen, "SIGSTOP");
				await waitFor(
					"a restarted, healthy backend",
					() => sup.state.kind === "running" && sup.pid !== undefined && sup.pid !== frozen,
					sup,
					120_000,
				);
				expect(isAlive(frozen)).toBe(false);
				const log = sup.logTail.join("\n");
				expect(log).toContain("stopped answering health checks");
				// A stopped process cannot act on SIGTERM: SIGKILL ended it.
				expect(log).toContain("sending SIGKILL");
				const found = await sup.client?.search({ query: "which planet looks red?", top_k: 3, mode: "dense" });
				expect(found?.hits[0]?.path).toBe("Astronomy/Mars.md");
				expect(notices).toEqual([]);
			} finally {
				await sup.stop();
			}
			expect(spawned.some((s) => isAlive(s.pid))).toBe(false);
		});

		it("never collides with a taken port: it asks for a free one, whatever the environment says", async () => {
			const occupier = await occupyPort();
			const notices: string[] = [];
			const spawned: Spawned[] = [];
			const sup = supervise(
				{
					binary: backendBinary(),
					args: serveArgs(settings, { vaultPath: vault.vault, configDir: CONFIG_DIR }),
					env: { ...process.env, VAULT_RAG_PORT: String(occupier.port) },
					tuning: { healthTimeoutMs: 5_000 },
				},
				notices,
				spawned,
			);
			sup.start();
			try {
				await waitFor("a healthy backend", () => sup.state.kind === "running", sup, 120_000);
				expect(sup.client?.port).not.toBe(occupier.port);
				const found = await sup.client?.search({ query: "sourdough starter", top_k: 3 });
				expect(found?.hits.length).toBeGreaterThan(0);
				expect(spawned).toHaveLength(1);
				expect(occupier.requests()).toBe(0);
			} finally {
				await sup.stop();
				await occupier.close();
			}
			expect(spawned.some((s) => isAlive(s.pid))).toBe(false);
		});

		it("held to a port that is taken fails fast and says which port, without a restart storm", async () => {
			const occupier = await occupyPort();
			const notices: string[] = [];
			const spawned: Spawned[] = [];
			const sup = supervise(
				{
					binary: fixtureBin("fixed-port.mjs"),
					args: serveArgs(settings, { vaultPath: vault.vault, configDir: CONFIG_DIR }),
					env: {
						...process.env,
						VAULT_RAG_REAL_BIN: backendBinary(),
						VAULT_RAG_FIXED_PORT: String(occupier.port),
					},
					tuning: { maxRestarts: 2 },
				},
				notices,
				spawned,
			);
			try {
				sup.start();
				await waitFor("giving up", () => sup.state.kind === "failed", sup, 60_000);
				expect(spawned).toHaveLength(3);
				expect(notices).toHaveLength(1);
				expect(notices[0]).toContain(`cannot listen on 127.0.0.1:${occupier.port}`);
				expect(notices[0]).toMatch(/in use/i);
				expect(describeState(sup.state)).toMatchObject({ kind: "error" });
				expect(occupier.requests()).toBe(0);
			} finally {
				await sup.stop();
				await occupier.close();
			}
			expect(spawned.some((s) => isAlive(s.pid))).toBe(false);
		});
	});
});
