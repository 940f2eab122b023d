/**
 * The first run, as a new user meets it: no model on the machine, a hub that answers like Hugging Face
 * (`scripts/fake_hub.py` over real HTTP), the real backend. Without consent the service stops and asks; with
 * it, the status bar shows the download's percentage, then the service answers searches.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findBinary } from "../../src/binary";
import { DEFAULT_SETTINGS, consentKey, serveArgs, type VaultRagSettings } from "../../src/settings";
import { describeState } from "../../src/status-bar";
import { Supervisor } from "../../src/supervisor";
import { backendBinary, isAlive, tempVault, testModelDir, waitFor } from "./env";

const REPO_ROOT = path.resolve(__dirname, "../../..");
const HUB_REPO = "Xenova/all-MiniLM-L6-v2";

function venvPython(): string {
	const python = path.join(REPO_ROOT, ".venv/bin/python");
	if (!fs.existsSync(python)) throw new Error(`${python} is missing: run \`make venv\`.`);
	return python;
}

/** The repository folder the fake hub serves, made once from the MiniLM test model. */
function hubRepoDir(): string {
	const out = path.join(REPO_ROOT, "target/fake-hub/all-MiniLM-L6-v2");
	if (!fs.existsSync(path.join(out, "onnx/model_quantized.onnx_data"))) {
		const made = spawnSync(
			venvPython(),
			[path.join(REPO_ROOT, "scripts/fake_hub.py"), "prepare", "--minilm", testModelDir(), "--out", out],
			{ stdio: "inherit" },
		);
		if (made.status !== 0) throw new Error("fake_hub.py prepare failed");
	}
	return out;
}

async function startHub(): Promise<{ proc: ChildProcess; port: number }> {
	const proc = spawn(venvPython(), [path.join(REPO_ROOT, "scripts/fake_hub.py"), "serve", "--repo", HUB_REPO, "--dir", hubRepoDir()], {
		stdio: ["pipe", "pipe", "inherit"],
	});
	const stdout = proc.stdout;
	if (!stdout) throw new Error("no stdout");
	const line = await new Promise<string>((resolve, reject) => {
		readline.createInterface({ input: stdout }).once("line", resolve);
		proc.once("exit", () => reject(new Error("fake hub exited")));
	});
	const port = (JSON.parse(line) as { port: number }).port;
	return { proc, port };
}

function control(port: number, body: object): Promise<void> {
	return new Promise((resolve, reject) => {
		const data = JSON.stringify(body);
		const req = http.request(
			{ host: "127.0.0.1", port, path: "/_control", method: "POST", headers: { "Content-Length": Buffer.byteLength(data) } },
			(res) => {
				res.resume();
				res.on("end", () => resolve());
			},
		);
		req.on("error", reject);
		req.end(data);
	});
}

describe("first run: the model's download", () => {
	let hub: { proc: ChildProcess; port: number };
	let vault: ReturnType<typeof tempVault>;
	let home: string;

	beforeAll(async () => {
		hub = await startHub();
		vault = tempVault();
		home = fs.mkdtempSync(path.join(os.tmpdir(), "vault-rag-first-run-"));
	});

	afterAll(() => {
		hub.proc.kill();
		vault.cleanup();
		fs.rmSync(home, { recursive: true, force: true });
	});

	it("asks before downloading, then shows the download's progress and becomes ready", async () => {
		let settings: VaultRagSettings = { ...DEFAULT_SETTINGS, model: "all-minilm-l6-v2", dataDir: vault.dataDir };
		// A machine with no model anywhere; ONNX Runtime stays where `make setup` put it.
		const cache = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache");
		const runtime =
			process.env.ORT_DYLIB_PATH ?? path.join(cache, "vault-rag/onnxruntime/1.31.1/libonnxruntime.so.1.31.1");
		const env: NodeJS.ProcessEnv = {
			...process.env,
			HF_ENDPOINT: `http://127.0.0.1:${hub.port}`,
			HF_HOME: path.join(home, "hf"),
			VAULT_RAG_CACHE: path.join(home, "vault-rag"),
			ORT_DYLIB_PATH: runtime,
		};
		delete env.HF_HUB_CACHE;
		delete env.VAULT_RAG_MODEL_DIR;
		const texts = new Set<string>();
		const sup = new Supervisor({
			findBinary: () => findBinary({ settingPath: backendBinary(), pluginDir: null, envPath: "", platform: process.platform }),
			args: () => serveArgs(settings, { vaultPath: vault.vault, configDir: ".vault-config" }),
			notify: () => undefined,
			env,
			tuning: { healthIntervalMs: 100 },
		});
		sup.onChange((state) => texts.add(describeState(state).text));

		sup.start();
		await waitFor("the consent question", () => sup.state.kind === "needs-download", sup, 60_000);
		const asked = sup.state.kind === "needs-download" ? sup.state.download : null;
		expect(asked).toMatchObject({ model: "all-minilm-l6-v2", precision: "int8", repo: HUB_REPO, licence: "Apache-2.0" });
		expect(texts).toContain("Vault RAG: model needed");
		expect(fs.existsSync(path.join(home, "hf/hub/models--Xenova--all-MiniLM-L6-v2/blobs"))).toBe(false);

		// The user agrees: the setting the modal writes, then the restart it causes.
		await control(hub.port, { throttle_bps: 4_000_000 });
		settings = { ...settings, downloadConsent: [consentKey(asked?.model ?? "", asked?.precision ?? "")] };
		expect(serveArgs(settings, { vaultPath: vault.vault, configDir: ".vault-config" })).toContain("--download");
		await sup.restart();
		await waitFor(
			"a percentage of the download in the status bar",
			() => [...texts].some((t) => /^Vault RAG: downloading model ([1-9]\d?)%$/.test(t)),
			sup,
			60_000,
		);
		await control(hub.port, {});
		await waitFor(
			"the model ready and the vault indexed",
			() => sup.state.kind === "running" && sup.state.health.model_loaded && sup.state.health.index.complete,
			sup,
			120_000,
		);
		// One process did the download and kept running: the watchdog never killed it.
		expect(sup.logTail.join("\n")).not.toContain("stopped answering health checks");
		const client = sup.client;
		if (!client) throw new Error("no client while running");
		const found = await client.search({ query: "sourdough starter feeding", top_k: 3 });
		expect(found.hits.length).toBeGreaterThan(0);
		const pid = sup.pid ?? 0;
		await sup.stop();
		expect(isAlive(pid)).toBe(false);
	});
});
