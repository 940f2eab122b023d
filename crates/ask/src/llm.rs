//! A client for any OpenAI-compatible chat endpoint (Ollama, llama.cpp's server, LM Studio,
//! vLLM, hosted APIs): `POST {base_url}/chat/completions` with `stream: true`, read as
//! server-sent events on the caller's thread. Stopping early drops the connection, which is how
//! these servers learn to stop generating.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::LlmError;

/// The environment variable an API key is read from (never from a flag: flags show in `ps`).
pub const API_KEY_ENV: &str = "VAULT_RAG_LLM_API_KEY";

/// Where and how to generate. `Debug` never shows the key.
#[derive(Clone, Deserialize)]
pub struct LlmSettings {
    /// E.g. `http://127.0.0.1:11434/v1` (Ollama); `/chat/completions` is appended.
    pub base_url: String,
    /// The model name the endpoint knows, e.g. `llama3.2`.
    pub model: String,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    /// Longest answer, in tokens.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// Longest wait for the next piece of the answer (a CPU-only model may think a while).
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
}

fn default_temperature() -> f32 {
    0.2
}
fn default_max_tokens() -> usize {
    512
}
fn default_timeout_s() -> u64 {
    120
}

impl LlmSettings {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            temperature: default_temperature(),
            max_tokens: default_max_tokens(),
            timeout_s: default_timeout_s(),
        }
    }

    /// The chat completions URL, checked.
    pub fn endpoint(&self) -> Result<String, LlmError> {
        let base = self.base_url.trim().trim_end_matches('/');
        let bad = |reason: &str| LlmError::BadUrl {
            url: self.base_url.clone(),
            reason: reason.into(),
        };
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or_else(|| bad("it must start with http:// or https://"))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(bad("it names no host"));
        }
        if base.ends_with("/chat/completions") {
            return Ok(base.to_string());
        }
        Ok(format!("{base}/chat/completions"))
    }
}

impl fmt::Debug for LlmSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmSettings")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

