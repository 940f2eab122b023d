import { describe, expect, it } from "vitest";
import { BATTERY_HOLD_SECONDS, BATTERY_RENEW_MS, BatteryHold, type BatteryLike } from "../../src/battery-hold";

class FakeBattery implements BatteryLike {
	charging = true;
	private listeners: (() => void)[] = [];
	addEventListener(_type: "chargingchange", listener: () => void): void {
		this.listeners.push(listener);
	}
	removeEventListener(_type: "chargingchange", listener: () => void): void {
		this.listeners = this.listeners.filter((l) => l !== listener);
	}
	unplug(): void {
		this.charging = false;
		for (const l of this.listeners) l();
	}
	plugIn(): void {
		this.charging = true;
		for (const l of this.listeners) l();
	}
	get listening(): number {
		return this.listeners.length;
	}
}

describe("pause indexing on battery", () => {
	it("holds while on battery and indexing, renews each tick, and stops when the charger is plugged in", async () => {
		const battery = new FakeBattery();
		let active = true;
		const sent: number[] = [];
		let changes = 0;
		const hold = new BatteryHold({
			battery: () => Promise.resolve(battery),
			active: () => active,
			send: (seconds) => {
				sent.push(seconds);
				return Promise.resolve();
			},
			changed: () => changes++,
		});
		await hold.start();
		// On the charger: nothing is held.
		expect(sent).toEqual([]);
		expect(hold.holding).toBe(false);
		battery.unplug();
		expect(sent).toEqual([BATTERY_HOLD_SECONDS]);
		expect(hold.holding).toBe(true);
		expect(changes).toBe(1);
		hold.tick();
		expect(sent).toEqual([BATTERY_HOLD_SECONDS, BATTERY_HOLD_SECONDS]);
		// Renewed well before the hold runs out, so indexing stays held on battery.
		expect(BATTERY_RENEW_MS * 2).toBeLessThan(BATTERY_HOLD_SECONDS * 1000);
		battery.plugIn();
		expect(hold.holding).toBe(false);
		expect(changes).toBe(2);
		hold.tick();
		expect(sent).toHaveLength(2);
		// Nothing to index (or the setting off): nothing is held, even on battery.
		active = false;
		battery.unplug();
		expect(sent).toHaveLength(2);
		expect(hold.holding).toBe(false);
		active = true;
		hold.tick();
		expect(sent).toHaveLength(3);
		hold.stop();
		expect(battery.listening).toBe(0);
		expect(hold.holding).toBe(false);
	});

	it("never holds where the runtime cannot tell, and survives a failing service", async () => {
		const sent: number[] = [];
		const none = new BatteryHold({
			battery: () => Promise.reject(new Error("no battery API")),
			active: () => true,
			send: (seconds) => {
				sent.push(seconds);
				return Promise.resolve();
			},
		});
		await none.start();
		none.tick();
		expect(sent).toEqual([]);

		const battery = new FakeBattery();
		battery.charging = false;
		const failing = new BatteryHold({
			battery: () => Promise.resolve(battery),
			active: () => true,
			send: (seconds) => {
				sent.push(seconds);
				return Promise.reject(new Error("service restarting"));
			},
		});
		await failing.start();
		expect(() => failing.tick()).not.toThrow();
		await Promise.resolve();
		expect(sent).toHaveLength(2);
		expect(failing.holding).toBe(true);
	});
});
