//! Config edits by item through the real binary: one item changes, nothing else does, each write
//! is one update carrying `last_known_update`, racing writes give one `conflict`, dry runs and
//! no-ops send no write, and removals need confirmation.
use crate::common;

use common::{Harness, assert_error_code};
use prost::Message;
use serde_json::{Value, json};
use std::time::Duration;
use viam_fleet_mcp::proto::viam::app::v1::{UpdateFragmentRequest, UpdateRobotPartRequest};
use viam_fleet_mcp::sandbox::{SandboxConfig, ids};

const ROVER: &str = ids::PART_ROVER_1_MAIN;

/// The part's config and name as get_robot_part returns them.
async fn part(h: &Harness, id: &str) -> (Value, Value) {
    let out = h.ok("get_robot_part", json!({"robot_part_id": id})).await;
    (out["part"]["robot_config"].clone(), out["part"]["name"].clone())
}

/// The requests the sandbox received that change something.
fn writes(h: &Harness) -> Vec<(String, Vec<u8>)> {
    h.sandbox.journal().into_iter().filter(|(m, _)| !m.starts_with("Get") && !m.starts_with("List")).collect()
}

fn part_update(h: &Harness) -> UpdateRobotPartRequest {
    let writes = writes(h);
    assert_eq!(writes.len(), 1, "one write: {:?}", writes.iter().map(|(m, _)| m).collect::<Vec<_>>());
    assert_eq!(writes[0].0, "UpdateRobotPart");
    UpdateRobotPartRequest::decode(writes[0].1.as_slice()).unwrap()
}

#[tokio::test]
async fn adding_a_fragment_to_a_part_takes_two_small_calls_and_one_guarded_write() {
    let h = Harness::start().await;
    let (before, name) = part(&h, ids::PART_BENCH_MAIN).await;
    h.sandbox.clear_journal();
    let target = json!({"robot_part_id": ids::PART_BENCH_MAIN, "kind": "fragments"});
    let listed = h.call("get_config_items", target.clone()).await;
    assert_eq!(listed.structured_content.as_ref().unwrap()["items"], json!({"fragments": []}));
    let mut add = target.clone();
    add["item"] = json!(ids::FRAGMENT);
    let added = h.call("add_config_item", add).await;
    assert_ne!(added.is_error, Some(true), "{added:?}");
    let bytes = serde_json::to_vec(&listed).unwrap().len() + serde_json::to_vec(&added).unwrap().len();
    assert!(bytes <= 2048, "two results took {bytes} bytes");
    let out = added.structured_content.unwrap();
    assert_eq!((&out["added"], &out["name"]), (&json!(ids::FRAGMENT), &json!(ids::FRAGMENT)));

    let sent = part_update(&h);
    assert!(sent.last_known_update.is_some(), "the write carries last_known_update");
    assert_eq!(json!(sent.name), name, "the part keeps its name");
    let (after, _) = part(&h, ids::PART_BENCH_MAIN).await;
    let mut expected = before.clone();
    expected["fragments"] = json!([ids::FRAGMENT]);
    assert_eq!(after, expected);
    let stored = h.ok("get_config_items", json!({"robot_part_id": ids::PART_BENCH_MAIN})).await;
    assert_eq!(stored["last_updated"], out["last_updated"], "the result carries the new last_updated");

    // An id that names no fragment is refused before any write.
    h.sandbox.clear_journal();
    let mut unknown = target;
    unknown["item"] = json!("no-such-fragment");
    let error = h.err("add_config_item", unknown).await;
    assert_error_code(&error, "invalid_arguments");
    assert!(error["message"].as_str().unwrap().contains("no-such-fragment"), "{error}");
    assert!(writes(&h).is_empty());
    h.stop().await;
}

#[tokio::test]
async fn changing_one_attribute_changes_nothing_else() {
    let h = Harness::start().await;
    let (before, name) = part(&h, ROVER).await;
    h.sandbox.clear_journal();
    let out = h
        .ok(
            "update_config_item",
            json!({"robot_part_id": ROVER, "kind": "components", "name": "left-wheel",
                   "patch": {"attributes": {"pins": {"a": "12"}}}}),
        )
        .await;
    assert_eq!(out["changed"], json!({"/attributes/pins/a": {"from": "11", "to": "12"}}));
    assert!(!out.to_string().contains("right-wheel"), "the result is the one item's diff: {out}");
    part_update(&h);
    let (after, name_after) = part(&h, ROVER).await;
    let mut expected = before.clone();
    expected["components"][0]["attributes"]["pins"]["a"] = json!("12");
    assert_eq!(after, expected);
    assert_eq!(name_after, name);

    // A rename to a free name works; null removes a key.
    let renamed = h
        .ok(
            "update_config_item",
            json!({"robot_part_id": ROVER, "kind": "components", "name": "left-wheel",
                   "patch": {"name": "port-wheel", "attributes": {"board": null}}}),
        )
        .await;
    assert_eq!(renamed["name"], json!("port-wheel"));
    let (after, _) = part(&h, ROVER).await;
    assert_eq!(after["components"][0]["name"], json!("port-wheel"));
    assert_eq!(after["components"][0]["attributes"].get("board"), None);
    h.stop().await;
}

