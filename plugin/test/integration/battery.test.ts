/**
 * Pause on battery against the real backend: while the (simulated) battery discharges, a note added
 * to the vault waits unindexed; once the charger is plugged in, the hold runs out by itself and the
 * note is indexed. The battery is the only stand-in; the service, its watcher and index are real.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BatteryHold, type BatteryLike } from "../../src/battery-hold";
import { realSupervisor, tempVault, waitFor } from "./env";

class SimulatedBattery implements BatteryLike {
	charging = true;
	private listener: (() => void) | null = null;
	addEventListener(_type: "chargingchange", listener: () => void): void {
		this.listener = listener;
	}
	removeEventListener(): void {
		this.listener = null;
	}
	set(charging: boolean): void {
		this.charging = charging;
		this.listener?.();
	}
}

describe("pause indexing on battery, against the real backend", () => {
	const vault = tempVault();
	afterAll(() => vault.cleanup());

	it("holds a new note while on battery and indexes it once the charger is plugged in", async () => {
		const { supervisor: sup, settings } = realSupervisor(vault, { pauseIndexingOnBattery: true });
		const battery = new SimulatedBattery();
		const hold = new BatteryHold({
			battery: () => Promise.resolve(battery),
			active: () => settings.pauseIndexingOnBattery && sup.state.kind === "running",
			send: async (seconds) => {
				await sup.client?.indexYield(seconds);
			},
			holdSeconds: 2,
		});
		// The plugin renews every 10 s a hold of 30 s; here every 0.5 s a hold of 2 s.
		const renew = setInterval(() => hold.tick(), 500);
		sup.start();
		try {
			await waitFor(
				"the first index",
				() => sup.state.kind === "running" && sup.state.health.index.complete && sup.state.health.index.state === "idle",
				sup,
				120_000,
			);
			await hold.start();
			const client = sup.client;
			if (!client) throw new Error("no client while running");
			const comet = async () =>
				(await client.search({ query: "zephyrine comet", top_k: 5, mode: "lexical" })).hits.some(
					(h) => h.path === "Space/Comet.md",
				);

			battery.set(false);
			expect(hold.holding).toBe(true);
			await waitFor("the hold", () => sup.state.kind === "running" && sup.state.health.index.state === "paused", sup, 10_000);
			fs.mkdirSync(path.join(vault.vault, "Space"), { recursive: true });
			fs.writeFileSync(path.join(vault.vault, "Space/Comet.md"), "# Comet\n\nThe zephyrine comet returns every 70 years.\n");
			// Several hold lengths on battery: the note stays out of the index.
			const until = Date.now() + 6_000;
			while (Date.now() < until) {
				expect(await comet()).toBe(false);
				await new Promise((resolve) => setTimeout(resolve, 500));
			}
			expect(sup.state.kind === "running" && sup.state.health.index.state).toBe("paused");

			battery.set(true);
			expect(hold.holding).toBe(false);
			await waitFor("the note indexed after the charger is plugged in", comet, sup, 30_000);
			const dense = await client.search({ query: "a comet that comes back every seventy years", top_k: 3, mode: "dense" });
			expect(dense.hits.map((h) => h.path)).toContain("Space/Comet.md");
		} finally {
			clearInterval(renew);
			hold.stop();
			await sup.stop();
		}
	});
});
