import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_OPEN } from "../../src/open-notes";
import { openApiMismatches } from "../helpers/openapi";

const DOCUMENT = path.resolve(__dirname, "../../../docs/openapi.json");

describe("API types", () => {
	it("agree with the committed OpenAPI document", () => {
		if (!fs.existsSync(DOCUMENT)) {
			throw new Error(`${DOCUMENT} is missing: regenerate it with VAULT_RAG_UPDATE_OPENAPI=1 cargo test -p vault-rag-server.`);
		}
		const document: unknown = JSON.parse(fs.readFileSync(DOCUMENT, "utf8"));
		expect(openApiMismatches(document)).toEqual([]);
	});

	it("bound the open notes as the service does", () => {
		const document = JSON.parse(fs.readFileSync(DOCUMENT, "utf8")) as {
			paths: Record<string, { post: { requestBody: { content: { "application/json": { schema: { properties: { paths: { maxItems: number } } } } } } } }>;
		};
		const schema = document.paths["/index/focus"]?.post.requestBody.content["application/json"].schema;
		expect(schema?.properties.paths.maxItems).toBe(MAX_OPEN);
	});

	it("notice a field the document requires and the types lack", () => {
		const document = {
			components: {
				schemas: {
					Hit: { required: ["path", "title", "heading_path", "line", "end_line", "snippet", "score", "retrievers", "rank"] },
				},
			},
		};
		const problems = openApiMismatches(document);
		expect(problems.some((p) => p.startsWith("Hit:") && p.includes("rank"))).toBe(true);
		expect(problems.some((p) => p.includes("schema SearchResponse is missing"))).toBe(true);
	});
});
