//! Regression tests for the defects an outside attack run found (issue 9), each through the real
//! binary: unbounded sizes, cancellation during a confirmation, secrets handed out by accident,
//! the server's own key in errors and logs, lost replies, the journal, pipes, long ids and the
//! audit intent line (in audit.rs) .
use crate::common;

use common::{Harness, assert_error_code};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CancelledNotificationParam, ClientCapabilities, ClientConfig,
    ClientRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ErrorData, Implementation,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RequestContext};
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use viam_fleet_mcp::sandbox::{DEMO_API_KEY, JOURNAL_BYTES, SandboxConfig, ids};

#[tokio::test]
async fn sizes_of_output_are_bounded_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::start_with(SandboxConfig::default(), &["--allow-dir", dir.path().to_str().unwrap()]).await;
    let dest = dir.path().join("config.json");
    for indent in [json!(4_294_967_295u64), json!(1_000_000), json!(-1)] {
        let call = json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "dest": dest, "indent": indent});
        let error = harness.err("get_robot_part", call).await;
        assert_error_code(&error, "invalid_arguments");
        assert!(error["message"].as_str().unwrap().contains("indent"), "{error}");
    }
    for (tool, argument, value) in [
        ("get_robot_part_logs", "num_log_entries", 1_000_000),
        ("tail_robot_part_logs", "max_entries", 1_000_000),
        ("tail_robot_part_logs", "duration_seconds", 100_000),
        ("get_robot_part_history", "page_limit", 1_000_000),
    ] {
        let error = harness.err(tool, json!({"robot_part_id": ids::PART_ROVER_1_MAIN, argument: value})).await;
        assert!(error["message"].as_str().unwrap().contains(argument), "{tool}: {error}");
    }
    assert!(!dest.exists());
    assert!(harness.methods().is_empty(), "nothing was sent: {:?}", harness.methods());
    // The schema says so too.
    let tools = harness.tools().await;
    let indent = &tools.iter().find(|t| t.name == "get_robot_part").unwrap().input_schema["properties"]["indent"];
    assert_eq!(indent["maximum"], json!(16), "{indent}");
    harness.stop().await;
}

/// A person who is slow to answer: the test decides when, and what the client heard meanwhile.
#[derive(Clone, Default)]
struct SlowPerson {
    asked: Arc<Notify>,
    answer_now: Arc<Notify>,
    withdrawn: Arc<Mutex<Vec<CancelledNotificationParam>>>,
}

impl ClientHandler for SlowPerson {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::builder().enable_elicitation().build(), Implementation::new("slow", "1"))
    }

    async fn create_elicitation(
        &self,
        _request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.asked.notify_one();
        self.answer_now.notified().await;
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true})))
    }

    async fn on_cancelled(&self, params: CancelledNotificationParam, _context: NotificationContext<RoleClient>) {
        self.withdrawn.lock().unwrap().push(params);
    }
}

#[tokio::test]
async fn cancelling_a_call_while_a_person_is_asked_runs_nothing() {
    for mode in ["human", "flag"] {
        let person = SlowPerson::default();
        let harness = Harness::start_client(SandboxConfig::default(), &["--confirm", mode], person.clone()).await;
        let arguments = json!({"robot_id": ids::ROBOT_ROVER_1}).as_object().unwrap().clone();
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(
            CallToolRequestParams::new("delete_robot").with_arguments(arguments),
        ));
        let handle = harness.client.send_cancellable_request(request, PeerRequestOptions::no_options()).await.unwrap();
        person.asked.notified().await;
        handle.cancel(Some("the user changed their mind".into())).await.unwrap();
        // The server withdraws its question.
        let started = Instant::now();
        while person.withdrawn.lock().unwrap().is_empty() {
            assert!(started.elapsed() < Duration::from_secs(5), "{mode}: the elicitation was not withdrawn");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A late "accept" executes nothing.
        person.answer_now.notify_one();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!harness.methods().iter().any(|m| m == "DeleteRobot"), "{mode}: deleted after cancellation");
        harness.ok("get_robot", json!({"robot_id": ids::ROBOT_ROVER_1})).await;
        harness.stop().await;
    }
}

