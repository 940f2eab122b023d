// Screenshots of the plugin's real views for the README (docs/screenshots/*.png), with what the real service
// answers for the sample vault. Needs the vault-rag binary (VAULT_RAG_BIN, default ../target/release/vault-rag),
// the small test model (VAULT_RAG_TEST_MODEL_DIR, from `make setup`), the small chat model and its server for the
// Ask view (VAULT_RAG_TEST_LLM_PYTHON, VAULT_RAG_TEST_GGUF, from `bash scripts/llm.sh`) and Chromium (CHROMIUM,
// default /usr/bin/chromium). Run: node scripts/screenshots.mjs
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import * as esbuild from "esbuild";

const here = import.meta.dirname;
const root = path.resolve(here, "../..");
const bin = process.env.VAULT_RAG_BIN ?? path.join(root, "target/release/vault-rag");
const cache = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache");
const modelDir = process.env.VAULT_RAG_TEST_MODEL_DIR ?? path.join(cache, "vault-rag/models/all-MiniLM-L6-v2-int8");
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
const vault = path.join(root, "examples/sample-vault");
const out = path.join(root, "docs/screenshots");
const query = "why can't I fall asleep after flying east";
const notePath = "Areas/Health/Circadian Rhythm.md";

const llmPython = process.env.VAULT_RAG_TEST_LLM_PYTHON ?? path.join(root, ".venv-llm/bin/python");
const gguf = process.env.VAULT_RAG_TEST_GGUF ?? path.join(process.env.VAULT_RAG_CACHE ?? path.join(cache, "vault-rag"), "llm/SmolLM2-135M-Instruct.Q4_1.gguf");
const askQuestion = "What dose of melatonin helps with jet lag?";
for (const [what, file] of [["vault-rag", bin], ["the test model", modelDir], ["Chromium", chromium], ["the chat server", llmPython], ["the chat model", gguf]]) {
	if (!fs.existsSync(file)) throw new Error(`${what} is missing at ${file}`);
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), "vault-rag-shots-"));
const token = "screenshots";

// The real service on the sample vault.
const server = spawn(bin, ["serve", "--vault", vault, "--port", "0", "--model", "all-minilm-l6-v2", "--model-dir", modelDir,
	"--data-dir", path.join(work, "data")], { env: { ...process.env, VAULT_RAG_TOKEN: token }, stdio: ["pipe", "pipe", "inherit"] });
const port = await new Promise((resolve, reject) => {
	readline.createInterface({ input: server.stdout }).on("line", (line) => {
		if (line.includes('"listening"')) resolve(JSON.parse(line).port);
	});
	server.once("exit", (code) => reject(new Error(`vault-rag serve exited with ${code}`)));
});
const call = async (method, url, body) => {
	const res = await fetch(`http://127.0.0.1:${port}${url}`, {
		method, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
		body: body ? JSON.stringify(body) : undefined,
	});
	if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
	return res.json();
};
let health;
for (let i = 0; i < 600; i++) {
	health = await call("GET", "/health").catch(() => null);
	if (health?.model_loaded && health.index.complete) break;
	await new Promise((r) => setTimeout(r, 200));
}
const search = await call("POST", "/search", { query, top_k: 6, mode: "hybrid" });
const similar = await call("GET", `/similar?${new URLSearchParams({ path: notePath, top_k: "8" })}`);
const agent = await call("GET", "/agents/token");
// The Ask view's answer: SmolLM2-135M behind llama.cpp's server (the test model: small, so the answer is modest).
const llmPort = 18000 + Math.floor(Math.random() * 2000);
const llama = spawn(llmPython, ["-m", "llama_cpp.server", "--model", gguf, "--model_alias", "smollm2-135m", "--host", "127.0.0.1",
	"--port", String(llmPort), "--n_ctx", "4096"], { stdio: "ignore" });
let ask;
for (let i = 0; i < 300 && !ask; i++) {
	await new Promise((r) => setTimeout(r, 200));
	ask = await call("POST", "/ask", { question: askQuestion, stream: false,
		llm: { base_url: `http://127.0.0.1:${llmPort}/v1`, model: "smollm2-135m", temperature: 0, max_tokens: 120 } })
		.catch((err) => (String(err).includes("llm_unreachable") ? null : Promise.reject(err)));
}
llama.kill();
server.stdin.end();

const text = fs.readFileSync(path.join(vault, notePath), "utf8").replace(/^---[\s\S]*?---\n/, "");
const data = {
	query, search: search.hits, notePath, noteTitle: "Circadian Rhythm",
	noteText: text.replace(/^# .*\n/, "").slice(0, 1400), similar: similar.hits, health,
	binary: "/Users/you/.local/bin/vault-rag",
	port, agentToken: agent.token, askQuestion, ask,
};

await esbuild.build({
	entryPoints: [path.join(here, "screenshots/page.ts")],
	bundle: true, format: "iife", platform: "browser", target: "chrome120", logLevel: "warning",
	outfile: path.join(work, "page.js"),
	alias: {
		obsidian: path.join(here, "screenshots/obsidian-shim.ts"),
		...Object.fromEntries(["node:child_process", "node:fs", "node:path", "node:http", "node:timers"].map((m) => [m, path.join(here, "screenshots/node-stubs.ts")])),
	},
});
const css = fs.readFileSync(path.join(here, "screenshots/page.css"), "utf8") + fs.readFileSync(path.join(root, "plugin/styles.css"), "utf8");
fs.writeFileSync(path.join(work, "page.html"), `<!doctype html><meta charset="utf-8"><style>${css}</style>
<script>window.SCREENSHOT_DATA = ${JSON.stringify(data)};</script><body></body><script src="page.js"></script>`);

fs.mkdirSync(out, { recursive: true });
const scenes = { ask: [1200, 900], search: [1200, 760], related: [1200, 700], install: [1200, 720], settings: [1000, 1300], agents: [1000, 1760] };
for (const [scene, [width, height]] of Object.entries(scenes)) {
	const file = path.join(out, `${scene}.png`);
	const shot = spawnSync(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		`--user-data-dir=${path.join(work, "profile")}`, `--window-size=${width},${height}`, "--virtual-time-budget=3000",
		`--screenshot=${file}`, `file://${path.join(work, "page.html")}#${scene}`], { encoding: "utf8" });
	if (shot.status !== 0 || !fs.existsSync(file)) throw new Error(`chromium failed for ${scene}: ${shot.stderr}`);
	console.log(`${path.relative(root, file)} (${width}×${height})`);
}
fs.rmSync(work, { recursive: true, force: true });
