/**
 * Starts the backend, watches it, and restarts it when it dies or stops answering.
 *
 * One process at a time, started with `serve --port 0` and a fresh token; its `{"event":"listening"}` stdout line
 * gives the port, then `/health` is polled. A crash or a hang is retried with exponential backoff and given up
 * after a few tries; stopping closes stdin, sends SIGTERM, then SIGKILL after a grace period. Only the process
 * this supervisor spawned is ever signalled.
 */
import { randomBytes } from "node:crypto";
import type { HealthResponse } from "./api";
import type { BinaryResult, VersionCheck } from "./binary";
import { BackendClient } from "./client";
import { nodeTimers, spawnProcess, type ProcessLike, type SpawnFn, type Timers } from "./process";

/** What the backend says before it exits when the model must be downloaded and no one agreed yet. */
export interface DownloadRequired {
	model: string;
	precision: string;
	repo: string;
	approx_mb: number;
	licence: string;
	licence_url: string;
}

/** Exit codes of the backend that retrying cannot help. */
export const EXIT_CONFIG = 78;
export const EXIT_DOWNLOAD_NEEDED = 77;

export type SupervisorState =
	| { kind: "stopped" }
	| { kind: "starting"; attempt: number }
	| { kind: "running"; health: HealthResponse }
	| { kind: "restarting"; attempt: number; delayMs: number; reason: string }
	| { kind: "failed"; reason: string }
	/** No service was found (`looked`: the places tried), or it could not be started. */
	| { kind: "missing"; reason: string; looked: string[] }
	/** A service was found but its version is not one this plugin speaks to; not retried. */
	| { kind: "incompatible"; path: string; version: string | null; message: string }
	/** A setting cannot work (`setting` is the name of the plugin's setting); not retried. */
	| { kind: "config-error"; setting: string; message: string }
	/** The model must be downloaded first; waits for the user's consent. */
	| { kind: "needs-download"; download: DownloadRequired };

export interface SupervisorTuning {
	backoffBaseMs: number;
	backoffMaxMs: number;
	/** Restarts tried after consecutive failures before giving up. */
	maxRestarts: number;
	/** A process healthy this long has its failure count forgotten. */
	healthyResetMs: number;
	healthIntervalMs: number;
	healthTimeoutMs: number;
	/** Consecutive failed health checks after which the process counts as hung. */
	unhealthyAfter: number;
	/** Time allowed between spawn and the listening line: model loading, or its download on first use. */
	startupTimeoutMs: number;
	/** Time between SIGTERM and SIGKILL. */
	killGraceMs: number;
	logLines: number;
}

export const DEFAULT_TUNING: SupervisorTuning = {
	backoffBaseMs: 500,
	backoffMaxMs: 30_000,
	maxRestarts: 5,
	healthyResetMs: 60_000,
	healthIntervalMs: 2_000,
	healthTimeoutMs: 5_000,
	unhealthyAfter: 3,
	startupTimeoutMs: 600_000,
	killGraceMs: 3_000,
	logLines: 200,
};

/** What the supervisor needs from its surroundings; all injectable for tests. */
export interface SupervisorDeps {
	/** Where the binary is (re-evaluated on every start, so a newly installed binary is picked up). */
	findBinary: () => BinaryResult;
	/** Checks a found binary's version (`--version`, then the version `/health` reports); absent: not checked. */
	versionCheck?: {
		ofBinary: (path: string) => VersionCheck;
		ofReported: (version: string, path: string) => VersionCheck;
	};
	/** Arguments of `vault-rag` (re-evaluated on every start, so settings changes apply). */
	args: () => string[];
	/** Shows a message to the user (an Obsidian Notice in the plugin). */
	notify: (message: string) => void;
	spawn?: SpawnFn;
	timers?: Timers;
	env?: NodeJS.ProcessEnv;
	randomToken?: () => string;
	createClient?: (port: number, token: string) => BackendClient;
	tuning?: Partial<SupervisorTuning>;
}