#[tokio::test]
async fn removing_a_component_needs_confirmation_and_shows_what_refers_to_it() {
    let h = Harness::start().await;
    let remove = json!({"robot_part_id": ROVER, "kind": "components", "name": "left-wheel"});
    let snapshot = h.sandbox.snapshot();
    h.sandbox.clear_journal();
    let error = h.err("remove_config_item", remove.clone()).await;
    assert_error_code(&error, "confirmation_required");
    let preview = &error["preview"];
    assert_eq!(preview["item"]["model"], json!("gpio"), "{preview}");
    assert_eq!(
        preview["referenced_by"],
        json!([{"kind": "components", "name": "base", "via": ["/attributes/left/0"]}])
    );
    assert!(writes(&h).is_empty());
    assert_eq!(h.sandbox.snapshot(), snapshot);

    let mut confirmed = remove;
    confirmed["confirm"] = json!(true);
    let out = h.ok("remove_config_item", confirmed).await;
    assert_eq!(out["removed"]["name"], json!("left-wheel"));
    assert_eq!(out["referenced_by"][0]["name"], json!("base"));
    let (after, _) = part(&h, ROVER).await;
    let names: Vec<&Value> = after["components"].as_array().unwrap().iter().map(|c| &c["name"]).collect();
    assert_eq!(names, [&json!("right-wheel"), &json!("base")]);
    h.stop().await;
}

#[tokio::test]
async fn racing_edits_give_one_success_and_one_conflict() {
    // Each call waits before it is served, so both edits read the part before either writes.
    let config = SandboxConfig { latency: Duration::from_millis(300), ..Default::default() };
    let h = Harness::start_with(config, &[]).await;
    let edit = |pin: &str| {
        json!({"robot_part_id": ROVER, "kind": "components", "name": "left-wheel",
               "patch": {"attributes": {"pins": {"a": pin}}}})
    };
    let (a, b) = tokio::join!(h.call("update_config_item", edit("31")), h.call("update_config_item", edit("32")));
    let (won, lost) = match (a.is_error, b.is_error) {
        (Some(true), _) => (("32", b), a),
        _ => (("31", a), b),
    };
    assert_ne!(won.1.is_error, Some(true), "one edit lands: {:?}", won.1.structured_content);
    let error = lost.structured_content.unwrap();
    assert_error_code(&error, "conflict");
    assert_eq!(error["now"]["attributes"]["pins"]["a"], json!(won.0), "the item as it is now: {error}");
    let (after, _) = part(&h, ROVER).await;
    assert_eq!(after["components"][0]["attributes"]["pins"]["a"], json!(won.0));
    let updates = writes(&h).into_iter().filter(|(m, _)| m == "UpdateRobotPart").count();
    assert_eq!(updates, 2, "the loser was not retried");
    h.stop().await;
}

#[tokio::test]
async fn dry_runs_and_no_ops_send_no_write() {
    let h = Harness::start().await;
    let snapshot = h.sandbox.snapshot();
    h.sandbox.clear_journal();
    let camera = json!({"name": "cam", "api": "rdk:component:camera", "model": "webcam"});
    let added = h
        .ok("add_config_item", json!({"robot_part_id": ROVER, "kind": "components", "item": camera, "dry_run": true}))
        .await;
    assert_eq!((&added["dry_run"], &added["added"]), (&json!(true), &camera));
    let changed = h
        .ok(
            "update_config_item",
            json!({"robot_part_id": ROVER, "kind": "components", "name": "base",
                   "patch": {"attributes": {"width_mm": 300}}, "dry_run": true}),
        )
        .await;
    assert_eq!(changed["changed"], json!({"/attributes/width_mm": {"from": 260, "to": 300}}));
    let removed = h
        .ok(
            "remove_config_item",
            json!({"robot_part_id": ROVER, "kind": "modules", "name": "demo-robotics_wheel-odometry", "dry_run": true}),
        )
        .await;
    assert_eq!(removed["removed"]["module_id"], json!(ids::MODULE_ID));
    // The same value again, even written as 260.0 for the stored 260, changes nothing.
    let same = h
        .ok(
            "update_config_item",
            json!({"robot_part_id": ROVER, "kind": "components", "name": "base",
                   "patch": {"attributes": {"width_mm": 260.0}}}),
        )
        .await;
    assert_eq!(same["unchanged"], json!(true));
    assert!(same["message"].as_str().unwrap().contains("nothing was sent"));
    assert!(writes(&h).is_empty(), "{:?}", h.methods());
    assert_eq!(h.sandbox.snapshot(), snapshot);
    h.stop().await;
}

