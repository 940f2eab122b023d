/** Plugin settings: their shape, defaults, validation of stored data, and the backend arguments they imply. */
import type { SearchMode } from "./api";

export interface VaultRagSettings {
	/** Backend binary; empty means the plugin folder's `bin/`, then `PATH`. */
	binaryPath: string;
	/** Model name known to the backend; empty means the backend's default. */
	model: string;
	/** Local model folder (ONNX file + tokenizer); empty means the backend's model cache. */
	modelDir: string;
	/** `int8`, `fp32`, `q4`; empty means the model's default. */
	precision: string;
	/** Output dimensions (Matryoshka cut); 0 means the model's default. */
	dim: number;
	/** Where the index lives; empty means the backend's per-user data folder. */
	dataDir: string;
	/** Vault folders left out of the index (on top of Obsidian's own excluded files). */
	excludedFolders: string[];
	searchMode: SearchMode;
	resultsCount: number;
	/** Whether the related-notes view leaves out notes the active note already links to. */
	relatedExcludeLinked: boolean;
	/** Whether indexing holds while the user types (it resumes a few seconds after the last key). */
	pauseIndexingWhileTyping: boolean;
	/** Whether indexing holds while the computer runs on battery (it resumes on the charger). */
	pauseIndexingOnBattery: boolean;
	/** Whether a first index runs below the user's applications (lower process priority). */
	indexInBackground: boolean;
	/** Models the user agreed to download (`model/precision`, e.g. `embeddinggemma-300m/int8`). */
	downloadConsent: string[];
	/** Port of the service on 127.0.0.1; 0 means a free port each start (agents then use the stdio bridge). */
	servicePort: number;
	/** OpenAI-compatible chat endpoint for Ask, e.g. `http://127.0.0.1:11434/v1`; empty: the service's own, if any. */
	llmUrl: string;
	/** The chat model's name at that endpoint. */
	llmModel: string;
	/** Sent to the endpoint as a bearer token; stored in the plugin's data file. */
	llmApiKey: string;
	/** Tokens of note text sent with a question. */
	askBudgetTokens: number;
	/** The endpoint off this machine the user agreed to send note passages to (asked once per URL). */
	llmRemoteAllowed: string;
}

export const DEFAULT_SETTINGS: VaultRagSettings = {
	binaryPath: "",
	model: "",
	modelDir: "",
	precision: "",
	dim: 0,
	dataDir: "",
	excludedFolders: [],
	searchMode: "hybrid",
	resultsCount: 20,
	relatedExcludeLinked: false,
	pauseIndexingWhileTyping: true,
	pauseIndexingOnBattery: false,
	indexInBackground: true,
	downloadConsent: [],
	servicePort: 0,
	llmUrl: "",
	llmModel: "",
	llmApiKey: "",
	askBudgetTokens: 2500,
	llmRemoteAllowed: "",
};

/** Whether a chat endpoint is on this machine (loopback): if not, note passages leave it. */
export function isLoopbackUrl(url: string): boolean {
	try {
		const host = new URL(url.trim()).hostname.replace(/^\[|\]$/g, "").toLowerCase();
		return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
	} catch {
		return false;
	}
}

/** The backend's default model, used when the model setting is empty. */
export const DEFAULT_MODEL = "embeddinggemma-300m";

/** What each model of the backend's catalogue accepts (checked again by the backend). */
export const MODELS: Record<string, { label: string; dims: readonly number[] }> = {
	"embeddinggemma-300m": { label: "EmbeddingGemma 300M (multilingual, best quality)", dims: [768, 512, 256, 128] },
	"all-minilm-l6-v2": { label: "all-MiniLM-L6-v2 (English, small and fast)", dims: [384] },
};

/** Problems with the model settings that the plugin can see before starting the backend. */
export function validateModelSettings(
	settings: VaultRagSettings,
	folderExists: (path: string) => boolean,
): Partial<Record<"model" | "dim" | "modelDir", string>> {
	const problems: Partial<Record<"model" | "dim" | "modelDir", string>> = {};
	const name = settings.model.trim() || DEFAULT_MODEL;
	const model = MODELS[name.toLowerCase()];
	if (!model) {
		problems.model = `Unknown model "${name}". Known: ${Object.keys(MODELS).join(", ")}.`;
	} else if (settings.dim !== 0 && !model.dims.includes(settings.dim)) {
		problems.dim = `${name} supports ${model.dims.join(", ")} dimensions, not ${settings.dim}.`;
	}
	const folder = settings.modelDir.trim();
	if (folder.length > 0 && !folderExists(folder)) {
		problems.modelDir = `The folder ${folder} does not exist.`;
	}
	return problems;
}

/** The consent key of a model and precision. */
export function consentKey(model: string, precision: string): string {
	return `${model.trim().toLowerCase() || DEFAULT_MODEL}/${precision || "int8"}`;
}

export const PRECISIONS = ["", "int8", "fp32", "q4"] as const;
export const SEARCH_MODES: readonly SearchMode[] = ["hybrid", "dense", "lexical"];
export const MAX_RESULTS = 100;

