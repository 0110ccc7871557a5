//! The audit log through the real binary: one fsync'd JSON line per call that is not a read,
//! with the confirmation and the gRPC status, never the server's API key, and a torn last line
//! from a crash healed on the next start.
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
fn entries(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "the last line is complete: {text:?}");
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"))).collect()
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
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(format!("{}\n", lines[0]), earlier, "earlier lines are kept");
    assert!(serde_json::from_str::<Value>(lines[1]).is_err(), "the torn line stays on its own");
    let entry: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(entry["arguments"]["name"], "after-crash");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let fresh = dir.path().join("fresh.jsonl");
        let harness = audited(&fresh).await;
        harness.stop().await;
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
