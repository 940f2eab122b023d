import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { defaultIsExecutable, findBinary } from "../../src/binary";

const dirs: string[] = [];
afterEach(() => {
	for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vault-rag-binary-"));
	dirs.push(dir);
	return dir;
}

function executable(file: string): string {
	fs.mkdirSync(path.dirname(file), { recursive: true });
	fs.writeFileSync(file, "#!/bin/sh\nexit 0\n");
	fs.chmodSync(file, 0o755);
	return file;
}

describe("findBinary", () => {
	it("uses the path from settings and nothing else", () => {
		const dir = tempDir();
		const chosen = executable(path.join(dir, "custom", "vault-rag"));
		executable(path.join(dir, "plugin", "bin", "vault-rag"));
		const lookup = { pluginDir: path.join(dir, "plugin"), envPath: undefined, platform: "linux" as const };
		expect(findBinary({ ...lookup, settingPath: chosen })).toEqual({ found: true, path: chosen });
		const missing = findBinary({ ...lookup, settingPath: path.join(dir, "nope") });
		expect(missing.found).toBe(false);
		expect(!missing.found && missing.message).toContain(path.join(dir, "nope"));
	});

	it("prefers the plugin folder's bin/ over PATH", () => {
		const dir = tempDir();
		const bundled = executable(path.join(dir, "plugin", "bin", "vault-rag"));
		const onPath = executable(path.join(dir, "usr", "bin", "vault-rag"));
		const envPath = [path.join(dir, "empty"), path.dirname(onPath)].join(":");
		expect(findBinary({ settingPath: "", pluginDir: path.join(dir, "plugin"), envPath, platform: "linux" })).toEqual({
			found: true,
			path: bundled,
		});
		expect(findBinary({ settingPath: "  ", pluginDir: path.join(dir, "other"), envPath, platform: "linux" })).toEqual({
			found: true,
			path: onPath,
		});
	});

	it("skips files that are not executable and says where it looked", () => {
		const dir = tempDir();
		const plain = path.join(dir, "bin", "vault-rag");
		fs.mkdirSync(path.dirname(plain), { recursive: true });
		fs.writeFileSync(plain, "not a program");
		fs.chmodSync(plain, 0o644);
		expect(defaultIsExecutable(plain)).toBe(false);
		expect(defaultIsExecutable(path.dirname(plain))).toBe(false);
		const result = findBinary({ settingPath: "", pluginDir: dir, envPath: "", platform: "linux" });
		expect(result.found).toBe(false);
		expect(!result.found && result.message).toContain(path.join(dir, "bin"));
	});

	it("looks for vault-rag.exe with ; separators on Windows", () => {
		const seen: string[] = [];
		findBinary({
			settingPath: "",
			pluginDir: null,
			envPath: "C:\\tools;D:\\bin",
			platform: "win32",
			isExecutable: (file) => {
				seen.push(file);
				return false;
			},
		});
		expect(seen).toHaveLength(2);
		expect(seen.every((file) => file.endsWith("vault-rag.exe"))).toBe(true);
	});
});
