//! The OpenAPI 3.1 document of the HTTP API, served at `/openapi.json` and committed as
//! `docs/openapi.json` (a test keeps the two equal). Written by hand, next to the handlers it
//! describes; another test checks that it lists exactly the routes the router serves.

use serde_json::{json, Value};
use vault_rag_core::{DEFAULT_TOP_K, MAX_QUERY_CHARS, MAX_TOP_K};

/// Error codes and the HTTP status each comes with.
pub const ERROR_CODES: &[(&str, u16)] = &[
    ("unauthorized", 401),
    ("forbidden_host", 403),
    ("forbidden_origin", 403),
    ("forbidden_for_agents", 403),
    ("invalid_json", 400),
    ("invalid_request", 400),
    ("payload_too_large", 413),
    ("not_found", 404),
    ("note_not_found", 404),
    ("path_outside_vault", 400),
    ("method_not_allowed", 405),
    ("unsupported_media_type", 415),
    ("not_acceptable", 406),
    ("timeout", 503),
    ("index_unavailable", 503),
    ("internal", 500),
    ("llm_not_configured", 400),
    ("llm_bad_url", 400),
    ("llm_unreachable", 502),
    ("llm_unauthorized", 502),
    ("llm_error", 502),
    ("llm_timeout", 502),
    ("llm_bad_reply", 502),
    ("search_failed", 500),
];

fn error_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