/** Terminal colour codes, in case the backend writes them to the pipe anyway. */
const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, "g");

/** Delay before restart number `attempt` (1-based): base, doubling, capped. */
export function backoffDelay(attempt: number, tuning: Pick<SupervisorTuning, "backoffBaseMs" | "backoffMaxMs">): number {
	const exponent = Math.max(0, attempt - 1);
	return Math.min(tuning.backoffBaseMs * 2 ** exponent, tuning.backoffMaxMs);
}

interface Run {
	proc: ProcessLike;
	token: string;
	port: number | null;
	client: BackendClient | null;
	/** `stop`: asked to stop; `fail`: killed because it hung. */
	intent: "none" | "stop" | "fail";
	failReason: string | null;
	exited: boolean;
	healthy: boolean;
	healthFailures: number;
	stdout: string;
	stderr: string;
	/** The last `config_error` or `download_required` line, read when the process exits. */
	event: BackendEvent | null;
	startupTimer: unknown;
	healthTimer: unknown;
	killTimer: unknown;
	exitWaiters: (() => void)[];
}

export class Supervisor {
	private readonly deps: SupervisorDeps;
	private readonly tuning: SupervisorTuning;
	private readonly timers: Timers;
	private readonly spawnFn: SpawnFn;
	private run: Run | null = null;
	private stateValue: SupervisorState = { kind: "stopped" };
	private failures = 0;
	private restartTimer: unknown = null;
	private resetTimer: unknown = null;
	private readonly log: string[] = [];
	private lastErrorLine: string | null = null;
	private readonly listeners = new Set<(state: SupervisorState) => void>();
	private binaryValue: { path: string; source: string } | null = null;

	constructor(deps: SupervisorDeps) {
		this.deps = deps;
		this.tuning = { ...DEFAULT_TUNING, ...deps.tuning };
		this.timers = deps.timers ?? nodeTimers;
		this.spawnFn = deps.spawn ?? spawnProcess;
	}

	get state(): SupervisorState {
		return this.stateValue;
	}

	/** The service binary last started, and where it was found. */
	get binary(): { path: string; source: string } | null {
		return this.binaryValue;
	}

	/** The client of the running backend, or null while it is not answering. */
	get client(): BackendClient | null {
		return this.stateValue.kind === "running" ? (this.run?.client ?? null) : null;
	}

	/** Process id of the current backend, if one is alive. */
	get pid(): number | undefined {
		return this.run && !this.run.exited ? this.run.proc.pid : undefined;
	}

	/** The last lines the backend wrote to stderr, and the supervisor's own events. */
	get logTail(): readonly string[] {
		return this.log;
	}

	onChange(listener: (state: SupervisorState) => void): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	/** Starts the backend unless one is already running or scheduled. */
	start(): void {
		if (this.run || this.restartTimer !== null) return;
		this.failures = 0;
		this.launch();
	}

	/** Stops the current backend (if any) and starts a fresh one with a clean failure count. */
	async restart(): Promise<void> {
		await this.stop();
		this.start();
	}

	/** Stops the backend: stdin closed, SIGTERM, SIGKILL after the grace period. Resolves once it has exited. */
	async stop(): Promise<void> {
		this.clearTimer("restartTimer");
		this.clearTimer("resetTimer");
		const run = this.run;
		if (run && !run.exited) {
			const exited = new Promise<void>((resolve) => run.exitWaiters.push(resolve));
			this.terminate(run, "stop", null);
			await exited;
		}
		this.run = null;
		this.setState({ kind: "stopped" });
	}

