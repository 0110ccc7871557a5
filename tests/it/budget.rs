//! The result budget and paging on `fleet:2000`, through the real binary: no result passes
//! 40,000 bytes, and following `next_cursor` yields every item once, the same items one call with a
//! budget large enough for everything returns, from the same requests.
use crate::common::{Harness, assert_error_code};
use crate::fleet::{RESULT_BYTES, fleet_harness, text_len};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use viam_fleet_mcp::sandbox::{fleet, ids};

/// A budget no result on this fleet reaches: the whole listing in one result, as the SDK returns it.
const UNLIMITED: [&str; 2] = ["--max-result-bytes", "100000000"];

/// Every item of a listing, following `next_cursor` to the end; each page within the budget.
pub(crate) async fn every_page(h: &Harness, tool: &str, arguments: Value, list: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut arguments = arguments;
    for pages in 1.. {
        let result = h.call(tool, arguments.clone()).await;
        assert_ne!(result.is_error, Some(true), "{tool}: {:?}", result.structured_content);
        assert!(text_len(&result) <= RESULT_BYTES, "{tool} page {pages}: {} bytes", text_len(&result));
        let page = result.structured_content.unwrap();
        assert!(page.get("truncated").is_none(), "{tool}: {}", page["truncated"]);
        items.extend(page[list].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => arguments["cursor"] = json!(next),
            None => break,
        }
        assert!(pages < 500, "{tool}: paging does not end");
    }
    items
}

#[tokio::test]
async fn no_default_or_first_page_result_passes_the_budget() {
    let h = fleet_harness(&[]).await;
    let org = json!({"org_id": ids::ORG});
    let noisy = json!({"robot_part_id": fleet::main_part_id(0)});
    let fragment = h.ok("list_fragments", org.clone()).await["fragments"][0]["id"].clone();
    let location_ids: Vec<String> = (0..20).map(fleet::location_id).collect();
    let calls = [
        ("list_organizations", json!({})),
        ("get_organization", org.clone()),
        ("list_organization_members", org.clone()),
        ("list_locations", org.clone()),
        ("list_robots", json!({"location_id": fleet::location_id(0)})),
        ("list_robots_for_locations", json!({"location_ids": location_ids})),
        ("list_machine_summaries", org.clone()),
        ("get_robot", json!({"robot_id": fleet::robot_id(0)})),
        ("get_robot_parts", json!({"robot_id": fleet::robot_id(0)})),
        ("get_robot_part", noisy.clone()),
        ("get_robot_part_history", noisy.clone()),
        ("get_robot_part_logs", noisy.clone()),
        ("get_robot_part_logs", json!({"robot_part_id": fleet::main_part_id(0), "num_log_entries": 1000})),
        ("get_robot_part_logs", json!({"robot_part_id": fleet::main_part_id(0), "num_log_entries": 0})),
        ("list_fragments", org.clone()),
        ("get_fragment", json!({"fragment_id": fragment})),
        ("get_fragment_history", json!({"id": fragment})),
        ("list_keys", org.clone()),
        ("list_authorizations", org.clone()),
        ("list_registry_items", json!({"organization_id": ids::ORG})),
        ("list_modules", org.clone()),
    ];
    for (tool, arguments) in calls {
        let result = h.call(tool, arguments.clone()).await;
        assert_ne!(result.is_error, Some(true), "{tool} {arguments}: {:?}", result.structured_content);
        assert!(text_len(&result) <= RESULT_BYTES, "{tool} {arguments}: {} bytes", text_len(&result));
    }
    h.stop().await;
}

