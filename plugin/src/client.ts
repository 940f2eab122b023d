/**
 * HTTP client for the backend, on `node:http` because Obsidian's `requestUrl` can be neither aborted nor timed
 * out, and the renderer's `fetch` to 127.0.0.1 triggers CORS preflights.
 */
import * as http from "node:http";
import { clearTimeout, setTimeout } from "node:timers";
import {
	isApiErrorBody,
	type AgentTokenResponse,
	type AskAnswer,
	type AskRequest,
	type AskRetrieval,
	type EmbedRequest,
	type EmbedResponse,
	type HealthResponse,
	type IndexStateResponse,
	type IndexStatusResponse,
	type SearchRequest,
	type SearchResponse,
	type SimilarRequest,
	type SimilarResponse,
} from "./api";
import { SseParser } from "./sse";

/**
 * What went wrong with a request:
 * `http`: the backend answered with an error status (its `code` is in `code`);
 * `timeout`, `aborted`: the request was cut short here;
 * `connection`: no connection (refused, reset; the system error code is in `code`);
 * `invalid_response`: the answer was not the JSON expected;
 * `unavailable`: the backend is not running, so no request was made.
 */
export type BackendErrorKind = "http" | "timeout" | "aborted" | "connection" | "invalid_response" | "unavailable";

export class BackendError extends Error {
	override readonly name = "BackendError";
	readonly kind: BackendErrorKind;
	/** The backend's error code for `http`, a system code (e.g. `ECONNREFUSED`) for `connection`, else `kind`. */
	readonly code: string;
	/** HTTP status, for `http` and `invalid_response`. */
	readonly status: number | undefined;
	/** `METHOD /path` of the request, to say which call failed. */
	readonly request: string;

	constructor(
		kind: BackendErrorKind,
		code: string,
		message: string,
		details: { request: string; status?: number; cause?: unknown },
	) {
		super(message, details.cause === undefined ? undefined : { cause: details.cause });
		this.kind = kind;
		this.code = code;
		this.status = details.status;
		this.request = details.request;
	}
}

export interface ClientOptions {
	port: number;
	token: string;
	/** Loopback only: the backend refuses other hosts. */
	host?: string;
	/** Default deadline of a whole request (connect, send, receive). */
	timeoutMs?: number;
	/** Responses larger than this are refused (protects the renderer's memory). */
	maxResponseBytes?: number;
}

export interface RequestOptions {
	signal?: AbortSignal;
	timeoutMs?: number;
}

/** What an Ask stream reports before its final answer. */
export interface AskHandlers {
	/** The passages that will be sent to the model (or the news that none matched). */
	onRetrieval?(retrieval: AskRetrieval): void;
	/** A piece of the answer as the model writes it. */
	onToken?(text: string): void;
}

export interface AskOptions {
	signal?: AbortSignal;
	/** Longest wait for the next piece of the stream (a slow model's first token counts). */
	idleTimeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_ASK_IDLE_MS = 180_000;
const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

export class BackendClient {
	readonly port: number;
	private readonly host: string;
	private readonly token: string;
	private readonly timeoutMs: number;
	private readonly maxResponseBytes: number;
	// Keep-alive saves a TCP handshake per keystroke of search-as-you-type.
	private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

	constructor(options: ClientOptions) {
		this.port = options.port;
		this.host = options.host ?? "127.0.0.1";
		this.token = options.token;
		this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
		this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
	}

	health(options?: RequestOptions): Promise<HealthResponse> {
		return this.request<HealthResponse>("GET", "/health", undefined, options);
	}

	search(request: SearchRequest, options?: RequestOptions): Promise<SearchResponse> {
		return this.request<SearchResponse>("POST", "/search", request, options);
	}

	similar(request: SimilarRequest, options?: RequestOptions): Promise<SimilarResponse> {
		const query = new URLSearchParams({ path: request.path });
		if (request.top_k !== undefined) query.set("top_k", String(request.top_k));
		if (request.exclude_linked !== undefined) query.set("exclude_linked", String(request.exclude_linked));
		return this.request<SimilarResponse>("GET", `/similar?${query.toString()}`, undefined, options);
	}

	embed(request: EmbedRequest, options?: RequestOptions): Promise<EmbedResponse> {
		return this.request<EmbedResponse>("POST", "/embed", request, options);
	}

	indexStatus(options?: RequestOptions): Promise<IndexStatusResponse> {
		return this.request<IndexStatusResponse>("GET", "/index/status", undefined, options);
	}

	indexAction(action: "rebuild" | "pause" | "resume", options?: RequestOptions): Promise<IndexStateResponse> {
		return this.request<IndexStateResponse>("POST", `/index/${action}`, {}, options);
	}

