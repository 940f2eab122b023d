import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findBinary } from "../../src/binary";
import { spawnProcess, type SpawnFn } from "../../src/process";
import { DEFAULT_SETTINGS, serveArgs } from "../../src/settings";
import { Supervisor, type SupervisorTuning } from "../../src/supervisor";
import { backendBinary, fixtureBin, isAlive, tempVault, testModelDir, waitFor } from "./env";

/** Short delays so that a full crash loop takes a second; the defaults are covered by the unit tests. */
const FAST: Partial<SupervisorTuning> = {
	backoffBaseMs: 50,
	backoffMaxMs: 400,
	healthIntervalMs: 100,
	healthTimeoutMs: 200,
	killGraceMs: 300,
};

/** Real processes, with their pids recorded. */
function recordingSpawn(pids: number[]): SpawnFn {
	return (command, args, env) => {
		const proc = spawnProcess(command, args, env);
		if (proc.pid !== undefined) pids.push(proc.pid);
		return proc;
	};
}

function supervise(binary: string, args: string[], notices: string[], pids: number[]): Supervisor {
	return new Supervisor({
		findBinary: () => findBinary({ settingPath: binary, pluginDir: null, envPath: "", platform: process.platform }),
		args: () => args,
		notify: (message) => notices.push(message),
		spawn: recordingSpawn(pids),
		tuning: FAST,
	});
}

describe("failing backends", () => {
	it("kills and restarts a backend that listens but never answers /health, SIGKILL when SIGTERM is ignored", async () => {
		const notices: string[] = [];
		const pids: number[] = [];
		const sup = supervise(fixtureBin("hung.mjs"), [], notices, pids);
		sup.start();
		await waitFor("a restart", () => pids.length >= 2, sup, 30_000);
		const first = pids[0] ?? 0;
		await waitFor("the hung process to be gone", () => !isAlive(first), sup, 5_000);
		expect(sup.logTail.join("\n")).toContain("stopped answering health checks");
		expect(sup.logTail.join("\n")).toContain("sending SIGKILL");
		expect(sup.logTail).toContain("hung backend: ignoring SIGTERM");
		await sup.stop();
		expect(pids.some(isAlive)).toBe(false);
		expect(sup.state.kind).toBe("stopped");
	});

	describe("with the real backend", () => {
		let vault: ReturnType<typeof tempVault>;
		const cleanups: (() => void)[] = [];
		beforeAll(() => {
			vault = tempVault();
			cleanups.push(vault.cleanup);
		});
		afterAll(() => {
			for (const cleanup of cleanups) cleanup();
		});

		it("surfaces the backend's own error message when it cannot start", async () => {
			testModelDir();
			const badModelDir = `${vault.dataDir}-no-such-model`;
			const args = serveArgs(
				{ ...DEFAULT_SETTINGS, model: "all-minilm-l6-v2", modelDir: badModelDir, dataDir: vault.dataDir },
				{ vaultPath: vault.vault, configDir: ".vault-config" },
			);
			const notices: string[] = [];
			const pids: number[] = [];
			const sup = supervise(backendBinary(), args, notices, pids);
			sup.start();
			await waitFor("giving up", () => sup.state.kind === "failed", sup, 60_000);
			expect(notices).toHaveLength(1);
			expect(notices[0]).toContain("Last error:");
			expect(notices[0]).toContain(badModelDir);
			expect(sup.logTail.some((line) => line.includes(badModelDir))).toBe(true);
			expect(pids.some(isAlive)).toBe(false);
		});
	});
});
