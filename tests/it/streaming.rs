//! Long calls: tail_robot_part_logs reports progress and stops promptly on cancellation;
//! `dest` writes files as the SDK does.
use crate::common;

use common::Harness;
use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest, ProgressNotificationParam};
use rmcp::service::{NotificationContext, PeerRequestOptions};
use rmcp::{ClientHandler, RoleClient};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use viam_fleet_mcp::sandbox::{SandboxConfig, ids};

common::over_both_transports!(tail_reports_progress_and_stops_at_max_entries);

#[derive(Clone, Default)]
struct ProgressRecorder(Arc<Mutex<Vec<ProgressNotificationParam>>>);

impl ClientHandler for ProgressRecorder {
    async fn on_progress(&self, params: ProgressNotificationParam, _context: NotificationContext<RoleClient>) {
        self.0.lock().unwrap().push(params);
    }
}

fn fast_tail() -> SandboxConfig {
    SandboxConfig { tail_interval: Duration::from_millis(20), ..SandboxConfig::default() }
}

async fn tail_reports_progress_and_stops_at_max_entries() {
    let recorder = ProgressRecorder::default();
    let harness = Harness::start_client(fast_tail(), &[], recorder.clone()).await;
    let arguments = json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "errors_only": false, "max_entries": 5, "duration_seconds": 20});
    let params =
        CallToolRequestParams::new("tail_robot_part_logs").with_arguments(arguments.as_object().unwrap().clone());
    let result = harness.client.call_tool(params).await.unwrap();
    let out = result.structured_content.unwrap();
    assert_eq!(out["stopped_because"], json!("max_entries"));
    assert_eq!(out["logs"].as_array().unwrap().len(), 5);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let progress = recorder.0.lock().unwrap().clone();
    assert!(!progress.is_empty(), "progress notifications were sent");
    assert_eq!(progress.last().unwrap().total, Some(5.0));
    harness.stop().await;
}

#[tokio::test]
async fn tail_stops_at_the_duration_and_on_cancellation() {
    let harness = Harness::start().await;
    let started = Instant::now();
    let out = harness
        .ok("tail_robot_part_logs", json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "errors_only": true, "max_entries": 10000, "duration_seconds": 1}))
        .await;
    assert_eq!(out["stopped_because"], json!("duration"));
    assert!(started.elapsed() < Duration::from_secs(5));

    let arguments = json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "max_entries": 10000, "duration_seconds": 300});
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new("tail_robot_part_logs").with_arguments(arguments.as_object().unwrap().clone()),
    ));
    let handle = harness.client.send_cancellable_request(request, PeerRequestOptions::no_options()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cancelled_at = Instant::now();
    handle.cancel(Some("test".into())).await.unwrap();
    loop {
        if harness.stderr().contains("stopped_because=\"cancelled\"") {
            break;
        }
        assert!(cancelled_at.elapsed() < Duration::from_secs(3), "the tail did not stop on cancellation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The server is still serving.
    harness.ok("list_organizations", json!({})).await;
    harness.stop().await;
}

#[tokio::test]
async fn dest_writes_the_part_config_and_the_logs_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::start_with(SandboxConfig::default(), &["--allow-dir", dir.path().to_str().unwrap()]).await;
    let config_path = dir.path().join("config.json");
    let out = harness
        .ok("get_robot_part", json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "dest": config_path, "indent": 2}))
        .await;
    let written = std::fs::read_to_string(&config_path).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&written).unwrap();
    // The result says where the config went and carries none of it.
    assert_eq!(out, json!({"path": config_path, "bytes": written.len(), "count": parsed.as_object().unwrap().len()}));
    let part = harness.ok("get_robot_part", json!({"robot_part_id": ids::PART_ROVER_1_MAIN})).await;
    assert_eq!(parsed, part["part"]["robot_config"]);
    assert!(written.contains("\n  \""), "indented by 2: {written}");

    let logs_path = dir.path().join("logs.txt");
    let mut out = harness
        .ok(
            "get_robot_part_logs",
            json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "num_log_entries": 7, "dest": logs_path}),
        )
        .await;
    let lines = std::fs::read_to_string(&logs_path).unwrap();
    assert_eq!(lines.lines().count(), 7);
    // The part has more than 7 entries: the result says so.
    assert!(out.as_object_mut().unwrap().remove("more_entries").is_some_and(|more| more.is_string()), "{out}");
    assert_eq!(out, json!({"path": logs_path, "bytes": lines.len(), "count": 7}));
    assert!(lines.lines().all(|l| l.split('\t').count() == 4), "{lines}");
    harness.stop().await;
}
