import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
	candidates,
	checkVersion,
	defaultIsExecutable,
	findBinary,
	installCommand,
	loginShellLookup,
	SERVICE_VERSIONS,
} from "../../src/binary";

const dirs: string[] = [];
afterEach(() => {
	for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vault-rag-binary-"));
	dirs.push(dir);
	return dir;
}

/** Only files under `dir` count: a vault-rag installed on the test machine must not change the outcome. */
function inside(dir: string): (file: string) => boolean {
	return (file) => file.startsWith(dir) && defaultIsExecutable(file);
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
		expect(findBinary({ ...lookup, settingPath: chosen })).toEqual({
			found: true,
			path: chosen,
			source: "the path in settings",
		});
		const missing = findBinary({ ...lookup, settingPath: path.join(dir, "nope") });
		expect(missing.found).toBe(false);
		expect(!missing.found && missing.message).toContain(path.join(dir, "nope"));
	});

	it("prefers the plugin folder's bin/ over PATH", () => {
		const dir = tempDir();
		const bundled = executable(path.join(dir, "plugin", "bin", "vault-rag"));
		const onPath = executable(path.join(dir, "usr", "bin", "vault-rag"));
		const envPath = [path.join(dir, "empty"), path.dirname(onPath)].join(":");
		const isExecutable = inside(dir);
		expect(
			findBinary({ settingPath: "", pluginDir: path.join(dir, "plugin"), envPath, platform: "linux", isExecutable }),
		).toEqual({ found: true, path: bundled, source: "the plugin folder" });
		expect(
			findBinary({ settingPath: "  ", pluginDir: path.join(dir, "other"), envPath, platform: "linux", isExecutable }),
		).toEqual({ found: true, path: onPath, source: "PATH" });
	});

	it("skips files that are not executable and says where it looked", () => {
		const dir = tempDir();
		const plain = path.join(dir, "bin", "vault-rag");
		fs.mkdirSync(path.dirname(plain), { recursive: true });
		fs.writeFileSync(plain, "not a program");
		fs.chmodSync(plain, 0o644);
		expect(defaultIsExecutable(plain)).toBe(false);
		expect(defaultIsExecutable(path.dirname(plain))).toBe(false);
		const result = findBinary({ settingPath: "", pluginDir: dir, envPath: "", platform: "linux", isExecutable: inside(dir) });
		expect(result.found).toBe(false);
		expect(!result.found && result.looked).toContain(plain);
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
		expect(seen).toEqual(["C:\\tools\\vault-rag.exe", "D:\\bin\\vault-rag.exe"]);
	});

	it("looks where the installers put it, then Cargo, Homebrew and PATH, in that order", () => {
		const mac = candidates({ settingPath: "", pluginDir: "/v/config/plugins/vault-rag", envPath: "/usr/bin", platform: "darwin", home: "/Users/ann" });
		expect(mac.map((c) => c.path)).toEqual([
			"/v/config/plugins/vault-rag/bin/vault-rag",
			"/Users/ann/.local/bin/vault-rag",
			"/Users/ann/.local/lib/vault-rag/vault-rag",
			"/Users/ann/.cargo/bin/vault-rag",
			"/opt/homebrew/bin/vault-rag",
			"/usr/local/bin/vault-rag",
			"/usr/bin/vault-rag",
		]);
		const win = candidates({
			settingPath: "",
			pluginDir: null,
			envPath: "",
			platform: "win32",
			home: "C:\\Users\\ann",
			localAppData: "C:\\Users\\ann\\AppData\\Local",
		});
		expect(win.map((c) => c.path)).toEqual([
			"C:\\Users\\ann\\AppData\\Local\\Programs\\vault-rag\\vault-rag.exe",
			"C:\\Users\\ann\\.cargo\\bin\\vault-rag.exe",
		]);
	});

	it("finds the installer's copy and says so", () => {
		const home = tempDir();
		const installed = executable(path.join(home, ".local", "lib", "vault-rag", "vault-rag"));
		const result = findBinary({ settingPath: "", pluginDir: null, envPath: "", platform: "linux", home, isExecutable: inside(home) });
		expect(result).toEqual({ found: true, path: installed, source: "the installer's folder" });
	});

	it("asks the login shell last, as an app started from the Dock has no shell PATH", () => {
		const dir = tempDir();
		const viaShell = executable(path.join(dir, "brew", "vault-rag"));
		const asked: string[] = [];
		const result = findBinary({
			settingPath: "",
			pluginDir: null,
			envPath: "/usr/bin:/bin",
			platform: "darwin",
			home: path.join(dir, "home"),
			isExecutable: inside(dir),
			loginShellLookup: (name) => {
				asked.push(name);
				return viaShell;
			},
		});
		expect(asked).toEqual(["vault-rag"]);
		expect(result).toEqual({ found: true, path: viaShell, source: "the login shell's PATH" });
	});

	it("resolves a name through a real login shell", () => {
		const dir = tempDir();
		const bin = executable(path.join(dir, "bin", "vault-rag"));
		// A stand-in shell that, like `sh -l -c 'command -v NAME'`, prints the path it finds.
		const shell = executable(path.join(dir, "fake-shell"));
		fs.writeFileSync(shell, `#!/bin/sh\necho "welcome"\nPATH="${path.dirname(bin)}:$PATH" exec /bin/sh -c "$3"\n`);
		expect(loginShellLookup("vault-rag", shell)).toBe(bin);
		expect(loginShellLookup("no-such-program-here", shell)).toBeNull();
		expect(loginShellLookup("vault-rag", path.join(dir, "no-shell"))).toBeNull();
	});
});

describe("checkVersion", () => {
	const command = installCommand("linux");

	it("accepts the versions the plugin was built for", () => {
		expect(checkVersion(`vault-rag ${SERVICE_VERSIONS.min}\n`, "/bin/vault-rag", command)).toEqual({
			ok: true,
			version: SERVICE_VERSIONS.min,
		});
	});

	it("explains an old service: update the service, with the command", () => {
		const result = checkVersion("vault-rag 0.0.9", "/bin/vault-rag", command);
		expect(result.ok).toBe(false);
		expect(!result.ok && result.message).toContain("vault-rag 0.0.9, older than this plugin needs");
		expect(!result.ok && result.message).toContain(command);
	});

	it("explains a newer service: update the plugin", () => {
		const result = checkVersion(`vault-rag ${SERVICE_VERSIONS.below}`, "/bin/vault-rag", command);
		expect(!result.ok && result.message).toContain("Update the plugin");
	});

	it("says so when no version is printed", () => {
		const result = checkVersion("usage: something", "/bin/other", command);
		expect(result).toMatchObject({ ok: false, version: null });
	});

	it("gives a one-line command per platform", () => {
		expect(installCommand("darwin")).toMatch(/^curl -fsSL https:\/\/.+\/install\.sh \| sh$/);
		expect(installCommand("win32")).toContain("install.ps1");
	});
});