#[tokio::test]
async fn paging_the_largest_location_yields_every_machine_once() {
    let whole = fleet_harness(&UNLIMITED).await;
    // The first location holds a fifth of the machines.
    let largest = json!({"location_id": fleet::location_id(0)});
    let expected = whole.ok("list_robots", largest.clone()).await;
    let expected: Vec<&Value> = expected["robots"].as_array().unwrap().iter().map(|r| &r["id"]).collect();
    assert_eq!(expected.len(), 400);
    let h = fleet_harness(&[]).await;
    for limit in [None, Some(37)] {
        let mut arguments = largest.clone();
        if let Some(limit) = limit {
            arguments["limit"] = json!(limit);
        }
        let robots = every_page(&h, "list_robots", arguments, "robots").await;
        let ids: Vec<&Value> = robots.iter().map(|r| &r["id"]).collect();
        assert_eq!(ids, expected, "limit {limit:?}");
    }
    // The page size may change from one page to the next.
    let first = h.ok("list_robots", json!({"location_id": largest["location_id"], "limit": 10})).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second =
        h.ok("list_robots", json!({"location_id": largest["location_id"], "limit": 20, "cursor": cursor})).await;
    assert_eq!(second["robots"][0]["id"], *expected[10]);
    assert_eq!(second["robots"].as_array().unwrap().len(), 20);
    whole.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn a_thousand_logs_arrive_over_pages_as_the_sdk_gets_them() {
    let arguments = json!({"robot_part_id": fleet::main_part_id(0), "num_log_entries": 1000});
    let whole = fleet_harness(&UNLIMITED).await;
    let expected = whole.ok("get_robot_part_logs", arguments.clone()).await;
    let expected = expected["logs"].as_array().unwrap();
    assert_eq!(expected.len(), 1000);
    let sdk_requests = whole.sandbox.journal();

    let h = fleet_harness(&[]).await;
    h.sandbox.clear_journal();
    let first = h.call("get_robot_part_logs", arguments.clone()).await;
    assert!(text_len(&first) <= RESULT_BYTES);
    let first = first.structured_content.unwrap();
    assert_eq!(first["total"], json!(1000));
    assert!(first["logs"].as_array().unwrap().len() < 1000, "one page holds them all");
    // Each page is read with the very requests the SDK sends for 1,000 entries.
    assert_eq!(h.sandbox.journal(), sdk_requests[sdk_requests.len() - h.sandbox.journal().len()..]);
    let first_page_requests = h.sandbox.journal().len();
    let logs = every_page(&h, "get_robot_part_logs", arguments, "logs").await;
    // The same entries; their times are offsets from each sandbox's own start.
    let timeless = |logs: &[Value]| {
        let mut logs = logs.to_vec();
        logs.iter_mut().for_each(|e| assert!(e["time"].take().is_string(), "a time in {e}"));
        logs
    };
    assert_eq!(timeless(&logs), timeless(expected));
    // every_page fetches its own first page; the later pages are cut from that listing.
    assert_eq!(h.sandbox.journal().len(), 2 * first_page_requests, "the later pages fetched again");
    let unique: BTreeSet<String> = logs.iter().map(Value::to_string).collect();
    assert_eq!(unique.len(), 1000);
    whole.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn a_cursor_from_another_call_is_refused() {
    let h = fleet_harness(&[]).await;
    let largest = fleet::location_id(0);
    let page = h.ok("list_robots", json!({"location_id": largest, "limit": 5})).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let mut edited = cursor.to_string();
    edited.insert(edited.len() / 2, 'x');
    let refusals = [
        ("list_locations", json!({"org_id": ids::ORG, "cursor": cursor})),
        ("list_robots", json!({"location_id": fleet::location_id(1), "cursor": cursor})),
        ("list_robots", json!({"location_id": largest, "cursor": edited})),
        ("list_robots", json!({"location_id": largest, "cursor": 5})),
        ("list_robots", json!({"location_id": largest, "limit": 0})),
        ("list_robots", json!({"location_id": largest, "limit": 1_000_000})),
    ];
    h.sandbox.clear_journal();
    for (tool, arguments) in refusals {
        let error = h.err(tool, arguments.clone()).await;
        assert_error_code(&error, "invalid_arguments");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("cursor") || message.contains("limit"), "{arguments}: {message}");
    }
    assert!(h.methods().is_empty(), "a refused call sends nothing");
    h.stop().await;
}
