/** Embedding order: while sections wait for vectors, the notes the user opens are embedded next. */

/** Notes remembered, most recent first (the service keeps as many). */
export const MAX_OPEN = 64;

export interface OpenNotesDeps {
	/** Whether the service runs and still indexes (sections wait for vectors). */
	waiting: () => boolean;
	/** Tells the service which notes are open, most recent first; a failure only costs the order. */
	send: (paths: string[]) => Promise<unknown>;
}

export class OpenNotes {
	private recent: string[] = [];
	/** Whether the service that is waiting now has been given the recent list. */
	private told = false;

	constructor(private readonly deps: OpenNotesDeps) {}

	/** A note was opened (at start, also each of the last opened files, oldest first). */
	opened(path: string): void {
		if (!path.endsWith(".md")) return;
		this.recent = [path, ...this.recent.filter((p) => p !== path)].slice(0, MAX_OPEN);
		if (this.deps.waiting()) {
			this.told = true;
			this.post([path]);
		}
	}

	/** The service's state changed: a service that starts waiting gets the recent list once. */
	onServiceChange(): void {
		if (!this.deps.waiting()) {
			// A restarted service has forgotten the list: it is sent again when it waits.
			this.told = false;
			return;
		}
		if (this.told || this.recent.length === 0) return;
		this.told = true;
		this.post(this.recent);
	}

	private post(paths: string[]): void {
		this.deps.send(paths).catch(() => {
			// The service may be restarting: opening a note never fails because of it.
		});
	}
}
