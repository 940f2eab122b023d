//! `POST /embed` and the OpenAI-compatible `POST /v1/embeddings`.

use axum::extract::State;
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use vault_rag_core::DocumentText;

use super::{blocking, AppState};
use crate::extract::ApiJson;
use crate::ServerError;

/// Which prompt the texts get: the model's query prompt or its document prompt (title "none").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TextKind {
    Query,
    #[default]
    Document,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmbedBody {
    texts: Vec<String>,
    kind: Option<TextKind>,
}

#[derive(Debug, Serialize)]
pub(crate) struct EmbedReply {
    model: String,
    dim: usize,
    vectors: Vec<Vec<f32>>,
}

pub(crate) async fn embed(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EmbedBody>,
) -> Result<Json<EmbedReply>, ServerError> {
    check_texts(&body.texts, "texts", &state)?;
    let embedded = run_embedding(&state, body.texts, body.kind.unwrap_or_default()).await?;
    Ok(Json(EmbedReply {
        model: embedded.model,
        dim: embedded.dim,
        vectors: embedded.vectors,
    }))
}

/// OpenAI's `input`: one string or an array of strings (token arrays are not supported).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OpenAiInput {
    One(String),
    Many(Vec<String>),
    Other(serde_json::Value),
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenAiBody {
    input: OpenAiInput,
    /// Accepted and ignored: the server has one model; the response names it.
    #[allow(dead_code)]
    model: Option<String>,
    encoding_format: Option<String>,
    dimensions: Option<u64>,
    /// Extension: `query` embeds with the query prompt; documents are the default.
    kind: Option<TextKind>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OpenAiReply {
    object: &'static str,
    data: Vec<OpenAiEmbedding>,
    model: String,
    usage: OpenAiUsage,
}

#[derive(Debug, Serialize)]
pub(crate) struct OpenAiEmbedding {
    object: &'static str,
    index: usize,
    embedding: OpenAiVector,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum OpenAiVector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Debug, Serialize)]
pub(crate) struct OpenAiUsage {
    prompt_tokens: usize,
    total_tokens: usize,
}

pub(crate) async fn openai_embeddings(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<OpenAiBody>,
) -> Result<Json<OpenAiReply>, ServerError> {
    let texts = match body.input {
        OpenAiInput::One(text) => vec![text],
        OpenAiInput::Many(texts) => texts,
        OpenAiInput::Other(value) => {
            let message = if value.is_array() {
                "must be a string or an array of strings (token arrays are not supported)"
            } else {
                "must be a string or an array of strings"
            };
            return Err(ServerError::invalid("input", message));
        }
    };
    check_texts(&texts, "input", &state)?;
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ServerError::invalid(
                "encoding_format",
                format!("`{other}` is not supported (expected float or base64)"),
            ))
        }
    };
    let dim = state.backend.embedder().dim();
    if let Some(requested) = body.dimensions {
        if requested != dim as u64 {
            return Err(ServerError::invalid(
                "dimensions",
                format!("this server's model produces {dim} dimensions, not {requested}"),
            ));
        }
    }
    let embedded = run_embedding(&state, texts, body.kind.unwrap_or_default()).await?;
    let data = embedded
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| OpenAiEmbedding {
            object: "embedding",
            index,
            embedding: if base64 {
                OpenAiVector::Base64(encode_base64(&vector))
            } else {
                OpenAiVector::Float(vector)
            },
        })
        .collect();
    Ok(Json(OpenAiReply {
        object: "list",
        data,
        model: embedded.model,
        usage: OpenAiUsage {
            prompt_tokens: embedded.tokens,
            total_tokens: embedded.tokens,
        },
    }))
}

/// Little-endian f32 bytes, as OpenAI's clients decode them.
fn encode_base64(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn check_texts(texts: &[String], field: &str, state: &AppState) -> Result<(), ServerError> {
    let limits = &state.limits;
    if texts.is_empty() {
        return Err(ServerError::invalid(field, "must hold at least one text"));
    }
    if texts.len() > limits.max_texts {
        return Err(ServerError::invalid(
            field,
            format!(
                "holds {} texts; the limit is {}",
                texts.len(),
                limits.max_texts
            ),
        ));
    }
    for (i, text) in texts.iter().enumerate() {
        let chars = text.chars().count();
        if chars > limits.max_text_chars {
            return Err(ServerError::invalid(
                &format!("{field}[{i}]"),
                format!(
                    "is {chars} characters long; the limit is {}",
                    limits.max_text_chars
                ),
            ));
        }
    }
    Ok(())
}

struct Embedded {
    model: String,
    dim: usize,
    vectors: Vec<Vec<f32>>,
    tokens: usize,
}

/// Embeds on a blocking thread, holding one of the embedding slots.
async fn run_embedding(
    state: &AppState,
    texts: Vec<String>,
    kind: TextKind,
) -> Result<Embedded, ServerError> {
    // The slot moves into the blocking work: a request that timed out keeps its slot until
    // its inference really ends, so the limit holds.
    let slot = state
        .embed_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ServerError::Internal {
            message: "embedding slots closed".into(),
        })?;
    let backend = state.backend.clone();
    blocking(move || {
        let _slot = slot;
        let embedder = backend.embedder();
        let vectors = match kind {
            TextKind::Query => {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                embedder.embed_queries(&refs)?
            }
            TextKind::Document => {
                let docs: Vec<DocumentText<'_>> = texts
                    .iter()
                    .map(|text| DocumentText { title: None, text })
                    .collect();
                embedder.embed_documents(&docs)?
            }
        };
        let tokens = texts.iter().map(|t| embedder.count_tokens(t)).sum();
        Ok(Embedded {
            model: embedder.fingerprint().model.clone(),
            dim: embedder.dim(),
            vectors,
            tokens,
        })
    })
    .await
}
