/** The small slice of a child process the supervisor uses, so tests can hand it a fake one. */
import { spawn } from "node:child_process";
import { clearTimeout, setTimeout } from "node:timers";

export interface ProcessLike {
	/** Undefined when the process could not be started. */
	readonly pid: number | undefined;
	closeStdin(): void;
	kill(signal: "SIGTERM" | "SIGKILL"): void;
	onStdout(listener: (text: string) => void): void;
	onStderr(listener: (text: string) => void): void;
	onExit(listener: (code: number | null, signal: string | null) => void): void;
	/** Spawn failures (ENOENT, EACCES) and failed signals. */
	onError(listener: (error: NodeJS.ErrnoException) => void): void;
}

export type SpawnFn = (command: string, args: readonly string[], env: NodeJS.ProcessEnv) => ProcessLike;

export interface Timers {
	setTimeout(callback: () => void, ms: number): unknown;
	clearTimeout(handle: unknown): void;
}

/** Node's own timers: they work both in Obsidian's renderer and in plain Node (integration tests). */
export const nodeTimers: Timers = {
	setTimeout: (callback, ms) => setTimeout(callback, ms),
	clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export const spawnProcess: SpawnFn = (command, args, env) => {
	const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"], windowsHide: true });
	// Writing to or closing the pipe of a process that is gone raises EPIPE; its exit is reported on its own.
	child.stdin.on("error", () => undefined);
	child.stdout.setEncoding("utf8");
	child.stderr.setEncoding("utf8");
	return {
		get pid() {
			return child.pid;
		},
		closeStdin: () => {
			child.stdin.end();
		},
		kill: (signal) => {
			child.kill(signal);
		},
		onStdout: (listener) => {
			child.stdout.on("data", listener);
		},
		onStderr: (listener) => {
			child.stderr.on("data", listener);
		},
		onExit: (listener) => {
			// `close` comes after the last output has been read, so an error printed just before exiting is seen.
			child.on("close", listener);
		},
		onError: (listener) => {
			child.on("error", listener);
		},
	};
};
