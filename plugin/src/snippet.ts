/** Rendering of the backend's snippets, where matched terms come wrapped in `**`. */

/** Splits a snippet into plain and highlighted parts; an unpaired `**` stays literal text. */
export function snippetParts(snippet: string): { text: string; bold: boolean }[] {
	const parts: { text: string; bold: boolean }[] = [];
	const pattern = /\*\*(.+?)\*\*/gs;
	let last = 0;
	for (const match of snippet.matchAll(pattern)) {
		const start = match.index;
		if (start > last) parts.push({ text: snippet.slice(last, start), bold: false });
		parts.push({ text: match[1] ?? "", bold: true });
		last = start + match[0].length;
	}
	if (last < snippet.length) parts.push({ text: snippet.slice(last), bold: false });
	return parts;
}

/** Appends the snippet to `el` as text nodes and `<strong>` elements (never parsed as HTML). */
export function renderSnippet(el: HTMLElement, snippet: string): void {
	for (const part of snippetParts(snippet)) {
		if (part.bold) {
			el.createEl("strong", { text: part.text });
		} else {
			el.appendText(part.text);
		}
	}
}