#[tokio::test]
async fn a_new_part_secret_is_handed_out_alone() {
    let harness = Harness::start().await;
    let part = json!({"robot_part_id": ids::PART_ARM_MAIN});
    let first = harness.ok("create_robot_part_secret", part.clone()).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = harness.ok("create_robot_part_secret", part.clone()).await;
    let secrets = |result: &Value| -> Vec<(String, String)> {
        result["part"]["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["id"].as_str().unwrap().to_string(), s["secret"].as_str().unwrap().to_string()))
            .collect()
    };
    let visible = |result: &Value| -> Vec<String> {
        secrets(result).into_iter().filter(|(_, s)| !s.starts_with("<redacted")).map(|(id, _)| id).collect()
    };
    let (first_new, second_new) = (visible(&first), visible(&second));
    assert_eq!(first_new.len(), 1, "{first}");
    assert_eq!(second_new.len(), 1, "{second}");
    assert_ne!(first_new, second_new, "the second call shows its own secret, not the first one");
    assert!(secrets(&second).len() >= 2);
    let legacy = second["part"]["secret"].as_str().unwrap_or_default();
    assert!(legacy.is_empty() || legacy.starts_with("<redacted"), "the legacy part secret leaked: {legacy}");
    // The result's note sends the model to a tool that shows only a new secret.
    let note = second["redacted"].as_str().unwrap();
    assert!(note.contains("create_robot_part_secret") && note.contains("only"), "{note}");

    // Likewise a new location secret.
    let location = json!({"location_id": ids::LOCATION_LAB});
    harness.ok("create_location_secret", location.clone()).await;
    let created = harness.ok("create_location_secret", location).await;
    let shown: Vec<&Value> = created["auth"]["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["secret"].as_str().unwrap_or_default().starts_with("<redacted"))
        .collect();
    assert_eq!(shown.len(), 1, "{created}");
    harness.stop().await;
}

#[tokio::test]
async fn the_servers_own_key_never_comes_back_from_an_argument() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let harness = Harness::start_with(SandboxConfig::default(), &["--audit-log", log.to_str().unwrap()]).await;
    let calls = [
        ("get_robot", json!({"robot_id": DEMO_API_KEY})),
        ("delete_robot", json!({"robot_id": DEMO_API_KEY})),
        ("delete_robot", json!({"robot_id": DEMO_API_KEY, "confirm": true})),
        ("create_location", json!({"org_id": ids::ORG, "name": DEMO_API_KEY})),
        ("get_user_id_by_email", json!({"email": format!("{DEMO_API_KEY}@example.com")})),
        ("update_robot", json!({"robot_id": ids::ROBOT_ARM, "name": DEMO_API_KEY, "location_id": DEMO_API_KEY})),
        // As a config member's name: stored, then read back.
        (
            "update_robot_part",
            json!({"robot_part_id": ids::PART_ROVER_1_LIDAR, "name": "rover-1-lidar",
                "robot_config": {"attributes": {"allowed": {DEMO_API_KEY: "admin"}}}, "confirm": true}),
        ),
        ("get_robot_part", json!({"robot_part_id": ids::PART_ROVER_1_LIDAR})),
    ];
    for (tool, arguments) in calls {
        let result = harness.call(tool, arguments).await;
        let text = serde_json::to_string(&result).unwrap();
        assert!(!text.contains(DEMO_API_KEY), "{tool} returned the server's key: {text}");
    }
    let audit = std::fs::read_to_string(&log).unwrap();
    assert!(!audit.is_empty() && !audit.contains(DEMO_API_KEY), "{audit}");
    assert!(!harness.stderr().contains(DEMO_API_KEY));
    harness.stop().await;
}

#[tokio::test]
async fn trace_logging_carries_no_secret_and_payloads_only_redacted_on_request() {
    for extra in [&[][..], &["--log-payloads"][..]] {
        let harness = Harness::start_env(SandboxConfig::default(), extra, &[("RUST_LOG", "trace")]).await;
        let auth = harness.ok("location_auth", json!({"location_id": ids::LOCATION_LAB})).await;
        let location_secret = auth["auth"]["secrets"][0]["secret"].as_str().unwrap().to_string();
        let key = harness
            .ok(
                "create_key",
                json!({"org_id": ids::ORG, "name": "ci", "authorizations": [
                {"role": "operator", "resource_type": "location", "resource_id": ids::LOCATION_LAB}]}),
            )
            .await["key"]
            .as_str()
            .unwrap()
            .to_string();
        let part = harness.ok("get_robot_part", json!({"robot_part_id": ids::PART_ROVER_1_MAIN})).await;
        harness.call("get_robot", json!({"robot_id": DEMO_API_KEY})).await;
        let stderr = harness.stderr();
        assert!(stderr.contains("TRACE") || stderr.contains("DEBUG"), "trace logging is on");
        for secret in [location_secret.as_str(), key.as_str(), DEMO_API_KEY] {
            assert!(!stderr.contains(secret), "{extra:?}: {secret} is in the log");
        }
        assert!(!part.to_string().is_empty());
        if extra.is_empty() {
            assert!(!stderr.contains("tool call result"), "payloads are logged only with --log-payloads");
        } else {
            assert!(stderr.contains("tool call result") && stderr.contains("<redacted"), "redacted payloads");
        }
        harness.stop().await;
    }
}

#[tokio::test]
async fn the_sandbox_journal_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("module.tar.gz");
    std::fs::write(&file, vec![7u8; 1 << 20]).unwrap();
    let harness = Harness::start_with(SandboxConfig::default(), &["--allow-dir", dir.path().to_str().unwrap()]).await;
    for i in 0..24 {
        let info = json!({"module_id": ids::MODULE_ID, "version": format!("1.0.{i}"), "platform": "linux/amd64"});
        harness.ok("upload_module_file", json!({"module_file_info": info, "file_path": file})).await;
    }
    let held = harness.sandbox.journal_bytes();
    assert!(held <= JOURNAL_BYTES, "the journal holds {held} bytes");
    assert!(held > JOURNAL_BYTES / 2, "it still holds the recent requests");
    harness.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_named_pipe_is_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("module.tar.gz");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let harness = Harness::start_with(SandboxConfig::default(), &["--allow-dir", dir.path().to_str().unwrap()]).await;
    let info = json!({"module_id": ids::MODULE_ID, "version": "9.9.9", "platform": "linux/amd64"});
    let call = harness.err("upload_module_file", json!({"module_file_info": info, "file_path": fifo}));
    let error = tokio::time::timeout(Duration::from_secs(10), call).await.expect("the call returned");
    assert_error_code(&error, "invalid_arguments");
    assert!(error["message"].as_str().unwrap().contains("not a regular file"), "{error}");
    harness.ok("list_organizations", json!({})).await;
    harness.stop().await;
}

#[tokio::test]
async fn very_long_ids_and_names_get_a_clear_error() {
    let harness = Harness::start().await;
    let long = "r".repeat(1 << 20);
    let error = harness.err("get_robot", json!({"robot_id": long})).await;
    assert_error_code(&error, "invalid_arguments");
    assert!(error["message"].as_str().unwrap().contains("robot_id"), "{error}");
    assert!(harness.methods().is_empty());
    // Text that is not an id still reaches the service, whose answer does not echo all of it.
    let error = harness.err("get_user_id_by_email", json!({"email": format!("{long}@example.com")})).await;
    assert_ne!(error["error"], "RESOURCE_EXHAUSTED", "{}", &error.to_string()[..200]);
    assert!(error.to_string().len() < 4096);
    harness.stop().await;
}
