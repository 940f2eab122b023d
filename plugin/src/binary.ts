/**
 * Finding the search service and checking its version. Places, in order: the path in settings (then the only one),
 * the plugin folder's `bin/`, where the installers put it, Cargo's and Homebrew's folders, `PATH`, and finally the
 * login shell's `PATH` (an app started from the macOS Dock does not inherit the shell's).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const BINARY_NAME = "vault-rag";

/** Service versions this plugin was built for: at least `min`, below `below`. */
export const SERVICE_VERSIONS = { min: "0.1.0", below: "0.2.0" } as const;

export const RELEASES_URL = "https://github.com/vault-rag/vault-rag/releases";

export interface BinaryLookup {
	/** Path from settings; when set, it is the only place looked at. */
	settingPath: string;
	/** Absolute path of the plugin's folder, when known. */
	pluginDir: string | null;
	/** The `PATH` environment variable. */
	envPath: string | undefined;
	platform: NodeJS.Platform;
	/** The user's home folder. */
	home?: string;
	/** `%LOCALAPPDATA%` on Windows. */
	localAppData?: string;
	/** Whether a file exists and may be executed (injected so tests need no files). */
	isExecutable?: (file: string) => boolean;
	/** Resolves the name through the user's login shell; null when it does not know it. */
	loginShellLookup?: (name: string) => string | null;
}

export interface Candidate {
	path: string;
	/** Where this is, in words: "the installer's folder", "PATH", … */
	source: string;
}

export type BinaryResult =
	| { found: true; path: string; source: string }
	| { found: false; message: string; looked: string[] };

