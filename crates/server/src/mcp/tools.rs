//! The MCP tools: arguments (with the JSON schemas and descriptions agents read), validation
//! through the HTTP API's own checks, and results that name notes so agents can cite them.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{tool, tool_router, ErrorData};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use vault_rag_core::{wikilink, Hit, SearchMode};
use vault_rag_index::{ListOrder, ListRequest, ListedNote};

use super::VaultMcp;
use crate::api::{blocking, note_path, search_request, vault_of};
use crate::section::{extract_lines, extract_section};
use crate::{SearchResults, ServerError};
use vault_rag_core::{
    count_or, folder_filter, note_part, tag_filter, Fusion, NotePart, SearchRequest,
    SimilarRequest, DEFAULT_LIST_LIMIT, DEFAULT_TOP_K,
};

/// Arguments of `search_notes`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchNotesArgs {
    /// What to look for, in natural language or keywords. "Double quotes" around words return
    /// only notes holding that exact phrase (ignored when no note does); a trailing * matches
    /// word beginnings (migrat*).
    pub query: String,
    /// How many notes to return (1-100, default 10).
    #[serde(alias = "top_k")]
    pub limit: Option<u64>,
    /// `hybrid` (default: meaning + keywords), `dense` (meaning only) or `lexical` (keywords only).
    pub mode: Option<ModeArg>,
    /// Only notes in this vault folder, e.g. `Projects/Alpha`.
    pub folder: Option<String>,
    /// Only notes with this tag (with or without `#`; `project` also matches `project/alpha`).
    pub tag: Option<String>,
}

/// Search mode argument.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModeArg {
    Hybrid,
    Dense,
    Lexical,
}

impl From<ModeArg> for SearchMode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::Hybrid => SearchMode::Hybrid,
            ModeArg::Dense => SearchMode::Dense,
            ModeArg::Lexical => SearchMode::Lexical,
        }
    }
}

/// Arguments of `gather_context`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GatherContextArgs {
    /// The user's question, as asked.
    pub question: String,
    /// Most tokens of note text to return (100-100000, default 2500).
    pub budget_tokens: Option<u64>,
    /// Only notes in this vault folder.
    pub folder: Option<String>,
    /// Only notes with this tag.
    pub tag: Option<String>,
}

/// Arguments of `similar_notes`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SimilarNotesArgs {
    /// Vault-relative path of the note, e.g. `Projects/Alpha/Plan.md`.
    pub path: String,
    /// How many notes to return (1-100, default 10).
    #[serde(alias = "top_k")]
    pub limit: Option<u64>,
}

/// Arguments of `read_note`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadNoteArgs {
    /// Vault-relative path of the note, e.g. `Projects/Alpha/Plan.md`.
    pub path: String,
    /// Only the section under this heading (case-insensitive; `Parent#Child` also works).
    pub heading: Option<String>,
    /// Only from this line on (1-based, as `line` in search results).
    pub start_line: Option<u64>,
    /// Only up to this line (1-based, inclusive, as `end_line` in search results).
    pub end_line: Option<u64>,
}

/// Arguments of `list_notes`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListNotesArgs {
    /// Only notes in this vault folder, e.g. `Projects/Alpha`.
    pub folder: Option<String>,
    /// Only notes with this tag (with or without `#`; `project` also matches `project/alpha`).
    pub tag: Option<String>,
    /// Only notes modified at or after this date (`2026-03-01`) or time (`2026-03-01T09:30:00Z`).
    pub modified_since: Option<String>,
    /// `path` (default: folder by folder) or `modified` (newest first).
    pub order: Option<OrderArg>,
    /// Notes per page (1-500, default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page, to read the next one.
    pub cursor: Option<String>,
}

/// Order argument of `list_notes`.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrderArg {
    Path,
    Modified,
}

fn tool_error(err: ServerError) -> CallToolResult {
    let (_, code) = err.status_and_code();
    CallToolResult::error(vec![ContentBlock::text(format!(
        "{code}: {}",
        err.full_message()
    ))])
}

fn outcome(result: Result<CallToolResult, ServerError>) -> Result<CallToolResult, ErrorData> {
    Ok(result.unwrap_or_else(tool_error))
}

/// A hit as agents get it: the API's fields plus `link`, the wikilink to cite.
fn hit_json(hit: &Hit) -> Value {
    let mut value = serde_json::to_value(hit).unwrap_or_else(|_| json!({}));
    if let Some(map) = value.as_object_mut() {
        map.insert("link".into(), Value::String(hit.wikilink()));
    }
    value
}

