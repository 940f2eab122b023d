/** A parser of server-sent events (the `text/event-stream` format), fed text as it arrives. */

export interface SseEvent {
	/** The `event:` field; `message` when none was given. */
	event: string;
	/** The `data:` lines, joined with newlines. */
	data: string;
}

export class SseParser {
	private buffer = "";
	private event = "";
	private data: string[] = [];

	/** Feeds a piece of the stream; returns the events it completed. */
	push(chunk: string): SseEvent[] {
		this.buffer += chunk;
		const out: SseEvent[] = [];
		let newline: number;
		while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
			const line = this.buffer.slice(0, newline);
			const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
			// A lone `\r` at the end may be the first half of `\r\n`: wait for the next piece.
			if (width === 1 && this.buffer[newline] === "\r" && newline === this.buffer.length - 1) break;
			this.buffer = this.buffer.slice(newline + width);
			if (line.length === 0) {
				if (this.data.length > 0) out.push({ event: this.event || "message", data: this.data.join("\n") });
				this.event = "";
				this.data = [];
				continue;
			}
			if (line.startsWith(":")) continue;
			const colon = line.indexOf(":");
			const field = colon < 0 ? line : line.slice(0, colon);
			let value = colon < 0 ? "" : line.slice(colon + 1);
			if (value.startsWith(" ")) value = value.slice(1);
			if (field === "event") this.event = value;
			else if (field === "data") this.data.push(value);
		}
		return out;
	}
}
