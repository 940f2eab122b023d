//! One warm service for every agent. `serve` leaves `<data dir>/service.json` (port, pid;
//! readable only by the user) while it runs; `vault-rag mcp` on the same vault finds it and
//! forwards its stdio MCP session to the service's `/mcp` endpoint with the agent token of
//! `<data dir>/agent-token` (which opens `/mcp` and nothing else), so it loads no model, opens no
//! index and starts at once. Without a live service, `mcp` serves on its own.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Name of the file a running service leaves in its data directory.
pub const SERVICE_FILE: &str = "service.json";

/// What a running service tells other vault-rag processes about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceFile {
    pub pid: u32,
    pub port: u16,
    pub version: String,
}

/// The agent token of a data directory, if the service made one (not with `--no-token`).
fn agent_token(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(vault_rag_server::AGENT_TOKEN_FILE)).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

impl ServiceFile {
    fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(SERVICE_FILE)
    }

    /// Writes the file (0600, atomically) for the life of the service.
    pub fn write(&self, data_dir: &Path) -> std::io::Result<()> {
        let path = Self::path(data_dir);
        let tmp = path.with_extension("json.part");
        let mut file = vault_rag_index::private::private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(serde_json::to_string(self)?.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    }

    /// Removes the file if it is still this process's.
    pub fn remove(data_dir: &Path) {
        let path = Self::path(data_dir);
        if Self::read(data_dir).is_some_and(|f| f.pid == std::process::id()) {
            let _ = std::fs::remove_file(path);
        }
    }

    fn read(data_dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(Self::path(data_dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The service of this data directory, if one runs and answers `/health` with the agent
    /// token.
    pub fn find(data_dir: &Path) -> Option<Self> {
        let file = Self::read(data_dir)?;
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build();
        let mut request = agent.get(&format!("http://127.0.0.1:{}/health", file.port));
        if let Some(token) = agent_token(data_dir) {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        match request.call() {
            Ok(response) if response.status() == 200 => Some(file),
            _ => {
                tracing::debug!(port = file.port, "a service file, but no service answers");
                None
            }
        }
    }
}

/// Forwards MCP messages between stdio and the service until stdin closes.
pub fn run(service: ServiceFile, data_dir: &Path) -> anyhow::Result<()> {
    let url = format!("http://127.0.0.1:{}/mcp", service.port);
    tracing::info!(pid = service.pid, %url, "forwarding to the running service");
    let bridge = Arc::new(Bridge {
        agent: ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .build(),
        url,
        data_dir: data_dir.to_path_buf(),
        token: Mutex::new(agent_token(data_dir)),
        session: Mutex::new(None),
        out: Mutex::new(Box::new(std::io::stdout())),
    });
    let mut pending = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let message: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                bridge.emit(&json!({"jsonrpc": "2.0", "id": null,
                    "error": {"code": -32700, "message": format!("parse error: {e}")}}));
                continue;
            }
        };
        // The session starts with `initialize`: answer it before anything else goes out.
        if message["method"] == "initialize" || bridge.session_id().is_none() {
            bridge.forward(&message, &line);
        } else {
            let (bridge, line) = (bridge.clone(), line.clone());
            pending.push(std::thread::spawn(move || bridge.forward(&message, &line)));
            pending.retain(|t| !t.is_finished());
        }
    }
    for t in pending {
        let _ = t.join();
    }
    bridge.close();
    Ok(())
}

struct Bridge {
    agent: ureq::Agent,
    url: String,
    data_dir: PathBuf,
    /// Re-read from the file when the service refuses it (the user revoked it in Obsidian).
    token: Mutex<Option<String>>,
    session: Mutex<Option<String>>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Bridge {
    fn session_id(&self) -> Option<String> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    fn request(&self, method: &str) -> ureq::Request {
        let mut request = self
            .agent
            .request(method, &self.url)
            .set("Accept", "application/json, text/event-stream")
            .set("Content-Type", "application/json");
        if let Some(token) = self.token.lock().ok().and_then(|t| t.clone()) {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        if let Some(session) = self.session_id() {
            request = request.set("Mcp-Session-Id", &session);
        }
        request
    }

    /// Posts `line`, once more when the connection breaks before an answer: the service ends
    /// keep-alive connections idle for 10 s, and an agent that pauses can send just as one
    /// closes. Repeating is safe: every tool only reads.
    // ureq's own error, passed straight to the caller's match once per message.
    #[allow(clippy::result_large_err)]
    fn post(&self, line: &str) -> Result<ureq::Response, ureq::Error> {
        match self.request("POST").send_string(line) {
            Err(ureq::Error::Transport(e)) => {
                tracing::debug!(error = %e, "the connection broke before an answer; sending again");
                self.request("POST").send_string(line)
            }
            sent => sent,
        }
    }

    /// Posts one message; writes every message of the answer (JSON or an event stream) to stdout.
    fn forward(&self, message: &Value, line: &str) {
        let id = message.get("id").cloned();
        let mut sent = self.post(line);
        if let Err(ureq::Error::Status(401, _)) = &sent {
            let fresh = agent_token(&self.data_dir);
            let changed = self
                .token
                .lock()
                .map(|mut t| std::mem::replace(&mut *t, fresh.clone()) != fresh)
                .unwrap_or(false);
            if changed {
                tracing::info!("the agent token was renewed; retrying with the new one");
                sent = self.post(line);
            }
        }
        let response = match sent {
            Ok(response) => response,
            Err(ureq::Error::Status(code, response)) => {
                let body = response.into_string().unwrap_or_default();
                self.fail(
                    id,
                    &format!("the vault-rag service answered HTTP {code}: {body}"),
                );
                return;
            }
            Err(e) => {
                self.fail(id, &format!("the vault-rag service cannot be reached: {e}"));
                return;
            }
        };
        if let Some(session) = response.header("mcp-session-id") {
            if let Ok(mut s) = self.session.lock() {
                *s = Some(session.to_string());
            }
        }
        if response.content_type() == "text/event-stream" {
            self.relay_events(response.into_reader());
        } else if response.status() != 202 {
            match response.into_string() {
                Ok(body) if !body.trim().is_empty() => self.emit_raw(body.trim()),
                Ok(_) => {}
                Err(e) => self.fail(id, &format!("reading the service's answer: {e}")),
            }
        }
    }

    /// Server-sent events: each event's `data:` lines are one JSON-RPC message.
    fn relay_events(&self, reader: impl Read) {
        let mut data = String::new();
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if line.is_empty() {
                if !data.trim().is_empty() {
                    self.emit_raw(data.trim());
                }
                data.clear();
            } else if let Some(rest) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            }
        }
        if !data.trim().is_empty() {
            self.emit_raw(data.trim());
        }
    }

    fn fail(&self, id: Option<Value>, message: &str) {
        tracing::warn!("{message}");
        // Notifications get no answer; requests get a JSON-RPC error.
        if let Some(id) = id {
            self.emit(&json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32603, "message": message}}));
        }
    }

    fn emit(&self, value: &Value) {
        self.emit_raw(&value.to_string());
    }

    fn emit_raw(&self, message: &str) {
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{message}");
            let _ = out.flush();
        }
    }

    /// Ends the session on the service.
    fn close(&self) {
        if self.session_id().is_some() {
            let _ = self.request("DELETE").call();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    /// Reads one HTTP request (headers and a `Content-Length` body); false at end of stream.
    fn read_request(stream: &mut TcpStream) -> bool {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return false,
            }
        }
        let text = String::from_utf8_lossy(&head).to_lowercase();
        let length = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).is_ok()
    }

    fn answer(stream: &mut TcpStream, body: &str) {
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(reply.as_bytes()).unwrap();
    }

    /// What the bridge writes, for the test to read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_keep_alive_connection_closed_under_a_request_is_sent_again() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            // First connection: one answer, then closed as the next request arrives (the
            // service's idle deadline passing just as the agent sends).
            let (mut first, _) = listener.accept().unwrap();
            assert!(read_request(&mut first));
            answer(&mut first, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
            assert!(read_request(&mut first));
            drop(first);
            // A bridge that does not send again never connects: give up after a while.
            listener.set_nonblocking(true).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let mut second = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(_) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => return,
                }
            };
            second.set_nonblocking(false).unwrap();
            assert!(read_request(&mut second));
            answer(
                &mut second,
                r#"{"jsonrpc":"2.0","id":2,"result":{"again":true}}"#,
            );
        });
        let out = Captured::default();
        let bridge = Bridge {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(5))
                .timeout_read(Duration::from_secs(5))
                .build(),
            url: format!("http://127.0.0.1:{port}/mcp"),
            data_dir: PathBuf::from("."),
            token: Mutex::new(None),
            session: Mutex::new(None),
            out: Mutex::new(Box::new(out.clone())),
        };
        for (id, method) in [(1, "initialize"), (2, "tools/call")] {
            let message = json!({"jsonrpc": "2.0", "id": id, "method": method});
            bridge.forward(&message, &message.to_string());
        }
        server.join().unwrap();
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 2, "{written}");
        assert!(lines[1].contains(r#""again":true"#), "{written}");
    }

    #[test]
    fn the_service_file_is_private_and_only_its_writer_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let file = ServiceFile {
            pid: std::process::id(),
            port,
            version: "0.1.0".into(),
        };
        file.write(dir.path()).unwrap();
        assert_eq!(ServiceFile::read(dir.path()), Some(file.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SERVICE_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Nothing answers on that port: not a live service.
        assert_eq!(ServiceFile::find(dir.path()), None);
        ServiceFile {
            pid: file.pid + 1,
            ..file.clone()
        }
        .write(dir.path())
        .unwrap();
        ServiceFile::remove(dir.path());
        assert!(
            dir.path().join(SERVICE_FILE).exists(),
            "another process's file stays"
        );
        file.write(dir.path()).unwrap();
        ServiceFile::remove(dir.path());
        assert!(!dir.path().join(SERVICE_FILE).exists());
    }
}
