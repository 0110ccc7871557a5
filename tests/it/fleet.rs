//! The fleet at scale (`fleet:2000`) through the real binary: the org-wide view pages every offline
//! machine in a few small results, and no default surprises the user.
use crate::budget::every_page;
use crate::common::{Harness, assert_error_code};
use prost::Message;
use rmcp::model::CallToolResult;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use viam_fleet_mcp::proto::viam::app::v1::UpdateRobotRequest;
use viam_fleet_mcp::sandbox::{SandboxConfig, Seed, fleet, ids};

/// What clients accept without complaint (Claude Code warns at ~10k tokens).
pub(crate) const RESULT_BYTES: usize = 40_000;

pub(crate) async fn fleet_harness(args: &[&str]) -> Harness {
    Harness::start_with(SandboxConfig { seed: Seed::Fleet(2000), ..SandboxConfig::default() }, args).await
}

pub(crate) fn text_len(result: &CallToolResult) -> usize {
    result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.len()).sum()
}

fn ok(result: CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{:?}", result.structured_content);
    result.structured_content.unwrap()
}

#[tokio::test]
async fn every_offline_machine_is_found_in_a_few_small_pages() {
    let h = fleet_harness(&[]).await;
    // The truth, from another RPC: every machine of every location, with its state.
    let locations = every_page(&h, "list_locations", json!({"org_id": ids::ORG}), "locations").await;
    let location_ids: Vec<&str> = locations.iter().map(|l| l["id"].as_str().unwrap()).collect();
    let robots = every_page(&h, "list_robots_for_locations", json!({"location_ids": location_ids}), "robots").await;
    assert_eq!(robots.len(), 2000);
    let offline: BTreeSet<&str> = robots
        .iter()
        .filter(|r| r["online_state"] == "ONLINE_STATE_OFFLINE")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(offline.len() >= 100, "{}", offline.len());

    h.sandbox.clear_journal();
    let mut found = Vec::new();
    let mut cursor = None;
    let mut calls = 0;
    loop {
        let mut arguments = json!({"org_id": ids::ORG, "online_state": "offline"});
        if let Some(cursor) = &cursor {
            arguments["cursor"] = json!(cursor);
        }
        let result = h.call("list_machine_summaries", arguments).await;
        calls += 1;
        assert!(text_len(&result) <= RESULT_BYTES, "page {calls} is {} bytes", text_len(&result));
        let page = ok(result);
        assert_eq!(page["total"], json!(offline.len()));
        for machine in page["machines"].as_array().unwrap() {
            assert_eq!(machine["online_state"], "offline", "{machine}");
            let location = machine["location_id"].as_str().unwrap();
            assert!(page["locations"][location].is_string(), "the page names location {location}");
            found.push(machine["machine_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(calls < 10, "paging does not end");
    }
    assert!(calls <= 5, "{calls} calls");
    let unique: BTreeSet<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found.len(), unique.len(), "a machine came twice");
    assert_eq!(unique, offline);
    // One ListMachineSummaries per page, carrying the organization and no limit.
    assert_eq!(h.methods(), vec!["ListMachineSummaries"; calls]);

    // A cursor is tied to its arguments.
    let first = h.ok("list_machine_summaries", json!({"org_id": ids::ORG, "online_state": "offline"})).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let error =
        h.err("list_machine_summaries", json!({"org_id": ids::ORG, "online_state": "online", "cursor": cursor})).await;
    assert_error_code(&error, "invalid_arguments");
    assert!(error["message"].as_str().unwrap().contains("cursor"), "{error}");

    // The unfiltered first page is small too, and counts the whole fleet.
    let result = h.call("list_machine_summaries", json!({"org_id": ids::ORG, "limit": 500})).await;
    assert!(text_len(&result) <= RESULT_BYTES, "{} bytes", text_len(&result));
    assert_eq!(ok(result)["total"], json!(2000));
    h.stop().await;
}

#[tokio::test]
async fn no_surprising_defaults_on_a_large_fleet() {
    let default_location = fleet::location_id(0);
    let h = fleet_harness(&["--location-id", &default_location]).await;

    // A rename keeps the machine where it is, wherever the default location is.
    let machine = fleet::robot_id(1999);
    let before = h.ok("get_robot", json!({"robot_id": machine})).await;
    let home = before["robot"]["location"].as_str().unwrap().to_string();
    assert_ne!(home, default_location);
    h.sandbox.clear_journal();
    let renamed = h.ok("update_robot", json!({"robot_id": machine, "name": "renamed-1999"})).await;
    assert_eq!(renamed["robot"]["location"], json!(home));
    let journal = h.sandbox.journal();
    let sent = UpdateRobotRequest::decode(journal.last().unwrap().1.as_slice()).unwrap();
    assert_eq!((sent.name.as_str(), sent.location.as_str()), ("renamed-1999", home.as_str()));
    let after = h.ok("get_robot", json!({"robot_id": machine})).await;
    assert_eq!((&after["robot"]["location"], &after["robot"]["name"]), (&json!(home), &json!("renamed-1999")));
    // With every argument given, it is the SDK's single request.
    h.sandbox.clear_journal();
    h.ok("update_robot", json!({"robot_id": machine, "name": "back-1999", "location_id": home})).await;
    assert_eq!(h.methods(), ["UpdateRobot"]);

    // A machine's name given as its id: the error names the id.
    let error = h.err("get_robot", json!({"robot_id": "arm-0016"})).await;
    assert_error_code(&error, "NOT_FOUND");
    let message = error["message"].as_str().unwrap();
    let expected = format!("no robot has id \"arm-0016\"; the robot named \"arm-0016\" is {}", fleet::robot_id(16));
    assert!(message.contains(&expected), "{message}");

    // The default location is named when it was used, and only then.
    let listed = h.ok("list_robots", json!({})).await;
    assert_eq!(listed["location_id"], json!(default_location));
    assert_eq!(listed["total"], json!(400));
    let listed = h.ok("list_robots", json!({"location_id": home})).await;
    assert!(listed.get("location_id").is_none(), "{}", listed["location_id"]);

    // Registry filters are optional.
    let items = h.ok("list_registry_items", json!({"organization_id": ids::ORG})).await;
    assert!(items["total"].as_u64().unwrap() >= 20, "{}", items["total"]);

    // Every bad argument at once, and nothing sent.
    h.sandbox.clear_journal();
    let error = h.err("list_machine_summaries", json!({"limit": 0, "online_state": "asleep", "colour": "red"})).await;
    assert_error_code(&error, "invalid_arguments");
    let message = error["message"].as_str().unwrap();
    for argument in ["org_id", "limit", "online_state", "colour"] {
        assert!(message.contains(&format!("{argument}:")), "{argument} in {message}");
    }
    assert!(h.methods().is_empty());
    h.stop().await;
}
