//! Who may talk to the server. Local services are reachable from every web page the user opens
//! (a page can send requests to 127.0.0.1, and DNS rebinding can make a foreign name resolve
//! there), so every request must pass, in this order:
//!
//! 1. `Host` is a loopback name (or an explicitly allowed one) with the served port: a rebound
//!    foreign name is refused.
//! 2. `Origin`, when present, is on the allow-list: other pages are refused, and CORS headers are
//!    only ever sent for allowed origins (never `*`).
//! 3. The bearer token matches, when one is configured (compared in constant time): the service
//!    token opens everything, the agent token ([`crate::agent_token`]) only `/mcp` and `/health`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::agent_token::{AgentToken, AGENT_PATHS};
use crate::ServerError;

/// The origin of Obsidian's renderer, allowed by default.
pub const OBSIDIAN_ORIGIN: &str = "app://obsidian.md";

/// Access rules, as configured.
#[derive(Debug, Clone)]
pub struct AccessSettings {
    /// Bearer token every request must carry; `None` allows loopback requests without one.
    pub token: Option<String>,
    /// A second token that opens only what agents need (with `token` only).
    pub agent_token: Option<Arc<AgentToken>>,
    /// Exact `Origin` values that may call the API from a browser context.
    pub allowed_origins: Vec<String>,
    /// Host names accepted in `Host` besides `127.0.0.1`, `localhost` and `[::1]`.
    pub extra_hosts: Vec<String>,
}

impl Default for AccessSettings {
    fn default() -> Self {
        Self {
            token: None,
            agent_token: None,
            allowed_origins: vec![OBSIDIAN_ORIGIN.to_string()],
            extra_hosts: Vec::new(),
        }
    }
}

/// The rules in the form the middleware checks them.
#[derive(Debug)]
pub(crate) struct AccessPolicy {
    port: u16,
    hosts: Vec<String>,
    origins: Vec<String>,
    token_digest: Option<[u8; 32]>,
    agent_token: Option<Arc<AgentToken>>,
}

/// Who a request's token says it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// No token is configured: every (loopback) caller is let in.
    Open,
    Service,
    Agent,
}

impl AccessPolicy {
    pub(crate) fn new(settings: &AccessSettings, port: u16) -> Self {
        let mut hosts: Vec<String> = ["127.0.0.1", "localhost", "::1"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        hosts.extend(
            settings
                .extra_hosts
                .iter()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase()),
        );
        Self {
            port,
            hosts,
            origins: settings.allowed_origins.clone(),
            token_digest: settings
                .token
                .as_deref()
                .map(|t| *blake3::hash(t.as_bytes()).as_bytes()),
            agent_token: settings.agent_token.clone(),
        }
    }

