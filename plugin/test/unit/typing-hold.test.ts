import { describe, expect, it } from "vitest";
import { HOLD_SECONDS, RENEW_MS, TypingHold } from "../../src/typing-hold";

describe("pause indexing while typing", () => {
	it("asks for a hold at most once per renewal period, only while indexing, and survives a failed request", async () => {
		let now = 1_000;
		let active = true;
		const sent: number[] = [];
		let fail = false;
		const hold = new TypingHold({
			now: () => now,
			active: () => active,
			send: (seconds) => {
				sent.push(seconds);
				return fail ? Promise.reject(new Error("service restarting")) : Promise.resolve();
			},
		});
		hold.onTyping();
		now += 100;
		hold.onTyping();
		now += 100;
		hold.onTyping();
		expect(sent).toEqual([HOLD_SECONDS]);
		now += RENEW_MS;
		hold.onTyping();
		expect(sent).toEqual([HOLD_SECONDS, HOLD_SECONDS]);
		// The renewal comes before the hold runs out, so indexing stays held while typing goes on.
		expect(RENEW_MS).toBeLessThan(HOLD_SECONDS * 1000);
		// Not indexing (or the setting off): nothing is sent.
		active = false;
		now += RENEW_MS;
		hold.onTyping();
		expect(sent).toHaveLength(2);
		// A failing service never throws into the editor.
		active = true;
		fail = true;
		now += RENEW_MS;
		expect(() => hold.onTyping()).not.toThrow();
		await Promise.resolve();
		expect(sent).toHaveLength(3);
	});
});