	private launch(): void {
		this.restartTimer = null;
		const binary = this.deps.findBinary();
		if (!binary.found) {
			this.binaryValue = null;
			this.note(`${binary.message} Looked at: ${binary.looked.join(", ")}`);
			this.setState({ kind: "missing", reason: binary.message, looked: binary.looked });
			return;
		}
		this.binaryValue = { path: binary.path, source: binary.source };
		const checked = this.deps.versionCheck?.ofBinary(binary.path);
		if (checked && !checked.ok) {
			this.note(checked.message);
			this.setState({ kind: "incompatible", path: binary.path, version: checked.version, message: checked.message });
			return;
		}
		this.note(`using ${binary.path} (${binary.source}${checked ? `, version ${checked.version}` : ""})`);
		const token = this.deps.randomToken ? this.deps.randomToken() : randomBytes(32).toString("hex");
		const args = this.deps.args();
		const env: NodeJS.ProcessEnv = { ...(this.deps.env ?? process.env), VAULT_RAG_TOKEN: token };
		env.VAULT_RAG_LOG ??= "info";
		// The log is shown as plain text in the settings tab.
		env.NO_COLOR ??= "1";
		this.lastErrorLine = null;
		this.note(`starting ${binary.path} ${args.join(" ")}`);
		this.setState({ kind: "starting", attempt: this.failures });
		const proc = this.spawnFn(binary.path, args, env);
		const run: Run = {
			proc,
			token,
			port: null,
			client: null,
			intent: "none",
			failReason: null,
			exited: false,
			healthy: false,
			healthFailures: 0,
			stdout: "",
			stderr: "",
			event: null,
			startupTimer: null,
			healthTimer: null,
			killTimer: null,
			exitWaiters: [],
		};
		this.run = run;
		proc.onStdout((text) => this.onStdout(run, text));
		proc.onStderr((text) => this.onStderr(run, text));
		proc.onExit((code, signal) => this.onExit(run, code, signal));
		proc.onError((error) => this.onError(run, error));
		run.startupTimer = this.timers.setTimeout(() => {
			run.startupTimer = null;
			if (run.port === null) {
				this.terminate(run, "fail", `no listening line within ${this.tuning.startupTimeoutMs} ms`);
			}
		}, this.tuning.startupTimeoutMs);
	}

	private onStdout(run: Run, text: string): void {
		run.stdout += text;
		let newline: number;
		while ((newline = run.stdout.indexOf("\n")) >= 0) {
			const line = run.stdout.slice(0, newline).trim();
			run.stdout = run.stdout.slice(newline + 1);
			if (line.length === 0) continue;
			const port = listeningPort(line);
			if (port !== null && run.port === null) {
				this.onListening(run, port);
				continue;
			}
			run.event = backendEvent(line) ?? run.event;
			this.pushLog(line);
		}
	}

	private onStderr(run: Run, text: string): void {
		run.stderr += text;
		let newline: number;
		while ((newline = run.stderr.indexOf("\n")) >= 0) {
			this.stderrLine(run.stderr.slice(0, newline));
			run.stderr = run.stderr.slice(newline + 1);
		}
	}

	private stderrLine(raw: string): void {
		const line = raw.replace(ANSI_ESCAPE, "").trimEnd();
		if (line.length === 0) return;
		this.pushLog(line);
		if (/\berror\b|panicked/i.test(line)) this.lastErrorLine = line.trim();
	}

	private onListening(run: Run, port: number): void {
		if (run !== this.run || run.exited || run.intent !== "none") return;
		this.clearRunTimer(run, "startupTimer");
		run.port = port;
		run.client = this.deps.createClient
			? this.deps.createClient(port, run.token)
			: new BackendClient({ port, token: run.token });
		this.note(`listening on 127.0.0.1:${port} (pid ${run.proc.pid ?? "?"})`);
		void this.pollHealth(run);
	}

