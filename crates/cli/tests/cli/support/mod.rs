//! Running `vault-rag serve` as a supervisor would, and talking to it over a real socket with a
//! minimal HTTP/1.1 client (so tests control every header, including `Host`).

#![allow(dead_code)]

pub mod llm;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn model_dir() -> PathBuf {
    vault_rag_embed::test_model_dir().unwrap_or_else(|e| panic!("{e}"))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test venv's Python (made by `make venv`).
/// `scripts/mcp_check.py` (the official MCP Python SDK) against the fixture vault in `vault`,
/// with `transport` arguments (none: `vault-rag mcp` on stdio); the model flags come last.
#[allow(dead_code)] // Not every test binary drives MCP.
pub fn mcp_check(vault: &Path, data: &Path, transport: &[&str]) -> Command {
    let mut cmd = Command::new(venv_python());
    cmd.arg(repo_root().join("scripts/mcp_check.py"))
        .args(transport)
        .args(["--binary", env!("CARGO_BIN_EXE_vault-rag")])
        .arg("--vault")
        .arg(vault)
        .arg("--data-dir")
        .arg(data)
        .args(["--query", "how do I keep the wild yeast culture alive"])
        .args(["--expect", "Cooking/Sourdough.md"])
        .args(["--note", "Projects/Plan.md"])
        .args(["--heading", "Risks"])
        .args(["--expect-section", "## Risks\n\nThe budget is tight and the designer leaves in March.\n\n### Mitigation\n\nHire a freelancer early."])
        .arg("--")
        .args(model_args())
        .env("VAULT_RAG_LOG", "warn");
    cmd
}

pub fn venv_python() -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `make setup` and `make venv` (scripts/venv.sh)",
        python.display()
    );
    python
}

/// Copies the fixture vault into a fresh directory.
pub fn fixture_vault(into: &Path) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve_vault");
    let vault = into.join("vault");
    copy_dir(&src, &vault);
    vault
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// The model flags every test server uses.
pub fn model_args() -> Vec<String> {
    vec![
        "--model".into(),
        "all-minilm-l6-v2".into(),
        "--model-dir".into(),
        model_dir().display().to_string(),
        "--threads".into(),
        "2".into(),
    ]
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub token: Option<String>,
    pub stdin: Option<ChildStdin>,
    pub stderr: Arc<Mutex<String>>,
    /// stdout lines after the listening line (there must be none).
    pub extra_stdout: Arc<Mutex<Vec<String>>>,
}

/// Starts `vault-rag serve` and waits for its listening line.
pub fn start(vault: &Path, data_dir: &Path, token: Option<&str>, extra: &[&str]) -> Server {
    let mut args = model_args();
    args.extend(extra.iter().map(|s| s.to_string()));
    spawn_serve(vault, data_dir, token, &args)
}

/// Starts `vault-rag serve` with MiniLM's settings but the model files of `model_dir`.
pub fn start_with_model(vault: &Path, data_dir: &Path, model_dir: &Path) -> Server {
    let args = [
        "--model",
        "all-minilm-l6-v2",
        "--threads",
        "2",
        "--model-dir",
        &model_dir.display().to_string(),
    ]
    .map(String::from);
    spawn_serve(vault, data_dir, None, &args)
}

fn spawn_serve(vault: &Path, data_dir: &Path, token: Option<&str>, args: &[String]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vault-rag"));
    cmd.arg("serve")
        .arg("--vault")
        .arg(vault)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("VAULT_RAG_LOG", "info")
        .env_remove("VAULT_RAG_TOKEN");
    if let Some(token) = token {
        cmd.env("VAULT_RAG_TOKEN", token);
    }
    let mut server = start_command(cmd, token);
    if token.is_none() {
        server.token = data_dir_token(data_dir);
    }
    server
}

/// The token `serve` keeps in its data directory (made on its first start).
pub fn data_dir_token(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join("token"))
        .ok()
        .map(|t| t.trim().to_string())
}

