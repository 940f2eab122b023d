/**
 * Indexing that yields on battery (an optional setting): while the computer runs on battery and the
 * service indexes, indexing is held. The hold is renewed while it lasts and ends by itself, so
 * indexing resumes shortly after the charger is plugged in, and never stays held once the plugin
 * is gone.
 */

/** How long each request holds indexing. */
export const BATTERY_HOLD_SECONDS = 30;
/** How often the hold is renewed while on battery (well inside the hold). */
export const BATTERY_RENEW_MS = 10_000;

/** The part of the Battery Status API (`navigator.getBattery()`) this needs. */
export interface BatteryLike {
	readonly charging: boolean;
	addEventListener(type: "chargingchange", listener: () => void): void;
	removeEventListener(type: "chargingchange", listener: () => void): void;
}

export interface BatteryHoldDeps {
	/** The battery, or null where the runtime cannot tell (then indexing never waits for it). */
	battery: () => Promise<BatteryLike | null>;
	/** Whether the hold is wanted (the setting) and the service is indexing now. */
	active: () => boolean;
	/** Asks the service to hold for `seconds`; a failure only means indexing goes on. */
	send: (seconds: number) => Promise<unknown>;
	/** Called when `holding` changes (the status bar says why indexing waits). */
	changed?: () => void;
	holdSeconds?: number;
}

export class BatteryHold {
	private battery: BatteryLike | null = null;
	private readonly onChargingChange = (): void => this.tick();
	private wasHolding = false;

	constructor(private readonly deps: BatteryHoldDeps) {}

	/** Looks the battery up once and follows its charging state. */
	async start(): Promise<void> {
		try {
			this.battery = await this.deps.battery();
		} catch {
			this.battery = null;
		}
		this.battery?.addEventListener("chargingchange", this.onChargingChange);
		this.tick();
	}

	stop(): void {
		this.battery?.removeEventListener("chargingchange", this.onChargingChange);
		this.battery = null;
		this.setHolding(false);
	}

	/** Whether indexing is being held because the computer runs on battery. */
	get holding(): boolean {
		return this.wasHolding;
	}

	/** Called every renewal period and on each change of the charging state. */
	tick(): void {
		const holding = this.battery !== null && !this.battery.charging && this.deps.active();
		this.setHolding(holding);
		if (!holding) return;
		this.deps.send(this.deps.holdSeconds ?? BATTERY_HOLD_SECONDS).catch(() => {
			// The service may be restarting: the next tick asks again.
		});
	}

	private setHolding(holding: boolean): void {
		if (holding === this.wasHolding) return;
		this.wasHolding = holding;
		this.deps.changed?.();
	}
}

/** `navigator.getBattery()` where the runtime has it (Obsidian's Electron does, on every desktop OS). */
export function systemBattery(): Promise<BatteryLike | null> {
	const nav = window.navigator as Navigator & { getBattery?: () => Promise<BatteryLike> };
	if (typeof nav.getBattery !== "function") return Promise.resolve(null);
	return nav.getBattery();
}