    fn check_host(
        &self,
        headers: &HeaderMap,
        request_host: Option<&str>,
    ) -> Result<(), ServerError> {
        let raw = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or(request_host)
            .unwrap_or("");
        let forbidden = || ServerError::ForbiddenHost {
            host: raw.to_string(),
            port: self.port,
        };
        let (name, port) = split_host_port(raw).ok_or_else(forbidden)?;
        let name = name.to_ascii_lowercase();
        let port_ok = match port {
            Some(p) => p == self.port,
            None => self.port == 80,
        };
        if port_ok && self.hosts.contains(&name) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// The allowed origin of this request, if it has one; an error if it has a foreign one.
    fn check_origin(&self, headers: &HeaderMap) -> Result<Option<HeaderValue>, ServerError> {
        let Some(value) = headers.get(header::ORIGIN) else {
            return Ok(None);
        };
        let origin = value.to_str().unwrap_or("");
        if self.origins.iter().any(|o| o == origin) {
            Ok(Some(value.clone()))
        } else {
            Err(ServerError::ForbiddenOrigin {
                origin: String::from_utf8_lossy(value.as_bytes()).into_owned(),
                allowed: self.origins.join(", "),
            })
        }
    }

    fn check_token(&self, headers: &HeaderMap) -> Result<Caller, ServerError> {
        let Some(expected) = &self.token_digest else {
            return Ok(Caller::Open);
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(ServerError::Unauthorized)?;
        // Hashing first makes the comparison independent of the token's length as well.
        let digest = blake3::hash(presented.as_bytes());
        if bool::from(digest.as_bytes().ct_eq(expected)) {
            Ok(Caller::Service)
        } else if self
            .agent_token
            .as_ref()
            .is_some_and(|a| a.matches(presented))
        {
            Ok(Caller::Agent)
        } else {
            Err(ServerError::Unauthorized)
        }
    }
}

/// Splits `name:port`, `[v6]:port`, `name` or `[v6]`; `None` when malformed.
fn split_host_port(raw: &str) -> Option<(&str, Option<u16>)> {
    if raw.is_empty() {
        return None;
    }
    let (name, port) = if let Some(rest) = raw.strip_prefix('[') {
        let (name, after) = rest.split_once(']')?;
        match after {
            "" => (name, None),
            _ => (name, Some(after.strip_prefix(':')?)),
        }
    } else {
        match raw.rsplit_once(':') {
            Some((name, port)) if !name.contains(':') => (name, Some(port)),
            Some(_) => return None,
            None => (raw, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    Some((name, port))
}

/// The access middleware: Host, Origin, CORS preflight, token.
pub(crate) async fn guard(
    State(policy): State<Arc<AccessPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if let Err(err) = policy.check_host(headers, request.uri().authority().map(|a| a.as_str())) {
        tracing::warn!("refused request: {err}");
        return err.into_response();
    }
    let origin = match policy.check_origin(headers) {
        Ok(origin) => origin,
        Err(err) => {
            tracing::warn!("refused request: {err}");
            return err.into_response();
        }
    };
    // Browsers send preflights without credentials; answer them before the token check.
    if let Some(origin) = &origin {
        if request.method() == Method::OPTIONS
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            let private_network = headers.contains_key("access-control-request-private-network");
            let mut response = StatusCode::NO_CONTENT.into_response();
            let h = response.headers_mut();
            add_cors(h, origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            if private_network {
                h.insert(
                    "access-control-allow-private-network",
                    HeaderValue::from_static("true"),
                );
            }
            return response;
        }
    }
    let mut response = match policy.check_token(headers) {
        Ok(Caller::Agent) if !AGENT_PATHS.contains(&request.uri().path()) => {
            ServerError::AgentForbidden {
                path: request.uri().path().to_string(),
            }
            .into_response()
        }
        Ok(_) => next.run(request).await,
        Err(err) => err.into_response(),
    };
    if let Some(origin) = &origin {
        add_cors(response.headers_mut(), origin);
    }
    response
}

fn add_cors(headers: &mut HeaderMap, origin: &HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_hosts() {
        assert_eq!(
            split_host_port("127.0.0.1:8080"),
            Some(("127.0.0.1", Some(8080)))
        );
        assert_eq!(split_host_port("[::1]:8080"), Some(("::1", Some(8080))));
        assert_eq!(split_host_port("[::1]"), Some(("::1", None)));
        assert_eq!(split_host_port("localhost"), Some(("localhost", None)));
        assert_eq!(split_host_port("::1"), None);
        assert_eq!(split_host_port("a:b"), None);
        assert_eq!(split_host_port("[::1]x"), None);
        assert_eq!(split_host_port(""), None);
        assert_eq!(split_host_port("host:99999"), None);
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn host_rules() {
        let policy = AccessPolicy::new(&AccessSettings::default(), 4000);
        for ok in [
            "127.0.0.1:4000",
            "localhost:4000",
            "LOCALHOST:4000",
            "[::1]:4000",
        ] {
            assert!(
                policy.check_host(&headers(&[("host", ok)]), None).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "127.0.0.1:4001",
            "evil.example:4000",
            "127.0.0.1",
            "localhost.evil:4000",
            "",
        ] {
            assert!(
                policy.check_host(&headers(&[("host", bad)]), None).is_err(),
                "{bad}"
            );
        }
        assert!(policy.check_host(&HeaderMap::new(), None).is_err());
        assert!(policy
            .check_host(&HeaderMap::new(), Some("localhost:4000"))
            .is_ok());
    }

    #[test]
    fn token_rules() {
        let settings = AccessSettings {
            token: Some("s3cret".into()),
            ..AccessSettings::default()
        };
        let policy = AccessPolicy::new(&settings, 1);
        assert!(policy
            .check_token(&headers(&[("authorization", "Bearer s3cret")]))
            .is_ok());
        assert!(policy
            .check_token(&headers(&[("authorization", "bearer s3cret")]))
            .is_ok());
        assert!(policy
            .check_token(&headers(&[("authorization", "Bearer s3cre")]))
            .is_err());
        assert!(policy
            .check_token(&headers(&[("authorization", "Basic s3cret")]))
            .is_err());
        assert!(policy.check_token(&HeaderMap::new()).is_err());
        let open = AccessPolicy::new(&AccessSettings::default(), 1);
        assert_eq!(open.check_token(&HeaderMap::new()).unwrap(), Caller::Open);
    }

    #[test]
    fn the_agent_token_is_told_apart_and_follows_rotation() {
        let agent = Arc::new(AgentToken::in_memory("agent1"));
        let settings = AccessSettings {
            token: Some("s3cret".into()),
            agent_token: Some(agent.clone()),
            ..AccessSettings::default()
        };
        let policy = AccessPolicy::new(&settings, 1);
        let bearer = |t: &str| headers(&[("authorization", &format!("Bearer {t}"))]);
        assert_eq!(
            policy.check_token(&bearer("s3cret")).unwrap(),
            Caller::Service
        );
        assert_eq!(
            policy.check_token(&bearer("agent1")).unwrap(),
            Caller::Agent
        );
        let new = agent.rotate().unwrap();
        assert!(policy.check_token(&bearer("agent1")).is_err());
        assert_eq!(policy.check_token(&bearer(&new)).unwrap(), Caller::Agent);
        assert_eq!(
            policy.check_token(&bearer("s3cret")).unwrap(),
            Caller::Service
        );
    }
}
