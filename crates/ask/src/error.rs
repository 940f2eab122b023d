//! What can go wrong while answering. Messages name the endpoint, never the key.

/// The chat endpoint failed.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("cannot reach the model endpoint {url}: {reason}. Is the model server running (e.g. `ollama serve`, llama.cpp's server, LM Studio)?")]
    Unreachable { url: String, reason: String },
    #[error("the model endpoint {url} refused the API key (HTTP {status}); check the key (environment variable VAULT_RAG_LLM_API_KEY or the plugin's setting)")]
    Unauthorized { url: String, status: u16 },
    #[error("the model endpoint {url} answered HTTP {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("the model endpoint {url} sent no data for {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error(
        "the model endpoint {url} sent a reply that is not an OpenAI-style chat stream: {reason}"
    )]
    BadReply { url: String, reason: String },
    #[error("invalid model endpoint `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
}

impl LlmError {
    /// A stable code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "llm_unreachable",
            Self::Unauthorized { .. } => "llm_unauthorized",
            Self::Status { .. } => "llm_error",
            Self::Timeout { .. } => "llm_timeout",
            Self::BadReply { .. } => "llm_bad_reply",
            Self::BadUrl { .. } => "llm_bad_url",
        }
    }
}

/// Answering failed.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("invalid `{field}`: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("search failed: {0}")]
    Search(String),
    #[error("no model endpoint is set up for answers. Start a local model server and point vault-rag at it, e.g. Ollama: `ollama pull llama3.2` and `--llm-url http://127.0.0.1:11434/v1 --llm-model llama3.2` (or VAULT_RAG_LLM_URL / VAULT_RAG_LLM_MODEL; the plugin has these in its settings)")]
    NoEndpoint,
    #[error(transparent)]
    Llm(#[from] LlmError),
}

impl AskError {
    /// A stable code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_request",
            Self::Search(_) => "search_failed",
            Self::NoEndpoint => "llm_not_configured",
            Self::Llm(e) => e.code(),
        }
    }
}
