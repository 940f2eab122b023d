/** Indexing that yields: while the user types and the service indexes, it holds for a few seconds. */

/** How long each request holds indexing; typing renews it, so indexing resumes this long after the last key. */
export const HOLD_SECONDS = 4;
/** At most one request per this many milliseconds while typing goes on. */
export const RENEW_MS = 1500;

export interface TypingHoldDeps {
	now: () => number;
	/** Whether the hold is wanted (the setting) and the service is indexing now. */
	active: () => boolean;
	/** Asks the service to hold for `seconds`; a failure only means indexing goes on. */
	send: (seconds: number) => Promise<unknown>;
}

export class TypingHold {
	private lastSent = Number.NEGATIVE_INFINITY;

	constructor(private readonly deps: TypingHoldDeps) {}

	/** Called on every edit. */
	onTyping(): void {
		if (!this.deps.active()) return;
		const now = this.deps.now();
		if (now - this.lastSent < RENEW_MS) return;
		this.lastSent = now;
		this.deps.send(HOLD_SECONDS).catch(() => {
			// The service may be restarting: typing is never held up by it.
		});
	}
}
