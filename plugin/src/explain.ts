import type { Hit } from "./api";

/**
 * The hover text of a hit: why it ranked where it did, one fact per line. "Meaning" is the dense
 * (embedding) retriever, "keywords" the lexical one, as the settings call the modes.
 */
export function explainText(hit: Hit): string {
	const lines = [`Score ${hit.score.toFixed(2)}`];
	const e = hit.explain;
	if (!e) return lines[0] ?? "";
	if (e.dense_rank !== undefined) {
		const similarity = e.dense_similarity === undefined ? "" : `, similarity ${e.dense_similarity.toFixed(2)}`;
		lines.push(`Meaning: #${e.dense_rank}${similarity}`);
	}
	const terms = e.matched_terms ?? [];
	if (e.lexical_rank !== undefined) {
		lines.push(`Keywords: #${e.lexical_rank}${terms.length > 0 ? `, matched ${terms.join(", ")}` : ""}`);
	} else if (terms.length > 0) {
		lines.push(`Matched ${terms.join(", ")}`);
	}
	if (e.title_match !== undefined && e.title_match > 0) {
		lines.push(`Title matches ${Math.round(e.title_match * 100)} % of the query`);
	}
	if (e.fusion === "convex" && e.dense_weight !== undefined) {
		const dense = Math.round(e.dense_weight * 100);
		const keywords = Math.round((e.lexical_weight ?? 1 - e.dense_weight) * 100);
		lines.push(`Blend: ${dense} % meaning, ${keywords} % keywords`);
	} else if (e.fusion === "rrf") {
		lines.push("Blend: reciprocal rank");
	}
	return lines.join("\n");
}