/** Settings whose change means the backend must be restarted. */
export const RESTART_KEYS: readonly (keyof VaultRagSettings)[] = [
	"binaryPath",
	"indexInBackground",
	"model",
	"modelDir",
	"precision",
	"dim",
	"dataDir",
	"excludedFolders",
	"downloadConsent",
	"servicePort",
];

/** Reads stored data, keeping valid fields and replacing anything malformed by its default. */
export function loadSettings(data: unknown): VaultRagSettings {
	const stored = typeof data === "object" && data !== null ? (data as Record<string, unknown>) : {};
	const text = (key: keyof VaultRagSettings): string => {
		const value = stored[key];
		return typeof value === "string" ? value : (DEFAULT_SETTINGS[key] as string);
	};
	const int = (key: "dim" | "resultsCount" | "servicePort" | "askBudgetTokens", min: number, max: number): number => {
		const value = stored[key];
		return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
			? value
			: DEFAULT_SETTINGS[key];
	};
	const precision = text("precision");
	const mode = stored.searchMode;
	const folders = stored.excludedFolders;
	return {
		binaryPath: text("binaryPath"),
		model: text("model"),
		modelDir: text("modelDir"),
		precision: (PRECISIONS as readonly string[]).includes(precision) ? precision : DEFAULT_SETTINGS.precision,
		dim: int("dim", 0, 8192),
		dataDir: text("dataDir"),
		excludedFolders: Array.isArray(folders)
			? folders.filter((f): f is string => typeof f === "string" && f.trim().length > 0)
			: [],
		searchMode: SEARCH_MODES.includes(mode as SearchMode) ? (mode as SearchMode) : DEFAULT_SETTINGS.searchMode,
		resultsCount: int("resultsCount", 1, MAX_RESULTS),
		relatedExcludeLinked:
			typeof stored.relatedExcludeLinked === "boolean"
				? stored.relatedExcludeLinked
				: DEFAULT_SETTINGS.relatedExcludeLinked,
		pauseIndexingWhileTyping:
			typeof stored.pauseIndexingWhileTyping === "boolean"
				? stored.pauseIndexingWhileTyping
				: DEFAULT_SETTINGS.pauseIndexingWhileTyping,
		pauseIndexingOnBattery:
			typeof stored.pauseIndexingOnBattery === "boolean"
				? stored.pauseIndexingOnBattery
				: DEFAULT_SETTINGS.pauseIndexingOnBattery,
		indexInBackground:
			typeof stored.indexInBackground === "boolean" ? stored.indexInBackground : DEFAULT_SETTINGS.indexInBackground,
		downloadConsent: Array.isArray(stored.downloadConsent)
			? stored.downloadConsent.filter((c): c is string => typeof c === "string")
			: [],
		servicePort: int("servicePort", 0, 65535),
		llmUrl: text("llmUrl"),
		llmModel: text("llmModel"),
		llmApiKey: text("llmApiKey"),
		askBudgetTokens: int("askBudgetTokens", 100, 100_000),
		llmRemoteAllowed: text("llmRemoteAllowed"),
	};
}

/** Whether going from `before` to `after` needs a backend restart. */
export function needsRestart(before: VaultRagSettings, after: VaultRagSettings): boolean {
	return RESTART_KEYS.some((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
}

/** Parses the excluded-folders text area: one folder per line, vault-relative, no leading/trailing `/`. */
export function parseFolderList(text: string): string[] {
	const folders = text
		.split(/\r?\n/)
		.map((line) => line.trim().replace(/\\/g, "/").replace(/^\/+|\/+$/g, ""))
		.filter((line) => line.length > 0);
	return [...new Set(folders)];
}

export interface ServeTarget {
	/** Absolute vault folder. */
	vaultPath: string;
	/** The vault's config folder name (`app.vault.configDir`). */
	configDir: string;
}

/** The `vault-rag serve` command line for these settings. */
export function serveArgs(settings: VaultRagSettings, target: ServeTarget): string[] {
	const args = [
		"serve",
		"--host",
		"127.0.0.1",
		"--port",
		String(settings.servicePort),
		"--exit-on-stdin-close",
		"--vault",
		target.vaultPath,
		"--config-dir",
		target.configDir,
	];
	const optional: [string, string][] = [
		["--model", settings.model.trim()],
		["--model-dir", settings.modelDir.trim()],
		["--precision", settings.precision],
		["--dim", settings.dim > 0 ? String(settings.dim) : ""],
		["--data-dir", settings.dataDir.trim()],
	];
	for (const [flag, value] of optional) {
		if (value.length > 0) args.push(flag, value);
	}
	for (const folder of settings.excludedFolders) {
		args.push("--exclude", `${folder}/**`);
	}
	// The service indexes in the background by default; normal priority is the faster first index.
	if (!settings.indexInBackground) args.push("--index-priority", "normal");
	// Only a model the user agreed to fetch may be downloaded; otherwise the backend asks first.
	if (settings.modelDir.trim().length === 0 && settings.downloadConsent.includes(consentKey(settings.model, settings.precision))) {
		args.push("--download");
	}
	return args;
}
