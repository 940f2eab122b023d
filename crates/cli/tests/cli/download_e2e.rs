//! The first run of a new user, over real HTTP: the model comes from a local server that answers
//! like the Hugging Face hub (`scripts/fake_hub.py`: resolve URLs, a redirect to a CDN address for
//! large files, `Range`, `X-Linked-Etag`, `X-Repo-Commit`), serving MiniLM laid out as the hub
//! does with its weights as external data. Shows: consent is required, a cold download then
//! `embed` works and lands in the standard cache layout, a killed download resumes, a damaged
//! byte is caught, a 404 and a refused connection are clear, `serve` reports the download on
//! `/health`, and bad settings exit with their own code and a line a supervisor can read.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const REPO: &str = "Xenova/all-MiniLM-L6-v2";
const DATA: &str = "onnx/model_quantized.onnx_data";

/// The repository folder, made once per test run from the MiniLM test model.
fn repo_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = support::repo_root().join("target/fake-hub/all-MiniLM-L6-v2");
        if !out.join(DATA).is_file() {
            let status = Command::new(support::venv_python())
                .arg(support::repo_root().join("scripts/fake_hub.py"))
                .args(["prepare", "--minilm"])
                .arg(support::model_dir())
                .arg("--out")
                .arg(&out)
                .status()
                .expect("run fake_hub.py prepare");
            assert!(status.success(), "fake_hub.py prepare failed");
        }
        out
    })
}

struct FakeHub {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
}