/// Spawns a prepared `serve` command and waits for its listening line; `token` is what the
/// returned [`Server`] sends with its requests.
pub fn start_command(mut cmd: Command, token: Option<&str>) -> Server {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start vault-rag serve");
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = stderr.clone();
    let mut err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let extra_stdout = Arc::new(Mutex::new(Vec::new()));
    let extra = extra_stdout.clone();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let _ = tx.send(first);
        // Anything more on stdout would confuse supervisors: keep it for the tests to see.
        for line in lines.map_while(Result::ok) {
            extra.lock().unwrap().push(line);
        }
    });
    let line = match rx.recv_timeout(Duration::from_secs(180)) {
        Ok(Some(Ok(line))) => line,
        other => {
            let _ = child.kill();
            panic!(
                "no listening line ({other:?}); stderr:\n{}",
                stderr.lock().unwrap()
            );
        }
    };
    let event: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("listening line `{line}`: {e}"));
    assert_eq!(event["event"], "listening", "{line}");
    let port = event["port"].as_u64().unwrap() as u16;
    assert_eq!(line, format!(r#"{{"event":"listening","port":{port}}}"#));
    Server {
        stdin: child.stdin.take(),
        child,
        port,
        token: token.map(str::to_string),
        stderr,
        extra_stdout,
    }
}

impl Server {
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A request with the right Host and token.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        let mut headers = vec![("Host".to_string(), self.host())];
        if let Some(t) = &self.token {
            headers.push(("Authorization".into(), format!("Bearer {t}")));
        }
        let body = body.map(|b| b.to_string());
        if body.is_some() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        raw(
            self.port,
            method,
            path,
            &headers,
            body.as_deref().unwrap_or("").as_bytes(),
        )
    }

    pub fn get(&self, path: &str) -> Response {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.call("POST", path, Some(body))
    }

    /// Polls `/index/status` until the index is complete and idle.
    pub fn wait_indexed(&self, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let status = self.get("/index/status");
            assert_eq!(status.status, 200, "{}", status.text());
            let body = status.json();
            if body["complete"] == true && body["state"] == "idle" {
                return body;
            }
            assert!(
                started.elapsed() < timeout,
                "index not complete after {timeout:?}: {body}\nstderr:\n{}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if started.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "server did not exit within {timeout:?}; stderr:\n{}",
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server process is still running.
    pub fn child_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The API error code of an error response.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// One HTTP/1.1 request on a fresh connection; the caller sets every header.
pub fn raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before reading a large body: ignore write errors.
    let _ = stream.write_all(body);
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    parse_response(&bytes)
}

/// Sends `request` (a whole HTTP/1.x request, byte for byte, with `Connection: close`) on a fresh
/// connection and reads the answer until the server closes. `None` when the server closed without answering.
pub fn send_raw(port: u16, request: &[u8]) -> Option<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // The server may answer and close before reading everything: ignore write errors.
    let _ = stream.write_all(request);
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    (!bytes.is_empty()).then(|| parse_response(&bytes))
}

fn parse_response(bytes: &[u8]) -> Response {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = bytes[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}

/// Everything that defines an index's content, without ids (they depend on history): notes,
/// chunks, full-text terms with positions, failures. Vector keys are in [`vector_key_rows`].
pub fn index_rows(db: &rusqlite::Connection) -> Vec<String> {
    // The full-text table is contentless: compare its terms (with positions) instead.
    db.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, chunks_fts, instance)",
    )
    .unwrap();
    [
        "SELECT path, mtime_ns, size, hex(content_hash), title, tags, aliases, links FROM notes ORDER BY path",
        "SELECT n.path, c.ord, c.heading_path, c.start_line, c.end_line, c.block_id, c.text, hex(c.content_hash)
         FROM chunks c JOIN notes n ON n.id = c.note_id ORDER BY n.path, c.ord",
        "SELECT n.path, c.ord, v.col, v.offset, v.term FROM temp.fts_terms v
         JOIN chunks c ON c.id = v.doc JOIN notes n ON n.id = c.note_id
         ORDER BY n.path, c.ord, v.col, v.offset",
        "SELECT path, reason FROM failures ORDER BY path",
    ]
    .into_iter()
    .flat_map(|sql| query_rows(db, sql))
    .collect()
}

/// The keys of the stored vectors (content hash, fingerprint), without their values: int8
/// activations are quantised per batch, so the same text embedded in another batch differs in
/// the last digits.
pub fn vector_key_rows(db: &rusqlite::Connection) -> Vec<String> {
    query_rows(
        db,
        "SELECT hex(content_hash), fingerprint FROM vectors ORDER BY 1, 2",
    )
}

/// Every stored vector of the index, by content hash (hex), decoded from f16.
pub fn stored_vectors(db: &rusqlite::Connection) -> Vec<(String, Vec<f32>)> {
    db.prepare("SELECT hex(content_hash), vec FROM vectors ORDER BY 1")
        .unwrap()
        .query_map([], |r| {
            let blob: Vec<u8> = r.get(1)?;
            let v = blob
                .chunks_exact(2)
                .map(|b| half_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect();
            Ok((r.get(0)?, v))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// IEEE half to f32, without a dependency for one test.
fn half_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f32::from(h & 0x3ff);
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 => sign * f32::INFINITY,
        e => sign * (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

fn query_rows(db: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut stmt = db.prepare(sql).unwrap();
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            Ok((0..n)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Every file the child writes may grow to `bytes` at most: a full disk, as the tests make one
/// (writes past the limit fail with EFBIG as they fail with ENOSPC on a full disk).
#[cfg(unix)]
pub fn limit_file_size(cmd: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
