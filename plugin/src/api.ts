/**
 * Types of the vault-rag HTTP API. The backend's OpenAPI document is the source of truth; these are written
 * from it and checked against `docs/openapi.json` (unit test) and the live `/openapi.json` (integration test).
 */

export type SearchMode = "hybrid" | "dense" | "lexical";
export type RetrieverName = "dense" | "lexical";
export type IndexState = "idle" | "scanning" | "indexing" | "paused" | "error";

/** One note in a result list, represented by its best chunk. */
export interface Hit {
	/** Vault-relative path with `/`. */
	path: string;
	title: string;
	heading_path: string[];
	/** 1-based first line of the chunk in the note file. */
	line: number;
	/** 1-based last line of the chunk. */
	end_line: number;
	block_id?: string;
	/** Excerpt; matched query terms are wrapped in `**`. */
	snippet: string;
	/** Higher is better; hybrid and lexical scores run from 0 to 1 (1: the best hit), dense is a cosine similarity. */
	score: number;
	retrievers: RetrieverName[];
	/** Why the hit ranked where it did (absent from older backends). */
	explain?: Explain;
}

/** What each retriever made of a hit; a field is absent when its retriever did not find the note. */
export interface Explain {
	dense_rank?: number;
	dense_similarity?: number;
	lexical_rank?: number;
	/** BM25 of the note's best chunk (not bounded). */
	lexical_score?: number;
	/** Query terms (stemmed) found in the shown chunk, its headings, title or aliases. */
	matched_terms?: string[];
	/** Share (0–1) of the query's terms in the note's title or an alias. */
	title_match?: number;
	fusion?: Fusion;
	/** The dense side's weight in convex fusion (the lexical side has 1 − this). */
	dense_weight?: number;
	lexical_weight?: number;
}

export type Fusion = "convex" | "rrf";

/** Whether file changes reach the index; `vault_missing` while the vault folder is gone. */
export type LiveUpdates = "on" | "off" | "vault_missing";

export interface HealthIndex {
	state: IndexState;
	notes_done: number;
	notes_total: number;
	complete: boolean;
	live_updates: LiveUpdates;
	/** Sections still waiting for a vector: keyword search already covers them. */
	vectors_missing?: number;
}

/** Where the backend's model is: `downloading` reports bytes of all files as known so far. */
export type ModelState =
	| { state: "downloading"; file: string; bytes_done: number; bytes_total: number }
	| { state: "loading" | "ready" }
	| { state: "failed"; message: string };

export interface HealthResponse {
	status: "ok" | "indexing" | "error";
	version: string;
	/** False while the backend loads its model in the background (searches wait for it). */
	model_loaded: boolean;
	model: ModelState;
	model_name: string;
	embedding_dim: number;
	cache_size_mb: number;
	cached_notes: number;
	index: HealthIndex;
	/** Resident memory in MiB; null where the platform does not report it. */
	rss_mb: number | null;
}

export interface SearchRequest {
	query: string;
	top_k?: number;
	mode?: SearchMode;
	folder?: string;
	tag?: string;
	/** How hybrid search merges its lists; the backend's default is convex. */
	fusion?: Fusion;
}

export interface SearchResponse {
	hits: Hit[];
	mode: SearchMode;
	took_ms: number;
	index_complete: boolean;
	/** Share of the indexed sections that search by meaning sees (below 1 while embedding runs). */
	dense_coverage: number;
}

export interface SimilarRequest {
	path: string;
	top_k?: number;
	exclude_linked?: boolean;
}

export interface SimilarResponse {
	path: string;
	hits: Hit[];
	index_complete: boolean;
}

export interface EmbedRequest {
	texts: string[];
	kind?: "query" | "document";
}

export interface EmbedResponse {
	model: string;
	dim: number;
	vectors: number[][];
}

export interface NoteFailure {
	path: string;
	reason: string;
}

export interface IndexStatusResponse {
	state: IndexState;
	notes_done: number;
	notes_total: number;
	notes_indexed: number;
	chunks: number;
	failures: NoteFailure[];
	index_size_bytes: number;
	complete: boolean;
	fingerprint: string;
	live_updates: LiveUpdates;
	/** Sections still waiting for a vector. */
	vectors_missing: number;
	dense_coverage: number;
	/** Indexing gives way to the user's applications while a full pass has work. */
	background: boolean;
	/** Sections embedded by the current (or last) pass. */
	sections_embedded: number;
}

export interface IndexStateResponse {
	state: IndexState;
}

/** `GET /agents/token`: the token agents send to `/mcp` (it opens nothing else). */
export interface AgentTokenResponse {
	/** Null when the service runs without tokens. */
	token: string | null;
	mcp_path: string;
}

/** An earlier turn of an Ask conversation. */
export interface AskTurn {
	role: "user" | "assistant";
	content: string;
}

/** The chat model to answer with; each field replaces the service's own setting. */
export interface AskLlm {
	base_url?: string;
	model?: string;
	api_key?: string;
	temperature?: number;
	max_tokens?: number;
}

export interface AskRequest {
	question: string;
	history?: AskTurn[];
	top_k?: number;
	budget_tokens?: number;
	folder?: string;
	tag?: string;
	/** Passage ids (`path#Lstart-end`) or note paths not to send. */
	exclude?: string[];
	llm?: AskLlm;
	stream?: boolean;
}

