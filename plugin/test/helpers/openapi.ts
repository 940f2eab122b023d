/** Compares the hand-written API types (their field lists) with an OpenAPI document. */
import { REQUEST_FIELDS, REQUIRED_FIELDS } from "../../src/api";

interface Schema {
	required?: string[];
	properties?: Record<string, unknown>;
}

/** Every mismatch, as a sentence; empty when the types agree with the document. */
export function openApiMismatches(document: unknown): string[] {
	const schemas = (document as { components?: { schemas?: Record<string, Schema> } }).components?.schemas ?? {};
	const problems: string[] = [];
	const sorted = (list: readonly string[]) => [...list].sort().join(", ");
	for (const [name, required] of Object.entries(REQUIRED_FIELDS)) {
		const schema = schemas[name];
		if (!schema) {
			problems.push(`schema ${name} is missing from the document`);
			continue;
		}
		if (sorted(schema.required ?? []) !== sorted(required)) {
			problems.push(`${name}: document requires [${sorted(schema.required ?? [])}], types require [${sorted(required)}]`);
		}
	}
	for (const [name, fields] of Object.entries(REQUEST_FIELDS)) {
		const schema = schemas[name];
		if (!schema) {
			problems.push(`schema ${name} is missing from the document`);
			continue;
		}
		if (sorted(schema.required ?? []) !== sorted(fields.required)) {
			problems.push(`${name}: document requires [${sorted(schema.required ?? [])}], types require [${sorted(fields.required)}]`);
		}
		const properties = Object.keys(schema.properties ?? {});
		if (sorted(properties) !== sorted(fields.all)) {
			problems.push(`${name}: document has [${sorted(properties)}], types have [${sorted(fields.all)}]`);
		}
	}
	return problems;
}
