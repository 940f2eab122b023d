import { describe, expect, it } from "vitest";
import { explainText } from "../../src/explain";
import { hit } from "../helpers/hits";

describe("explainText", () => {
	it("says only the score when the backend sent no explanation", () => {
		expect(explainText(hit({ score: 0.5 }))).toBe("Score 0.50");
	});

	it("names each retriever's rank, the matched terms, the title match and the blend", () => {
		const text = explainText(
			hit({
				score: 1,
				explain: {
					dense_rank: 2,
					dense_similarity: 0.534,
					lexical_rank: 1,
					lexical_score: 7.2,
					matched_terms: ["red planet", "iron"],
					title_match: 0.5,
					fusion: "convex",
					dense_weight: 0.6,
				},
			}),
		);
		expect(text.split("\n")).toEqual([
			"Score 1.00",
			"Meaning: #2, similarity 0.53",
			"Keywords: #1, matched red planet, iron",
			"Title matches 50 % of the query",
			"Blend: 60 % meaning, 40 % keywords",
		]);
	});

	it("shows the keyword weight the service used when a weak keyword match counted for less", () => {
		const text = explainText(hit({ score: 0.7, explain: { fusion: "convex", dense_weight: 0.65, lexical_weight: 0.07 } }));
		expect(text.split("\n")).toEqual(["Score 0.70", "Blend: 65 % meaning, 7 % keywords"]);
	});

	it("leaves out what a retriever did not find and names reciprocal-rank fusion", () => {
		expect(explainText(hit({ score: 0.2, explain: { dense_rank: 4, fusion: "rrf" } })).split("\n")).toEqual([
			"Score 0.20",
			"Meaning: #4",
			"Blend: reciprocal rank",
		]);
		expect(explainText(hit({ score: 0.9, explain: { matched_terms: ["mars"] } })).split("\n")).toEqual([
			"Score 0.90",
			"Matched mars",
		]);
	});
});
