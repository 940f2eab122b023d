//! Ask your vault, end to end over sockets: the real binary, a real index, and a real model
//! (SmolLM2-135M-Instruct behind llama.cpp's OpenAI-compatible server), with a recording proxy
//! between them that shows which questions reached the model and when their requests closed.

use crate::support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::llm::{EventStream, Llama, Proxy, MODEL};
use support::{fixture_vault, model_args};

const TOKEN: &str = "ask-t0ken";
const KEY: &str = "llm-key-123";

/// The sent passages' numbers and paths, from a `retrieval` event or a final answer.
fn passages(v: &Value) -> Vec<(u64, String)> {
    v["passages"]
        .as_array()
        .unwrap_or_else(|| panic!("no passages: {v}"))
        .iter()
        .map(|p| {
            (
                p["n"].as_u64().unwrap(),
                p["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A successful command's standard output, as JSON.
fn stdout_json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every citation names a passage that was sent, with that passage's note.
fn assert_citations_grounded(done: &Value, sent: &[(u64, String)]) {
    for c in done["citations"].as_array().unwrap() {
        let n = c["n"].as_u64().unwrap();
        let passage = sent.iter().find(|(m, _)| *m == n);
        assert!(
            passage.is_some(),
            "citation [{n}] names no sent passage: {done}"
        );
        assert_eq!(c["path"], passage.unwrap().1.as_str(), "{done}");
        assert!(c["line"].as_u64().unwrap() >= 1);
        let link = c["link"].as_str().unwrap();
        let stem = passage.unwrap().1.trim_end_matches(".md");
        assert!(
            link.starts_with(&format!("[[{stem}")) && link.ends_with("]]"),
            "{done}"
        );
    }
    let markers: BTreeSet<u64> = done["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["n"].as_u64().unwrap())
        .collect();
    for n in markers {
        assert!(
            done["answer"].as_str().unwrap().contains(&format!("{n}]")),
            "a citation comes from a marker in the answer: {done}"
        );
    }
}

#[test]
fn ask_streams_a_grounded_answer_from_a_real_model_and_stops_it_on_cancel() {
    let llama = Llama::start(Some(KEY));
    let proxy = Proxy::start(llama.port);
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let data = dir.path().join("data");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vault-rag"));
    cmd.arg("serve")
        .arg("--vault")
        .arg(&vault)
        .arg("--data-dir")
        .arg(&data)
        .args(model_args())
        .args(["--llm-url", &proxy.url(), "--llm-model", MODEL])
        .args(["--llm-max-tokens", "48", "--llm-temperature", "0"])
        .env(vault_rag_ask::API_KEY_ENV, KEY)
        .env("VAULT_RAG_TOKEN", TOKEN)
        .env("VAULT_RAG_LOG", "debug");
    let server = support::start_command(cmd, Some(TOKEN));
    server.wait_indexed(Duration::from_secs(240));
    let ask = |body: Value| EventStream::post(server.port, Some(TOKEN), "/ask", &body);

    // An answer streams: the passages first, then the model's tokens, then the final object.
    let stream = ask(json!({ "question": "How often should I feed the sourdough starter?" }));
    assert_eq!(stream.status, 200, "{} {}", stream.head, stream.body);
    assert!(stream
        .head
        .to_ascii_lowercase()
        .contains("text/event-stream"));
    let events = stream.collect();
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"retrieval"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{events:?}");
    assert!(
        names[1..names.len() - 1].iter().all(|n| *n == "token") && names.len() > 3,
        "{names:?}"
    );
    let retrieval = &events[0].data;
    let sent = passages(retrieval);
    assert_eq!(retrieval["found"], true, "{retrieval}");
    assert_eq!(sent[0].1, "Cooking/Sourdough.md", "{retrieval}");
    let done = &events.last().unwrap().data;
    assert_eq!(done["model_called"], true, "{done}");
    assert_eq!(done["model"], MODEL, "{done}");
    let streamed: String = events[1..events.len() - 1]
        .iter()
        .map(|e| e.data["text"].as_str().unwrap())
        .collect();
    assert!(!streamed.trim().is_empty(), "{done}");
    assert_eq!(
        passages(done),
        sent,
        "the final object lists the passages that were sent"
    );
    assert_citations_grounded(done, &sent);
    eprintln!(
        "answer: {}\ncitations: {}",
        done["answer"], done["citations"]
    );
    let reached = proxy.connections();
    assert_eq!(reached.len(), 1, "one model request per question");
    assert!(
        reached[0]
            .request_head
            .starts_with("POST /v1/chat/completions "),
        "{:?}",
        reached[0]
    );
    assert!(
        reached[0].request_head.contains(&format!("Bearer {KEY}")),
        "the key from the environment is sent"
    );

    // Not in the notes: said without asking the model.
    for stream in [true, false] {
        let absent = ask(
            json!({ "question": "What is the boiling point of liquid nitrogen?", "stream": stream }),
        );
        assert_eq!(absent.status, 200, "{}", absent.body);
        let done = if stream {
            let events = absent.collect();
            let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(names.first(), Some(&"retrieval"));
            assert_eq!(names.last(), Some(&"done"));
            events.last().unwrap().data.clone()
        } else {
            serde_json::from_str(&absent.body).unwrap()
        };
        assert_eq!(done["found"], false, "{done}");
        assert_eq!(done["model_called"], false, "{done}");
        assert_eq!(done["answer"], vault_rag_ask::NOTHING_FOUND);
        assert!(done["citations"].as_array().unwrap().is_empty());
    }
    assert_eq!(
        proxy.connections().len(),
        1,
        "no model request for an absent answer"
    );

    // Cancel: the client leaves after the first token; vault-rag closes the model request
    // before the model's stream is through.
    let before = proxy.connections().len();
    proxy.set_delay(Duration::from_millis(100));
    let mut stream = ask(json!({
        "question": "Explain in detail how to feed the sourdough starter and how to bake the bread.",
        "llm": { "max_tokens": 400 }
    }));
    assert_eq!(stream.status, 200, "{}", stream.body);
    let mut saw_token = false;
    while let Some(event) = stream.next_event() {
        assert_ne!(
            event.name, "done",
            "the answer ended before the client left: {event:?}"
        );
        if event.name == "token" {
            saw_token = true;
            break;
        }
    }
    assert!(saw_token);
    drop(stream);
    let left = Instant::now();
    let closed = loop {
        let all = proxy.connections();
        assert_eq!(all.len(), before + 1, "{all:?}");
        if let Some(at) = all[before].client_closed {
            break (at, all[before].model_done);
        }
        assert!(
            left.elapsed() < Duration::from_secs(20),
            "the model request was still open 20 s after the client left"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        closed.1.is_none_or(|done| done > closed.0),
        "vault-rag closed the model request before the model finished"
    );
    eprintln!(
        "cancel: model request closed {} ms after the client left",
        closed.0.saturating_duration_since(left).as_millis()
    );
    proxy.set_delay(Duration::ZERO);

    // Endpoint errors are clear, with stable codes, and the service keeps serving.
    let question = "How often should I feed the sourdough starter?";
    let unreachable = format!("http://127.0.0.1:{}/v1", support::llm::free_port());
    for (llm, status, code) in [
        (json!({ "base_url": unreachable }), 502, "llm_unreachable"),
        (
            json!({ "api_key": "s3cr3t-wr0ng" }),
            502,
            "llm_unauthorized",
        ),
        (
            json!({ "base_url": "ftp://example.org/v1" }),
            400,
            "llm_bad_url",
        ),
    ] {
        let reply = server.post(
            "/ask",
            &json!({ "question": question, "llm": llm, "stream": false }),
        );
        assert_eq!(reply.status, status, "{llm}: {}", reply.text());
        assert_eq!(reply.code(), code, "{}", reply.text());
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            !message.contains("s3cr3t"),
            "the key is never repeated: {message}"
        );
        // Streamed, the same failure arrives as an `error` event after the passages.
        if status == 502 {
            let events = ask(json!({ "question": question, "llm": llm })).collect();
            let last = events.last().unwrap();
            assert_eq!(last.name, "error", "{events:?}");
            assert_eq!(last.data["error"]["code"], code);
        }
    }
    let log = server.stderr_text();
    assert!(
        !log.contains(KEY) && !log.contains("s3cr3t"),
        "keys are never logged"
    );
    for (body, field) in [
        (json!({ "question": "" }), "question"),
        (
            json!({ "question": "bread", "budget_tokens": 5 }),
            "budget_tokens",
        ),
        (
            json!({ "question": "bread", "history": [{ "role": "system", "content": "x" }] }),
            "history",
        ),
    ] {
        let reply = server.post("/ask", &body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.text());
        assert!(reply.text().contains(field), "{body}: {}", reply.text());
    }

    // A follow-up is searched together with the earlier question.
    let follow = server.post(
        "/ask",
        &json!({
            "question": "And what about the baking?",
            "history": [
                { "role": "user", "content": "How do I keep my sourdough starter alive?" },
                { "role": "assistant", "content": "Feed it every day [1]." }
            ],
            "stream": false
        }),
    );
    assert_eq!(follow.status, 200, "{}", follow.text());
    let follow = follow.json();
    assert_eq!(
        follow["passages"][0]["path"], "Cooking/Sourdough.md",
        "{follow}"
    );
    assert!(
        follow["passages"][0]["heading_path"]
            .to_string()
            .contains("Baking")
            || follow["passages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["text"].as_str().unwrap().contains("Dutch")),
        "{follow}"
    );

    // Agents' token does not open /ask (it sends notes to a model of the caller's choosing).
    let agent_token = std::fs::read_to_string(data.join("agent-token")).unwrap();
    let refused = EventStream::post(
        server.port,
        Some(agent_token.trim()),
        "/ask",
        &json!({ "question": question }),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("forbidden_for_agents"),
        "{}",
        refused.body
    );
}

#[test]
fn ask_on_the_command_line_streams_then_lists_sources_and_says_how_to_set_up_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let vault = fixture_vault(dir.path());
    let data = dir.path().join("data");
    let ask = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vault-rag"));
        cmd.arg("ask")
            .arg(&vault)
            .arg("--data-dir")
            .arg(&data)
            .args(extra)
            .args(model_args())
            .env_remove("VAULT_RAG_LLM_URL")
            .env_remove("VAULT_RAG_LLM_MODEL")
            .env("VAULT_RAG_LOG", "warn");
        cmd.output().unwrap()
    };

    // No endpoint: a message that says how to set one up, before any model loads.
    let out = ask(&["How often should I feed the sourdough starter?"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--llm-url") && err.contains("11434"), "{err}");
    assert!(!data.exists(), "nothing was indexed: {err}");

    // The passages alone need no model.
    let out = ask(&[
        "--context-only",
        "--json",
        "How often should I feed the sourdough starter?",
    ]);
    let context = stdout_json(&out);
    assert_eq!(
        context["passages"][0]["path"], "Cooking/Sourdough.md",
        "{context}"
    );

    let llama = Llama::start(None);
    let url = llama.url();
    let with_model = |extra: &[&str]| {
        let args = [
            &[
                "--llm-url",
                url.as_str(),
                "--llm-model",
                MODEL,
                "--llm-max-tokens",
                "40",
                "--llm-temperature",
                "0",
            ],
            extra,
        ]
        .concat();
        ask(&args)
    };
    let out = with_model(&["--json", "How often should I feed the sourdough starter?"]);
    let answer = stdout_json(&out);
    assert_eq!(answer["model_called"], true, "{answer}");
    assert_eq!(answer["passages"][0]["path"], "Cooking/Sourdough.md");
    assert_citations_grounded(&answer, &passages(&answer));

    let out = with_model(&["How often should I feed the sourdough starter?"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim().len() > 10, "the answer is printed: {text}");

    let out = with_model(&["What is the boiling point of liquid nitrogen?"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(vault_rag_ask::NOTHING_FOUND), "{text}");

    // The harness that measures it: `eval --ask` on written questions, with the same model.
    let questions = dir.path().join("questions.tsv");
    std::fs::write(
        &questions,
        "# note\theading\tquestion\tanswer contains\n\
         Cooking/Sourdough.md\t\tHow often should I feed the sourdough starter?\tevery day\n\
         Garden/Tomatoes.md\tPests\tWhich insects gather under the tomato leaves?\taphids\n\
         -\t\tWhat is the boiling point of liquid nitrogen?\t\n",
    )
    .unwrap();
    let eval = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vault-rag"))
            .args(["eval", "--ask"])
            .arg(&questions)
            .arg("--vault")
            .arg(&vault)
            .arg("--data-dir")
            .arg(&data)
            .args(model_args())
            .args(extra)
            .env("VAULT_RAG_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = eval(&[
        "--json",
        "--llm-url",
        url.as_str(),
        "--llm-model",
        MODEL,
        "--llm-max-tokens",
        "40",
    ]);
    let report = stdout_json(&out);
    assert_eq!(
        (report["questions"].as_u64(), report["answerable"].as_u64()),
        (Some(3), Some(2)),
        "{report}"
    );
    assert_eq!(report["note_recall"], 1.0, "{report}");
    assert_eq!(report["heading_recall"], 1.0, "{report}");
    assert_eq!(report["refused_when_unanswerable"], 1.0, "{report}");
    assert_eq!(report["model"], MODEL);
    let precision = report["citation_precision"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&precision), "{report}");
    assert_eq!(report["outcomes"][0]["model_called"], true, "{report}");
    assert_eq!(
        report["outcomes"][2]["model_called"], false,
        "no model call for the absent question: {report}"
    );
    std::fs::write(&questions, "Cooking/Sourdough.md\tonly three\tfields\n").unwrap();
    let out = eval(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("questions.tsv:1") && err.contains("4 fields"),
        "{err}"
    );

    let out = ask(&[
        "--llm-url",
        "http://127.0.0.1:9/v1",
        "--llm-model",
        MODEL,
        "How often should I feed the sourdough starter?",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("127.0.0.1:9"),
        "the error names the endpoint: {err}"
    );
}
