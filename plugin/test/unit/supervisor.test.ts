import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { HealthResponse } from "../../src/api";
import { BackendClient, BackendError, type RequestOptions } from "../../src/client";
import { backoffDelay, DEFAULT_TUNING, Supervisor, listeningPort, type SupervisorTuning } from "../../src/supervisor";
import { FakeProcess, fakeSpawner, globalTimers } from "../helpers/fake-process";
import { healthAnswer } from "../helpers/health";

interface Harness {
	sup: Supervisor;
	procs: FakeProcess[];
	notices: string[];
	spawnTimes: number[];
	health: ReturnType<typeof vi.fn<(options?: RequestOptions) => Promise<HealthResponse>>>;
}

function harness(
	options: {
		found?: boolean;
		setup?: (proc: FakeProcess, index: number) => void;
		health?: (options?: RequestOptions) => Promise<HealthResponse>;
		tuning?: Partial<SupervisorTuning>;
	} = {},
): Harness {
	const spawnTimes: number[] = [];
	const { spawn, procs } = fakeSpawner((proc) => {
		spawnTimes.push(Date.now());
		options.setup?.(proc, procs.length - 1);
	});
	const notices: string[] = [];
	const health = vi.fn(options.health ?? (() => Promise.resolve(healthAnswer())));
	const sup = new Supervisor({
		findBinary: () =>
			options.found === false
				? { found: false, message: "The vault-rag search service is not installed.", looked: ["/usr/bin/vault-rag"] }
				: { found: true, path: "/opt/vault-rag/vault-rag", source: "PATH" },
		args: () => ["serve", "--port", "0", "--exit-on-stdin-close"],
		notify: (message) => notices.push(message),
		spawn,
		timers: globalTimers,
		env: { PATH: "/usr/bin" },
		createClient: (port, token) => {
			const client = new BackendClient({ port, token });
			client.health = health;
			return client;
		},
		tuning: options.tuning,
	});
	return { sup, procs, notices, spawnTimes, health };
}

/** Every process lists at once on a port of its own. */
const listens = (proc: FakeProcess, index: number): void => queueMicrotask(() => proc.listen(40_000 + index));

beforeEach(() => {
	vi.useFakeTimers();
});

afterEach(() => {
	vi.useRealTimers();
});

describe("backoff", () => {
	it("starts at 0.5 s and doubles up to 30 s", () => {
		const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => backoffDelay(n, DEFAULT_TUNING));
		expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
	});

	it("restarts a crash loop after 0.5, 1, 2, 4, 8 s, then gives up with one notice naming the error", async () => {
		const h = harness({
			setup: (proc) =>
				queueMicrotask(() => {
					proc.writeStderr("loading model\nerror: model file not found: /models/x/model.onnx\n");
					proc.exit(1);
				}),
		});
		h.sup.start();
		await vi.advanceTimersByTimeAsync(10 * 60_000);
		expect(h.procs).toHaveLength(6);
		const gaps = h.spawnTimes.slice(1).map((t, i) => t - (h.spawnTimes[i] ?? 0));
		expect(gaps).toEqual([500, 1000, 2000, 4000, 8000]);
		expect(h.sup.state.kind).toBe("failed");
		expect(h.notices).toHaveLength(1);
		expect(h.notices[0]).toContain("error: model file not found: /models/x/model.onnx");
		expect(h.sup.logTail).toContain("error: model file not found: /models/x/model.onnx");
	});

	it("reaches the 30 s cap when more tries are allowed", async () => {
		const h = harness({ tuning: { maxRestarts: 8 }, setup: (proc) => queueMicrotask(() => proc.exit(2)) });
		h.sup.start();
		await vi.advanceTimersByTimeAsync(30 * 60_000);
		const gaps = h.spawnTimes.slice(1).map((t, i) => t - (h.spawnTimes[i] ?? 0));
		expect(gaps).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
		expect(h.notices).toHaveLength(1);
	});

	it("forgets earlier failures after 60 s healthy", async () => {
		const h = harness({
			setup: (proc, index) =>
				index < 3 ? queueMicrotask(() => proc.exit(1)) : queueMicrotask(() => proc.listen(40_000 + index)),
		});
		h.sup.start();
		await vi.advanceTimersByTimeAsync(500 + 1000 + 2000 + 10);
		expect(h.procs).toHaveLength(4);
		expect(h.sup.state.kind).toBe("running");
		await vi.advanceTimersByTimeAsync(60_000);
		const crashAt = Date.now();
		h.procs[3]?.exit(1);
		await vi.advanceTimersByTimeAsync(30_000);
		expect(h.procs).toHaveLength(5);
		expect((h.spawnTimes[4] ?? 0) - crashAt).toBe(500);
	});

	it("keeps counting failures when the process was healthy for less than 60 s", async () => {
		const h = harness({
			setup: (proc, index) =>
				index < 3 ? queueMicrotask(() => proc.exit(1)) : queueMicrotask(() => proc.listen(40_000 + index)),
		});
		h.sup.start();
		await vi.advanceTimersByTimeAsync(500 + 1000 + 2000 + 10);
		await vi.advanceTimersByTimeAsync(50_000);
		const crashAt = Date.now();
		h.procs[3]?.exit(1);
		await vi.advanceTimersByTimeAsync(30_000);
		expect((h.spawnTimes[4] ?? 0) - crashAt).toBe(4000);
	});
});