fn json_body(schema: &str) -> Value {
    json!({ "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn ok(description: &str, schema: &str) -> Value {
    let mut v = json_body(schema);
    v["description"] = json!(description);
    v
}

fn standard_errors(mut responses: Value, extra: &[(&str, &str)]) -> Value {
    for (status, name) in [
        ("401", "Unauthorized"),
        ("403", "Forbidden"),
        ("500", "Internal"),
        ("503", "Unavailable"),
    ]
    .iter()
    .chain(extra)
    {
        responses[*status] = error_ref(name);
    }
    responses
}

fn state_op(summary: &str, op: &str) -> Value {
    json!({ "post": {
        "operationId": op,
        "summary": summary,
        "responses": standard_errors(json!({ "200": ok("The indexer's state after the change.", "IndexStateReply") }), &[]),
    }})
}

fn paths() -> Value {
    let body_errors: &[(&str, &str)] = &[
        ("400", "BadRequest"),
        ("413", "PayloadTooLarge"),
        ("415", "UnsupportedMediaType"),
    ];
    // The MCP transport's refusals: no session id, an unknown session, a wrong Accept header.
    let mcp_errors: &[(&str, &str)] = &[
        ("400", "BadRequest"),
        ("404", "NotFound"),
        ("405", "MethodNotAllowed"),
        ("406", "NotAcceptable"),
        ("413", "PayloadTooLarge"),
        ("415", "UnsupportedMediaType"),
    ];
    json!({
        "/health": { "get": {
            "operationId": "health",
            "summary": "Liveness, model and indexing progress.",
            "responses": standard_errors(json!({ "200": ok("Server health.", "Health") }), &[]),
        }},
        "/search": { "post": {
            "operationId": "search",
            "summary": "Search the vault (hybrid: dense + BM25, fused). Answered while indexing runs.",
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SearchRequest" } } } },
            "responses": standard_errors(json!({ "200": ok("Hits, one per note, best first.", "SearchResponse") }), body_errors),
        }},
        "/ask": { "post": {
            "operationId": "ask",
            "summary": "A grounded answer from the vault's notes: hybrid search, the sections around the best hits packed into a token budget, then an OpenAI-compatible chat model (the service's `--llm-url`, or `llm` in the body). Streamed as server-sent events: `retrieval` (AskRetrieval), `token` ({\"text\"}), then `done` (AskAnswer) or `error` (Error). Closing the connection stops the model request. When no passage is relevant, the answer says so without calling the model.",
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/AskRequest" } } } },
            "responses": standard_errors(json!({
                "200": { "description": "An event stream, or with `\"stream\": false` the AskAnswer as JSON.", "content": {
                    "text/event-stream": { "schema": { "type": "string" } },
                    "application/json": { "schema": { "$ref": "#/components/schemas/AskAnswer" } }
                }},
                "502": error_ref("BadGateway"),
            }), body_errors),
        }},
        "/similar": { "get": {
            "operationId": "similar",
            "summary": "Notes similar to a note of the vault.",
            "parameters": [
                { "name": "path", "in": "query", "required": true, "description": "Vault-relative note path.", "schema": { "type": "string" } },
                { "name": "top_k", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": DEFAULT_TOP_K } },
                { "name": "exclude_linked", "in": "query", "required": false, "description": "Leave out notes the note already links to.", "schema": { "type": "boolean", "default": false } }
            ],
            "responses": standard_errors(json!({
                "200": ok("Similar notes, best first.", "SimilarResponse"),
                "404": error_ref("NotFound"),
            }), &[("400", "BadRequest")]),
        }},
        "/embed": { "post": {
            "operationId": "embed",
            "summary": "Embed texts with the server's model.",
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/EmbedRequest" } } } },
            "responses": standard_errors(json!({ "200": ok("One unit vector per text, in input order.", "EmbedResponse") }), body_errors),
        }},
        "/v1/embeddings": { "post": {
            "operationId": "openaiEmbeddings",
            "summary": "OpenAI-compatible embeddings.",
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OpenAiEmbeddingRequest" } } } },
            "responses": standard_errors(json!({ "200": ok("Embeddings in OpenAI's response shape.", "OpenAiEmbeddingResponse") }), body_errors),
        }},
        "/index/status": { "get": {
            "operationId": "indexStatus",
            "summary": "Indexing progress, size and failures.",
            "responses": standard_errors(json!({ "200": ok("Index status.", "IndexStatus") }), &[]),
        }},
        "/index/rebuild": state_op("Re-index the whole vault in the background.", "indexRebuild"),
        "/index/pause": state_op("Pause background indexing; searches keep working.", "indexPause"),
        "/index/resume": state_op("Resume background indexing.", "indexResume"),
        "/index/yield": { "post": {
            "operationId": "indexYield",
            "summary": "The user is busy (typing): indexing holds for `seconds`, then resumes by itself; a call during a hold extends it. Searches are not held. For editors to call while the user types.",
            "requestBody": { "required": true, "content": { "application/json": { "schema": {
                "type": "object", "required": ["seconds"], "additionalProperties": false,
                "properties": { "seconds": { "type": "number", "exclusiveMinimum": 0, "maximum": vault_rag_index::MAX_HOLD.as_secs() } }
            } } } },
            "responses": standard_errors(json!({ "200": ok("The indexer's state after the change.", "IndexStateReply") }), body_errors),
        }},
        "/index/focus": { "post": {
            "operationId": "indexFocus",
            "summary": "The user has these notes open (vault-relative paths, most recent first): while sections wait for vectors, theirs are embedded next. Paths not in the index are ignored. For editors.",
            "requestBody": { "required": true, "content": { "application/json": { "schema": {
                "type": "object", "required": ["paths"], "additionalProperties": false,
                "properties": { "paths": { "type": "array", "minItems": 1, "maxItems": vault_rag_index::MAX_FOCUS, "items": { "type": "string", "minLength": 1 } } }
            } } } },
            "responses": standard_errors(json!({ "200": ok("The indexer's state.", "IndexStateReply") }), body_errors),
        }},
        "/openapi.json": { "get": {
            "operationId": "openapi",
            "summary": "This document.",
            "responses": standard_errors(json!({ "200": { "description": "OpenAPI 3.1 document.", "content": { "application/json": { "schema": { "type": "object" } } } } }), &[]),
        }},
        "/agents/token": { "get": {
            "operationId": "agentToken",
            "summary": "The agent token: a second bearer token that opens only /mcp and /health, for AI agents' configurations. Needs the service token.",
            "responses": standard_errors(json!({ "200": ok("The current agent token.", "AgentToken") }), &[]),
        }},
        "/agents/token/rotate": { "post": {
            "operationId": "agentTokenRotate",
            "summary": "Revoke the agent token and make a new one, in effect at once. Needs the service token.",
            "responses": standard_errors(json!({ "200": ok("The new agent token.", "AgentToken") }), &[]),
        }},
        "/mcp": {
            "post": {
                "operationId": "mcpMessage",
                "summary": "MCP over Streamable HTTP: one JSON-RPC message (initialize, tools/list, tools/call: search_notes, similar_notes, read_note, list_notes, gather_context; resources/list and resources/read for `vault:///` note URIs). The answer is JSON or an event stream; `Mcp-Session-Id` names the session after initialize.",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
                "responses": standard_errors(json!({
                    "200": { "description": "The answer, as `application/json` or `text/event-stream`.", "content": { "application/json": { "schema": { "type": "object" } }, "text/event-stream": { "schema": { "type": "string" } } } },
                    "202": { "description": "A notification or response was accepted." }
                }), mcp_errors),
            },
            "get": {
                "operationId": "mcpEvents",
                "summary": "MCP: the session's event stream for messages the server sends on its own.",
                "responses": standard_errors(json!({ "200": { "description": "Event stream.", "content": { "text/event-stream": { "schema": { "type": "string" } } } } }), mcp_errors),
            },
            "delete": {
                "operationId": "mcpEnd",
                "summary": "MCP: ends the session named by `Mcp-Session-Id`.",
                "responses": standard_errors(json!({ "200": { "description": "Session ended." }, "202": { "description": "Session ended." } }), mcp_errors),
            }
        },
    })
}

/// Optional request fields also take `null`, which means the same as leaving them out.
fn schemas() -> Value {
    let state =
        json!({ "type": "string", "enum": ["idle", "scanning", "indexing", "paused", "error"] });
    let string_array = json!({ "type": "array", "items": { "type": "string" } });
    json!({
        "Hit": {
            "type": "object",
            "required": ["path", "title", "heading_path", "line", "end_line", "snippet", "score", "retrievers"],
            "properties": {
                "path": { "type": "string", "description": "Vault-relative note path." },
                "title": { "type": "string" },
                "heading_path": string_array,
                "line": { "type": "integer", "minimum": 1, "description": "First line of the best chunk (1-based)." },
                "end_line": { "type": "integer", "minimum": 1 },
                "block_id": { "type": "string", "description": "Block id (`^id`) of the chunk, when it has one." },
                "snippet": { "type": "string", "description": "Excerpt; matched terms wrapped in `**`." },
                "score": { "type": "number", "description": "Higher is better. Dense: cosine similarity. Lexical: BM25 relative to the best hit (0–1). Hybrid (convex): the fused score, 0–1." },
                "retrievers": { "type": "array", "items": { "type": "string", "enum": ["dense", "lexical"] } },
                "explain": { "$ref": "#/components/schemas/Explain" }
            }
        },
        "Explain": {
            "type": "object",
            "description": "Why a hit ranked where it did. Fields a retriever did not report are left out.",
            "properties": {
                "dense_rank": { "type": "integer", "minimum": 1, "description": "The note's rank in the dense list." },
                "dense_similarity": { "type": "number", "description": "Cosine similarity of the note's best chunk to the query." },
                "lexical_rank": { "type": "integer", "minimum": 1, "description": "The note's rank in the lexical list." },
                "lexical_score": { "type": "number", "description": "BM25 score of the note's best chunk (not bounded)." },
                "matched_terms": { "type": "array", "items": { "type": "string" }, "description": "Query terms (as the query spelled them) found in the shown chunk, its headings, title or aliases." },
                "title_match": { "type": "number", "minimum": 0, "maximum": 1, "description": "Share of the query's terms in the note's title or an alias." },
                "fusion": { "type": "string", "enum": ["convex", "rrf"] },
                "dense_weight": { "type": "number", "minimum": 0, "maximum": 1, "description": "The dense side's weight in convex fusion." },
                "lexical_weight": { "type": "number", "minimum": 0, "maximum": 1, "description": "The lexical side's weight in convex fusion: 1 - dense_weight, times the share of the query's terms that the best lexical match holds." }
            }
        },
        "SearchRequest": {
            "type": "object",
            "required": ["query"],
            "additionalProperties": false,
            "properties": {
                "query": { "type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS, "description": "Natural language or keywords. \"Double quotes\" around words keep only notes holding that exact phrase (ignored when no note does); a trailing * matches word beginnings (migrat*)." },
                "top_k": { "type": ["integer", "null"], "minimum": 1, "maximum": MAX_TOP_K, "default": DEFAULT_TOP_K },
                "mode": { "type": ["string", "null"], "enum": ["hybrid", "dense", "lexical", null], "default": "hybrid" },
                "folder": { "type": ["string", "null"], "description": "Only notes in this vault folder." },
                "tag": { "type": ["string", "null"], "description": "Only notes with this tag (with or without `#`)." },
                "fusion": { "type": ["string", "null"], "enum": ["convex", "rrf", null], "default": "convex", "description": "How hybrid search merges the dense and lexical lists." }
            }
        },
        "SearchResponse": {
            "type": "object",
            "required": ["hits", "mode", "took_ms", "index_complete", "dense_coverage"],
            "properties": {
                "hits": { "type": "array", "items": { "$ref": "#/components/schemas/Hit" } },
                "mode": { "type": "string", "enum": ["hybrid", "dense", "lexical"] },
                "took_ms": { "type": "number" },
                "index_complete": { "type": "boolean", "description": "False while the first indexing pass runs: results may miss notes." },
                "dense_coverage": { "type": "number", "minimum": 0, "maximum": 1, "description": "Share of the indexed sections that meaning-based (dense) search sees. A first pass writes every note for keyword search before embedding, newest notes first: until then hybrid results rest on keywords for the rest." }
            }
        },
        "AskRequest": {
            "type": "object",
            "required": ["question"],
            "additionalProperties": false,
            "properties": {
                "question": { "type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS },
                "history": { "type": ["array", "null"], "maxItems": crate::api::ask::MAX_HISTORY, "description": "Earlier turns, oldest first; the last user turn is searched together with the question.", "items": {
                    "type": "object", "required": ["role", "content"], "properties": {
                        "role": { "type": "string", "enum": ["user", "assistant"] },
                        "content": { "type": "string" }
                    }
                }},
                "top_k": { "type": ["integer", "null"], "minimum": 1, "maximum": MAX_TOP_K, "default": vault_rag_ask::DEFAULT_TOP_K, "description": "Hits considered per search." },
                "budget_tokens": { "type": ["integer", "null"], "minimum": 100, "maximum": vault_rag_ask::MAX_BUDGET_TOKENS, "default": vault_rag_ask::DEFAULT_BUDGET_TOKENS, "description": "Token budget of the passages sent to the model." },
                "folder": { "type": ["string", "null"] },
                "tag": { "type": ["string", "null"] },
                "exclude": { "type": ["array", "null"], "maxItems": crate::api::ask::MAX_EXCLUDE, "items": { "type": "string" }, "description": "Passage ids (`path#Lstart-end`) or note paths not to send." },
                "stream": { "type": ["boolean", "null"], "default": true },
                "llm": { "type": ["object", "null"], "additionalProperties": false, "description": "Replaces the service's model settings for this request.", "properties": {
                    "base_url": { "type": ["string", "null"], "description": "OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1." },
                    "model": { "type": ["string", "null"] },
                    "api_key": { "type": ["string", "null"], "description": "Sent as a bearer token to the endpoint; never logged." },
                    "temperature": { "type": ["number", "null"] },
                    "max_tokens": { "type": ["integer", "null"] }
                }}
            }
        },
        "Passage": {
            "type": "object",
            "required": ["n", "id", "path", "title", "heading_path", "start_line", "end_line", "line", "link", "text", "tokens"],
            "properties": {
                "n": { "type": "integer", "minimum": 1, "description": "The number the model cites as `[n]`." },
                "id": { "type": "string", "description": "`path#Lstart-end`, for `exclude`." },
                "path": { "type": "string" },
                "title": { "type": "string" },
                "heading_path": string_array,
                "start_line": { "type": "integer", "minimum": 1, "description": "First file line quoted (1-based)." },
                "end_line": { "type": "integer", "minimum": 1 },
                "line": { "type": "integer", "minimum": 1, "description": "Where the matching section starts: citations open the note here." },
                "link": { "type": "string", "description": "Wikilink target of the matching section, `Note#Heading`." },
                "text": { "type": "string" },
                "tokens": { "type": "integer", "description": "Estimated tokens." }
            }
        },
        "AskRetrieval": {
            "type": "object",
            "required": ["queries", "passages", "found", "hits_considered", "took_ms"],
            "properties": {
                "queries": string_array,
                "passages": { "type": "array", "items": { "$ref": "#/components/schemas/Passage" } },
                "found": { "type": "boolean", "description": "False when nothing relevant was found: the model is not called." },
                "hits_considered": { "type": "integer" },
                "took_ms": { "type": "number" }
            }
        },
        "Citation": {
            "type": "object",
            "required": ["n", "path", "line", "end_line", "link"],
            "properties": {
                "n": { "type": "integer" },
                "path": { "type": "string" },
                "heading": { "type": ["string", "null"] },
                "line": { "type": "integer", "minimum": 1 },
                "end_line": { "type": "integer", "minimum": 1 },
                "link": { "type": "string" }
            }
        },
        "AskAnswer": {
            "type": "object",
            "required": ["answer", "answer_markdown", "citations", "dropped_citations", "found", "model_called", "cancelled", "passages", "retrieval_ms", "answer_ms"],
            "properties": {
                "answer": { "type": "string", "description": "The model's text with `[n]` markers that point to nothing removed." },
                "answer_markdown": { "type": "string", "description": "The answer with each `[n]` as a wikilink `[[Note#Heading|n]]`." },
                "citations": { "type": "array", "items": { "$ref": "#/components/schemas/Citation" } },
                "dropped_citations": { "type": "array", "items": { "type": "integer" }, "description": "Markers that named no passage." },
                "found": { "type": "boolean" },
                "model_called": { "type": "boolean" },
                "model": { "type": ["string", "null"] },
                "finish_reason": { "type": ["string", "null"] },
                "cancelled": { "type": "boolean" },
                "passages": { "type": "array", "items": { "$ref": "#/components/schemas/Passage" } },
                "retrieval_ms": { "type": "number" },
                "answer_ms": { "type": "number" }
            }
        },
        "SimilarResponse": {
            "type": "object",
            "required": ["path", "hits", "index_complete"],
            "properties": {
                "path": { "type": "string" },
                "hits": { "type": "array", "items": { "$ref": "#/components/schemas/Hit" } },
                "index_complete": { "type": "boolean" }
            }
        },
        "EmbedRequest": {
            "type": "object",
            "required": ["texts"],
            "additionalProperties": false,
            "properties": {
                "texts": { "type": "array", "minItems": 1, "maxItems": 256, "items": { "type": "string", "maxLength": 32768 } },
                "kind": { "type": ["string", "null"], "enum": ["query", "document", null], "default": "document", "description": "Which prompt the model applies." }
            }
        },
        "EmbedResponse": {
            "type": "object",
            "required": ["model", "dim", "vectors"],
            "properties": {
                "model": { "type": "string" },
                "dim": { "type": "integer" },
                "vectors": { "type": "array", "items": { "type": "array", "items": { "type": "number" } } }
            }
        },
        "OpenAiEmbeddingRequest": {
            "type": "object",
            "required": ["input"],
            "properties": {
                "input": { "oneOf": [
                    { "type": "string", "maxLength": 32768 },
                    { "type": "array", "minItems": 1, "maxItems": 256, "items": { "type": "string", "maxLength": 32768 } }
                ]},
                "model": { "type": ["string", "null"], "description": "Accepted and ignored; the response names the server's model." },
                "encoding_format": { "type": ["string", "null"], "enum": ["float", "base64", null], "default": "float" },
                "dimensions": { "type": ["integer", "null"], "description": "Must equal the model's dimensions when given." },
                "kind": { "type": ["string", "null"], "enum": ["query", "document", null], "default": "document", "description": "Extension: which prompt the model applies." }
            }
        },
        "OpenAiEmbeddingResponse": {
            "type": "object",
            "required": ["object", "data", "model", "usage"],
            "properties": {
                "object": { "const": "list" },
                "data": { "type": "array", "items": {
                    "type": "object",
                    "required": ["object", "index", "embedding"],
                    "properties": {
                        "object": { "const": "embedding" },
                        "index": { "type": "integer" },
                        "embedding": { "oneOf": [
                            { "type": "array", "items": { "type": "number" } },
                            { "type": "string", "description": "base64 of little-endian f32 values" }
                        ]}
                    }
                }},
                "model": { "type": "string" },
                "usage": { "type": "object", "required": ["prompt_tokens", "total_tokens"], "properties": {
                    "prompt_tokens": { "type": "integer" },
                    "total_tokens": { "type": "integer" }
                }}
            }
        },
        "Health": {
            "type": "object",
            "required": ["status", "version", "model_loaded", "model", "model_name", "embedding_dim", "cache_size_mb", "cached_notes", "index", "rss_mb"],
            "properties": {
                "status": { "type": "string", "enum": ["ok", "indexing", "error"] },
                "version": { "type": "string" },
                "model_loaded": { "type": "boolean", "description": "False while the model loads in the background: searches wait for it, lexical ones do not." },
                "model": { "type": "object", "required": ["state"], "properties": {
                    "state": { "type": "string", "enum": ["downloading", "loading", "ready", "failed"] },
                    "message": { "type": "string", "description": "Why loading failed (state `failed`)." },
                    "file": { "type": "string", "description": "The file being fetched (state `downloading`)." },
                    "bytes_done": { "type": "integer", "description": "Bytes fetched so far (state `downloading`)." },
                    "bytes_total": { "type": "integer", "description": "Bytes of all files as known so far (state `downloading`)." }
                }},
                "model_name": { "type": "string" },
                "embedding_dim": { "type": "integer" },
                "cache_size_mb": { "type": "number", "description": "Index size on disk, MiB." },
                "cached_notes": { "type": "integer", "description": "Notes with vectors in the index." },
                "index": { "type": "object", "required": ["state", "notes_done", "notes_total", "complete", "live_updates", "vectors_missing"], "properties": {
                    "state": state,
                    "notes_done": { "type": "integer" },
                    "notes_total": { "type": "integer" },
                    "complete": { "type": "boolean" },
                    "live_updates": { "type": "string", "enum": ["on", "off", "vault_missing"], "description": "Whether file changes reach the index: `vault_missing` while the vault folder is gone (deleted or renamed away); updates resume, with a full pass, when it is back." },
                    "vectors_missing": { "type": "integer", "minimum": 0, "description": "Sections still waiting to be embedded (keyword search already covers them)." }
                }},
                "rss_mb": { "type": ["number", "null"], "description": "Resident memory, MiB." },
                "rss_peak_mb": { "type": ["number", "null"], "description": "Highest resident memory since start, MiB." }
            }
        },
        "IndexStatus": {
            "type": "object",
            "required": ["state", "notes_done", "notes_total", "notes_indexed", "chunks", "failures", "index_size_bytes", "complete", "fingerprint", "live_updates", "vectors_missing", "dense_coverage", "background", "sections_embedded"],
            "properties": {
                "state": state,
                "notes_done": { "type": "integer" },
                "notes_total": { "type": "integer" },
                "notes_indexed": { "type": "integer" },
                "chunks": { "type": "integer" },
                "failures": { "type": "array", "items": { "type": "object", "required": ["path", "reason"], "properties": {
                    "path": { "type": "string" }, "reason": { "type": "string" }
                }}},
                "index_size_bytes": { "type": "integer" },
                "complete": { "type": "boolean" },
                "fingerprint": { "type": "string", "description": "Id of the embedder the vectors belong to." },
                "live_updates": { "type": "string", "enum": ["on", "off", "vault_missing"], "description": "Whether file changes reach the index: `vault_missing` while the vault folder is gone (deleted or renamed away); updates resume, with a full pass, when it is back." },
                "vectors_missing": { "type": "integer", "minimum": 0, "description": "Section texts still waiting to be embedded. A first pass writes every note for keyword search first, then embeds, newest notes first." },
                "dense_coverage": { "type": "number", "minimum": 0, "maximum": 1, "description": "Share of the indexed sections that meaning-based (dense) search sees." },
                "background": { "type": "boolean", "description": "The service runs at a lowered process priority while a full pass has work (`--index-priority background`, the service's default), so that the user's applications keep the CPU: a lower process priority that searches raise again, or, where the system cannot raise it again (Linux without privileges), pauses while other programs keep the CPU busy." },
                "sections_embedded": { "type": "integer", "minimum": 0, "description": "Sections embedded by the current (or last) pass, counted as each group of 32 returns (before it is committed): the embedding rate." }
            }
        },
        "AgentToken": {
            "type": "object",
            "required": ["token", "mcp_path"],
            "properties": {
                "token": { "type": ["string", "null"], "description": "Bearer token for /mcp; null when the service runs without tokens." },
                "mcp_path": { "type": "string", "description": "Path of the MCP endpoint on this service." }
            }
        },
        "IndexStateReply": {
            "type": "object",
            "required": ["state"],
            "properties": { "state": state }
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                "code": { "type": "string", "enum": ERROR_CODES.iter().map(|(c, _)| *c).collect::<Vec<_>>() },
                "message": { "type": "string" }
            }}}
        }
    })
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

/// The whole document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vault-rag",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Local semantic search over an Obsidian vault. Listens on loopback only unless a token is configured. Every request needs a loopback `Host` with the served port; an `Origin`, when sent, must be allow-listed; with a token configured, `Authorization: Bearer <token>` is required.",
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" }
        },
        "servers": [{ "url": "http://127.0.0.1:{port}", "variables": { "port": { "default": "0", "description": "Printed on stdout at start: {\"event\":\"listening\",\"port\":N}" } } }],
        "security": [{ "bearer": [] }, {}],
        "paths": paths(),
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "Token from VAULT_RAG_TOKEN or the `token` file in the data dir." } },
            "schemas": schemas(),
            "responses": {
                "BadRequest": error_response("invalid_json, invalid_request, path_outside_vault, llm_not_configured or llm_bad_url."),
                "Unauthorized": error_response("unauthorized: missing or wrong bearer token."),
                "Forbidden": error_response("forbidden_host or forbidden_origin."),
                "NotFound": error_response("note_not_found (or not_found for an unknown route)."),
                "PayloadTooLarge": error_response("payload_too_large: the body exceeds 1 MiB."),
                "UnsupportedMediaType": error_response("unsupported_media_type: the body must be application/json."),
                "MethodNotAllowed": error_response("method_not_allowed."),
                "NotAcceptable": error_response("not_acceptable: an MCP client must accept application/json and text/event-stream."),
                "Internal": error_response("internal."),
                "Unavailable": error_response("index_unavailable or timeout."),
                "BadGateway": error_response("llm_unreachable, llm_unauthorized, llm_error, llm_timeout or llm_bad_reply: the chat endpoint failed."),
            }
        }
    })
}