	/** Holds indexing for `seconds` (the user is typing); the service resumes by itself. */
	indexYield(seconds: number, options?: RequestOptions): Promise<IndexStateResponse> {
		return this.request<IndexStateResponse>("POST", "/index/yield", { seconds }, options);
	}

	/** The notes the user has open, most recent first: while sections wait for vectors, theirs go next. */
	indexFocus(paths: string[], options?: RequestOptions): Promise<IndexStateResponse> {
		return this.request<IndexStateResponse>("POST", "/index/focus", { paths }, options);
	}

	/** The agent token, for the "Use with AI agents" settings. */
	agentToken(options?: RequestOptions): Promise<AgentTokenResponse> {
		return this.request<AgentTokenResponse>("GET", "/agents/token", undefined, options);
	}

	/** Revokes the agent token; the answer holds the new one, already in effect. */
	rotateAgentToken(options?: RequestOptions): Promise<AgentTokenResponse> {
		return this.request<AgentTokenResponse>("POST", "/agents/token/rotate", {}, options);
	}

	/**
	 * A grounded answer, streamed: `handlers` see the passages, then each piece of the answer; the promise gets
	 * the final answer with its citations. Aborting closes the connection, which stops the model. Rejects with a
	 * `BackendError` only (an `error` event of the stream as kind `http` with its code).
	 */
	ask(request: AskRequest, handlers: AskHandlers = {}, options: AskOptions = {}): Promise<AskAnswer> {
		const label = "POST /ask";
		const idleMs = options.idleTimeoutMs ?? DEFAULT_ASK_IDLE_MS;
		const signal = options.signal;
		const payload = Buffer.from(JSON.stringify({ ...request, stream: true }), "utf8");
		return new Promise<AskAnswer>((resolve, reject) => {
			if (signal?.aborted) {
				reject(new BackendError("aborted", "aborted", `${label} was cancelled`, { request: label }));
				return;
			}
			let settled = false;
			// Its own connection: closing it is how the answer is stopped.
			const req = http.request({
				host: this.host,
				port: this.port,
				method: "POST",
				path: "/ask",
				agent: false,
				headers: {
					Authorization: `Bearer ${this.token}`,
					Accept: "text/event-stream",
					"Content-Type": "application/json",
					"Content-Length": payload.length,
				},
			});
			let timer = setTimeout(() => onIdle(), idleMs);
			const finish = (error: BackendError | null, value?: AskAnswer): void => {
				if (settled) return;
				settled = true;
				clearTimeout(timer);
				signal?.removeEventListener("abort", onAbort);
				req.destroy();
				if (error) reject(error);
				else resolve(value as AskAnswer);
			};
			const onIdle = (): void => {
				finish(new BackendError("timeout", "timeout", `${label}: nothing arrived for ${idleMs} ms`, { request: label }));
			};
			const onAbort = (): void => {
				finish(new BackendError("aborted", "aborted", `${label} was cancelled`, { request: label }));
			};
			signal?.addEventListener("abort", onAbort, { once: true });
			req.on("error", (err: NodeJS.ErrnoException) => {
				finish(
					new BackendError("connection", err.code ?? "connection_error", `${label} failed: cannot reach the search service (${err.code ?? err.message})`, {
						request: label,
						cause: err,
					}),
				);
			});
			req.on("response", (res) => {
				const status = res.statusCode ?? 0;
				const type = String(res.headers["content-type"] ?? "");
				res.setEncoding("utf8");
				if (status !== 200 || !type.startsWith("text/event-stream")) {
					// An error before the stream started (bad request, no model configured): a JSON body.
					let text = "";
					res.on("data", (chunk: string) => {
						if (text.length < this.maxResponseBytes) text += chunk;
					});
					res.on("end", () => {
						const [error] = interpret<unknown>(label, status, text);
						finish(error ?? new BackendError("invalid_response", "unexpected_response", `${label}: not an event stream`, { request: label, status }));
					});
					return;
				}
				const parser = new SseParser();
				res.on("data", (chunk: string) => {
					clearTimeout(timer);
					timer = setTimeout(() => onIdle(), idleMs);
					for (const event of parser.push(chunk)) {
						if (settled) return;
						let data: unknown;
						try {
							data = JSON.parse(event.data);
						} catch (err) {
							finish(new BackendError("invalid_response", "invalid_json", `${label}: an event is not JSON`, { request: label, status, cause: err }));
							return;
						}
						if (event.event === "retrieval") handlers.onRetrieval?.(data as AskRetrieval);
						else if (event.event === "token") handlers.onToken?.((data as { text?: string }).text ?? "");
						else if (event.event === "done") finish(null, data as AskAnswer);
						else if (event.event === "error") {
							const body = isApiErrorBody(data) ? data.error : { code: "internal", message: "the answer failed" };
							finish(new BackendError("http", body.code, body.message, { request: label, status }));
						}
					}
				});
				res.on("error", (err) => {
					finish(new BackendError("connection", "response_error", `${label}: ${err.message}`, { request: label, cause: err }));
				});
				res.on("end", () => {
					finish(new BackendError("connection", "stream_ended", `${label}: the answer stream ended early`, { request: label, status }));
				});
			});
			req.end(payload);
		});
	}

