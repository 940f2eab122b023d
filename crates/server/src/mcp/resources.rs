//! Notes as MCP resources: `vault:///Folder/Note.md` (path segments percent-encoded), listed a
//! page at a time and read with the same rules and size cap as `read_note`.

use std::sync::Arc;

use rmcp::model::{
    ListResourcesResult, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
};
use rmcp::ErrorData;
use vault_rag_index::{ListRequest, ListedNote};

use super::tools::{next_cursor, parse_cursor};
use crate::api::{blocking, note_path};
use crate::{Backend, ServerError};

const SCHEME: &str = "vault:///";
/// Resources in one `resources/list` page.
const PAGE: usize = 200;

/// The URI of a note.
pub(crate) fn note_uri(path: &str) -> String {
    let encoded: Vec<String> = path.split('/').map(encode_segment).collect();
    format!("{SCHEME}{}", encoded.join("/"))
}

/// Everything but unreserved characters is escaped, so any note name makes a valid URI.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The vault-relative path a URI names.
pub(crate) fn uri_path(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix(SCHEME)?;
    let mut bytes = Vec::with_capacity(rest.len());
    let mut iter = rest.bytes();
    while let Some(b) = iter.next() {
        if b == b'%' {
            let hex = [iter.next()?, iter.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

fn resource(note: &ListedNote) -> Resource {
    Resource::new(note_uri(&note.path), note.path.clone())
        .with_title(note.title.clone())
        .with_mime_type("text/markdown")
        .with_size(note.size)
}

pub(super) fn template() -> ResourceTemplate {
    ResourceTemplate::new(format!("{SCHEME}{{path}}"), "note")
        .with_title("A note of the vault")
        .with_description("A note by its vault-relative path, e.g. vault:///Projects/Plan.md")
        .with_mime_type("text/markdown")
}

fn rpc_error(err: ServerError) -> ErrorData {
    let (status, code) = err.status_and_code();
    let message = format!("{code}: {}", err.full_message());
    match status.as_u16() {
        404 => ErrorData::resource_not_found(message, None),
        400..=499 => ErrorData::invalid_params(message, None),
        _ => ErrorData::internal_error(message, None),
    }
}

pub(super) async fn list(
    backend: Arc<dyn Backend>,
    cursor: Option<String>,
) -> Result<ListResourcesResult, ErrorData> {
    let offset = parse_cursor(cursor.as_deref()).map_err(rpc_error)?;
    let request = ListRequest {
        offset,
        limit: PAGE,
        ..Default::default()
    };
    let page = blocking(move || backend.list_notes(&request))
        .await
        .map_err(rpc_error)?;
    let mut result = ListResourcesResult::with_all_items(page.notes.iter().map(resource).collect());
    result.next_cursor = next_cursor(offset, PAGE, page.total);
    Ok(result)
}

pub(super) async fn read(
    backend: Arc<dyn Backend>,
    uri: &str,
) -> Result<ReadResourceResult, ErrorData> {
    let path = uri_path(uri).ok_or_else(|| {
        rpc_error(ServerError::invalid(
            "uri",
            format!("`{uri}` is not a note URI (vault:///Folder/Note.md)"),
        ))
    })?;
    let path = note_path(&path).map_err(rpc_error)?;
    let text = blocking(move || backend.read_note(&path))
        .await
        .map_err(rpc_error)?;
    Ok(ReadResourceResult::new(vec![ResourceContents::text(
        text, uri,
    )
    .with_mime_type("text/markdown")]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_any_note_name() {
        for path in [
            "Plan.md",
            "Projects/Alpha Beta/Plan #2.md",
            "Café/Ünïcode?.md",
            "a%b.md",
        ] {
            let uri = note_uri(path);
            assert!(uri.starts_with("vault:///"));
            assert!(!uri[SCHEME.len()..].contains([' ', '#', '?']), "{uri}");
            assert_eq!(uri_path(&uri).as_deref(), Some(path), "{uri}");
        }
        assert_eq!(
            note_uri("Projects/Alpha Beta/Plan.md"),
            "vault:///Projects/Alpha%20Beta/Plan.md"
        );
        assert_eq!(uri_path("file:///etc/passwd"), None);
        assert_eq!(uri_path("vault:///bad%zz"), None);
        assert_eq!(uri_path("vault:///cut%2"), None);
    }
}