/// A listed note as agents get it.
fn note_json(note: &ListedNote) -> Value {
    json!({
        "path": note.path,
        "title": note.title,
        "tags": note.tags,
        "aliases": note.aliases,
        "modified": rfc3339(note.mtime_ns),
        "size": note.size,
        "link": wikilink(&note.path, None),
    })
}

/// A file time as RFC 3339 (UTC, seconds); `None` when the index does not hold a real one.
fn rfc3339(mtime_ns: i64) -> Option<String> {
    (mtime_ns >= 0)
        .then(|| chrono::DateTime::from_timestamp_nanos(mtime_ns))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// `2026-03-01` (midnight UTC) or an RFC 3339 time, as ns since the Unix epoch.
fn parse_since(raw: &str) -> Result<i64, ServerError> {
    let raw = raw.trim();
    let time = chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.to_utc())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        })
        .map_err(|_| {
            ServerError::invalid(
                "modified_since",
                format!("`{raw}` is neither a date (2026-03-01) nor an RFC 3339 time (2026-03-01T09:30:00Z)"),
            )
        })?;
    // Past the range of ns timestamps (years 1677-2262): everything is before or after.
    Ok(time
        .timestamp_nanos_opt()
        .unwrap_or(if time.timestamp() > 0 {
            i64::MAX
        } else {
            i64::MIN
        }))
}

/// The structured result of `search_notes` and `similar_notes` (with the source note's path).
fn hits_result(results: &SearchResults, path: Option<String>) -> CallToolResult {
    let hits: Vec<Value> = results.hits.iter().map(hit_json).collect();
    let mut body = json!({
        "hits": hits,
        "index_complete": results.index_complete,
        "dense_coverage": results.dense_coverage,
    });
    if let Some(path) = path {
        body["path"] = json!(path);
    }
    CallToolResult::structured(body)
}

/// A page's cursor is the offset of its first note (tools and resources page alike).
pub(super) fn parse_cursor(cursor: Option<&str>) -> Result<usize, ServerError> {
    match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(0),
        Some(c) => c.parse().map_err(|_| {
            ServerError::invalid(
                "cursor",
                format!("`{c}` is not a cursor this server gave out"),
            )
        }),
    }
}

/// The cursor of the page after `offset..offset + limit`, if any notes are left.
pub(super) fn next_cursor(offset: usize, limit: usize, total: usize) -> Option<String> {
    let next = offset.saturating_add(limit);
    (next < total).then(|| next.to_string())
}