impl FakeHub {
    fn start() -> Self {
        let mut child = Command::new(support::venv_python())
            .arg(support::repo_root().join("scripts/fake_hub.py"))
            .args(["serve", "--repo", REPO, "--dir"])
            .arg(repo_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start fake_hub.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = serde_json::from_str::<Value>(&line).expect("port line")["port"]
            .as_u64()
            .unwrap() as u16;
        let stdin = child.stdin.take().unwrap();
        Self {
            child,
            _stdin: stdin,
            port,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn request(&self, method: &str, path: &str, body: &str) -> Value {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        serde_json::from_str(body).unwrap_or(Value::Null)
    }

    fn control(&self, ctl: Value) {
        self.request("POST", "/_control", &ctl.to_string());
    }

    /// Offsets at which downloads of `file` started (0: from the first byte).
    fn starts(&self, file: &str) -> Vec<u64> {
        self.request("GET", "/_stats", "")["starts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s[0] == file)
            .map(|s| s[1].as_u64().unwrap())
            .collect()
    }

    fn sent(&self, file: &str) -> u64 {
        self.request("GET", "/_stats", "")["sent"][file]
            .as_u64()
            .unwrap_or(0)
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user's machine: empty caches, the hub at `endpoint`.
struct Machine {
    dir: tempfile::TempDir,
    endpoint: String,
}

impl Machine {
    fn new(endpoint: String) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            endpoint,
        }
    }

    fn hub_cache(&self) -> PathBuf {
        self.dir.path().join("hf/hub")
    }

    fn repo_cache(&self) -> PathBuf {
        self.hub_cache().join("models--Xenova--all-MiniLM-L6-v2")
    }

    fn command(&self, args: &[&str]) -> Command {
        // The runtime library stays where `make setup` put it; no model is anywhere yet.
        let runtime = std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(vault_rag_embed::cache_library);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vault-rag"));
        cmd.args(args)
            .env("HF_ENDPOINT", &self.endpoint)
            .env("HF_HOME", self.dir.path().join("hf"))
            .env_remove("HF_HUB_CACHE")
            .env("VAULT_RAG_CACHE", self.dir.path().join("vault-rag-cache"))
            .env("ORT_DYLIB_PATH", runtime)
            .env("VAULT_RAG_DATA_DIR", self.dir.path().join("data"))
            .env("VAULT_RAG_LOG", "info")
            .stdin(Stdio::null());
        for var in [
            "VAULT_RAG_MODEL",
            "VAULT_RAG_MODEL_DIR",
            "VAULT_RAG_PRECISION",
            "VAULT_RAG_DIM",
            "VAULT_RAG_DOWNLOAD",
            "VAULT_RAG_TOKEN",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run vault-rag")
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const EMBED: [&str; 5] = [
    "embed",
    "--model",
    "all-minilm-l6-v2",
    "--json",
    "a first note",
];

fn with_download(args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    v.push("--download".into());
    v
}

fn run_owned(m: &Machine, args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    m.run(&refs)
}

#[test]
fn cold_download_needs_consent_then_embeds_from_the_standard_cache() {
    let hub = FakeHub::start();
    let m = Machine::new(hub.endpoint());
    // Not on a terminal and not told: nothing is fetched, and the message says what to do.
    let refused = m.run(&EMBED);
    assert_eq!(refused.status.code(), Some(77), "{}", stderr(&refused));
    let msg = stderr(&refused);
    assert!(msg.contains("--download") && msg.contains(REPO), "{msg}");
    assert!(!msg.contains("shared/"), "{msg}");
    assert_eq!(hub.sent(DATA), 0);

    let out = run_owned(&m, &with_download(&EMBED));
    assert!(out.status.success(), "{}", stderr(&out));
    let vector: Vec<f32> = serde_json::from_slice(&out.stdout).expect("one JSON vector");
    assert_eq!(vector.len(), 384);
    let data_len = std::fs::metadata(repo_dir().join(DATA)).unwrap().len();
    assert_eq!(hub.sent(DATA), data_len);

    // The layout other tools read: refs/main → snapshot links → blobs named by etag (the
    // sha256 for the large file).
    let commit = std::fs::read_to_string(m.repo_cache().join("refs/main")).unwrap();
    let snapshot = m.repo_cache().join("snapshots").join(commit.trim());
    for file in ["onnx/model_quantized.onnx", DATA, "tokenizer.json"] {
        let link = snapshot.join(file);
        assert!(link.is_file(), "{} missing", link.display());
        #[cfg(unix)]
        assert!(
            std::fs::read_link(&link).unwrap().starts_with("../"),
            "{file} is not a relative link"
        );
    }
    let sha = sha256_of(&repo_dir().join(DATA));
    assert!(m.repo_cache().join("blobs").join(&sha).is_file());
    assert!(std::fs::read_dir(m.repo_cache().join("blobs"))
        .unwrap()
        .all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".incomplete")));

    // The second start is offline: nothing more is fetched, even without --download.
    let again = m.run(&EMBED);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(hub.sent(DATA), data_len);
}

/// sha256 of a file, through the venv's Python (the test crate has no hashing dependency).
fn sha256_of(path: &Path) -> String {
    let out = Command::new(support::venv_python())
        .args([
            "-c",
            "import hashlib,sys;print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_killed_download_resumes_where_it_stopped() {
    let hub = FakeHub::start();
    let m = Machine::new(hub.endpoint());
    let total = std::fs::metadata(repo_dir().join(DATA)).unwrap().len();
    hub.control(json!({"throttle_bps": 3_000_000}));
    let mut child = m
        .command(
            &with_download(&EMBED)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let blobs = m.repo_cache().join("blobs");
    let deadline = Instant::now() + Duration::from_secs(60);
    let partial = loop {
        let part = std::fs::read_dir(&blobs).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .find(|e| e.file_name().to_string_lossy().ends_with(".incomplete"))
                .map(|e| e.path())
        });
        if let Some(len) = part
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
        {
            if len > total / 4 {
                break len;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the download never got a quarter in"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let first = hub.sent(DATA);
    assert!(
        first < total,
        "the first run fetched everything ({first} of {total})"
    );

    hub.control(json!({"reset_stats": true}));
    let out = run_owned(&m, &with_download(&EMBED));
    assert!(out.status.success(), "{}", stderr(&out));
    // One request, from where the kept part ends: the second run fetches only the rest.
    let starts = hub.starts(DATA);
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert!(
        starts[0] >= partial && starts[0] < total,
        "the second run started at byte {} of {total}; {partial} were kept",
        starts[0]
    );
    assert!(stderr(&out).contains("resuming"), "{}", stderr(&out));
}

#[test]
fn a_damaged_byte_is_caught_and_the_next_start_fetches_again() {
    let hub = FakeHub::start();
    let m = Machine::new(hub.endpoint());
    hub.control(json!({"corrupt": DATA}));
    let bad = run_owned(&m, &with_download(&EMBED));
    assert_eq!(bad.status.code(), Some(1));
    let msg = stderr(&bad);
    assert!(
        msg.contains("damaged") && msg.contains("sha256") && msg.contains(DATA),
        "{msg}"
    );
    // Neither a blob nor a partial file of it is left to be used as a model.
    let sha = sha256_of(&repo_dir().join(DATA));
    assert!(!m.repo_cache().join("blobs").join(&sha).exists());
    assert!(!m
        .repo_cache()
        .join("blobs")
        .join(format!("{sha}.incomplete"))
        .exists());

    hub.control(json!({}));
    let good = run_owned(&m, &with_download(&EMBED));
    assert!(good.status.success(), "{}", stderr(&good));
}

#[test]
fn a_missing_file_and_a_refused_connection_say_what_failed() {
    let hub = FakeHub::start();
    let m = Machine::new(hub.endpoint());
    // The fake repository has no q4 file.
    let missing = run_owned(
        &m,
        &with_download(&[
            "embed",
            "--model",
            "all-minilm-l6-v2",
            "--precision",
            "q4",
            "x",
        ]),
    );
    assert_eq!(missing.status.code(), Some(1));
    let msg = stderr(&missing);
    assert!(
        msg.contains("onnx/model_q4.onnx") && msg.contains(REPO) && msg.contains("404"),
        "{msg}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let offline = Machine::new(format!("http://127.0.0.1:{port}"));
    let refused = run_owned(&offline, &with_download(&EMBED));
    assert_eq!(refused.status.code(), Some(1));
    let msg = stderr(&refused);
    assert!(
        msg.contains("cannot reach") && msg.contains(&port.to_string()),
        "{msg}"
    );
}

#[cfg(unix)]
#[test]
fn a_full_disk_stops_clearly_and_the_next_start_continues() {
    let hub = FakeHub::start();
    let m = Machine::new(hub.endpoint());
    let total = std::fs::metadata(repo_dir().join(DATA)).unwrap().len();
    const LIMIT: u64 = 8 << 20;
    let mut cmd = m.command(
        &with_download(&EMBED)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // Every file may grow to 8 MiB only.
    support::limit_file_size(&mut cmd, LIMIT);
    let full = cmd.output().unwrap();
    assert_eq!(full.status.code(), Some(1));
    let msg = stderr(&full);
    assert!(
        msg.contains("disk is full") && msg.contains(".incomplete"),
        "{msg}"
    );
    assert!(!msg.contains("panicked"), "{msg}");

    hub.control(json!({"reset_stats": true}));
    let out = run_owned(&m, &with_download(&EMBED));
    assert!(out.status.success(), "{}", stderr(&out));
    let starts = hub.starts(DATA);
    assert!(
        starts.len() == 1 && starts[0] > 0 && starts[0] <= LIMIT && starts[0] < total,
        "{starts:?}"
    );
}

/// On a terminal, the question is asked and a yes downloads (`script` gives the child a terminal).
#[cfg(target_os = "linux")]
#[test]
fn a_terminal_asks_before_downloading() {
    let hub = FakeHub::start();
    let m = Machine::new(hub.endpoint());
    let line = format!(
        "{} embed --model all-minilm-l6-v2 --json 'a first note'",
        env!("CARGO_BIN_EXE_vault-rag")
    );
    let ask = |answer: &str| {
        // The environment of a user's machine; the command line is `script`'s.
        let cmd = m.command(&[]);
        let mut child = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .envs(
                cmd.get_envs()
                    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script(1) from util-linux");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let no = ask("n\n");
    let screen = String::from_utf8_lossy(&no.stdout).into_owned();
    assert!(
        screen.contains("Download it now?") && screen.contains("Apache-2.0"),
        "{screen}"
    );
    assert!(!no.status.success());
    assert_eq!(hub.sent(DATA), 0);
    let yes = ask("y\n");
    let screen = String::from_utf8_lossy(&yes.stdout).into_owned();
    assert!(yes.status.success(), "{screen}");
    assert!(screen.contains("ready"), "{screen}");
    assert_eq!(
        hub.sent(DATA),
        std::fs::metadata(repo_dir().join(DATA)).unwrap().len()
    );
}

fn serve_args<'a>(vault: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "serve",
        "--vault",
        vault,
        "--model",
        "all-minilm-l6-v2",
        "--threads",
        "2",
        "--exit-on-stdin-close",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn serve_reports_the_download_on_health_then_searches() {
    let hub = FakeHub::start();
    let m = Machine::new(hub.endpoint());
    let vault = support::fixture_vault(m.dir.path());
    let vault = vault.to_str().unwrap();

    // Without consent: one line for the plugin's question, exit 77, nothing fetched.
    let out = m.run(&serve_args(vault, &[]));
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    let event: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(event["event"], "download_required");
    assert_eq!(event["repo"], REPO);
    assert_eq!(event["licence"], "Apache-2.0");
    assert!(event["approx_mb"].as_u64().unwrap() > 0);

    hub.control(json!({"throttle_bps": 4_000_000}));
    let mut server = support::start_command(m.command(&serve_args(vault, &["--download"])), None);
    server.token = support::data_dir_token(&m.dir.path().join("data"));
    assert!(server.token.is_some(), "serve made no token file");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut saw_progress = false;
    let mut saw_503 = false;
    loop {
        let health = server.get("/health").json();
        let state = health["model"]["state"].as_str().unwrap_or("").to_string();
        if state == "downloading" {
            let (done, total) = (
                health["model"]["bytes_done"].as_u64().unwrap(),
                health["model"]["bytes_total"].as_u64().unwrap(),
            );
            assert!(done <= total, "{health}");
            if done > 0 && total > 1_000_000 {
                saw_progress = true;
                // Searches answer with a clear 503 meanwhile, and the server keeps serving. The
                // download may end between the two requests: then the real index answers.
                let search = server.post("/search", &json!({"query": "bread"}));
                if search.status == 503 {
                    assert!(search.text().contains("downloading"), "{}", search.text());
                    saw_503 = true;
                } else {
                    assert_eq!(search.status, 200, "{}", search.text());
                    let now = server.get("/health").json();
                    assert_ne!(now["model"]["state"], "downloading", "{now}");
                }
            }
        }
        if state == "ready" {
            break;
        }
        assert!(Instant::now() < deadline, "no ready model: {health}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(saw_progress, "never saw the download's progress on /health");
    assert!(saw_503, "no search was answered by the downloading service");
    server.wait_indexed(Duration::from_secs(120));
    let hits = server
        .post("/search", &json!({"query": "sourdough starter"}))
        .json();
    assert!(
        hits["hits"][0]["path"]
            .as_str()
            .unwrap()
            .contains("Sourdough"),
        "{hits}"
    );
}

#[test]
fn bad_settings_exit_with_their_own_code_and_name_the_setting() {
    let m = Machine::new("http://127.0.0.1:9".into());
    let vault = support::fixture_vault(m.dir.path());
    let vault = vault.to_str().unwrap();
    let missing_dir = m.dir.path().join("no-such-model");
    let missing_dir = missing_dir.to_str().unwrap();
    let model_dir = support::model_dir();
    let model_dir = model_dir.to_str().unwrap();
    let cases: [(&[&str], &str, &str); 5] = [
        (&["--model", "embedinggemma"], "model", "embedinggemma"),
        (&["--dim", "300"], "dim", "300"),
        (&["--model-dir", missing_dir], "modelDir", "does not exist"),
        (
            &["--model-dir", model_dir, "--precision", "fp32"],
            "precision",
            "onnx/model.onnx",
        ),
        (&["--vault", "/no/such/vault"], "vault", "/no/such/vault"),
    ];
    for (extra, setting, words) in cases {
        let mut args = vec!["serve"];
        if !extra.contains(&"--model") {
            args.extend(["--model", "all-minilm-l6-v2"]);
        }
        if !extra.contains(&"--vault") {
            args.extend(["--vault", vault]);
        }
        args.extend_from_slice(extra);
        let out = m.run(&args);
        assert_eq!(out.status.code(), Some(78), "{extra:?}: {}", stderr(&out));
        let event: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{extra:?}: no event line ({e}): {}", stderr(&out)));
        assert_eq!(event["event"], "config_error", "{extra:?}");
        assert_eq!(event["setting"], setting, "{extra:?}: {event}");
        assert!(
            event["message"].as_str().unwrap().contains(words),
            "{extra:?}: {event}"
        );
    }
}
