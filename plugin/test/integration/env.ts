/** Paths and helpers shared by the integration tests. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findBinary } from "../../src/binary";
import { DEFAULT_SETTINGS, serveArgs, type VaultRagSettings } from "../../src/settings";
import { Supervisor } from "../../src/supervisor";

const PLUGIN_ROOT = path.resolve(__dirname, "../..");

/** The real backend binary: `VAULT_RAG_BIN`, else the release build of the workspace. */
export function backendBinary(): string {
	const bin = process.env.VAULT_RAG_BIN ?? path.resolve(PLUGIN_ROOT, "../target/release/vault-rag");
	if (!fs.existsSync(bin)) {
		throw new Error(
			`The vault-rag binary is missing at ${bin}. Build it with \`make build\` (cargo build --release -p vault-rag) or set VAULT_RAG_BIN.`,
		);
	}
	return bin;
}

/** The small real model (all-MiniLM-L6-v2 int8): `VAULT_RAG_TEST_MODEL_DIR`, else the cache `make setup` fills. */
export function testModelDir(): string {
	const cache = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache");
	const dir = process.env.VAULT_RAG_TEST_MODEL_DIR ?? path.join(cache, "vault-rag/models/all-MiniLM-L6-v2-int8");
	for (const file of ["model.onnx", "tokenizer.json"]) {
		if (!fs.existsSync(path.join(dir, file))) {
			throw new Error(`The test model file ${path.join(dir, file)} is missing. Run \`make setup\`.`);
		}
	}
	return dir;
}

export function fixtureBin(name: string): string {
	return path.join(PLUGIN_ROOT, "test/fixtures/bin", name);
}

/** A private copy of the fixture vault and an empty data folder, removed by `cleanup`. */
export function tempVault(): { vault: string; dataDir: string; cleanup: () => void } {
	const root = fs.mkdtempSync(path.join(os.tmpdir(), "vault-rag-plugin-"));
	const vault = path.join(root, "vault");
	fs.cpSync(path.join(PLUGIN_ROOT, "test/fixtures/vault"), vault, { recursive: true });
	const dataDir = path.join(root, "data");
	return { vault, dataDir, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** The real backend with the small test model on `vault`, polling health every 250 ms; `settings` adds to the defaults. */
export function realSupervisor(
	vault: { vault: string; dataDir: string },
	settings: Partial<VaultRagSettings> = {},
): { supervisor: Supervisor; settings: VaultRagSettings } {
	const all: VaultRagSettings = {
		...DEFAULT_SETTINGS,
		binaryPath: backendBinary(),
		model: "all-minilm-l6-v2",
		modelDir: testModelDir(),
		dataDir: vault.dataDir,
		...settings,
	};
	const supervisor = new Supervisor({
		findBinary: () => findBinary({ settingPath: all.binaryPath, pluginDir: null, envPath: "", platform: process.platform }),
		args: () => serveArgs(all, { vaultPath: vault.vault, configDir: ".vault-config" }),
		notify: () => undefined,
		tuning: { healthIntervalMs: 250 },
	});
	return { supervisor, settings: all };
}

export function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

/** Polls `condition` until it holds; on timeout, fails with the supervisor's state and log. */
export async function waitFor(
	what: string,
	condition: () => boolean | Promise<boolean>,
	supervisor: Supervisor,
	timeoutMs = 60_000,
): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await condition()) return;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	throw new Error(
		`Timed out after ${timeoutMs} ms waiting for ${what}. State: ${JSON.stringify(supervisor.state)}\nLog:\n${supervisor.logTail.join("\n")}`,
	);
}
