//! A slowloris flood against the real `serve`: more half-sent requests than the usual limit of
//! 1,024 open files, held open, without any token. Real requests still get answered, and SIGTERM
//! still ends the service at once.
#![cfg(target_os = "linux")]

use crate::support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{fixture_vault, start};

const FLOOD: usize = 1_100;
const TOKEN: &str = "flood-token";

/// The soft limit on open files of `pid` (0: this process), set to `soft`; returns the old one.
fn set_open_files(pid: libc::pid_t, soft: u64) -> libc::rlimit {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit with valid pointers, on this process or its own child.
    assert_eq!(
        unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) },
        0
    );
    let new = libc::rlimit {
        rlim_cur: soft.min(old.rlim_max),
        rlim_max: old.rlim_max,
    };
    // SAFETY: as above; the hard limit is kept.
    assert_eq!(
        unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) },
        0
    );
    old
}

/// Opens `n` connections that each send the start of a request and then nothing.
fn half_sent(port: u16, n: usize) -> Vec<TcpStream> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            continue;
        };
        let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
        out.push(stream);
    }
    out
}

#[test]
fn a_flood_of_half_sent_requests_neither_starves_real_requests_nor_delays_shutdown() {
    // This test holds more sockets than 1,024; the service gets the usual 1,024.
    set_open_files(0, 8_192);
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let mut server = start(&vault, &dir.path().join("data"), Some(TOKEN), &[]);
    server.wait_indexed(Duration::from_secs(240));
    set_open_files(server.child.id() as libc::pid_t, 1_024);

    let started = Instant::now();
    let mut flood = half_sent(server.port, FLOOD);
    let opened = started.elapsed();
    assert!(flood.len() >= FLOOD - 10, "only {} connected", flood.len());

    // While the flood is held open (and keeps coming), real requests are answered.
    for round in 0..3 {
        let t = Instant::now();
        let health = server.get("/health");
        assert_eq!(health.status, 200, "round {round}: {}", health.text());
        let search = server.post(
            "/search",
            &json!({"query": "sleep after flying east", "top_k": 5}),
        );
        let took = t.elapsed();
        assert_eq!(search.status, 200, "round {round}: {}", search.text());
        assert!(!search.json()["hits"].as_array().unwrap().is_empty());
        eprintln!(
            "flood of {} half-sent requests (opened in {opened:?}): /health + /search answered in {took:?}",
            flood.len()
        );
        // Generous: a normal search here takes milliseconds; without the cap it never returned.
        assert!(
            took < Duration::from_secs(10),
            "round {round} took {took:?}"
        );
        flood.extend(half_sent(server.port, 200));
    }
    assert!(server.child_alive(), "{}", server.stderr_text());

    // SIGTERM with the flood still open: idle connections do not hold the shutdown.
    let t = Instant::now();
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(20));
    let took = t.elapsed();
    eprintln!(
        "SIGTERM with {} connections open: exited in {took:?}",
        flood.len()
    );
    assert!(status.success(), "{status:?}: {}", server.stderr_text());
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    drop(flood);
}
