import type { Hit } from "../../src/api";

export function hit(overrides: Partial<Hit> = {}): Hit {
	return {
		path: "Astronomy/Mars.md",
		title: "Mars",
		heading_path: ["Planets", "Mars"],
		line: 12,
		end_line: 20,
		snippet: "Mars is called the **Red** **Planet** because of iron oxide.",
		score: 0.8123,
		retrievers: ["dense", "lexical"],
		...overrides,
	};
}