/// Whether `url` points at this machine: anything else means notes leave it.
pub fn is_loopback(url: &str) -> bool {
    let rest = url
        .trim()
        .split_once("://")
        .map_or(url.trim(), |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host == "::1"
        || host.strip_prefix("127.").is_some_and(|r| {
            r.split('.').count() == 3 && r.split('.').all(|p| p.parse::<u8>().is_ok())
        })
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// What a streamed answer came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    pub text: String,
    /// The endpoint's `finish_reason` (`stop`, `length`), when it sent one.
    pub finish_reason: Option<String>,
    /// True when the caller stopped reading before the end.
    pub cancelled: bool,
}

/// Talks to one endpoint.
pub struct ChatClient {
    settings: LlmSettings,
    endpoint: String,
    agent: ureq::Agent,
}

impl ChatClient {
    pub fn new(settings: LlmSettings) -> Result<Self, LlmError> {
        let endpoint = settings.endpoint()?;
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(settings.timeout_s.max(1)))
            .build();
        Ok(Self {
            settings,
            endpoint,
            agent,
        })
    }

    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    /// Streams the answer to `messages`; `on_token` sees each piece and may stop the stream.
    pub fn stream(
        &self,
        messages: &[ChatMessage],
        on_token: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Streamed, LlmError> {
        let body = serde_json::json!({
            "model": self.settings.model,
            "messages": messages,
            "stream": true,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
        });
        let mut request = self
            .agent
            .post(&self.endpoint)
            .set("Content-Type", "application/json")
            .set("Accept", "text/event-stream");
        if let Some(key) = self.settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            request = request.set("Authorization", &format!("Bearer {key}"));
        }
        tracing::debug!(endpoint = %self.endpoint, model = %self.settings.model, "asking the model");
        let response = match request.send_string(&body.to_string()) {
            Ok(response) => response,
            Err(ureq::Error::Status(status, response)) => {
                return Err(self.status_error(status, response))
            }
            Err(ureq::Error::Transport(t)) => return Err(self.transport_error(&t)),
        };
        let json_reply = response.content_type() == "application/json";
        let reader = BufReader::new(response.into_reader());
        if json_reply {
            // A server that ignores `stream` answers in one piece.
            let value: serde_json::Value =
                serde_json::from_reader(reader).map_err(|e| self.bad_reply(e.to_string()))?;
            let text = value["choices"][0]["message"]["content"]
                .as_str()
                .ok_or_else(|| self.bad_reply("no choices[0].message.content".into()))?
                .to_string();
            let cancelled = on_token(&text).is_break();
            return Ok(Streamed {
                finish_reason: value["choices"][0]["finish_reason"]
                    .as_str()
                    .map(str::to_string),
                text,
                cancelled,
            });
        }
        self.read_events(reader, on_token)
    }

    fn read_events(
        &self,
        reader: impl BufRead,
        on_token: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Streamed, LlmError> {
        let mut out = Streamed {
            text: String::new(),
            finish_reason: None,
            cancelled: false,
        };
        for line in reader.lines() {
            let line = line.map_err(|e| self.read_error(&e))?;
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                break;
            }
            let value: serde_json::Value = serde_json::from_str(data)
                .map_err(|e| self.bad_reply(format!("{e} in `{data}`")))?;
            if let Some(message) = value["error"]["message"]
                .as_str()
                .or(value["error"].as_str())
            {
                return Err(LlmError::Status {
                    url: self.endpoint.clone(),
                    status: 200,
                    message: message.to_string(),
                });
            }
            let choice = &value["choices"][0];
            if let Some(reason) = choice["finish_reason"].as_str() {
                out.finish_reason = Some(reason.to_string());
            }
            let Some(piece) = choice["delta"]["content"]
                .as_str()
                .filter(|p| !p.is_empty())
            else {
                continue;
            };
            out.text.push_str(piece);
            if on_token(piece).is_break() {
                out.cancelled = true;
                break;
            }
        }
        Ok(out)
    }

    fn status_error(&self, status: u16, response: ureq::Response) -> LlmError {
        if status == 401 || status == 403 {
            return LlmError::Unauthorized {
                url: self.endpoint.clone(),
                status,
            };
        }
        let body = response.into_string().unwrap_or_default();
        let parsed: Option<serde_json::Value> = serde_json::from_str(&body).ok();
        let message = parsed
            .as_ref()
            .and_then(|v| {
                v["error"]["message"]
                    .as_str()
                    .or(v["error"].as_str())
                    .or(v["detail"].as_str())
                    .or(v["message"].as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| body.chars().take(300).collect());
        let hint = if status == 404 {
            " (the base URL usually ends in /v1; is the model name one the server has?)"
        } else {
            ""
        };
        LlmError::Status {
            url: self.endpoint.clone(),
            status,
            message: format!("{}{hint}", message.trim()),
        }
    }

    fn transport_error(&self, t: &ureq::Transport) -> LlmError {
        let reason = t.to_string();
        if reason.contains("timed out") {
            return LlmError::Timeout {
                url: self.endpoint.clone(),
                seconds: self.settings.timeout_s,
            };
        }
        LlmError::Unreachable {
            url: self.endpoint.clone(),
            reason: t
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| t.kind().to_string()),
        }
    }

    fn read_error(&self, e: &std::io::Error) -> LlmError {
        if matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        ) {
            LlmError::Timeout {
                url: self.endpoint.clone(),
                seconds: self.settings.timeout_s,
            }
        } else {
            LlmError::Unreachable {
                url: self.endpoint.clone(),
                reason: format!("the connection broke: {e}"),
            }
        }
    }

    fn bad_reply(&self, reason: String) -> LlmError {
        LlmError::BadReply {
            url: self.endpoint.clone(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls() {
        for url in [
            "http://127.0.0.1:11434/v1",
            "http://localhost:1234/v1",
            "http://[::1]:8080/v1",
            "http://user@127.0.0.2/v1",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://api.openai.com/v1",
            "http://192.168.1.10:11434/v1",
            "http://127.0.0.1.evil.com/v1",
            "http://localhost.example/v1",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    fn endpoint_and_debug_hide_the_key() {
        let mut s = LlmSettings::new("http://127.0.0.1:11434/v1/", "m");
        assert_eq!(
            s.endpoint().unwrap(),
            "http://127.0.0.1:11434/v1/chat/completions"
        );
        s.api_key = Some("sk-secret".into());
        assert!(!format!("{s:?}").contains("sk-secret"));
        assert!(LlmSettings::new("127.0.0.1:11434", "m").endpoint().is_err());
        assert!(LlmSettings::new("http://", "m").endpoint().is_err());
    }

    #[test]
    fn reads_a_chat_stream() {
        let client = ChatClient::new(LlmSettings::new("http://127.0.0.1:9/v1", "m")).unwrap();
        let stream = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n\
            data: {\"choices\":[{\"delta\":{\"content\":\"The part \"}}]}\n\n\
            : keep-alive\n\n\
            data: {\"choices\":[{\"delta\":{\"content\":\"is XR [1].\"},\"finish_reason\":\"stop\"}]}\n\n\
            data: [DONE]\n\n";
        let mut seen = Vec::new();
        let got = client
            .read_events(stream.as_bytes(), &mut |t| {
                seen.push(t.to_string());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(got.text, "The part is XR [1].");
        assert_eq!(seen.len(), 2);
        assert_eq!(got.finish_reason.as_deref(), Some("stop"));
        let stopped = client
            .read_events(stream.as_bytes(), &mut |_| ControlFlow::Break(()))
            .unwrap();
        assert!(stopped.cancelled);
        assert_eq!(stopped.text, "The part ");
        let err = client
            .read_events(
                "data: {\"error\":{\"message\":\"boom\"}}\n".as_bytes(),
                &mut |_| ControlFlow::Continue(()),
            )
            .unwrap_err();
        assert!(err.to_string().contains("boom"));
    }
}