#[tool_router(vis = "pub(super)")]
impl VaultMcp {
    #[tool(
        description = "Search the user's Obsidian notes by meaning and keywords. Returns the best notes, each with path, title, heading_path, line and end_line (the matching passage), score, a snippet (matched terms in **bold**) and link, an Obsidian wikilink to cite it. Use read_note with the path (and start_line/end_line or a heading) to read more."
    )]
    async fn search_notes(
        &self,
        Parameters(args): Parameters<SearchNotesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let backend = self.backend.clone();
        outcome(
            async move {
                let query = search_request(SearchRequest {
                    query: args.query,
                    top_k: count_or(args.limit, DEFAULT_TOP_K),
                    mode: args.mode.map(SearchMode::from).unwrap_or_default(),
                    folder: args.folder,
                    tag: args.tag,
                    fusion: Fusion::default(),
                })?;
                let results = blocking(move || backend.search(&query)).await?;
                Ok(hits_result(&results, None))
            }
            .await,
        )
    }

    #[tool(
        description = "Gather the passages of the user's notes that answer a question, to answer it yourself with citations. Returns numbered passages (n, path, heading_path, start_line, end_line, link: an Obsidian wikilink, text) that fit the token budget, and found: false when no note matches the question (then say the notes do not cover it instead of guessing). Cite a passage by its link."
    )]
    async fn gather_context(
        &self,
        Parameters(args): Parameters<GatherContextArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let backend = self.backend.clone();
        outcome(
            async move {
                let search = search_request(SearchRequest {
                    query: args.question,
                    top_k: vault_rag_ask::DEFAULT_TOP_K,
                    mode: SearchMode::Hybrid,
                    folder: args.folder,
                    tag: args.tag,
                    fusion: Fusion::default(),
                })?;
                let mut request = vault_rag_ask::AskRequest::new(search.query);
                request.folder = search.folder;
                request.tag = search.tag;
                if let Some(budget) = args.budget_tokens {
                    request.budget_tokens = usize::try_from(budget).unwrap_or(usize::MAX);
                }
                request.validate().map_err(|e| match e {
                    vault_rag_ask::AskError::Invalid { field, message } => {
                        ServerError::invalid(field, message)
                    }
                    other => other.into(),
                })?;
                let question = request.question.clone();
                let retrieval = blocking(move || {
                    Ok(vault_rag_ask::retrieve(&vault_of(&backend), &request)?)
                })
                .await?;
                Ok(CallToolResult::structured(json!({
                    "question": question,
                    "found": retrieval.found,
                    "passages": retrieval.passages,
                    "instructions": if retrieval.found {
                        "Answer only from these passages and cite each fact with the passage's link."
                    } else {
                        "No note matches this question: tell the user their notes do not cover it."
                    },
                })))
            }
            .await,
        )
    }

    #[tool(
        description = "Find notes similar in meaning to a given note of the vault. Results have the same fields as search_notes."
    )]
    async fn similar_notes(
        &self,
        Parameters(args): Parameters<SimilarNotesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let backend = self.backend.clone();
        outcome(
            async move {
                let query = SimilarRequest {
                    path: note_path(&args.path)?,
                    top_k: count_or(args.limit, DEFAULT_TOP_K),
                    exclude_linked: false,
                };
                query.validate()?;
                let path = query.path.to_string();
                let results = blocking(move || backend.similar(&query)).await?;
                Ok(hits_result(&results, Some(path)))
            }
            .await,
        )
    }

    #[tool(
        description = "Read a note of the vault (Markdown): the whole note, only the section under one heading, or only lines start_line..end_line (1-based, inclusive). Very long notes are cut at the size the index reads, with a line that says so."
    )]
    async fn read_note(
        &self,
        Parameters(args): Parameters<ReadNoteArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let backend = self.backend.clone();
        outcome(
            async move {
                let path = note_path(&args.path)?;
                let part = note_part(args.heading.as_deref(), args.start_line, args.end_line)?;
                let shown = path.to_string();
                let text = blocking(move || backend.read_note(&path)).await?;
                let text = match part {
                    NotePart::Section(heading) => {
                        extract_section(&text, &heading).map_err(|found| {
                            ServerError::invalid(
                                "heading",
                                format!(
                                    "`{heading}` is not a heading of `{shown}` (headings: {})",
                                    found.join(", ")
                                ),
                            )
                        })?
                    }
                    NotePart::Lines { start, end } => extract_lines(&text, Some(start), end)
                        .map_err(|message| ServerError::invalid("start_line", message))?,
                    NotePart::Whole => text,
                };
                Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
            }
            .await,
        )
    }

    #[tool(
        description = "List the vault's notes, a page at a time: all of them, or only a folder, a tag, or notes modified since a date; by path or newest first. Each note has path, title, tags, aliases, modified (RFC 3339), size and link. Pass next_cursor back as cursor for the next page."
    )]
    async fn list_notes(
        &self,
        Parameters(args): Parameters<ListNotesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let backend = self.backend.clone();
        outcome(
            async move {
                let limit = count_or(args.limit, DEFAULT_LIST_LIMIT);
                let request = ListRequest {
                    folder: folder_filter(args.folder.as_deref())?,
                    tag: tag_filter(args.tag.as_deref())?,
                    modified_since_ns: args
                        .modified_since
                        .as_deref()
                        .map(parse_since)
                        .transpose()?,
                    order: match args.order {
                        Some(OrderArg::Modified) => ListOrder::Modified,
                        _ => ListOrder::Path,
                    },
                    offset: parse_cursor(args.cursor.as_deref())?,
                    limit,
                };
                let (offset, limit) = (request.offset, request.limit);
                let page = blocking(move || backend.list_notes(&request)).await?;
                let notes: Vec<Value> = page.notes.iter().map(note_json).collect();
                Ok(CallToolResult::structured(json!({
                    "notes": notes,
                    "total": page.total,
                    "next_cursor": next_cursor(offset, limit, page.total),
                })))
            }
            .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_since() {
        assert_eq!(parse_since("1970-01-02").unwrap(), 86_400_000_000_000);
        assert_eq!(parse_since("1970-01-01T00:00:01Z").unwrap(), 1_000_000_000);
        assert_eq!(parse_since("1970-01-01T01:00:00+01:00").unwrap(), 0);
        assert_eq!(parse_since("2999-01-01").unwrap(), i64::MAX);
        assert_eq!(parse_since("1000-01-01").unwrap(), i64::MIN);
        let err = parse_since("last week").unwrap_err();
        assert!(err.full_message().contains("last week"), "{err}");
        assert_eq!(
            rfc3339(1_000_000_000).as_deref(),
            Some("1970-01-01T00:00:01Z")
        );
        assert_eq!(rfc3339(-1), None);
    }

    #[test]
    fn cursors_are_offsets() {
        assert_eq!(parse_cursor(None).unwrap(), 0);
        assert_eq!(parse_cursor(Some("100")).unwrap(), 100);
        assert!(parse_cursor(Some("x")).is_err());
    }
}
