//! A real chat model for the `ask` tests: llama.cpp's OpenAI-compatible server (llama-cpp-python)
//! serving SmolLM2-135M-Instruct, both set up by `scripts/llm.sh`; a recording TCP proxy in front
//! of it that shows which requests reached the model and when they were closed; and a reader of
//! server-sent events over a raw socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The name the server gives the model (`--model_alias`).
pub const MODEL: &str = "smollm2-135m";

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VAULT_RAG_CACHE") {
        return dir.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
        });
    base.join("vault-rag")
}

fn setting(env: &str, default: PathBuf) -> PathBuf {
    let path = std::env::var_os(env).map(PathBuf::from).unwrap_or(default);
    assert!(
        path.is_file(),
        "{} is missing ({env}): run `bash scripts/llm.sh` (part of `make test`)",
        path.display()
    );
    path
}

/// A running `llama_cpp.server`; killed on drop.
pub struct Llama {
    child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
}

impl Llama {
    /// Starts the server on a free port (with `api_key`, requests need that bearer token) and
    /// waits until it answers.
    pub fn start(api_key: Option<&str>) -> Llama {
        let python = setting(
            "VAULT_RAG_TEST_LLM_PYTHON",
            super::repo_root().join(".venv-llm/bin/python"),
        );
        let gguf = setting(
            "VAULT_RAG_TEST_GGUF",
            cache_dir().join("llm/SmolLM2-135M-Instruct.Q4_1.gguf"),
        );
        let port = free_port();
        let mut cmd = Command::new(python);
        cmd.args(["-m", "llama_cpp.server", "--model"])
            .arg(gguf)
            .args(["--model_alias", MODEL, "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--n_ctx", "2048", "--n_threads", "2", "--seed", "7"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(key) = api_key {
            cmd.args(["--api_key", key]);
        }
        let mut child = cmd.spawn().expect("start llama_cpp.server");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let llama = Llama { child, port, log };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "llama_cpp.server did not listen within 120 s:\n{}",
                llama.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        llama
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Llama {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One connection through the proxy.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The request line and headers the client sent.
    pub request_head: String,
    pub opened: Instant,
    /// When the client (vault-rag) closed its side.
    pub client_closed: Option<Instant>,
    /// When the model's stream ended (`data: [DONE]` passed through).
    pub model_done: Option<Instant>,
}

/// Forwards connections to `upstream`, recording each.
pub struct Proxy {
    pub port: u16,
    connections: Arc<Mutex<Vec<Connection>>>,
    /// Milliseconds each piece of the model's answer is held back: a tiny model writes its whole
    /// answer in about a second, faster than any client can leave.
    delay_ms: Arc<AtomicU64>,
}

impl Proxy {
    pub fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let log = connections.clone();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push(Connection {
                        request_head: String::new(),
                        opened: Instant::now(),
                        client_closed: None,
                        model_done: None,
                    });
                    log.len() - 1
                };
                pump(client, server, index, log.clone(), delay.clone());
            }
        });
        Proxy {
            port,
            connections,
            delay_ms,
        }
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn connections(&self) -> Vec<Connection> {
        self.connections.lock().unwrap().clone()
    }
}

fn pump(
    client: TcpStream,
    server: TcpStream,
    index: usize,
    log: Arc<Mutex<Vec<Connection>>>,
    delay: Arc<AtomicU64>,
) {
    let (mut client_r, mut server_w) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up_log = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let mut head = Vec::new();
        while let Ok(n) = client_r.read(&mut buf) {
            if n == 0 || server_w.write_all(&buf[..n]).is_err() {
                break;
            }
            if head.len() < 4096 {
                head.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&head);
                let end = text.find("\r\n\r\n").unwrap_or(text.len());
                up_log.lock().unwrap()[index].request_head = text[..end].to_string();
            }
        }
        up_log.lock().unwrap()[index].client_closed = Some(Instant::now());
        let _ = server_w.shutdown(Shutdown::Both);
    });
    let (mut server_r, mut client_w) = (server, client);
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        // The last bytes seen, so that a marker split across reads is still found.
        let mut tail: Vec<u8> = Vec::new();
        while let Ok(n) = server_r.read(&mut buf) {
            std::thread::sleep(Duration::from_millis(delay.load(Ordering::Relaxed)));
            if n == 0 || client_w.write_all(&buf[..n]).is_err() {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.windows(6).any(|w| w == b"[DONE]") {
                log.lock().unwrap()[index]
                    .model_done
                    .get_or_insert_with(Instant::now);
            }
            let keep = tail.len().saturating_sub(8);
            tail.drain(..keep);
        }
        let _ = client_w.shutdown(Shutdown::Write);
    });
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub data: Value,
}

/// An SSE response read as it arrives.
pub struct EventStream {
    pub status: u16,
    pub head: String,
    reader: BufReader<TcpStream>,
    chunked: bool,
    pending: Vec<u8>,
    /// The body when the answer was not an event stream.
    pub body: String,
}

impl EventStream {
    /// POSTs `body` to `path` with the service's Host and `token`.
    pub fn post(port: u16, token: Option<&str>, path: &str, body: &Value) -> EventStream {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(180)))
            .unwrap();
        let body = body.to_string();
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {head:?}"));
        let lower = head.to_ascii_lowercase();
        let chunked = lower.contains("transfer-encoding: chunked");
        let mut events = EventStream {
            status,
            head,
            reader,
            chunked,
            pending: Vec::new(),
            body: String::new(),
        };
        if !lower.contains("text/event-stream") {
            let mut rest = Vec::new();
            while let Some(piece) = events.read_piece() {
                rest.extend_from_slice(&piece);
            }
            events.body = String::from_utf8_lossy(&rest).into_owned();
        }
        events
    }

    /// The next piece of the body, or `None` at its end.
    fn read_piece(&mut self) -> Option<Vec<u8>> {
        if !self.chunked {
            let mut buf = vec![0u8; 4096];
            let n = self.reader.read(&mut buf).ok()?;
            return (n > 0).then(|| buf[..n].to_vec());
        }
        let mut size = String::new();
        self.reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return None;
        }
        let mut buf = vec![0u8; size + 2];
        self.reader.read_exact(&mut buf).ok()?;
        buf.truncate(size);
        Some(buf)
    }

    /// The next event, or `None` when the stream ended.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
                let raw: Vec<u8> = self.pending.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&raw);
                let mut name = "message".to_string();
                let mut data = String::new();
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let data = serde_json::from_str(&data)
                    .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {data}"));
                return Some(Event { name, data });
            }
            let piece = self.read_piece()?;
            self.pending.extend_from_slice(&piece);
        }
    }

    /// Every remaining event.
    pub fn collect(mut self) -> Vec<Event> {
        let mut all = Vec::new();
        while let Some(e) = self.next_event() {
            all.push(e);
        }
        all
    }
}
