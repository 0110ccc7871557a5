//! JSON-RPC errors by the spec, through the real binary's stdio with raw lines: a line that is not
//! JSON gets Parse error, a request whose id can be read gets its error with that id, `tools/call`
//! with unreadable params gets Invalid params, and a burst of huge bad lines leaves no memory
//! behind.
use crate::common::{BIN, HttpServer};
use serde_json::{Value, json};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The binary on `--sandbox`, spoken to line by line.
struct Raw {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    sent: usize,
}

impl Raw {
    async fn start() -> Self {
        let mut child = Command::new(BIN)
            .arg("--sandbox")
            .env_remove("VIAM_LOCATION_ID")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut raw = Self { child, stdin, stdout, sent: 0 };
        let initialize = json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
        let answers = raw.answers(&initialize.to_string()).await;
        assert_eq!(answers[0]["id"], json!("init"), "{answers:?}");
        raw.answers(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await;
        raw
    }

    /// Sends `line` and then a ping, and returns every message written before the ping's answer.
    async fn answers(&mut self, line: &str) -> Vec<Value> {
        self.sent += 1;
        let marker = format!("marker-{}", self.sent);
        let ping = json!({"jsonrpc": "2.0", "id": marker, "method": "ping"});
        let sent = format!("{line}\n{ping}\n");
        self.stdin.write_all(sent.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        let mut answers = vec![];
        loop {
            let out =
                self.stdout.next_line().await.unwrap().unwrap_or_else(|| panic!("stdout closed after {line:.200}"));
            let message: Value =
                serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is JSON-RPC ({e}): {out}"));
            if message["id"] == json!(marker) {
                return answers;
            }
            answers.push(message);
        }
    }

    /// The server's resident memory, in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id().unwrap())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    }
}

/// The id a client reading `line` would match its answer by: a string or an integer member `id`.
fn readable_id(line: &str) -> Option<Value> {
    let id = serde_json::from_str::<Value>(line).ok()?.get("id")?.clone();
    (id.is_string() || id.is_i64()).then_some(id)
}

/// Messages a client could get wrong: each of a few valid ones with one member changed, dropped,
/// added, or the line cut short or broken by a stray character.
fn fuzzed_lines() -> Vec<String> {
    let bases = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": "list", "method": "tools/list", "params": {}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "list_organizations", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
    ];
    let odd = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!(u64::MAX),
        json!(""),
        json!("1.0"),
        json!([]),
        json!({}),
        json!([1]),
    ];
    let mut lines = vec![];
    for base in &bases {
        let text = base.to_string();
        for member in ["jsonrpc", "id", "method", "params", "result", "error"] {
            for value in &odd {
                let mut changed = base.clone();
                changed[member] = value.clone();
                lines.push(changed.to_string());
            }
            let mut dropped = base.clone();
            dropped.as_object_mut().unwrap().remove(member);
            lines.push(dropped.to_string());
        }
        for value in &odd {
            let mut arguments = base.clone();
            arguments["params"]["arguments"] = value.clone();
            lines.push(arguments.to_string());
        }
        for cut in (1..text.len()).step_by(7) {
            lines.push(text[..cut].to_string());
            lines.push(format!("{}}}{}", &text[..cut], &text[cut..]));
        }
    }
    lines.extend(["not json", "[1]", "[1,2]", "{}", "\"x\"", "42", "{\"id\":7}"].map(String::from));
    lines
}

#[tokio::test]
async fn every_error_carries_the_id_it_can_read_and_parse_errors_are_32700() {
    let mut raw = Raw::start().await;
    let mut refused = 0;
    for line in fuzzed_lines() {
        let answers = raw.answers(&line).await;
        let errors: Vec<&Value> = answers.iter().filter(|a| a.get("error").is_some()).collect();
        refused += errors.len();
        if serde_json::from_str::<Value>(&line).is_err() {
            assert_eq!(errors.len(), 1, "{line}: {answers:?}");
            assert_eq!(errors[0]["error"]["code"], json!(-32700), "{line}: {answers:?}");
            assert_eq!(errors[0].get("id"), Some(&Value::Null), "{line}: {answers:?}");
        }
        let id = readable_id(&line).unwrap_or(Value::Null);
        for error in &errors {
            assert_eq!(error.get("id"), Some(&id), "{line}: {error}");
        }
    }
    assert!(refused > 300, "the fuzz reached the refusals ({refused})");

    let answers = raw.answers(r#"{"jsonrpc":"1.0","id":"x","method":"ping"}"#).await;
    assert_eq!(
        answers,
        [json!({"jsonrpc": "2.0", "id": "x", "error": {"code": -32600, "message": "Invalid request"}})]
    );
    for params in [None, Some(json!({"name": "list_organizations", "arguments": [1]})), Some(json!({"arguments": {}}))]
    {
        let mut call = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call"});
        if let Some(params) = params {
            call["params"] = params;
        }
        let answers = raw.answers(&call.to_string()).await;
        assert_eq!(answers.len(), 1, "{call}: {answers:?}");
        assert_eq!(
            (&answers[0]["id"], &answers[0]["error"]["code"]),
            (&json!(5), &json!(-32602)),
            "{call}: {answers:?}"
        );
    }
}

/// Over HTTP, a body that is not a message gets the same JSON-RPC errors rather than rmcp's
/// plain-text 415.
#[tokio::test]
async fn over_http_a_body_that_is_not_a_message_gets_a_json_rpc_error() {
    let server = HttpServer::start("http://127.0.0.1:9", &["--sandbox"], &[], &[]).await;
    for (body, expected) in [
        ("not json", json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "Parse error"}})),
        (
            r#"{"jsonrpc":"1.0","id":"x","method":"ping"}"#,
            json!({"jsonrpc": "2.0", "id": "x", "error": {"code": -32600, "message": "Invalid request"}}),
        ),
    ] {
        let response = reqwest::Client::new()
            .post(&server.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(answer, expected, "{body}");
    }
}

/// Huge lines that are refused free what reading them took, as a tool call does: memory goes back
/// near idle once the burst is over. (Bytes of RSS, not timings; the bound is generous.)
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_burst_of_huge_bad_lines_leaves_memory_near_idle() {
    let mut raw = Raw::start().await;
    raw.answers(r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let idle = raw.rss();
    let big = "x".repeat(5 << 20);
    let mut peak = idle;
    for i in 0..20 {
        let line = match i % 10 {
            // Deeply built before it is refused: a million-number id.
            0 => format!(r#"{{"jsonrpc":"2.0","id":[{}],"method":"ping"}}"#, ["1"; 1 << 20].join(",")),
            n if n % 2 == 1 => format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"ping","params":"{big}"#),
            _ => format!(r#"{{"jsonrpc":"1.0","id":{i},"method":"ping","params":{{"p":"{big}"}}}}"#),
        };
        let answers = raw.answers(&line).await;
        assert_eq!(answers.len(), 1, "line {i} is answered: {answers:?}");
        peak = peak.max(raw.rss());
    }
    // Before the fix, 24 MB over idle stayed after this burst (idle 36 MB, 60 MB after).
    let bound = idle + (15 << 20);
    let mut after = raw.rss();
    for _ in 0..50 {
        if after <= bound {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = raw.rss();
    }
    let mb = |bytes: u64| bytes as f64 / 1e6;
    eprintln!("VmRSS: idle {:.1} MB, peak {:.1} MB, after {:.1} MB", mb(idle), mb(peak), mb(after));
    assert!(
        after <= bound,
        "RSS {:.1} MB after the burst, idle {:.1} MB (peak {:.1} MB)",
        mb(after),
        mb(idle),
        mb(peak)
    );
}