#[tokio::test]
async fn duplicate_names_and_bad_input_are_refused_before_any_write() {
    let h = Harness::start().await;
    h.sandbox.clear_journal();
    let base = json!({"name": "base", "type": "base", "model": "fake"});
    let error = h.err("add_config_item", json!({"robot_part_id": ROVER, "kind": "components", "item": base})).await;
    assert_error_code(&error, "already_exists");
    assert_eq!(error["existing"]["model"], json!("wheeled"), "{error}");
    assert!(writes(&h).is_empty());

    h.sandbox.clear_journal();
    let both = json!({"robot_part_id": ROVER, "fragment_id": ids::FRAGMENT, "kind": " ", "item": {"name": "x"}});
    let error = h.err("add_config_item", both).await;
    assert_error_code(&error, "invalid_arguments");
    let message = error["message"].as_str().unwrap();
    for named in ["robot_part_id", "fragment_id", "kind"] {
        assert!(message.contains(named), "{named} in {message}");
    }
    let shapeless = json!({"robot_part_id": ROVER, "kind": "components", "item": {"name": "x"}});
    let message = h.err("add_config_item", shapeless).await["message"].as_str().unwrap().to_string();
    assert!(message.contains("item") && message.contains("api or type") && message.contains("model"), "{message}");
    let missing = h
        .err("update_config_item", json!({"robot_part_id": ROVER, "kind": "components", "name": "x", "patch": {}}))
        .await;
    assert!(missing["message"].as_str().unwrap().contains("patch"), "{missing}");
    let typo = h
        .err(
            "add_config_item",
            json!({"robot_part_id": ROVER, "kind": "component", "item": {"name": "x", "model": "m"}}),
        )
        .await;
    assert!(typo["message"].as_str().unwrap().contains("components"), "{typo}");
    assert!(writes(&h).is_empty(), "{:?}", h.methods());
    h.stop().await;
}

async fn fragment(h: &Harness) -> Value {
    h.ok("get_fragment", json!({"fragment_id": ids::FRAGMENT})).await["fragment"].clone()
}

#[tokio::test]
async fn a_fragment_is_edited_the_same_way() {
    let h = Harness::start().await;
    let before = fragment(&h).await;
    h.sandbox.clear_journal();
    let out = h
        .ok(
            "update_config_item",
            json!({"fragment_id": ids::FRAGMENT, "kind": "components", "name": "imu",
                   "patch": {"attributes": {"rate_hz": 50}}}),
        )
        .await;
    assert_eq!(out["changed"], json!({"/attributes/rate_hz": {"to": 50}}));
    let sent = writes(&h);
    assert_eq!(sent.len(), 1);
    let request = UpdateFragmentRequest::decode(sent[0].1.as_slice()).unwrap();
    assert!(request.last_known_update.is_some() && request.name == before["name"]);
    let after = fragment(&h).await;
    let mut expected = before["fragment"].clone();
    expected["components"][0]["attributes"]["rate_hz"] = json!(50);
    assert_eq!(after["fragment"], expected);
    assert_eq!((&after["name"], &after["visibility"]), (&before["name"], &before["visibility"]));

    let items = h.ok("get_config_items", json!({"fragment_id": ids::FRAGMENT, "name": "imu"})).await;
    assert_eq!(items["items"]["components"][0]["attributes"]["rate_hz"], json!(50));
    assert_eq!(items["last_updated"], out["last_updated"]);
    h.stop().await;
}

