//! One warm service for Obsidian and for agents: MCP over Streamable HTTP at `serve`'s `/mcp`,
//! and `vault-rag mcp` as a bridge to it, both driven by the official MCP Python SDK.

mod support;

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

    let url = format!("http://127.0.0.1:{}/mcp", server.port);
    let http = mcp_check(&vault, &data, &["--http", &url, "--token", TOKEN]);
    assert_eq!(http["search_top"][0], "Cooking/Sourdough.md");
    assert_eq!(http["refusals_and_two_clients_checked"], true);

    let bridge = mcp_check(&vault, &data, &["--bridge"]);
    assert_eq!(bridge["search_top"][0], "Cooking/Sourdough.md");
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
