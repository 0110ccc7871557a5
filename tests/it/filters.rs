//! Tool filters through the real binary: what `tools/list` exposes under `--read-only`,
//! `--no-destructive` and a toolset selection (snapshots), that hidden tools cannot be called,
//! that the `tools` subcommand shows the same result, and that unknown names stop startup.
use crate::common;

use common::{BIN, Harness};
use serde_json::{Value, json};
use viam_fleet_mcp::sandbox::{SandboxConfig, ids};

common::over_both_transports!(hidden_tools_cannot_be_called);

/// The exposed tools as `name (risk hints)` lines, compared with tests/snapshots/<name>.txt.
/// Regenerate with `UPDATE_SNAPSHOTS=1 cargo test --test it filters::`.
async fn assert_exposed(args: &[&str], snapshot: &str) -> Vec<String> {
    let harness = Harness::start_with(SandboxConfig::default(), args).await;
    let names: Vec<String> = harness
        .tools()
        .await
        .iter()
        .map(|t| {
            // The hints a client reads, with the spec's defaults for absent ones; destructive means
            // nothing for a read.
            let hints = t.annotations.clone().unwrap_or_default();
            let read_only = hints.read_only_hint.unwrap_or(false);
            let destructive = !read_only && hints.destructive_hint.unwrap_or(true);
            format!("{} read_only={read_only:?} destructive={destructive:?}", t.name)
        })
        .collect();
    harness.stop().await;
    let rendered = names.join("\n") + "\n";
    let path = format!("{}/tests/snapshots/{snapshot}.txt", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let expected = std::fs::read_to_string(&path).expect("snapshot exists; run with UPDATE_SNAPSHOTS=1");
    assert!(rendered == expected, "{snapshot} changed:\n{rendered}");
    names
}

#[tokio::test]
async fn read_only_exposes_only_reads_and_wins_over_allow_lists() {
    let names = assert_exposed(&["--read-only", "--tools", "delete_robot,list_robots"], "tools_read_only_allow").await;
    assert_eq!(names, vec!["list_robots read_only=true destructive=false"]);
    let names = assert_exposed(&["--read-only"], "tools_read_only").await;
    assert!(names.iter().all(|n| n.contains("read_only=true")));
    assert_eq!(
        names.len(),
        viam_fleet_mcp::tools::catalogue().rows.iter().filter(|r| r.risk == viam_fleet_mcp::call::Risk::Read).count()
    );
}

#[tokio::test]
async fn toolsets_and_excludes_select_what_is_exposed() {
    let names =
        assert_exposed(&["--toolsets", "machines,logs", "--exclude-tools", "delete_robot"], "tools_machines_logs")
            .await;
    assert!(names.iter().any(|n| n.starts_with("tail_robot_part_logs ")));
    assert!(!names.iter().any(|n| n.starts_with("delete_robot ") || n.starts_with("list_keys ")));
    let names = assert_exposed(&["--no-destructive"], "tools_no_destructive").await;
    assert!(names.iter().all(|n| n.contains("destructive=false")));
}

async fn hidden_tools_cannot_be_called() {
    let harness = Harness::start_with(SandboxConfig::default(), &["--read-only"]).await;
    let Value::Object(arguments) = json!({"robot_id": ids::ROBOT_ROVER_1, "confirm": true}) else { unreachable!() };
    let params = rmcp::model::CallToolRequestParams::new("delete_robot").with_arguments(arguments.clone());
    let refused = harness.client.call_tool(params).await.expect_err("a hidden tool cannot be called").to_string();
    assert!(refused.contains(r#"tool "delete_robot" is filtered out by --read-only"#), "{refused}");
    let params = rmcp::model::CallToolRequestParams::new("get_robots").with_arguments(arguments);
    let unknown = harness.client.call_tool(params).await.expect_err("an unknown tool cannot be called").to_string();
    assert!(unknown.contains(r#"unknown tool "get_robots"; did you mean "get_robot"?"#), "{unknown}");
    assert!(harness.methods().is_empty());
    harness.ok("get_robot", json!({"robot_id": ids::ROBOT_ROVER_1})).await;
    harness.stop().await;
}

#[test]
fn the_tools_subcommand_shows_the_filtered_catalogue() {
    let output = std::process::Command::new(BIN)
        .args(["--read-only", "--toolsets", "keys", "tools", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let listing: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = listing.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["list_keys", "get_robot_api_keys"]);
    assert!(listing.iter().all(|t| t["risk"] == json!("read")));
}

#[test]
fn unknown_names_stop_startup_with_a_suggestion() {
    for (flag, value, suggestion) in [
        ("--tools", "list_robot", "list_robots"),
        ("--exclude-tools", "delete_robots", "delete_robot"),
        ("--toolsets", "machine", "machines"),
    ] {
        let output = std::process::Command::new(BIN).args([flag, value, "serve"]).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("did you mean \"{suggestion}\"")), "{stderr}");
        assert!(output.stdout.is_empty(), "nothing on stdout");
    }
}
