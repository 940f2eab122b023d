/** Health answers for tests. */
import type { HealthResponse } from "../../src/api";

export function healthAnswer(overrides: Partial<HealthResponse> = {}): HealthResponse {
	return {
		status: "ok",
		version: "0.1.0",
		model_loaded: true,
		model: { state: "ready" },
		model_name: "all-minilm-l6-v2",
		embedding_dim: 384,
		cache_size_mb: 1,
		cached_notes: 3,
		index: { state: "idle", notes_done: 3, notes_total: 3, complete: true, live_updates: "on" },
		rss_mb: 120,
		...overrides,
	};
}