	/** Closes idle keep-alive sockets; requests in flight finish or fail on their own. */
	close(): void {
		this.agent.destroy();
	}

	/** One JSON request. Rejects with a `BackendError` only. */
	request<T>(method: "GET" | "POST", path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
		const label = `${method} ${path.split("?")[0] ?? path}`;
		const timeoutMs = options.timeoutMs ?? this.timeoutMs;
		const signal = options.signal;
		const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), "utf8");

		return new Promise<T>((resolve, reject) => {
			if (signal?.aborted) {
				reject(new BackendError("aborted", "aborted", `${label} was cancelled`, { request: label }));
				return;
			}
			let settled = false;
			const headers: Record<string, string | number> = {
				Authorization: `Bearer ${this.token}`,
				Accept: "application/json",
			};
			if (payload) {
				headers["Content-Type"] = "application/json";
				headers["Content-Length"] = payload.length;
			}
			const req = http.request({
				host: this.host,
				port: this.port,
				method,
				path,
				headers,
				agent: this.agent,
			});

			const finish = (error: BackendError | null, value?: T): void => {
				if (settled) return;
				settled = true;
				clearTimeout(timer);
				signal?.removeEventListener("abort", onAbort);
				if (error) {
					req.destroy();
					reject(error);
				} else {
					resolve(value as T);
				}
			};
			const onAbort = (): void => {
				finish(new BackendError("aborted", "aborted", `${label} was cancelled`, { request: label }));
			};
			const timer = setTimeout(() => {
				finish(
					new BackendError("timeout", "timeout", `${label} got no answer within ${timeoutMs} ms`, {
						request: label,
					}),
				);
			}, timeoutMs);
			signal?.addEventListener("abort", onAbort, { once: true });

			req.on("error", (err: NodeJS.ErrnoException) => {
				finish(
					new BackendError(
						"connection",
						err.code ?? "connection_error",
						`${label} failed: cannot reach the search service on port ${this.port} (${err.code ?? err.message})`,
						{ request: label, cause: err },
					),
				);
			});
			req.on("response", (res) => {
				const chunks: Buffer[] = [];
				let size = 0;
				res.on("data", (chunk: Buffer) => {
					size += chunk.length;
					if (size > this.maxResponseBytes) {
						finish(
							new BackendError(
								"invalid_response",
								"response_too_large",
								`${label}: response larger than ${this.maxResponseBytes} bytes`,
								{ request: label, status: res.statusCode },
							),
						);
						return;
					}
					chunks.push(chunk);
				});
				res.on("error", (err) => {
					finish(
						new BackendError("connection", "response_error", `${label}: ${err.message}`, {
							request: label,
							cause: err,
						}),
					);
				});
				res.on("end", () => {
					const status = res.statusCode ?? 0;
					const text = Buffer.concat(chunks).toString("utf8");
					finish(...interpret<T>(label, status, text));
				});
			});
			req.end(payload);
		});
	}
}

/** Turns a status and body into a value or a typed error. */
function interpret<T>(label: string, status: number, text: string): [BackendError | null, T?] {
	let parsed: unknown;
	try {
		parsed = text.length > 0 ? JSON.parse(text) : undefined;
	} catch (err) {
		if (status >= 400) {
			return [
				new BackendError("http", `http_${status}`, `${label} failed with HTTP ${status}`, {
					request: label,
					status,
				}),
			];
		}
		return [
			new BackendError("invalid_response", "invalid_json", `${label}: the answer is not JSON`, {
				request: label,
				status,
				cause: err,
			}),
		];
	}
	if (status >= 400) {
		if (isApiErrorBody(parsed)) {
			return [
				new BackendError("http", parsed.error.code, parsed.error.message, {
					request: label,
					status,
				}),
			];
		}
		return [
			new BackendError("http", `http_${status}`, `${label} failed with HTTP ${status}`, {
				request: label,
				status,
			}),
		];
	}
	if (status < 200 || status >= 300 || typeof parsed !== "object" || parsed === null) {
		return [
			new BackendError("invalid_response", "unexpected_response", `${label}: unexpected answer (HTTP ${status})`, {
				request: label,
				status,
			}),
		];
	}
	return [null, parsed as T];
}