export function defaultIsExecutable(file: string): boolean {
	try {
		if (!fs.statSync(file).isFile()) return false;
		fs.accessSync(file, fs.constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

/** `command -v NAME` in the user's login shell (macOS, Linux), with a short timeout. */
export function loginShellLookup(name: string, shell = process.env.SHELL): string | null {
	if (!shell || process.platform === "win32") return null;
	try {
		const out = execFileSync(shell, ["-l", "-c", `command -v ${name}`], {
			encoding: "utf8",
			timeout: 3_000,
			stdio: ["ignore", "pipe", "ignore"],
		});
		const found = out.trim().split("\n").pop()?.trim() ?? "";
		return path.isAbsolute(found) ? found : null;
	} catch {
		return null;
	}
}

/** Every place looked at, in order, for this platform. */
export function candidates(lookup: BinaryLookup): Candidate[] {
	const win = lookup.platform === "win32";
	const p = win ? path.win32 : path.posix;
	const fileName = win ? `${BINARY_NAME}.exe` : BINARY_NAME;
	const out: Candidate[] = [];
	if (lookup.pluginDir) out.push({ path: p.join(lookup.pluginDir, "bin", fileName), source: "the plugin folder" });
	if (win) {
		if (lookup.localAppData) {
			out.push({ path: p.join(lookup.localAppData, "Programs", "vault-rag", fileName), source: "the installer's folder" });
		}
	} else if (lookup.home) {
		out.push({ path: p.join(lookup.home, ".local", "bin", fileName), source: "the installer's folder" });
		out.push({ path: p.join(lookup.home, ".local", "lib", "vault-rag", fileName), source: "the installer's folder" });
	}
	if (lookup.home) out.push({ path: p.join(lookup.home, ".cargo", "bin", fileName), source: "Cargo's folder" });
	if (lookup.platform === "darwin") out.push({ path: p.join("/opt/homebrew/bin", fileName), source: "Homebrew" });
	if (!win) out.push({ path: p.join("/usr/local/bin", fileName), source: "/usr/local/bin" });
	for (const dir of (lookup.envPath ?? "").split(win ? ";" : ":")) {
		if (dir.length > 0) out.push({ path: p.join(dir, fileName), source: "PATH" });
	}
	return out;
}

export function findBinary(lookup: BinaryLookup): BinaryResult {
	const isExecutable = lookup.isExecutable ?? defaultIsExecutable;
	const setting = lookup.settingPath.trim();
	if (setting.length > 0) {
		// A path the user chose is never silently replaced by another binary.
		if (isExecutable(setting)) return { found: true, path: setting, source: "the path in settings" };
		return {
			found: false,
			message: `The service set in settings does not exist or cannot be run: ${setting}`,
			looked: [setting],
		};
	}
	const list = candidates(lookup);
	for (const candidate of list) {
		if (isExecutable(candidate.path)) return { found: true, ...candidate };
	}
	const fromShell = lookup.loginShellLookup?.(BINARY_NAME) ?? null;
	if (fromShell && isExecutable(fromShell)) return { found: true, path: fromShell, source: "the login shell's PATH" };
	const looked = [...new Set(list.map((c) => c.path))];
	if (lookup.loginShellLookup) looked.push("the login shell's PATH");
	return { found: false, message: "The vault-rag search service is not installed (or not where the plugin looks).", looked };
}

export type VersionCheck =
	| { ok: true; version: string }
	| { ok: false; version: string | null; message: string };

/** `[major, minor, patch]` of "vault-rag 1.2.3" or "1.2.3"; null when there is none. */
export function parseVersion(text: string): [number, number, number] | null {
	const match = /(\d+)\.(\d+)\.(\d+)/.exec(text);
	return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : null;
}

function compare(a: [number, number, number], b: [number, number, number]): number {
	for (let i = 0; i < 3; i++) {
		const diff = (a[i] ?? 0) - (b[i] ?? 0);
		if (diff !== 0) return diff;
	}
	return 0;
}

/** Whether the service's version is one this plugin speaks to, with what to do when it is not. */
export function checkVersion(reported: string, binaryPath: string, installCommand: string): VersionCheck {
	const version = parseVersion(reported);
	const wanted = `${SERVICE_VERSIONS.min} or later, below ${SERVICE_VERSIONS.below}`;
	if (!version) {
		return {
			ok: false,
			version: null,
			message: `${binaryPath} did not say which version it is (it printed "${reported.trim().slice(0, 80)}"). This plugin needs vault-rag ${wanted}. Reinstall the service: ${installCommand}`,
		};
	}
	const text = version.join(".");
	const min = parseVersion(SERVICE_VERSIONS.min) ?? [0, 0, 0];
	const below = parseVersion(SERVICE_VERSIONS.below) ?? [0, 0, 0];
	if (compare(version, min) < 0) {
		return {
			ok: false,
			version: text,
			message: `The service at ${binaryPath} is vault-rag ${text}, older than this plugin needs (${wanted}). Update the service: ${installCommand}`,
		};
	}
	if (compare(version, below) >= 0) {
		return {
			ok: false,
			version: text,
			message: `The service at ${binaryPath} is vault-rag ${text}, newer than this plugin knows (${wanted}). Update the plugin in Settings → Community plugins, or install a matching service from ${RELEASES_URL}.`,
		};
	}
	return { ok: true, version: text };
}

/** Runs `BINARY --version` and checks it. */
export function checkBinaryVersion(binaryPath: string, installCommand: string): VersionCheck {
	let out: string;
	try {
		out = execFileSync(binaryPath, ["--version"], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
	} catch (err) {
		const detail = err instanceof Error ? err.message.split("\n")[0] : String(err);
		return {
			ok: false,
			version: null,
			message: `${binaryPath} does not run (${detail}). Reinstall the service: ${installCommand}`,
		};
	}
	return checkVersion(out, binaryPath, installCommand);
}

/** The one-line install command for this platform. */
export function installCommand(platform: NodeJS.Platform): string {
	if (platform === "win32") {
		return `powershell -ExecutionPolicy Bypass -c "irm ${RELEASES_URL}/latest/download/install.ps1 | iex"`;
	}
	return `curl -fsSL ${RELEASES_URL}/latest/download/install.sh | sh`;
}
