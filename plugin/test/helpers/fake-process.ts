/** A scripted stand-in for a child process, recording what the supervisor does to it. */
import type { ProcessLike, SpawnFn, Timers } from "../../src/process";

export class FakeProcess implements ProcessLike {
	static nextPid = 1000;
	readonly pid: number | undefined;
	/** What was done to the process, in order: `stdin-close`, `SIGTERM`, `SIGKILL`. */
	readonly actions: string[] = [];
	exited = false;
	/** Signals the process obeys by exiting (a hung process ignores SIGTERM). */
	diesOn: ("SIGTERM" | "SIGKILL")[] = ["SIGTERM", "SIGKILL"];
	private readonly stdout: ((text: string) => void)[] = [];
	private readonly stderr: ((text: string) => void)[] = [];
	private readonly exits: ((code: number | null, signal: string | null) => void)[] = [];
	private readonly errors: ((error: NodeJS.ErrnoException) => void)[] = [];

	constructor(
		readonly command: string,
		readonly args: readonly string[],
		readonly env: NodeJS.ProcessEnv,
		started = true,
	) {
		this.pid = started ? FakeProcess.nextPid++ : undefined;
	}

	closeStdin(): void {
		this.actions.push("stdin-close");
	}

	kill(signal: "SIGTERM" | "SIGKILL"): void {
		this.actions.push(signal);
		if (this.diesOn.includes(signal)) queueMicrotask(() => this.exit(null, signal));
	}

	onStdout(listener: (text: string) => void): void {
		this.stdout.push(listener);
	}

	onStderr(listener: (text: string) => void): void {
		this.stderr.push(listener);
	}

	onExit(listener: (code: number | null, signal: string | null) => void): void {
		this.exits.push(listener);
	}

	onError(listener: (error: NodeJS.ErrnoException) => void): void {
		this.errors.push(listener);
	}

	writeStdout(text: string): void {
		for (const listener of this.stdout) listener(text);
	}

	writeStderr(text: string): void {
		for (const listener of this.stderr) listener(text);
	}

	listen(port: number): void {
		this.writeStdout(`${JSON.stringify({ event: "listening", port })}\n`);
	}

	exit(code: number | null, signal: string | null = null): void {
		if (this.exited) return;
		this.exited = true;
		for (const listener of this.exits) listener(code, signal);
	}

	fail(code: string): void {
		const error: NodeJS.ErrnoException = new Error(`spawn ${this.command} ${code}`);
		error.code = code;
		for (const listener of this.errors) listener(error);
	}
}

/** A spawn function that records every process it "starts" and lets the test script them. */
export function fakeSpawner(setup?: (proc: FakeProcess) => void): { spawn: SpawnFn; procs: FakeProcess[] } {
	const procs: FakeProcess[] = [];
	const spawn: SpawnFn = (command, args, env) => {
		const proc = new FakeProcess(command, args, env);
		procs.push(proc);
		setup?.(proc);
		return proc;
	};
	return { spawn, procs };
}

/** Timers that call the global ones at call time, so `vi.useFakeTimers()` controls them. */
export const globalTimers: Timers = {
	setTimeout: (callback, ms) => setTimeout(callback, ms),
	clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