describe("start", () => {
	it("passes the arguments, a fresh random token per process, and the environment", async () => {
		const h = harness({ setup: (proc) => queueMicrotask(() => proc.exit(1)) });
		h.sup.start();
		await vi.advanceTimersByTimeAsync(600);
		expect(h.procs).toHaveLength(2);
		const [first, second] = h.procs;
		expect(first?.command).toBe("/opt/vault-rag/vault-rag");
		expect(first?.args).toEqual(["serve", "--port", "0", "--exit-on-stdin-close"]);
		expect(first?.env.PATH).toBe("/usr/bin");
		expect(first?.env.VAULT_RAG_TOKEN).toMatch(/^[0-9a-f]{64}$/);
		expect(second?.env.VAULT_RAG_TOKEN).toMatch(/^[0-9a-f]{64}$/);
		expect(second?.env.VAULT_RAG_TOKEN).not.toBe(first?.env.VAULT_RAG_TOKEN);
	});

	it("reads the port from the listening line, polls /health and reports running", async () => {
		const h = harness({
			setup: (proc) =>
				queueMicrotask(() => {
					proc.writeStdout('{"event":"lis');
					proc.writeStdout('tening","port":43123}\n');
				}),
			health: () =>
				Promise.resolve(healthAnswer({ status: "indexing", index: { state: "indexing", notes_done: 1, notes_total: 4, complete: false, live_updates: "on" } })),
		});
		const states: string[] = [];
		h.sup.onChange((state) => states.push(state.kind));
		h.sup.start();
		await vi.advanceTimersByTimeAsync(10);
		expect(h.sup.client?.port).toBe(43123);
		expect(h.sup.state.kind).toBe("running");
		expect(states.slice(0, 2)).toEqual(["starting", "running"]);
		await vi.advanceTimersByTimeAsync(DEFAULT_TUNING.healthIntervalMs * 3);
		expect(h.health.mock.calls.length).toBe(4);
	});

	it("reports a missing binary once, with where it looked, and does not retry", async () => {
		const h = harness({ found: false });
		h.sup.start();
		await vi.advanceTimersByTimeAsync(10 * 60_000);
		expect(h.procs).toHaveLength(0);
		// The plugin shows its install panel for this state; no notice on top of it.
		expect(h.notices).toEqual([]);
		expect(h.sup.state).toEqual({
			kind: "missing",
			reason: "The vault-rag search service is not installed.",
			looked: ["/usr/bin/vault-rag"],
		});
	});

	it("does not retry a binary that cannot be executed", async () => {
		const notices: string[] = [];
		const procs: FakeProcess[] = [];
		const sup = new Supervisor({
			findBinary: () => ({ found: true, path: "/opt/vault-rag/vault-rag", source: "PATH" }),
			args: () => ["serve"],
			notify: (message) => notices.push(message),
			timers: globalTimers,
			spawn: (command, args, env) => {
				const proc = new FakeProcess(command, args, env, false);
				procs.push(proc);
				queueMicrotask(() => proc.fail("EACCES"));
				return proc;
			},
		});
		sup.start();
		await vi.advanceTimersByTimeAsync(10 * 60_000);
		expect(procs).toHaveLength(1);
		expect(notices).toHaveLength(1);
		expect(notices[0]).toContain("EACCES");
		expect(sup.state.kind).toBe("missing");
	});

	it("restarts a process that prints no listening line within the startup timeout", async () => {
		const h = harness({ tuning: { startupTimeoutMs: 5_000 } });
		h.sup.start();
		await vi.advanceTimersByTimeAsync(4_999);
		expect(h.procs[0]?.actions).toEqual([]);
		await vi.advanceTimersByTimeAsync(1);
		expect(h.procs[0]?.actions).toEqual(["stdin-close", "SIGTERM"]);
		await vi.advanceTimersByTimeAsync(500);
		expect(h.procs).toHaveLength(2);
	});
});