	private async pollHealth(run: Run): Promise<void> {
		run.healthTimer = null;
		const client = run.client;
		if (!client || run !== this.run || run.exited || run.intent !== "none") return;
		let health: HealthResponse | null = null;
		let problem = "";
		try {
			health = await client.health({ timeoutMs: this.tuning.healthTimeoutMs });
		} catch (err) {
			problem = err instanceof Error ? err.message : String(err);
		}
		if (run !== this.run || run.exited || run.intent !== "none") return;
		if (health) {
			run.healthFailures = 0;
			if (!run.healthy) {
				const checked = this.deps.versionCheck?.ofReported(health.version, this.binaryValue?.path ?? "");
				if (checked && !checked.ok) {
					// Stopped on purpose: a restart would meet the same version.
					this.terminate(run, "stop", checked.message);
					this.setState({
						kind: "incompatible",
						path: this.binaryValue?.path ?? "",
						version: checked.version,
						message: checked.message,
					});
					return;
				}
				run.healthy = true;
				this.note(`healthy (${health.model_name}, ${health.embedding_dim} dimensions)`);
				this.clearTimer("resetTimer");
				this.resetTimer = this.timers.setTimeout(() => {
					this.resetTimer = null;
					this.failures = 0;
				}, this.tuning.healthyResetMs);
			}
			this.setState({ kind: "running", health });
		} else {
			run.healthFailures += 1;
			this.note(`health check ${run.healthFailures}/${this.tuning.unhealthyAfter} failed: ${problem}`);
			if (run.healthFailures >= this.tuning.unhealthyAfter) {
				this.terminate(run, "fail", `stopped answering health checks (${problem})`);
				return;
			}
		}
		run.healthTimer = this.timers.setTimeout(() => void this.pollHealth(run), this.tuning.healthIntervalMs);
	}

	/** Asks a process to end: stdin closed (it exits on EOF), SIGTERM, then SIGKILL if it is still there. */
	private terminate(run: Run, intent: "stop" | "fail", reason: string | null): void {
		if (run.exited) return;
		if (run.intent === "none" || intent === "stop") run.intent = intent;
		run.failReason ??= reason;
		if (reason) this.note(`stopping the service: ${reason}`);
		this.clearRunTimer(run, "startupTimer");
		this.clearRunTimer(run, "healthTimer");
		run.client?.close();
		if (run.killTimer !== null) return;
		run.proc.closeStdin();
		run.proc.kill("SIGTERM");
		run.killTimer = this.timers.setTimeout(() => {
			run.killTimer = null;
			if (!run.exited) {
				this.note(`still running ${this.tuning.killGraceMs} ms after SIGTERM; sending SIGKILL`);
				run.proc.kill("SIGKILL");
			}
		}, this.tuning.killGraceMs);
	}

	private onExit(run: Run, code: number | null, signal: string | null): void {
		if (run.exited) return;
		run.exited = true;
		if (run.stderr.length > 0) this.stderrLine(run.stderr);
		run.stderr = "";
		this.clearRunTimer(run, "startupTimer");
		this.clearRunTimer(run, "healthTimer");
		this.clearRunTimer(run, "killTimer");
		run.client?.close();
		const how = signal ? `killed by ${signal}` : `exited with code ${code ?? "?"}`;
		this.note(`process ${run.proc.pid ?? "?"} ${how}`);
		for (const resolve of run.exitWaiters.splice(0)) resolve();
		if (run !== this.run || run.intent === "stop") return;
		this.run = null;
		// Retrying a bad setting or a download nobody agreed to would fail the same way.
		const event = run.event;
		if (code === EXIT_CONFIG && event?.event === "config_error") {
			this.note(`settings error (${event.setting}): ${event.message}`);
			this.setState({ kind: "config-error", setting: event.setting, message: event.message });
			this.deps.notify(`Vault RAG: ${event.message} Change it in the plugin settings.`);
			return;
		}
		if (code === EXIT_DOWNLOAD_NEEDED && event?.event === "download_required") {
			this.note(`the model ${event.download.model} must be downloaded first`);
			this.setState({ kind: "needs-download", download: event.download });
			return;
		}
		this.onFailure(run.failReason ?? how);
	}

