//! One warm service for Obsidian and for agents: MCP over Streamable HTTP at `serve`'s `/mcp`,
//! and `vault-rag mcp` as a bridge to it, both driven by the official MCP Python SDK.

use crate::support;

use std::time::Duration;

use serde_json::Value;
use support::{fixture_vault, start};

const TOKEN: &str = "agents-t0ken";

/// Runs `scripts/mcp_check.py` with `transport` arguments; returns its report.
fn mcp_check(vault: &std::path::Path, data: &std::path::Path, transport: &[&str]) -> Value {
    let out = support::mcp_check(vault, data, &[transport, &["--bench", "100"]].concat())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    eprintln!(
        "mcp check {transport:?}: {report}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    serde_json::from_str(report.trim()).unwrap()
}

#[test]
fn agents_share_the_running_service_over_http_and_through_the_stdio_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let data = dir.path().join("data");
    let mut server = start(&vault, &data, Some(TOKEN), &[]);
    server.wait_indexed(Duration::from_secs(240));

    // The file other vault-rag processes find the service by: private, naming this one.
    let file = data.join("service.json");
    let service: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(service["port"], server.port);
    assert_eq!(service["pid"], server.child.id());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Agents have their own token (private, kept across restarts), which opens /mcp and /health
    // only; the plugin reads it with the service token.
    let agent_file = data.join("agent-token");
    let agent_token = std::fs::read_to_string(&agent_file)
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(agent_token.len(), 64);
    let shown = server.get("/agents/token");
    assert_eq!(shown.status, 200, "{}", shown.text());
    assert_eq!(shown.json()["token"], agent_token.as_str());
    assert!(
        !service.to_string().contains(TOKEN),
        "service.json holds no token: {service}"
    );
    let as_agent = |method: &str, path: &str, token: &str| {
        let headers = vec![
            ("Host".to_string(), server.host()),
            ("Authorization".to_string(), format!("Bearer {token}")),
            ("Content-Type".to_string(), "application/json".to_string()),
        ];
        let body = if method == "POST" {
            r#"{"query":"yeast"}"#
        } else {
            ""
        };
        support::raw(server.port, method, path, &headers, body.as_bytes())
    };
    assert_eq!(as_agent("GET", "/health", &agent_token).status, 200);
    for (method, path) in [
        ("POST", "/search"),
        ("GET", "/agents/token"),
        ("POST", "/agents/token/rotate"),
        ("POST", "/index/rebuild"),
    ] {
        let refused = as_agent(method, path, &agent_token);
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.text());
        assert_eq!(refused.code(), "forbidden_for_agents");
    }

    let url = format!("http://127.0.0.1:{}/mcp", server.port);
    let http = mcp_check(&vault, &data, &["--http", &url, "--token", &agent_token]);
    assert_eq!(http["search_top"][0], "Cooking/Sourdough.md");
    assert_eq!(http["refusals_and_two_clients_checked"], true);
    let link = http["top_link"].as_str().unwrap_or_default();
    assert!(
        link.starts_with("[[Cooking/Sourdough") && link.ends_with("]]"),
        "{http}"
    );

    // The bridge reads the agent token from its file, and follows a revocation mid-session.
    let rotate = format!("http://127.0.0.1:{}/agents/token/rotate", server.port);
    let bridge = mcp_check(
        &vault,
        &data,
        &["--bridge", "--rotate", &rotate, "--service-token", TOKEN],
    );
    assert_eq!(bridge["search_top"][0], "Cooking/Sourdough.md");
    assert_eq!(bridge["session_survives_rotation"], true, "{bridge}");
    let renewed = std::fs::read_to_string(&agent_file)
        .unwrap()
        .trim()
        .to_string();
    assert_ne!(renewed, agent_token);
    let old = as_agent("POST", "/mcp", &agent_token);
    assert_eq!(
        old.status,
        401,
        "the revoked token opens nothing: {}",
        old.text()
    );
    assert_eq!(as_agent("GET", "/health", &renewed).status, 200);
    assert_eq!(
        server.get("/health").status,
        200,
        "the service token is untouched"
    );
    #[cfg(target_os = "linux")]
    {
        let b = &bridge["bridge"];
        assert_eq!(b["maps_onnxruntime"], false, "{b}");
        assert_eq!(b["maps_model"], false, "{b}");
        assert!(b["rss_peak_mb"].as_f64().unwrap() < 30.0, "{b}");
    }
    eprintln!(
        "bridge: initialize {} ms, peak RSS {} MiB; search_notes median over 100 calls: {} ms through the bridge, {} ms over HTTP",
        bridge["initialize_ms"],
        bridge["bridge"]["rss_peak_mb"],
        bridge["search_notes_median_ms"],
        http["search_notes_median_ms"]
    );

    // The service still answers, and leaves no service file behind when it stops.
    assert_eq!(server.get("/health").status, 200);
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(30)).success());
    assert!(!file.exists(), "service.json is removed on exit");
}
