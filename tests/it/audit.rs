//! The audit log through the real binary: for each call that is not a read, an `intent` line
//! before its RPC and an `outcome` line after (a refused call leaves only the outcome), with the
//! confirmation and the gRPC status, never the server's API key; a log that cannot be written
//! refuses the call; a torn last line from a crash is healed on the next start.
use crate::common;

use common::Harness;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use std::path::Path;
use viam_fleet_mcp::sandbox::{DEMO_API_KEY, SandboxConfig, ids};

common::over_both_transports!(non_read_calls_are_audited_once_each_and_reads_never);

async fn audited(log: &Path) -> Harness {
    Harness::start_with(SandboxConfig::default(), &["--audit-log", log.to_str().unwrap()]).await
}

/// Every line of the log, each of which must be one JSON object.
fn lines(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "the last line is complete: {text:?}");
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"))).collect()
}

/// The outcome line of each call, in order; every call that was sent has its intent line earlier.
fn entries(log: &Path) -> Vec<Value> {
    let all = lines(log);
    let outcomes: Vec<Value> = all.iter().filter(|l| l["phase"] == "outcome").cloned().collect();
    for (i, line) in all.iter().enumerate().filter(|(_, l)| l["phase"] == "intent") {
        let outcome = all[i..].iter().find(|l| l["phase"] == "outcome" && l["call"] == line["call"]);
        assert!(outcome.is_some_and(|o| o["arguments"] == line["arguments"]), "no outcome for {line}");
    }
    outcomes
}

/// The calls that got as far as their RPC.
fn intents(log: &Path) -> Vec<String> {
    lines(log).iter().filter(|l| l["phase"] == "intent").map(|l| l["tool"].as_str().unwrap().to_string()).collect()
}

async fn non_read_calls_are_audited_once_each_and_reads_never() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let harness = audited(&log).await;
    harness.ok("list_organizations", json!({})).await;
    harness.ok("get_robot", json!({"robot_id": ids::ROBOT_ROVER_1})).await;
    assert!(entries(&log).is_empty(), "reads are not audited");

    harness.ok("create_location", json!({"org_id": ids::ORG, "name": "annex"})).await;
    harness
        .ok(
            "update_robot",
            json!({"robot_id": ids::ROBOT_ROVER_1, "name": "rover-one", "location_id": ids::LOCATION_WAREHOUSE}),
        )
        .await;
    harness.ok("mark_part_for_restart", json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "confirm": true})).await;
    let lines = entries(&log);
    let tools: Vec<&str> = lines.iter().map(|l| l["tool"].as_str().unwrap()).collect();
    assert_eq!(tools, ["create_location", "update_robot", "mark_part_for_restart"]);
    let risks: Vec<&str> = lines.iter().map(|l| l["risk"].as_str().unwrap()).collect();
    assert_eq!(risks, ["additive", "mutating", "destructive"]);
    for line in &lines {
        for field in ["time", "tool", "risk", "arguments", "confirmation", "status", "duration_ms"] {
            assert!(line.get(field).is_some(), "{field} missing in {line}");
        }
        assert_eq!(line["status"], "OK", "{line}");
        assert!(chrono::DateTime::parse_from_rfc3339(line["time"].as_str().unwrap()).is_ok(), "{line}");
        assert!(line["duration_ms"].is_u64(), "{line}");
    }
    assert_eq!(lines[0]["arguments"], json!({"org_id": ids::ORG, "name": "annex"}));
    assert_eq!(lines[0]["confirmation"], Value::Null);
    assert_eq!(lines[2]["confirmation"], json!({"method": "flag", "outcome": "accepted"}));
    assert!(lines[2]["arguments"].get("confirm").is_none(), "confirm is recorded as the confirmation");

    // Concurrent calls each leave one whole line.
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..8 {
        let peer = harness.client.peer().clone();
        let arguments = json!({"org_id": ids::ORG, "name": format!("site-{i}")}).as_object().cloned().unwrap();
        calls.spawn(async move {
            peer.call_tool(CallToolRequestParams::new("create_location").with_arguments(arguments)).await.unwrap()
        });
    }
    while let Some(done) = calls.join_next().await {
        assert_ne!(done.unwrap().is_error, Some(true));
    }
    let lines = entries(&log);
    assert_eq!(lines.len(), 11);
    let mut names: Vec<&str> = lines[3..].iter().map(|l| l["arguments"]["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, (0..8).map(|i| format!("site-{i}")).collect::<Vec<_>>());
    harness.stop().await;
}

#[tokio::test]
async fn refusals_and_failures_are_audited_with_their_status() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let harness = audited(&log).await;
    harness.err("delete_robot", json!({"robot_id": ids::ROBOT_ROVER_1})).await;
    harness.err("delete_location", json!({"location_id": ids::LOCATION_WAREHOUSE, "confirm": true})).await;
    harness.err("create_location", json!({"org_id": ids::ORG, "name": ""})).await;
    harness
        .err("update_robot", json!({"robot_id": "no-such-robot", "name": "x", "location_id": ids::LOCATION_LAB}))
        .await;
    let lines = entries(&log);
    let statuses: Vec<(&str, &str)> =
        lines.iter().map(|l| (l["tool"].as_str().unwrap(), l["status"].as_str().unwrap())).collect();
    assert_eq!(
        statuses,
        [
            ("delete_robot", "confirmation_required"),
            ("delete_location", "FAILED_PRECONDITION"),
            ("create_location", "INVALID_ARGUMENT"),
            ("update_robot", "NOT_FOUND"),
        ]
    );
    assert!(!harness.methods().iter().any(|m| m == "DeleteRobot"));
    // Invalid arguments and a missing confirmation stop before the RPC: no intent line.
    assert_eq!(intents(&log), ["delete_location", "create_location", "update_robot"]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(DEMO_API_KEY), "the server's API key is in the audit log");
    assert!(!harness.stderr().contains(DEMO_API_KEY));
    harness.stop().await;
}

#[tokio::test]
async fn a_torn_last_line_is_healed_on_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let earlier = "{\"time\":\"2026-01-01T00:00:00.000Z\",\"tool\":\"create_location\"}\n";
    std::fs::write(&log, format!("{earlier}{{\"time\":\"2026-01-01T00:00:01")).unwrap();
    let harness = audited(&log).await;
    harness.ok("create_location", json!({"org_id": ids::ORG, "name": "after-crash"})).await;
    harness.stop().await;
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(format!("{}\n", lines[0]), earlier, "earlier lines are kept");
    assert!(serde_json::from_str::<Value>(lines[1]).is_err(), "the torn line stays on its own");
    for (line, phase) in lines[2..].iter().zip(["intent", "outcome"]) {
        let entry: Value = serde_json::from_str(line).unwrap();
        assert_eq!((entry["phase"].as_str(), entry["arguments"]["name"].as_str()), (Some(phase), Some("after-crash")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let fresh = dir.path().join("fresh.jsonl");
        let harness = audited(&fresh).await;
        harness.stop().await;
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

/// An audit log that cannot take the intent line refuses the call: nothing is sent.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_log_that_cannot_be_written_refuses_the_call() {
    let harness = audited(Path::new("/dev/full")).await;
    let refused = harness.err("create_location", json!({"org_id": ids::ORG, "name": "unlogged"})).await;
    assert_eq!(refused["error"], "local_error");
    assert!(refused["message"].as_str().unwrap().contains("audit log"), "{refused}");
    assert!(!harness.methods().iter().any(|m| m == "CreateLocation"), "the write was sent");
    // Reads are not audited, so they still work.
    harness.ok("list_organizations", json!({})).await;
    harness.stop().await;
}
