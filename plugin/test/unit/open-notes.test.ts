import { describe, expect, it } from "vitest";
import { MAX_OPEN, OpenNotes } from "../../src/open-notes";

describe("open notes are embedded next", () => {
	it("sends each opened note while the service indexes, and the recent list once when it starts", async () => {
		let waiting = false;
		let fail = false;
		const sent: string[][] = [];
		const notes = new OpenNotes({
			waiting: () => waiting,
			send: (paths) => {
				sent.push(paths);
				return fail ? Promise.reject(new Error("restarting")) : Promise.resolve();
			},
		});
		// Before the service runs: remembered, not sent; other files are not notes.
		notes.opened("old.md");
		notes.opened("a.md");
		notes.opened("picture.png");
		notes.opened("old.md");
		notes.onServiceChange();
		expect(sent).toEqual([]);
		// The service starts indexing: it gets the list once, most recent first.
		waiting = true;
		notes.onServiceChange();
		notes.onServiceChange();
		expect(sent).toEqual([["old.md", "a.md"]]);
		// Opened while it indexes: sent at once.
		notes.opened("b.md");
		expect(sent[1]).toEqual(["b.md"]);
		// Done indexing: nothing is sent; a restarted service that indexes again gets the list again.
		waiting = false;
		notes.opened("c.md");
		notes.onServiceChange();
		expect(sent).toHaveLength(2);
		waiting = true;
		fail = true;
		expect(() => notes.onServiceChange()).not.toThrow();
		await Promise.resolve();
		expect(sent[2]).toEqual(["c.md", "b.md", "old.md", "a.md"]);
	});

	it("keeps at most the number of notes the service keeps", () => {
		const sent: string[][] = [];
		let ready = false;
		const notes = new OpenNotes({
			waiting: () => ready,
			send: (paths) => {
				sent.push(paths);
				return Promise.resolve();
			},
		});
		for (let i = 0; i < MAX_OPEN + 10; i++) notes.opened(`n${i}.md`);
		ready = true;
		notes.onServiceChange();
		expect(sent[0]).toHaveLength(MAX_OPEN);
		expect(sent[0]?.[0]).toBe(`n${MAX_OPEN + 9}.md`);
	});
});