describe("errors that a restart cannot fix", () => {
	it("a settings error is not retried and names the setting", async () => {
		const h = harness({
			setup: (proc) =>
				queueMicrotask(() => {
					proc.writeStdout('{"event":"config_error","setting":"dim","message":"dimension 300 is not available"}\n');
					proc.writeStderr("error: dimension 300 is not available\n");
					proc.exit(78);
				}),
		});
		h.sup.start();
		await vi.advanceTimersByTimeAsync(60_000);
		expect(h.procs).toHaveLength(1);
		expect(h.sup.state).toEqual({ kind: "config-error", setting: "dim", message: "dimension 300 is not available" });
		expect(h.notices).toHaveLength(1);
		expect(h.notices[0]).toContain("dimension 300");
	});

	it("a model that must be downloaded waits for consent instead of restarting", async () => {
		const h = harness({
			setup: (proc) =>
				queueMicrotask(() => {
					proc.writeStdout(
						'{"event":"download_required","model":"embeddinggemma-300m","precision":"int8","repo":"onnx-community/embeddinggemma-300m-ONNX","approx_mb":345,"licence":"Gemma Terms of Use","licence_url":"https://ai.google.dev/gemma/terms"}\n',
					);
					proc.exit(77);
				}),
		});
		h.sup.start();
		await vi.advanceTimersByTimeAsync(60_000);
		expect(h.procs).toHaveLength(1);
		expect(h.sup.state).toMatchObject({ kind: "needs-download", download: { model: "embeddinggemma-300m", approx_mb: 345 } });
		expect(h.notices).toHaveLength(0);
	});

	it("an exit code without its event line is an ordinary crash", async () => {
		const h = harness({ setup: (proc) => queueMicrotask(() => proc.exit(78)) });
		h.sup.start();
		await vi.advanceTimersByTimeAsync(700);
		expect(h.procs.length).toBeGreaterThan(1);
	});
});

describe("hung backend", () => {
	it("restarts a backend that is listening but never answers /health", async () => {
		const h = harness({
			setup: listens,
			health: (options) =>
				new Promise((_, reject) => {
					setTimeout(
						() => reject(new BackendError("timeout", "timeout", "GET /health got no answer", { request: "GET /health" })),
						options?.timeoutMs ?? 0,
					);
				}),
		});
		h.sup.start();
		// Three checks: each waits the 5 s timeout, with 2 s between them.
		await vi.advanceTimersByTimeAsync(3 * 5_000 + 2 * 2_000 - 10);
		expect(h.procs[0]?.actions).toEqual([]);
		await vi.advanceTimersByTimeAsync(20);
		expect(h.procs[0]?.actions).toEqual(["stdin-close", "SIGTERM"]);
		await vi.advanceTimersByTimeAsync(500);
		expect(h.procs).toHaveLength(2);
		expect(h.sup.logTail.some((line) => line.includes("stopped answering health checks"))).toBe(true);
	});

	it("kills a hung backend that ignores SIGTERM after the grace period", async () => {
		const h = harness({
			tuning: { unhealthyAfter: 1 },
			setup: (proc, index) => {
				proc.diesOn = ["SIGKILL"];
				listens(proc, index);
			},
			health: () => Promise.reject(new BackendError("connection", "ECONNRESET", "reset", { request: "GET /health" })),
		});
		h.sup.start();
		await vi.advanceTimersByTimeAsync(10);
		expect(h.procs[0]?.actions).toEqual(["stdin-close", "SIGTERM"]);
		await vi.advanceTimersByTimeAsync(3_000);
		expect(h.procs[0]?.actions).toEqual(["stdin-close", "SIGTERM", "SIGKILL"]);
		await vi.advanceTimersByTimeAsync(500);
		expect(h.procs).toHaveLength(2);
	});
});

