/** Opening a search hit in the editor at its line. */
import { MarkdownView, Notice, type App, type PaneType } from "obsidian";
import type { Hit } from "./api";

/** Opens `hit`'s note scrolled to its chunk; `newLeaf` as from `Keymap.isModEvent`. */
export async function openHit(app: App, hit: Pick<Hit, "path" | "line">, newLeaf: PaneType | boolean): Promise<void> {
	const file = app.vault.getFileByPath(hit.path);
	if (!file) {
		new Notice(`Vault RAG: ${hit.path} is no longer in the vault.`);
		return;
	}
	// Hits count lines from 1, the editor from 0.
	const line = Math.max(0, hit.line - 1);
	const leaf = app.workspace.getLeaf(newLeaf);
	await leaf.openFile(file, { active: true, eState: { line } });
	const view = leaf.view;
	if (view instanceof MarkdownView && view.getMode() === "source") {
		const position = { line, ch: 0 };
		view.editor.setCursor(position);
		view.editor.scrollIntoView({ from: position, to: position }, true);
	}
}
