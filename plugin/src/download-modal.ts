/** Asks once before the first download of the model: what, how big, from where, under which licence. */
import { Modal, Setting, type App } from "obsidian";
import type { DownloadRequired } from "./supervisor";

export class DownloadModal extends Modal {
	private answered = false;

	constructor(
		app: App,
		private readonly download: DownloadRequired,
		private readonly onAnswer: (agreed: boolean) => void,
	) {
		super(app);
	}

	override onOpen(): void {
		const { contentEl, download } = this;
		this.setTitle("Download the search model?");
		contentEl.addClass("vault-rag-download");
		contentEl.createEl("p", {
			text:
				"Vault RAG finds notes by meaning with a model that runs on this computer. " +
				"It has to be downloaded once; after that, searching needs no network and your notes never leave this computer.",
		});
		const facts = contentEl.createEl("ul");
		facts.createEl("li", { text: `Model: ${download.model} (${download.precision})` });
		facts.createEl("li", { text: `Size: about ${download.approx_mb} MB` });
		const from = facts.createEl("li", { text: "From: " });
		from.createEl("a", { text: `huggingface.co/${download.repo}`, href: `https://huggingface.co/${download.repo}` });
		const licence = facts.createEl("li", { text: "Licence: " });
		licence.createEl("a", { text: download.licence, href: download.licence_url });
		contentEl.createEl("p", {
			cls: "setting-item-description",
			text: "Without it, set a local model folder in the plugin settings instead.",
		});
		new Setting(contentEl)
			.addButton((button) => button.setButtonText("Not now").onClick(() => this.answer(false)))
			.addButton((button) =>
				button
					.setButtonText("Download")
					.setCta()
					.onClick(() => this.answer(true)),
			);
	}

	override onClose(): void {
		this.contentEl.empty();
		if (!this.answered) this.answer(false);
	}

	private answer(agreed: boolean): void {
		if (this.answered) return;
		this.answered = true;
		this.onAnswer(agreed);
		this.close();
	}
}
