/** Finding the backend binary: the path in settings, else the plugin folder's `bin/`, else `PATH`. */
import * as fs from "node:fs";
import * as path from "node:path";

export interface BinaryLookup {
	/** Path from settings; when set, it is the only place looked at. */
	settingPath: string;
	/** Absolute path of the plugin's folder, when known. */
	pluginDir: string | null;
	/** The `PATH` environment variable. */
	envPath: string | undefined;
	platform: NodeJS.Platform;
	/** Whether a file exists and may be executed (injected so tests need no files). */
	isExecutable?: (file: string) => boolean;
}

export type BinaryResult = { found: true; path: string } | { found: false; message: string };

export const BINARY_NAME = "vault-rag";

export function defaultIsExecutable(file: string): boolean {
	try {
		if (!fs.statSync(file).isFile()) return false;
		fs.accessSync(file, fs.constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

export function findBinary(lookup: BinaryLookup): BinaryResult {
	const isExecutable = lookup.isExecutable ?? defaultIsExecutable;
	const fileName = lookup.platform === "win32" ? `${BINARY_NAME}.exe` : BINARY_NAME;
	const setting = lookup.settingPath.trim();
	if (setting.length > 0) {
		// A path the user chose is never silently replaced by another binary.
		if (isExecutable(setting)) return { found: true, path: setting };
		return {
			found: false,
			message: `The search service binary set in settings does not exist or is not executable: ${setting}`,
		};
	}
	const candidates: string[] = [];
	if (lookup.pluginDir) candidates.push(path.join(lookup.pluginDir, "bin", fileName));
	const delimiter = lookup.platform === "win32" ? ";" : ":";
	for (const dir of (lookup.envPath ?? "").split(delimiter)) {
		if (dir.length > 0) candidates.push(path.join(dir, fileName));
	}
	for (const candidate of candidates) {
		if (isExecutable(candidate)) return { found: true, path: candidate };
	}
	const where = lookup.pluginDir ? `${path.join(lookup.pluginDir, "bin")} or on PATH` : "on PATH";
	return {
		found: false,
		message: `Could not find the ${fileName} binary ${where}. Install it and set its path in the plugin settings.`,
	};
}
