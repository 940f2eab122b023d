import { describe, expect, it } from "vitest";
import { parseQuery } from "../../src/query";

describe("parseQuery", () => {
	it("takes folder and tag filters out of the query", () => {
		expect(parseQuery("red planet folder:Astronomy tag:#space")).toEqual({
			query: "red planet",
			folder: "Astronomy",
			tag: "space",
		});
		expect(parseQuery('folder:"Daily notes/" what did I eat')).toEqual({ query: "what did I eat", folder: "Daily notes" });
	});

	it("leaves ordinary words with colons alone", () => {
		expect(parseQuery("ratio 3:4 in C#")).toEqual({ query: "ratio 3:4 in C#" });
		expect(parseQuery("subfolder:x")).toEqual({ query: "subfolder:x" });
	});

	it("passes phrases and prefixes through to the service", () => {
		expect(parseQuery('"in the fridge" migrat* folder:Baking')).toEqual({
			query: '"in the fridge" migrat*',
			folder: "Baking",
		});
	});

	it("ignores empty filters", () => {
		expect(parseQuery('tag: folder:"" mars')).toEqual({ query: "tag: mars" });
	});
});
