import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findBinary } from "../../src/binary";
import { spawnProcess, type SpawnFn } from "../../src/process";
import { DEFAULT_SETTINGS, serveArgs, type VaultRagSettings } from "../../src/settings";
import { describeState } from "../../src/status-bar";
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

		// Each bad setting: one process, no restart loop, the message next to the setting it names.
		const cases: { name: string; patch: Partial<VaultRagSettings>; setting: string; words: string }[] = [
			{ name: "a model folder that does not exist", patch: { modelDir: "<missing>" }, setting: "modelDir", words: "does not exist" },
			{ name: "a typo in the model name", patch: { model: "all-minilm-l6" }, setting: "model", words: "all-minilm-l6" },
			{ name: "an unsupported dimension", patch: { dim: 300 }, setting: "dim", words: "300" },
			{ name: "a precision the model folder lacks", patch: { precision: "fp32" }, setting: "precision", words: "onnx/model.onnx" },
		];
		for (const c of cases) {
			it(`stops at once on ${c.name} and names the setting`, async () => {
				const missing = `${vault.dataDir}-no-such-model`;
				const settings: VaultRagSettings = {
					...DEFAULT_SETTINGS,
					model: "all-minilm-l6-v2",
					modelDir: testModelDir(),
					dataDir: vault.dataDir,
					...c.patch,
				};
				if (settings.modelDir === "<missing>") settings.modelDir = missing;
				const args = serveArgs(settings, { vaultPath: vault.vault, configDir: ".vault-config" });
				const notices: string[] = [];
				const pids: number[] = [];
				const sup = supervise(backendBinary(), args, notices, pids);
				sup.start();
				await waitFor("the settings error", () => sup.state.kind === "config-error", sup, 60_000);
				// No restart follows.
				await new Promise((resolve) => setTimeout(resolve, 1_000));
				expect(pids).toHaveLength(1);
				expect(sup.state).toMatchObject({ kind: "config-error", setting: c.setting });
				const message = sup.state.kind === "config-error" ? sup.state.message : "";
				expect(message).toContain(c.words);
				expect(notices).toHaveLength(1);
				expect(describeState(sup.state).text).toBe("Vault RAG: check settings");
				expect(pids.some(isAlive)).toBe(false);
			});
		}
	});
});