describe("stop", () => {
	it("closes stdin, sends SIGTERM, and SIGKILL only after 3 s", async () => {
		const h = harness({
			setup: (proc, index) => {
				proc.diesOn = ["SIGKILL"];
				listens(proc, index);
			},
		});
		h.sup.start();
		await vi.advanceTimersByTimeAsync(10);
		const proc = h.procs[0];
		let stopped = false;
		const stopping = h.sup.stop().then(() => {
			stopped = true;
		});
		expect(proc?.actions).toEqual(["stdin-close", "SIGTERM"]);
		await vi.advanceTimersByTimeAsync(2_999);
		expect(proc?.actions).toEqual(["stdin-close", "SIGTERM"]);
		expect(stopped).toBe(false);
		await vi.advanceTimersByTimeAsync(1);
		await stopping;
		expect(proc?.actions).toEqual(["stdin-close", "SIGTERM", "SIGKILL"]);
		expect(h.sup.state.kind).toBe("stopped");
		await vi.advanceTimersByTimeAsync(10 * 60_000);
		expect(h.procs).toHaveLength(1);
		expect(h.notices).toEqual([]);
	});

	it("sends no SIGKILL to a process that exits on SIGTERM", async () => {
		const h = harness({ setup: listens });
		h.sup.start();
		await vi.advanceTimersByTimeAsync(10);
		await h.sup.stop();
		await vi.advanceTimersByTimeAsync(10_000);
		expect(h.procs[0]?.actions).toEqual(["stdin-close", "SIGTERM"]);
		expect(h.sup.pid).toBeUndefined();
	});

	it("signals only the process it is running, never one that already exited", async () => {
		const h = harness({ setup: (proc, index) => (index === 0 ? queueMicrotask(() => proc.exit(1)) : listens(proc, index)) });
		h.sup.start();
		await vi.advanceTimersByTimeAsync(600);
		expect(h.procs).toHaveLength(2);
		await h.sup.stop();
		expect(h.procs[0]?.actions).toEqual([]);
		expect(h.procs[1]?.actions).toEqual(["stdin-close", "SIGTERM"]);
	});

	it("cancels a pending restart", async () => {
		const h = harness({ setup: (proc) => queueMicrotask(() => proc.exit(1)) });
		h.sup.start();
		await vi.advanceTimersByTimeAsync(10);
		expect(h.sup.state.kind).toBe("restarting");
		await h.sup.stop();
		await vi.advanceTimersByTimeAsync(60_000);
		expect(h.procs).toHaveLength(1);
		expect(h.sup.state.kind).toBe("stopped");
	});

	it("restart after giving up starts again with a fresh count", async () => {
		const h = harness({ setup: (proc, index) => (index < 6 ? queueMicrotask(() => proc.exit(1)) : listens(proc, index)) });
		h.sup.start();
		await vi.advanceTimersByTimeAsync(10 * 60_000);
		expect(h.sup.state.kind).toBe("failed");
		await h.sup.restart();
		await vi.advanceTimersByTimeAsync(10);
		expect(h.procs).toHaveLength(7);
		expect(h.sup.state.kind).toBe("running");
	});
});

describe("log tail", () => {
	it("joins lines split across chunks", async () => {
		const h = harness({
			setup: (proc, index) => {
				listens(proc, index);
				queueMicrotask(() => {
					proc.writeStderr("WARN par");
					proc.writeStderr("tial line\nsecond");
					proc.exit(3);
				});
			},
		});
		h.sup.start();
		await vi.advanceTimersByTimeAsync(10);
		expect(h.sup.logTail).toContain("WARN partial line");
		expect(h.sup.logTail).toContain("second");
		expect(h.sup.logTail.some((line) => line.includes("exited with code 3"))).toBe(true);
	});

	it("strips terminal colour codes and asks the backend for none", async () => {
		const h = harness({
			setup: (proc, index) => {
				listens(proc, index);
				queueMicrotask(() => proc.writeStderr("\u001b[2m2026-01-01\u001b[0m \u001b[31mERROR\u001b[0m index locked\n"));
			},
		});
		h.sup.start();
		await vi.advanceTimersByTimeAsync(10);
		expect(h.sup.logTail).toContain("2026-01-01 ERROR index locked");
		expect(h.procs[0]?.env.NO_COLOR).toBe("1");
		expect(h.procs[0]?.env.VAULT_RAG_LOG).toBe("info");
	});

	it("keeps only the last 200 lines", async () => {
		const h = harness({
			setup: (proc, index) => {
				listens(proc, index);
				queueMicrotask(() => {
					for (let i = 0; i < 250; i++) proc.writeStderr(`line ${i}\n`);
				});
			},
		});
		h.sup.start();
		await vi.advanceTimersByTimeAsync(10);
		expect(h.sup.logTail).toHaveLength(200);
		expect(h.sup.logTail).toContain("line 249");
		expect(h.sup.logTail).toContain("line 60");
		expect(h.sup.logTail).not.toContain("line 45");
	});
});

describe("listeningPort", () => {
	it("accepts only the listening event with a valid port", () => {
		expect(listeningPort('{"event":"listening","port":8080}')).toBe(8080);
		expect(listeningPort('{"event":"listening","port":0}')).toBeNull();
		expect(listeningPort('{"event":"listening","port":"80"}')).toBeNull();
		expect(listeningPort('{"event":"ready","port":80}')).toBeNull();
		expect(listeningPort("listening on 80")).toBeNull();
		expect(listeningPort("{not json")).toBeNull();
	});
});
