//! The table of hostile requests of `reliability_serve_hostile.rs`: each request and the status
//! and `error.code` it must get.

use serde_json::json;

use crate::reliability_serve_hostile::{SECRET, TOKEN};
use crate::support::Server;

/// One request of the table and the answer it must get.
pub struct Case {
    pub name: String,
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: u16,
    /// The `error.code`; empty for a request that must succeed.
    pub code: &'static str,
}

impl Case {
    /// A request with the right Host and token.
    fn new(server: &Server, name: impl Into<String>, method: &str, target: &str) -> Self {
        Self {
            name: name.into(),
            method: method.into(),
            target: target.into(),
            headers: vec![
                ("Host".into(), server.host()),
                ("Authorization".into(), format!("Bearer {TOKEN}")),
            ],
            body: Vec::new(),
            status: 0,
            code: "",
        }
    }

    fn json(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.headers
            .push(("Content-Type".into(), "application/json".into()));
        self.body = body.into();
        self
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    fn expect(mut self, status: u16, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        let framed = self.headers.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("transfer-encoding") || k.eq_ignore_ascii_case("content-length")
        });
        if !framed {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Every case, for the server under test (its port goes into the Host headers).
pub fn cases(server: &Server) -> Vec<Case> {
    let port = server.port;
    let c = |name: &str, method: &str, target: &str| Case::new(server, name, method, target);
    let mut cases = Vec::new();

    // Bodies that are not JSON at all.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for (name, body) in [
        ("truncated object", b"{\"query\": ".to_vec()),
        ("empty body", Vec::new()),
        ("bare word", b"nul".to_vec()),
        ("trailing comma", b"{\"query\": \"a\",}".to_vec()),
        ("trailing garbage", b"{\"query\": \"a\"} x".to_vec()),
        ("single quotes", b"{'query': 'a'}".to_vec()),
        ("invalid UTF-8", b"{\"query\": \"\xff\xfe\"}".to_vec()),
        ("lone surrogate", b"{\"query\": \"\\ud800\"}".to_vec()),
        (
            "raw NUL byte in a string",
            b"{\"query\": \"a\0b\"}".to_vec(),
        ),
        ("raw NUL byte outside", b"{\"query\": \"a\"}\0".to_vec()),
        (
            "number beyond f64",
            b"{\"query\": \"a\", \"top_k\": 1e400}".to_vec(),
        ),
    ] {
        cases.push(
            c(name, "POST", "/search")
                .json(body)
                .expect(400, "invalid_json"),
        );
    }
    // Nesting deep enough to overflow a recursive parser's stack: refused by its depth limit.
    cases.push(
        c("100000 levels of nesting", "POST", "/v1/embeddings")
            .json(format!("{{\"input\": {deep}}}"))
            .expect(400, "invalid_json"),
    );
    cases.push(
        c("100000 levels of nesting at the top", "POST", "/search")
            .json(deep.clone())
            .expect(400, "invalid_request"),
    );
    cases.push(
        c("truncated embed body", "POST", "/embed")
            .json(&b"{\"texts\": [\"a\""[..])
            .expect(400, "invalid_json"),
    );

    // Well-formed JSON of the wrong shape.
    let wrong: &[(&str, &str, &str)] = &[
        ("/search", "query is a number", r#"{"query": 5}"#),
        ("/search", "query is null", r#"{"query": null}"#),
        ("/search", "query is an array", r#"{"query": ["a"]}"#),
        ("/search", "query is an object", r#"{"query": {"$ne": ""}}"#),
        (
            "/search",
            "top_k is a string",
            r#"{"query": "a", "top_k": "5"}"#,
        ),
        (
            "/search",
            "top_k is fractional",
            r#"{"query": "a", "top_k": 2.5}"#,
        ),
        (
            "/search",
            "top_k is a bool",
            r#"{"query": "a", "top_k": true}"#,
        ),
        (
            "/search",
            "mode is unknown",
            r#"{"query": "a", "mode": "HYBRID"}"#,
        ),
        (
            "/search",
            "mode is a number",
            r#"{"query": "a", "mode": 1}"#,
        ),
        (
            "/search",
            "folder is an array",
            r#"{"query": "a", "folder": ["x"]}"#,
        ),
        (
            "/search",
            "tag is an object",
            r#"{"query": "a", "tag": {}}"#,
        ),
        (
            "/search",
            "unknown field",
            r#"{"query": "a", "debug": true}"#,
        ),
        ("/search", "missing query", r#"{"top_k": 3}"#),
        ("/search", "empty object", r#"{}"#),
        ("/search", "body is an array", r#"[{"query": "a"}]"#),
        ("/search", "body is a string", r#""a""#),
        ("/search", "body is null", r#"null"#),
        ("/search", "blank query", r#"{"query": " \t\n "}"#),
        ("/search", "top_k zero", r#"{"query": "a", "top_k": 0}"#),
        (
            "/search",
            "top_k negative",
            r#"{"query": "a", "top_k": -1}"#,
        ),
        (
            "/search",
            "top_k i64 min",
            r#"{"query": "a", "top_k": -9223372036854775808}"#,
        ),
        (
            "/search",
            "top_k above the limit",
            r#"{"query": "a", "top_k": 101}"#,
        ),
        (
            "/search",
            "top_k 10^9",
            r#"{"query": "a", "top_k": 1000000000}"#,
        ),
        (
            "/search",
            "top_k u64 max",
            r#"{"query": "a", "top_k": 18446744073709551615}"#,
        ),
        (
            "/search",
            "top_k beyond u64",
            r#"{"query": "a", "top_k": 18446744073709551616}"#,
        ),
        (
            "/search",
            "top_k 1e308",
            r#"{"query": "a", "top_k": 1e308}"#,
        ),
        (
            "/search",
            "folder climbs out",
            r#"{"query": "a", "folder": "../"}"#,
        ),
        (
            "/search",
            "folder has a NUL",
            r#"{"query": "a", "folder": "Garden\u0000"}"#,
        ),
        ("/embed", "texts is a string", r#"{"texts": "a"}"#),
        ("/embed", "texts holds numbers", r#"{"texts": [1, 2]}"#),
        ("/embed", "texts holds null", r#"{"texts": [null]}"#),
        ("/embed", "texts is empty", r#"{"texts": []}"#),
        (
            "/embed",
            "kind is unknown",
            r#"{"texts": ["a"], "kind": "poem"}"#,
        ),
        (
            "/embed",
            "kind is a number",
            r#"{"texts": ["a"], "kind": 1}"#,
        ),
        (
            "/embed",
            "unknown field",
            r#"{"texts": ["a"], "model": "x"}"#,
        ),
        ("/embed", "missing texts", r#"{}"#),
        ("/v1/embeddings", "input is a number", r#"{"input": 5}"#),
        ("/v1/embeddings", "input is an object", r#"{"input": {}}"#),
        (
            "/v1/embeddings",
            "input is token arrays",
            r#"{"input": [[1, 2]]}"#,
        ),
        ("/v1/embeddings", "input is empty", r#"{"input": []}"#),
        (
            "/v1/embeddings",
            "input holds a number",
            r#"{"input": ["a", 1]}"#,
        ),
        ("/v1/embeddings", "missing input", r#"{"model": "x"}"#),
        (
            "/v1/embeddings",
            "model is a number",
            r#"{"input": "a", "model": 5}"#,
        ),
        (
            "/v1/embeddings",
            "unknown encoding",
            r#"{"input": "a", "encoding_format": "hex"}"#,
        ),
        (
            "/v1/embeddings",
            "dimensions negative",
            r#"{"input": "a", "dimensions": -1}"#,
        ),
        (
            "/v1/embeddings",
            "dimensions zero",
            r#"{"input": "a", "dimensions": 0}"#,
        ),
        (
            "/v1/embeddings",
            "dimensions beyond u64",
            r#"{"input": "a", "dimensions": 18446744073709551616}"#,
        ),
        (
            "/v1/embeddings",
            "dimensions a string",
            r#"{"input": "a", "dimensions": "384"}"#,
        ),
    ];
    for (route, name, body) in wrong {
        cases.push(
            c(&format!("{route}: {name}"), "POST", route)
                .json(body.as_bytes())
                .expect(400, "invalid_request"),
        );
    }

    // Sizes: over the body limit (declared and streamed), and under it but over the per-field limits.
    let huge = json!({"texts": ["x".repeat(2 << 20)]}).to_string();
    cases.push(
        c("2 MiB body with Content-Length", "POST", "/embed")
            .json(huge.clone())
            .expect(413, "payload_too_large"),
    );
    let mut chunked = format!("{:x}\r\n", huge.len()).into_bytes();
    chunked.extend_from_slice(huge.as_bytes());
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    cases.push(
        c("2 MiB chunked body", "POST", "/search")
            .json(chunked)
            .header("Transfer-Encoding", "chunked")
            .expect(413, "payload_too_large"),
    );
    cases.push(
        c("Content-Length of 10^15 bytes", "POST", "/search")
            .json(Vec::new())
            .header("Content-Length", "1000000000000000")
            .expect(413, "payload_too_large"),
    );
    for (route, name, body) in [
        (
            "/embed",
            "257 texts",
            json!({"texts": vec!["x"; 257]}).to_string(),
        ),
        (
            "/embed",
            "a text of 32769 characters",
            json!({"texts": ["é".repeat(32_769)]}).to_string(),
        ),
        (
            "/v1/embeddings",
            "257 inputs",
            json!({"input": vec!["x"; 257]}).to_string(),
        ),
        (
            "/search",
            "a query of 32769 characters",
            json!({"query": "q".repeat(32_769)}).to_string(),
        ),
        (
            "/search",
            "an array of 200000 numbers",
            format!("[{}1]", "1,".repeat(200_000)),
        ),
    ] {
        cases.push(
            c(&format!("{route}: {name}"), "POST", route)
                .json(body)
                .expect(400, "invalid_request"),
        );
    }

    // Note paths that leave the vault, in every spelling.
    for target in [
        "../secret.md",
        "..%2Fsecret.md",
        "%2e%2e%2fsecret.md",
        "%2E%2E/%2E%2E/etc/passwd",
        "Garden/../../secret.md",
        "./../secret.md",
        "..%5Csecret.md",
        "..%5C..%5Cetc%5Cpasswd",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "//etc/passwd",
        "C:/Windows/win.ini",
        "c:%5Cwindows%5Cwin.ini",
        "Escape.md",
        "Out/diary.md",
        "Dangling.md",
    ] {
        cases.push(
            c(
                &format!("similar path {target}"),
                "GET",
                &format!("/similar?path={target}"),
            )
            .expect(400, "path_outside_vault"),
        );
    }
    for (target, status, code) in [
        ("a%00.md", 400, "invalid_request"),
        ("%00", 400, "invalid_request"),
        ("", 400, "invalid_request"),
        (".", 400, "invalid_request"),
        ("%252e%252e%252fsecret.md", 404, "note_not_found"),
        ("~%2F.ssh%2Fid_rsa", 404, "note_not_found"),
        (".obsidian/app.json", 404, "note_not_found"),
        ("Garden", 404, "note_not_found"),
        ("Garden/Tomatoes.md&top_k=-1", 400, "invalid_request"),
        (
            "Garden/Tomatoes.md&top_k=99999999999999999999999",
            400,
            "invalid_request",
        ),
        ("Garden/Tomatoes.md&top_k=1e3", 400, "invalid_request"),
        ("Garden/Tomatoes.md&nope=1", 400, "invalid_request"),
        ("Garden/Tomatoes.md&path=Inbox.md", 400, "invalid_request"),
    ] {
        cases.push(
            c(
                &format!("similar path {target}"),
                "GET",
                &format!("/similar?path={target}"),
            )
            .expect(status, code),
        );
    }
    cases.push(c("similar without path", "GET", "/similar").expect(400, "invalid_request"));
    // A folder filter that names a symlink out of the vault filters; it never reads there.
    cases.push(
        c("search in a symlinked folder", "POST", "/search")
            .json(json!({"query": SECRET, "folder": "Out"}).to_string())
            .expect(200, ""),
    );
    // Control characters and NUL inside a query are text, not an error.
    cases.push(
        c("query with NUL and control characters", "POST", "/search")
            .json(r#"{"query": "tomato\u0000\u0007\u001b[31m\"*OR NEAR(", "mode": "lexical"}"#)
            .expect(200, ""),
    );

    // Content types.
    for (name, value) in [
        ("text/plain", Some("text/plain")),
        ("form data", Some("application/x-www-form-urlencoded")),
        ("multipart", Some("multipart/form-data; boundary=x")),
        ("json-like subtype", Some("application/jsonx")),
        ("no content type", None),
    ] {
        let mut case = c(&format!("content type {name}"), "POST", "/search")
            .json(&br#"{"query": "a"}"#[..])
            .without("Content-Type")
            .expect(415, "unsupported_media_type");
        if let Some(value) = value {
            case = case.header("Content-Type", value);
        }
        cases.push(case);
    }

    // Methods and routes.
    for (method, target) in [
        ("GET", "/search"),
        ("PUT", "/search"),
        ("DELETE", "/embed"),
        ("PATCH", "/index/rebuild"),
        ("GET", "/index/rebuild"),
        ("POST", "/health"),
        ("POST", "/openapi.json"),
        ("OPTIONS", "/search"),
        ("FOO", "/health"),
    ] {
        cases.push(
            c(&format!("{method} {target}"), method, target).expect(405, "method_not_allowed"),
        );
    }
    for target in [
        "/",
        "/admin",
        "/search/",
        "/v1/models",
        "/v2/embeddings",
        "/index",
        "/.env",
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/similar/../../../etc/passwd",
    ] {
        cases.push(c(&format!("GET {target}"), "GET", target).expect(404, "not_found"));
    }

    // Host: only loopback names with the served port (DNS rebinding).
    for host in [
        "evil.example".to_string(),
        format!("evil.example:{port}"),
        "127.0.0.1".to_string(),
        "127.0.0.1:1".to_string(),
        format!("localhost.:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
        format!("127.1:{port}"),
        format!("2130706433:{port}"),
        format!("user@127.0.0.1:{port}"),
        format!("127.0.0.1:{port}.evil"),
        String::new(),
    ] {
        cases.push(
            c(&format!("Host `{host}`"), "GET", "/health")
                .header("Host", &host)
                .expect(403, "forbidden_host"),
        );
    }
    cases.push(
        c("no Host header", "GET", "/health")
            .without("Host")
            .expect(403, "forbidden_host"),
    );
    cases.push(
        c(
            "absolute URI to a foreign host",
            "GET",
            "http://evil.example/health",
        )
        .without("Host")
        .expect(403, "forbidden_host"),
    );

    // Origin: only the allow-list; no CORS for others, preflights included.
    for origin in [
        "https://evil.example",
        "null",
        "app://obsidian.md.evil.example",
        "app://obsidian.md/",
        "http://127.0.0.1",
        "file://",
    ] {
        cases.push(
            c(&format!("Origin {origin}"), "POST", "/search")
                .json(&br#"{"query": "a"}"#[..])
                .header("Origin", origin)
                .expect(403, "forbidden_origin"),
        );
        cases.push(
            c(&format!("preflight from {origin}"), "OPTIONS", "/search")
                .without("Authorization")
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "POST")
                .expect(403, "forbidden_origin"),
        );
    }

    // The token.
    for (name, value) in [
        ("no token", None),
        ("wrong token", Some("Bearer wrong".to_string())),
        ("token with a suffix", Some(format!("Bearer {TOKEN}x"))),
        ("token prefix", Some(format!("Bearer {}", &TOKEN[..5]))),
        ("basic scheme", Some(format!("Basic {TOKEN}"))),
        ("no scheme", Some(TOKEN.to_string())),
    ] {
        let mut case = c(&format!("auth: {name}"), "GET", "/index/status")
            .without("Authorization")
            .expect(401, "unauthorized");
        if let Some(value) = value {
            case = case.header("Authorization", &value);
        }
        cases.push(case);
    }
    cases.push(
        c(
            "token in the query string",
            "GET",
            &format!("/health?token={TOKEN}"),
        )
        .without("Authorization")
        .expect(401, "unauthorized"),
    );
    cases
}