	private onError(run: Run, error: NodeJS.ErrnoException): void {
		if (run.proc.pid !== undefined || run.exited) {
			this.note(`process error: ${error.message}`);
			return;
		}
		// It never started (not found, not executable): retrying would fail the same way.
		run.exited = true;
		this.clearRunTimer(run, "startupTimer");
		for (const resolve of run.exitWaiters.splice(0)) resolve();
		if (run !== this.run) return;
		this.run = null;
		const message = `could not start the search service: ${error.code ?? ""} ${error.message}`.trim();
		this.note(message);
		this.setState({ kind: "missing", reason: message, looked: this.binaryValue ? [this.binaryValue.path] : [] });
		this.deps.notify(`Vault RAG: ${message}`);
	}

	private onFailure(reason: string): void {
		this.clearTimer("resetTimer");
		this.failures += 1;
		const detail = this.lastErrorLine ? ` Last error: ${this.lastErrorLine}` : "";
		if (this.failures > this.tuning.maxRestarts) {
			const message = `the search service stopped (${reason}) and was not restarted after ${this.tuning.maxRestarts} tries.${detail}`;
			this.note("giving up");
			this.setState({ kind: "failed", reason: `${reason}.${detail}` });
			this.deps.notify(`Vault RAG: ${message} See the log in the plugin settings.`);
			return;
		}
		const delayMs = backoffDelay(this.failures, this.tuning);
		this.note(`restart ${this.failures}/${this.tuning.maxRestarts} in ${delayMs} ms (${reason})`);
		this.setState({ kind: "restarting", attempt: this.failures, delayMs, reason: `${reason}.${detail}` });
		this.restartTimer = this.timers.setTimeout(() => this.launch(), delayMs);
	}

	private note(message: string): void {
		this.pushLog(`[plugin] ${message}`);
	}

	private pushLog(line: string): void {
		this.log.push(line);
		if (this.log.length > this.tuning.logLines) this.log.splice(0, this.log.length - this.tuning.logLines);
	}

	private setState(state: SupervisorState): void {
		this.stateValue = state;
		for (const listener of [...this.listeners]) listener(state);
	}

	private clearTimer(name: "restartTimer" | "resetTimer"): void {
		if (this[name] !== null) {
			this.timers.clearTimeout(this[name]);
			this[name] = null;
		}
	}

	private clearRunTimer(run: Run, name: "startupTimer" | "healthTimer" | "killTimer"): void {
		if (run[name] !== null) {
			this.timers.clearTimeout(run[name]);
			run[name] = null;
		}
	}
}

type BackendEvent =
	| { event: "config_error"; setting: string; message: string }
	| { event: "download_required"; download: DownloadRequired };

/** A `config_error` or `download_required` line of the backend, else null. */
export function backendEvent(line: string): BackendEvent | null {
	if (!line.startsWith("{")) return null;
	let value: unknown;
	try {
		value = JSON.parse(line);
	} catch {
		return null;
	}
	if (typeof value !== "object" || value === null) return null;
	const v = value as Record<string, unknown>;
	const text = (key: string): string => (typeof v[key] === "string" ? v[key] : "");
	if (v.event === "config_error" && text("setting") && text("message")) {
		return { event: "config_error", setting: text("setting"), message: text("message") };
	}
	if (v.event === "download_required" && text("model")) {
		return {
			event: "download_required",
			download: {
				model: text("model"),
				precision: text("precision"),
				repo: text("repo"),
				approx_mb: typeof v.approx_mb === "number" ? v.approx_mb : 0,
				licence: text("licence"),
				licence_url: text("licence_url"),
			},
		};
	}
	return null;
}

/** The port of a `{"event":"listening","port":N}` line, else null. */
export function listeningPort(line: string): number | null {
	if (!line.startsWith("{")) return null;
	try {
		const value: unknown = JSON.parse(line);
		if (typeof value !== "object" || value === null) return null;
		const { event, port } = value as { event?: unknown; port?: unknown };
		if (event === "listening" && typeof port === "number" && Number.isInteger(port) && port > 0 && port < 65536) {
			return port;
		}
	} catch {
		// Not JSON: an ordinary output line.
	}
	return null;
}
