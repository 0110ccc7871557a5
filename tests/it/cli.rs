//! The command line: `call` through the same dispatch path (exit codes, JSON on stdout),
//! `--sandbox-state` persisting across processes, and `sandbox --listen` serving on its own.
use crate::common;

use common::BIN;
use serde_json::{Value, json};
use std::process::{Command, Output, Stdio};
use viam_fleet_mcp::sandbox::{DEMO_API_KEY, DEMO_API_KEY_ID, ids};

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("VIAM_LOCATION_ID").output().unwrap()
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("stdout is JSON: {output:?}"))
}

#[test]
fn call_prints_the_result_and_exits_1_on_a_tool_error() {
    let ok = run(&["--sandbox", "call", "get_robot", &json!({"robot_id": ids::ROBOT_ARM}).to_string()]);
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(stdout_json(&ok)["robot"]["name"], json!("arm-station"));

    let failed = run(&["--sandbox", "call", "get_robot", r#"{"robot_id": "nope"}"#]);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(stdout_json(&failed)["error"], json!("NOT_FOUND"));

    let unknown = run(&["--sandbox", "call", "get_robots"]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains(r#"unknown tool "get_robots"; did you mean "get_robot"?"#), "{stderr}");
}

#[test]
fn calls_run_on_worker_threads_when_asked_and_a_bad_count_is_refused() {
    let arguments = json!({"robot_part_id": ids::PART_ROVER_1_MAIN}).to_string();
    let ok = run(&["--sandbox", "--worker-threads", "2", "call", "get_robot_part", &arguments]);
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(stdout_json(&ok)["part"]["id"], json!(ids::PART_ROVER_1_MAIN));

    let refused = run(&["--sandbox", "--worker-threads", "65", "call", "get_robot_part", &arguments]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--worker-threads"), "{refused:?}");
}

#[test]
fn sandbox_state_survives_between_processes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fleet.json");
    let state = state.to_str().unwrap();
    let created = run(&[
        "--sandbox",
        "--sandbox-state",
        state,
        "call",
        "create_location",
        &json!({"org_id": ids::ORG, "name": "Depot"}).to_string(),
    ]);
    assert!(created.status.success(), "{created:?}");
    let id = stdout_json(&created)["location"]["id"].as_str().unwrap().to_string();

    let listed = run(&[
        "--sandbox",
        "--sandbox-state",
        state,
        "call",
        "list_locations",
        &json!({"org_id": ids::ORG}).to_string(),
    ]);
    assert!(stdout_json(&listed)["locations"].to_string().contains(&id), "the new location is still there");
    let fresh = run(&["--sandbox", "call", "list_locations", &json!({"org_id": ids::ORG}).to_string()]);
    assert!(!stdout_json(&fresh)["locations"].to_string().contains(&id), "without the file, the seed is fresh");
}

#[tokio::test]
async fn the_standalone_sandbox_prints_its_key_and_serves() {
    use tokio::io::AsyncBufReadExt;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = tokio::process::Command::new(BIN)
        .args(["sandbox", "--listen", &listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("VIAM_API_KEY=") {
            break;
        }
    }
    assert!(
        printed.contains(&format!("VIAM_API_KEY_ID={DEMO_API_KEY_ID}")) && printed.contains(DEMO_API_KEY),
        "{printed}"
    );

    let output = tokio::process::Command::new(BIN)
        .args(["call", "list_organizations"])
        .env("VIAM_APP_URL", format!("http://{listen}"))
        .env("VIAM_API_KEY_ID", DEMO_API_KEY_ID)
        .env("VIAM_API_KEY", DEMO_API_KEY)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout_json(&output)["organizations"][0]["id"], json!(ids::ORG));
    server.kill().await.unwrap();
}

/// `call` dispatches as the server does: a tool a filter hides is refused, saying which filter,
/// and nothing changes (the machine is still there for a later process reading the same state).
#[test]
fn call_refuses_a_tool_the_filters_hide_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fleet.json");
    let state = state.to_str().unwrap();
    let delete = json!({"robot_id": ids::ROBOT_ROVER_1, "confirm": true}).to_string();
    for (filter, tool, arguments) in [
        (&["--read-only"][..], "delete_robot", delete.as_str()),
        (&["--exclude-tools", "delete_robot"], "delete_robot", &delete),
        (&["--no-destructive"], "delete_robot", &delete),
        (&["--toolsets", "machines"], "list_organizations", "{}"),
    ] {
        let mut args = vec!["--sandbox", "--sandbox-state", state];
        args.extend(filter);
        args.extend(["call", tool, arguments]);
        let refused = run(&args);
        assert_eq!(refused.status.code(), Some(2), "{filter:?}: {refused:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(&format!("{tool:?} is filtered out by {}", filter[0])), "{filter:?}: {stderr}");
        assert!(refused.stdout.is_empty(), "{filter:?}: {refused:?}");
    }
    let read = run(&[
        "--sandbox",
        "--sandbox-state",
        state,
        "call",
        "get_robot",
        &json!({"robot_id": ids::ROBOT_ROVER_1}).to_string(),
    ]);
    assert!(read.status.success(), "the machine is still there: {read:?}");
    assert_eq!(stdout_json(&read)["robot"]["id"], json!(ids::ROBOT_ROVER_1));
}

/// A misspelled filter name stops `call` as it stops `serve` and `tools`.
#[test]
fn call_refuses_a_misspelled_filter_name_with_a_suggestion() {
    for (flag, value, suggestion) in [
        ("--exclude-tools", "delete_robots", "delete_robot"),
        ("--tools", "list_robot", "list_robots"),
        ("--toolsets", "machine", "machines"),
    ] {
        let output = run(&["--sandbox", flag, value, "call", "list_robots", "{}"]);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("{flag}: unknown")) && stderr.contains(&format!("did you mean \"{suggestion}\"")),
            "{stderr}"
        );
        assert!(output.stdout.is_empty(), "{flag} {value}: {output:?}");
    }
}

/// An empty variable is an unset one: `VIAM_LOCATION_ID=` (a desktop bundle's blank setting) leaves
/// the default location in force, and `VIAM_CA_FILE=` or `VIAM_SANDBOX_LATENCY_MS=` name no flag.
#[test]
fn an_empty_variable_counts_as_unset() {
    let empty = [
        "VIAM_APP_URL",
        "VIAM_CA_FILE",
        "SSL_CERT_FILE",
        "VIAM_LOCATION_ID",
        "VIAM_SANDBOX_LATENCY_MS",
        "VIAM_SANDBOX_FAILURE_RATE",
        "VIAM_SANDBOX_TOKEN_TTL_SECS",
        "VIAM_API_KEY",
        "VIAM_API_KEY_ID",
        "VIAM_MCP_HTTP_TOKEN",
        "VIAM_MCP_STATE_KEY",
    ];
    let run_empty = |args: &[&str]| Command::new(BIN).args(args).envs(empty.map(|name| (name, ""))).output().unwrap();

    let listed = run_empty(&["--sandbox", "call", "list_robots"]);
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(stdout_json(&listed)["location_id"], json!(ids::LOCATION_WAREHOUSE), "the seed's default location");

    // Without a default, the hint says how to give one.
    let no_default = run_empty(&["--sandbox", "--seed", "empty", "call", "list_robots"]);
    assert_eq!(no_default.status.code(), Some(1), "{no_default:?}");
    let message = stdout_json(&no_default)["message"].as_str().unwrap().to_string();
    assert!(message.contains("location_id") && message.contains("--location-id"), "{message}");

    let stderr = String::from_utf8_lossy(&no_default.stderr);
    assert!(!stderr.contains("--ca-file") && !stderr.contains("a value is required"), "{stderr}");
}
