/** What the views need from the backend, decoupled from the supervisor so tests can hand them a fake. */
import type { AskAnswer, AskRequest, SearchRequest, SearchResponse, SimilarRequest, SimilarResponse } from "./api";
import { BackendError, type AskHandlers, type AskOptions, type RequestOptions } from "./client";
import type { Supervisor, SupervisorState } from "./supervisor";

export interface SearchService {
	search(request: SearchRequest, options?: RequestOptions): Promise<SearchResponse>;
	similar(request: SimilarRequest, options?: RequestOptions): Promise<SimilarResponse>;
	/** A grounded answer, streamed through `handlers`. */
	ask(request: AskRequest, handlers: AskHandlers, options: AskOptions): Promise<AskAnswer>;
	/** Calls `listener` on every change of the backend's state; returns the unsubscribe function. */
	onStateChange(listener: (state: SupervisorState) => void): () => void;
}

export function supervisedService(supervisor: Supervisor): SearchService {
	const client = (request: string) => {
		const current = supervisor.client;
		if (!current) {
			throw new BackendError("unavailable", "unavailable", describeUnavailable(supervisor.state), { request });
		}
		return current;
	};
	return {
		search: async (request, options) => client("POST /search").search(request, options),
		similar: async (request, options) => client("GET /similar").similar(request, options),
		ask: async (request, handlers, options) => client("POST /ask").ask(request, handlers, options),
		onStateChange: (listener) => supervisor.onChange(listener),
	};
}

function describeUnavailable(state: SupervisorState): string {
	switch (state.kind) {
		case "starting":
		case "restarting":
			return "The search service is starting.";
		case "missing":
		case "failed":
			return `The search service is not running: ${state.reason}`;
		case "config-error":
			return `The search service cannot start: ${state.message}`;
		case "incompatible":
			return state.message;
		case "needs-download":
			return `The search service needs the model ${state.download.model}: agree to its download first.`;
		default:
			return "The search service is not running.";
	}
}

/** A sentence for the user about a failed request. */
export function describeError(err: unknown): string {
	if (err instanceof BackendError) {
		switch (err.kind) {
			case "unavailable":
				return err.message;
			case "timeout":
				return "The search service took too long to answer.";
			case "connection":
				return "Cannot reach the search service; it may be restarting.";
			case "http":
				return err.code === "note_not_found"
					? "This note is not in the index yet."
					: `The search service refused the request: ${err.message}`;
			default:
				return `Unexpected answer from the search service: ${err.message}`;
		}
	}
	return err instanceof Error ? err.message : String(err);
}
