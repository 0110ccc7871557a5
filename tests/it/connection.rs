//! The connection's policies against a faulty sandbox: reads are retried on UNAVAILABLE, writes
//! never are, and the per-call deadline comes from --timeout.
use crate::common;

use common::{Harness, assert_error_code};
use serde_json::json;
use std::time::Duration;
use viam_fleet_mcp::sandbox::{SandboxConfig, ids};

#[tokio::test]
async fn reads_are_retried_and_writes_are_not() {
    let always_down = SandboxConfig { failure_rate: 1.0, ..SandboxConfig::default() };
    let harness = Harness::start_with(always_down, &[]).await;
    let read = harness.err("list_organizations", json!({})).await;
    assert_error_code(&read, "UNAVAILABLE");
    assert!(read["hint"].as_str().unwrap().contains("can't be reached"), "{read}");
    let write = harness.err("create_location", json!({"org_id": ids::ORG, "name": "x"})).await;
    assert_error_code(&write, "UNAVAILABLE");
    let stderr = harness.stderr();
    let retries = |method: &str| stderr.lines().filter(|l| l.contains("retrying") && l.contains(method)).count();
    assert_eq!(retries("ListOrganizations"), 3, "{stderr}");
    assert_eq!(retries("CreateLocation"), 0, "{stderr}");
    harness.stop().await;

    let flaky = SandboxConfig { failure_rate: 0.3, ..SandboxConfig::default() };
    let harness = Harness::start_with(flaky, &[]).await;
    for _ in 0..10 {
        harness.ok("list_locations", json!({"org_id": ids::ORG})).await;
    }
    assert!(harness.stderr().contains("retrying"), "some reads needed a retry");
    harness.stop().await;
}

#[tokio::test]
async fn the_deadline_comes_from_timeout() {
    let slow = SandboxConfig { latency: Duration::from_millis(2500), ..SandboxConfig::default() };
    let harness = Harness::start_with(slow, &["--timeout", "1"]).await;
    let error = harness.err("get_location", json!({"location_id": ids::LOCATION_LAB})).await;
    assert_error_code(&error, "DEADLINE_EXCEEDED");
    assert!(error["hint"].as_str().unwrap().contains("--timeout"), "{error}");
    harness.stop().await;
}

/// A write whose answer never arrives may still have been applied: the model is told the outcome
/// is unknown and which read tells, and nothing retries it.
#[tokio::test]
async fn a_write_whose_reply_is_lost_has_an_unknown_outcome() {
    let lossy = SandboxConfig { reply_delay: Duration::from_millis(2500), ..SandboxConfig::default() };
    let harness = Harness::start_with(lossy, &["--timeout", "1"]).await;
    let error = harness.err("delete_robot", json!({"robot_id": ids::ROBOT_ROVER_2, "confirm": true})).await;
    assert_error_code(&error, "outcome_unknown");
    assert_eq!(error["verify_with"], "get_robot", "{error}");
    assert!(error["hint"].as_str().unwrap().contains("get_robot"), "{error}");
    // It had in fact been applied, exactly once.
    let gone = harness.err("get_robot", json!({"robot_id": ids::ROBOT_ROVER_2})).await;
    assert_error_code(&gone, "NOT_FOUND");
    assert_eq!(harness.methods().iter().filter(|m| *m == "DeleteRobot").count(), 1);
    harness.stop().await;
}
