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
    let error = harness.err("create_location", json!({"org_id": ids::ORG, "name": "late"})).await;
    assert_error_code(&error, "DEADLINE_EXCEEDED");
    assert!(error["hint"].as_str().unwrap().contains("--timeout"), "{error}");
    harness.stop().await;
}
