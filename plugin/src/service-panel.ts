/**
 * The search service's panel: how to install it when it is missing, what to update when its version does not fit,
 * and otherwise which one runs, from where, in what state. The plugin never installs anything itself.
 */
import { Modal, Setting, type App } from "obsidian";
import { installCommand, RELEASES_URL, SERVICE_VERSIONS } from "./binary";
import { describeState } from "./status-bar";
import type { SupervisorState } from "./supervisor";

export interface ServicePanelHost {
	state(): SupervisorState;
	/** The binary in use and where it was found, when one was. */
	binary(): { path: string; source: string } | null;
	onChange(listener: (state: SupervisorState) => void): () => void;
	/** Looks for the service again and starts it. */
	checkAgain(): void;
	platform: NodeJS.Platform;
	copy(text: string): void;
}

export class ServicePanel extends Modal {
	private unsubscribe: (() => void) | null = null;

	constructor(
		app: App,
		private readonly host: ServicePanelHost,
	) {
		super(app);
	}

	override onOpen(): void {
		this.modalEl.addClass("vault-rag-service-panel");
		this.unsubscribe = this.host.onChange(() => this.render());
		this.render();
	}

	override onClose(): void {
		this.unsubscribe?.();
		this.unsubscribe = null;
		this.contentEl.empty();
	}

	render(): void {
		const { contentEl } = this;
		contentEl.empty();
		const state = this.host.state();
		if (state.kind === "missing") this.renderMissing(state.reason, state.looked);
		else if (state.kind === "incompatible") this.renderIncompatible(state.message);
		else this.renderStatus(state);
	}

	private renderMissing(reason: string, looked: string[]): void {
		const { contentEl } = this;
		this.setTitle("Install the search service");
		contentEl.createEl("p", {
			text:
				"This plugin finds notes by meaning with vault-rag, a small program that runs on this computer and keeps the index. " +
				"Obsidian plugins cannot include programs, so it is installed once, separately; it never sends your notes anywhere.",
		});
		contentEl.createEl("p", { text: this.host.platform === "win32" ? "Run this in PowerShell:" : "Run this in a terminal:" });
		this.commandBlock();
		const more = contentEl.createEl("p", { text: "Or download the archive for your system from " });
		more.createEl("a", { text: "GitHub releases", href: RELEASES_URL });
		more.appendText(" and set the program's path in the plugin settings.");
		if (this.host.platform === "darwin") {
			contentEl.createEl("p", {
				cls: "setting-item-description",
				text: "If macOS says the program cannot be opened because its developer cannot be verified, run the command above again: it clears that flag for the files it checked.",
			});
		}
		const details = contentEl.createEl("details", { cls: "vault-rag-looked" });
		details.createEl("summary", { text: "Where the plugin looked" });
		details.createEl("p", { cls: "setting-item-description", text: reason });
		const list = details.createEl("ul");
		for (const place of looked) list.createEl("li", { text: place });
		this.checkAgainButton();
	}

	private renderIncompatible(message: string): void {
		const { contentEl } = this;
		this.setTitle("Update needed");
		contentEl.createEl("p", { cls: "vault-rag-incompatible", text: message });
		contentEl.createEl("p", {
			cls: "setting-item-description",
			text: `This plugin works with vault-rag ${SERVICE_VERSIONS.min} up to, not including, ${SERVICE_VERSIONS.below}. The install command replaces the service in place:`,
		});
		this.commandBlock();
		this.checkAgainButton();
	}

	private renderStatus(state: SupervisorState): void {
		const { contentEl } = this;
		this.setTitle("Search service");
		const view = describeState(state);
		const facts = contentEl.createEl("ul", { cls: "vault-rag-service-facts" });
		facts.createEl("li", { text: `State: ${view.text.replace(/^Vault RAG: /, "")}. ${view.tooltip}` });
		const binary = this.host.binary();
		if (binary) facts.createEl("li", { text: `Program: ${binary.path} (found in ${binary.source})` });
		if (state.kind === "running") facts.createEl("li", { text: `Version: ${state.health.version}` });
		this.checkAgainButton("Restart");
	}

	private commandBlock(): void {
		const command = installCommand(this.host.platform);
		const block = this.contentEl.createDiv({ cls: "vault-rag-install-command" });
		block.createEl("code", { text: command });
		new Setting(this.contentEl).addButton((button) =>
			button.setButtonText("Copy command").onClick(() => this.host.copy(command)),
		);
	}

	private checkAgainButton(label = "Check again"): void {
		new Setting(this.contentEl).addButton((button) =>
			button
				.setButtonText(label)
				.setCta()
				.onClick(() => this.host.checkAgain()),
		);
	}
}