/** A part of a note sent to the model, numbered as the model cites it. */
export interface AskPassage {
	n: number;
	id: string;
	path: string;
	title: string;
	heading_path: string[];
	start_line: number;
	end_line: number;
	/** Where the matching section starts: a citation opens the note here. */
	line: number;
	link: string;
	text: string;
	tokens: number;
}

export interface AskRetrieval {
	queries: string[];
	passages: AskPassage[];
	/** False when no note matched: the model is not asked. */
	found: boolean;
	hits_considered: number;
	took_ms: number;
}

export interface AskCitation {
	n: number;
	path: string;
	heading?: string | null;
	line: number;
	end_line: number;
	link: string;
}

export interface AskAnswer {
	answer: string;
	answer_markdown: string;
	citations: AskCitation[];
	dropped_citations: number[];
	found: boolean;
	model_called: boolean;
	model?: string | null;
	finish_reason?: string | null;
	cancelled: boolean;
	passages: AskPassage[];
	retrieval_ms: number;
	answer_ms: number;
}

/** Stable error codes of the backend (`{"error": {"code", "message"}}`). */
export type ApiErrorCode =
	| "unauthorized"
	| "forbidden_host"
	| "forbidden_origin"
	| "invalid_json"
	| "invalid_request"
	| "payload_too_large"
	| "not_found"
	| "note_not_found"
	| "path_outside_vault"
	| "method_not_allowed"
	| "unsupported_media_type"
	| "timeout"
	| "index_unavailable"
	| "internal"
	| "llm_not_configured"
	| "llm_bad_url"
	| "llm_unreachable"
	| "llm_unauthorized"
	| "llm_error"
	| "llm_timeout"
	| "llm_bad_reply"
	| "search_failed";

export interface ApiErrorBody {
	error: { code: string; message: string };
}

/** Keys of `T` that are not optional. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

/**
 * The required keys of `T`, listed at run time. It does not compile unless the list holds exactly the
 * interface's required keys, so the OpenAPI test below compares the interfaces themselves with the document.
 */
function requiredOf<T>() {
	return <const L extends readonly RequiredKeys<T>[]>(
		list: L & ([Exclude<RequiredKeys<T>, L[number]>] extends [never] ? unknown : never),
	): readonly string[] => list as readonly string[];
}

/** Required fields of each response type, by its schema name in the backend's OpenAPI document. */
export const REQUIRED_FIELDS: Record<string, readonly string[]> = {
	Hit: requiredOf<Hit>()(["path", "title", "heading_path", "line", "end_line", "snippet", "score", "retrievers"]),
	SearchResponse: requiredOf<SearchResponse>()(["hits", "mode", "took_ms", "index_complete", "dense_coverage"]),
	SimilarResponse: requiredOf<SimilarResponse>()(["path", "hits", "index_complete"]),
	EmbedResponse: requiredOf<EmbedResponse>()(["model", "dim", "vectors"]),
	IndexStatus: requiredOf<IndexStatusResponse>()([
		"state",
		"notes_done",
		"notes_total",
		"notes_indexed",
		"chunks",
		"failures",
		"index_size_bytes",
		"complete",
		"fingerprint",
		"live_updates",
		"vectors_missing",
		"dense_coverage",
		"background",
		"sections_embedded",
	]),
	IndexStateReply: requiredOf<IndexStateResponse>()(["state"]),
	AgentToken: requiredOf<AgentTokenResponse>()(["token", "mcp_path"]),
	Passage: requiredOf<AskPassage>()(["n", "id", "path", "title", "heading_path", "start_line", "end_line", "line", "link", "text", "tokens"]),
	AskRetrieval: requiredOf<AskRetrieval>()(["queries", "passages", "found", "hits_considered", "took_ms"]),
	Citation: requiredOf<AskCitation>()(["n", "path", "line", "end_line", "link"]),
	AskAnswer: requiredOf<AskAnswer>()([
		"answer",
		"answer_markdown",
		"citations",
		"dropped_citations",
		"found",
		"model_called",
		"cancelled",
		"passages",
		"retrieval_ms",
		"answer_ms",
	]),
	Health: requiredOf<HealthResponse>()([
		"status",
		"version",
		"model_loaded",
		"model",
		"model_name",
		"embedding_dim",
		"cache_size_mb",
		"cached_notes",
		"index",
		"rss_mb",
	]),
};

/** Request fields by schema name (all of them, required or not), checked against the document too. */
export const REQUEST_FIELDS: Record<string, { required: readonly string[]; all: readonly string[] }> = {
	SearchRequest: {
		required: requiredOf<SearchRequest>()(["query"]),
		all: ["query", "top_k", "mode", "folder", "tag", "fusion"] satisfies (keyof SearchRequest)[],
	},
	AskRequest: {
		required: requiredOf<AskRequest>()(["question"]),
		all: ["question", "history", "top_k", "budget_tokens", "folder", "tag", "exclude", "llm", "stream"] satisfies (keyof AskRequest)[],
	},
	EmbedRequest: {
		required: requiredOf<EmbedRequest>()(["texts"]),
		all: ["texts", "kind"] satisfies (keyof EmbedRequest)[],
	},
};

/** Whether a parsed JSON value looks like the backend's error body. */
export function isApiErrorBody(value: unknown): value is ApiErrorBody {
	if (typeof value !== "object" || value === null || !("error" in value)) return false;
	const error = value.error;
	return (
		typeof error === "object" &&
		error !== null &&
		typeof (error as { code?: unknown }).code === "string" &&
		typeof (error as { message?: unknown }).message === "string"
	);
}
