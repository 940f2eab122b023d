/** A scripted search service for view tests: each call waits until the test answers it. */
import type { AskAnswer, AskRequest, SearchRequest, SearchResponse, SimilarRequest, SimilarResponse } from "../../src/api";
import type { AskHandlers, AskOptions, RequestOptions } from "../../src/client";
import { BackendError } from "../../src/client";
import type { SearchService } from "../../src/service";
import type { SupervisorState } from "../../src/supervisor";

export interface PendingCall<Req, Res> {
	request: Req;
	signal: AbortSignal | undefined;
	answer(response: Res): void;
	fail(error: unknown): void;
}

export class FakeService implements SearchService {
	readonly searches: PendingCall<SearchRequest, SearchResponse>[] = [];
	readonly similars: PendingCall<SimilarRequest, SimilarResponse>[] = [];
	readonly asks: (PendingCall<AskRequest, AskAnswer> & { handlers: AskHandlers })[] = [];
	private readonly listeners = new Set<(state: SupervisorState) => void>();

	search(request: SearchRequest, options?: RequestOptions): Promise<SearchResponse> {
		return this.pending(this.searches, request, options);
	}

	similar(request: SimilarRequest, options?: RequestOptions): Promise<SimilarResponse> {
		return this.pending(this.similars, request, options);
	}

	ask(request: AskRequest, handlers: AskHandlers, options: AskOptions): Promise<AskAnswer> {
		const calls: PendingCall<AskRequest, AskAnswer>[] = [];
		const promise = this.pending(calls, request, options);
		const call = calls[0];
		if (call) this.asks.push({ ...call, handlers });
		return promise;
	}

	onStateChange(listener: (state: SupervisorState) => void): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	emit(state: SupervisorState): void {
		for (const listener of this.listeners) listener(state);
	}

	get listenerCount(): number {
		return this.listeners.size;
	}

	private pending<Req, Res>(
		calls: PendingCall<Req, Res>[],
		request: Req,
		options: RequestOptions | undefined,
	): Promise<Res> {
		return new Promise<Res>((resolve, reject) => {
			const signal = options?.signal;
			// Like the real client: an abort rejects at once.
			signal?.addEventListener("abort", () =>
				reject(new BackendError("aborted", "aborted", "cancelled", { request: "test" })),
			);
			calls.push({ request, signal, answer: resolve, fail: reject });
		});
	}
}
