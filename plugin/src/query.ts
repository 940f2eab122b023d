/** Filters typed into the search box: `folder:Projects/Work` and `tag:reading` narrow the search. */

export interface ParsedQuery {
	query: string;
	folder?: string;
	tag?: string;
}

/**
 * Takes `folder:` and `tag:` tokens out of the text (the last of each wins; quotes allow spaces:
 * `folder:"Daily notes"`). Everything else is the query.
 */
export function parseQuery(text: string): ParsedQuery {
	const parsed: ParsedQuery = { query: "" };
	const rest = text.replace(/(?:^|\s)(folder|tag):(?:"([^"]*)"|(\S+))/gi, (_match, key: string, quoted?: string, bare?: string) => {
		const value = (quoted ?? bare ?? "").trim();
		if (value.length > 0) {
			if (key.toLowerCase() === "folder") parsed.folder = value.replace(/^\/+|\/+$/g, "");
			else parsed.tag = value.replace(/^#/, "");
		}
		return " ";
	});
	parsed.query = rest.replace(/\s+/g, " ").trim();
	return parsed;
}