#[tokio::test]
async fn secrets_in_items_are_redacted_in_results_but_written() {
    let h = Harness::start().await;
    let camera = json!({"name": "cam", "type": "camera", "model": "rtsp",
                        "attributes": {"url": "rtsp://cam", "password": "hunter2"}});
    let added = h.ok("add_config_item", json!({"robot_part_id": ROVER, "kind": "components", "item": camera})).await;
    assert_eq!(added["added"]["attributes"]["url"], json!("rtsp://cam"));
    let patched = h
        .ok(
            "update_config_item",
            json!({"robot_part_id": ROVER, "kind": "components", "name": "cam",
                   "patch": {"attributes": {"password": "hunter3"}}}),
        )
        .await;
    assert!(patched["changed"].get("/attributes/password").is_some(), "{patched}");
    let read = h.ok("get_config_items", json!({"robot_part_id": ROVER, "kind": "components", "name": "cam"})).await;
    let preview =
        h.err("remove_config_item", json!({"robot_part_id": ROVER, "kind": "components", "name": "cam"})).await;
    for shown in [&added, &patched, &read, &preview] {
        assert!(!shown.to_string().contains("hunter"), "{shown}");
    }
    assert!(h.sandbox.snapshot().to_string().contains("hunter3"), "the written config keeps the secret");
    h.stop().await;
}

#[tokio::test]
async fn whole_config_previews_name_items_by_kind_and_name() {
    let h = Harness::start().await;
    let (mut config, name) = part(&h, ROVER).await;
    config["components"][2]["attributes"]["width_mm"] = json!(300);
    config["components"].as_array_mut().unwrap().remove(0);
    config["services"] = json!([{"name": "nav", "api": "rdk:service:navigation", "model": "builtin"}]);
    let error = h.err("update_robot_part", json!({"robot_part_id": ROVER, "name": name, "robot_config": config})).await;
    assert_eq!(
        error["preview"]["config"],
        json!({"added": ["services/nav"], "removed": ["components/left-wheel"], "changed": ["components/base"]})
    );
    h.stop().await;
}

#[tokio::test]
async fn a_whole_config_over_the_budget_comes_back_as_item_names() {
    let h = Harness::start().await;
    let big = json!({"components": [{"name": "blob", "type": "generic", "model": "fake",
                                     "attributes": {"data": "x".repeat(20_000)}}], "fragments": [ids::FRAGMENT]});
    let update = json!({"robot_part_id": ids::PART_BENCH_MAIN, "name": "test-bench-main",
                        "robot_config_json": big.to_string(), "confirm": true});
    h.ok("update_robot_part", update).await;
    let out = h.ok("get_config_items", json!({"robot_part_id": ids::PART_BENCH_MAIN})).await;
    assert_eq!(out.get("config"), None);
    assert_eq!(out["names"], json!({"components": ["blob"], "fragments": [ids::FRAGMENT]}));
    assert!(out.to_string().len() < 1024, "{out}");
    let one = h.ok("get_config_items", json!({"robot_part_id": ids::PART_BENCH_MAIN, "name": "blob"})).await;
    assert_eq!(one["items"]["components"][0]["attributes"]["data"].as_str().unwrap().len(), 20_000);
    h.stop().await;
}

/// On a fleet at scale the item tools stay as small and as exact: a fragment is added in two
/// small calls, and one attribute changes with nothing else in a ~2 KB config.
#[tokio::test]
async fn item_edits_on_a_fleet_at_scale() {
    use viam_fleet_mcp::sandbox::{Seed, fleet};
    let h = Harness::start_with(SandboxConfig { seed: Seed::Fleet(2000), ..SandboxConfig::default() }, &[]).await;
    let part_id = fleet::main_part_id(7);
    let (before, _) = part(&h, &part_id).await;
    let used: Vec<Value> = before["fragments"].as_array().cloned().unwrap_or_default();
    let fragments = h.ok("list_fragments", json!({"org_id": ids::ORG})).await;
    let unused = fragments["fragments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].clone())
        .find(|id| !used.contains(id))
        .expect("a fragment the part does not use");

    let target = json!({"robot_part_id": part_id, "kind": "fragments"});
    let listed = h.call("get_config_items", target.clone()).await;
    let mut add = target;
    add["item"] = unused.clone();
    let added = h.call("add_config_item", add).await;
    assert_ne!(added.is_error, Some(true), "{added:?}");
    let bytes = serde_json::to_vec(&listed).unwrap().len() + serde_json::to_vec(&added).unwrap().len();
    assert!(bytes <= 2048, "two results took {bytes} bytes");

    let component = before["components"][0]["name"].as_str().unwrap().to_string();
    let patch = json!({"robot_part_id": part_id, "kind": "components", "name": component,
        "patch": {"attributes": {"poll_hz": 7}}});
    h.ok("update_config_item", patch).await;
    let (after, _) = part(&h, &part_id).await;
    let mut expected = before.clone();
    expected["fragments"].as_array_mut().unwrap().push(unused);
    expected["components"][0]["attributes"]["poll_hz"] = json!(7);
    assert_eq!(after, expected, "only the fragment and the one attribute changed");
    h.stop().await;
}
