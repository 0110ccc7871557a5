//! Fleet changes on `fleet:2000` through the real binary, against the sandbox's simulated
//! viam-servers (check-ins every 50 ms): planned once, rolled out in waves with health checks,
//! halted, stopped, cancelled, rolled back, and recovered after a kill -9. What is asserted is the
//! sandbox's state (every part's config text) and the requests it received.
use crate::common::Harness;
use crate::fleet::text_len;
use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use viam_fleet_mcp::sandbox::{SandboxConfig, Seed, fleet, ids};

const CHECKIN: Duration = Duration::from_millis(50);
/// The first location: 400 machines.
fn big_location() -> String {
    fleet::location_id(0)
}
/// A fragment no main part imports yet.
const PACK: &str = "f1ee0000-0005-4000-8000-000000000007";

struct Fleet {
    h: Harness,
    dir: tempfile::TempDir,
}

impl Fleet {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let h = Harness::start_with(config(), &args(dir.path()).iter().map(String::as_str).collect::<Vec<_>>()).await;
        Self { h, dir }
    }
}

fn config() -> SandboxConfig {
    SandboxConfig { seed: Seed::Fleet(2000), checkin_period: CHECKIN, ..SandboxConfig::default() }
}

fn args(dir: &Path) -> Vec<String> {
    let key = dir.join("key");
    if !key.exists() {
        std::fs::write(&key, "k".repeat(40)).unwrap();
    }
    let state = dir.join("state");
    vec!["--state-dir".into(), state.display().to_string(), "--state-key-file".into(), key.display().to_string()]
}

/// Every part's config text, from the sandbox's own state.
fn configs(h: &Harness) -> BTreeMap<String, String> {
    h.sandbox.part_configs()
}

/// The main parts of `location`, as the fleet seed places machines (a fifth in location 0).
fn main_parts_of_first_location() -> Vec<String> {
    (0..400).map(fleet::main_part_id).collect()
}

fn writes(h: &Harness) -> usize {
    h.methods().iter().filter(|m| m.ends_with("UpdateRobotPart")).count()
}

fn fragments_of(config: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(config).unwrap();
    value["fragments"].as_array().unwrap().iter().map(|f| f.as_str().unwrap_or_default().to_string()).collect()
}

/// The change's journal lines, as the server wrote them.
fn journal(dir: &Path, change_id: &str) -> Vec<Value> {
    let path = dir.join("state/changes").join(format!("{change_id}.jsonl"));
    std::fs::read_to_string(path).unwrap().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Every part of a change, through every page.
async fn every_part(h: &Harness, change_id: &str) -> (Value, Vec<Value>) {
    let mut args = json!({"change_id": change_id});
    let mut parts = Vec::new();
    loop {
        let page = h.ok("get_fleet_change", args.clone()).await;
        parts.extend(page["parts"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => args["cursor"] = json!(cursor),
            None => return (page, parts),
        }
    }
}

async fn until_state(h: &Harness, change_id: &str, wanted: &str) -> Value {
    for _ in 0..300 {
        let out = h.ok("get_fleet_change", json!({"change_id": change_id, "limit": 1})).await;
        if out["state"] == wanted {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{change_id} never became {wanted}");
}

#[tokio::test]
async fn a_fragment_reaches_every_main_part_of_the_big_location_in_waves_in_few_small_results() {
    let Fleet { h, dir } = Fleet::start().await;
    let started = std::time::Instant::now();
    let before = configs(&h);
    let location = big_location();
    let mains = main_parts_of_first_location();
    eprintln!("snapshot: {:?}", started.elapsed());
    let mut results = Vec::new();
    let plan = h
        .call(
            "plan_fleet_change",
            json!({"org_id": ids::ORG, "location_ids": [location],
                   "change": {"op": "add_item", "kind": "fragments", "item": PACK}}),
        )
        .await;
    results.push(text_len(&plan));
    eprintln!("plan: {:?}", started.elapsed());
    let plan = plan.structured_content.unwrap();
    assert_eq!(plan["targets"], 400, "{plan}");
    assert_eq!(plan["groups"].as_array().unwrap().len(), 1, "400 identical diffs are one group: {plan}");
    assert_eq!(plan["groups"][0]["count"], 400);
    assert_eq!(plan["waves"], json!({"canary": 1, "wave_size": 40, "count": 11}));
    assert_eq!(writes(&h), 0, "a plan writes nothing");

    let apply =
        h.call("apply_fleet_change", json!({"plan": plan["plan"], "confirm": true, "verify_seconds": 10})).await;
    results.push(text_len(&apply));
    eprintln!("apply: {:?}", started.elapsed());
    let apply = apply.structured_content.unwrap();
    assert_eq!(apply["state"], "done", "{apply}");
    let change_id = apply["change_id"].as_str().unwrap().to_string();
    // The status an assistant asks for: the counts and the first parts (problems come first).
    let status = h.call("get_fleet_change", json!({"change_id": change_id, "limit": 20})).await;
    results.push(text_len(&status));
    let status = status.structured_content.unwrap();
    let counts = &status["counts"];
    // 8 in 10 machines are online and must check in healthy; the others are written unverified.
    assert_eq!((counts["healthy"].as_u64(), counts["unverified"].as_u64()), (Some(320), Some(80)), "{status}");
    let total: usize = results.iter().sum();
    eprintln!("fleet change exchange for 400 targets: {} calls, {total} bytes of results {results:?}", results.len());
    assert!(results.len() <= 6 && total <= 40_000, "{results:?}");

    // The sandbox: exactly the 400 main parts gained the fragment, one write each, nothing else changed.
    assert_eq!(writes(&h), 400);
    let after = configs(&h);
    for (part, text) in &after {
        if mains.contains(part) {
            let (was, now) = (fragments_of(&before[part]), fragments_of(text));
            assert_eq!(now, [was, vec![PACK.to_string()]].concat(), "{part}");
        } else {
            assert_eq!(text, &before[part], "{part} is not a target");
        }
    }
    // In waves: each wave's health checks come before the next wave's first write.
    let lines = journal(dir.path(), &change_id);
    let intents_before_health = |nth_wave_end: usize| {
        let mut health = 0;
        let mut intents = 0;
        for line in &lines {
            match line["type"].as_str() {
                Some("intent") => intents += 1,
                Some("health") => {
                    health += 1;
                    if health == nth_wave_end {
                        return intents;
                    }
                }
                _ => {}
            }
        }
        intents
    };
    assert_eq!(intents_before_health(1), 1, "the canary is written and checked alone");
    assert_eq!(intents_before_health(2), 41, "the second wave is written only after the canary is checked");
    h.stop().await;
}

#[tokio::test]
async fn an_update_changes_one_attribute_on_every_arm_station_and_a_rollback_restores_every_byte() {
    let Fleet { h, dir: _dir } = Fleet::start().await;
    let before = configs(&h);
    let plan = h
        .ok(
            "plan_fleet_change",
            json!({"org_id": ids::ORG, "name_contains": "arm-",
                   "change": {"op": "update_item", "kind": "components", "name": "arm",
                              "patch": {"attributes": {"max_rpm": 250}}}}),
        )
        .await;
    assert_eq!(plan["targets"], 400, "{plan}");
    assert_eq!(plan["groups"].as_array().unwrap().len(), 1, "{plan}");
    let apply = h
        .ok(
            "apply_fleet_change",
            json!({"plan": plan["plan"], "confirm": true, "wave_size": 100, "verify_seconds": 10}),
        )
        .await;
    assert_eq!(apply["state"], "done", "{apply}");
    let after = configs(&h);
    let mut changed = 0;
    for (part, text) in &after {
        if text == &before[part] {
            continue;
        }
        changed += 1;
        let (mut was, now): (Value, Value) =
            (serde_json::from_str(&before[part]).unwrap(), serde_json::from_str(text).unwrap());
        let arm = was["components"].as_array_mut().unwrap().iter_mut().find(|c| c["name"] == "arm").unwrap();
        let now_arm = now["components"].as_array().unwrap().iter().find(|c| c["name"] == "arm").unwrap();
        let max_rpm = &now_arm["attributes"]["max_rpm"];
        assert_eq!(max_rpm.as_f64(), Some(250.0), "{part}");
        arm["attributes"]["max_rpm"] = max_rpm.clone();
        assert_eq!(now, was, "{part}: only the arm's max_rpm changed");
    }
    assert_eq!(changed, 400);

    let rollback = h
        .ok(
            "rollback_fleet_change",
            json!({"change_id": apply["change_id"], "confirm": true, "wave_size": 100, "verify_seconds": 10}),
        )
        .await;
    assert_eq!(rollback["state"], "done", "{rollback}");
    assert_eq!(configs(&h), before, "every config is back, byte for byte");
    let original = h.ok("get_fleet_change", json!({"change_id": apply["change_id"], "limit": 1})).await;
    assert_eq!(original["state"], "rolled_back");
    assert_eq!(original["rolled_back_by"], rollback["change_id"]);
    let again = h.err("rollback_fleet_change", json!({"change_id": rollback["change_id"], "confirm": true})).await;
    assert!(again["message"].as_str().unwrap().contains("is itself a rollback"), "{again}");
    let changes = h.ok("list_fleet_changes", json!({})).await;
    assert_eq!(changes["changes"][0]["change_id"], rollback["change_id"], "newest first: {changes}");
    h.stop().await;
}

#[tokio::test]
async fn a_broken_change_halts_after_the_canary_with_one_part_written() {
    let Fleet { h, dir: _dir } = Fleet::start().await;
    let before = configs(&h);
    let module = json!({"type": "registry", "name": "ghost", "module_id": "nobody:ghost", "version": "0.1.0"});
    let plan = h
        .ok(
            "plan_fleet_change",
            json!({"org_id": ids::ORG, "location_ids": [big_location()], "online_state": "online",
                   "change": {"op": "add_item", "kind": "modules", "item": module}}),
        )
        .await;
    assert_eq!(plan["targets"], 320, "{plan}");
    let apply = h.ok("apply_fleet_change", json!({"plan": plan["plan"], "confirm": true, "verify_seconds": 10})).await;
    assert_eq!(apply["state"], "halted", "{apply}");
    assert_eq!(apply["counts"], json!({"failed": 1, "pending": 319}), "{apply}");
    let failed = &apply["failed"][0];
    let logs = failed["logs"].to_string();
    assert!(logs.contains("not found in the registry"), "the part's own error is shown: {failed}");
    assert_eq!(writes(&h), 1, "later waves are not written");
    let after = configs(&h);
    assert_eq!(after.iter().filter(|(part, text)| before[*part] != **text).count(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_part_edited_between_plan_and_apply_is_a_conflict_and_keeps_the_edit() {
    let Fleet { h, dir: _dir } = Fleet::start().await;
    let machines: Vec<String> = (1..=3).map(|m| fleet::robot_id(m * 5)).collect();
    let plan = h
        .ok(
            "plan_fleet_change",
            json!({"org_id": ids::ORG, "machine_ids": machines,
                   "change": {"op": "add_item", "kind": "fragments", "item": PACK}}),
        )
        .await;
    assert_eq!(plan["targets"], 3, "{plan}");
    let edited = fleet::main_part_id(5);
    let edit = json!({"robot_part_id": edited, "kind": "services", "name": "vision",
                      "patch": {"attributes": {"mlmodel_name": "other"}}});
    h.ok("update_config_item", edit).await;
    let edited_config = configs(&h)[&edited].clone();
    let apply = h.ok("apply_fleet_change", json!({"plan": plan["plan"], "confirm": true, "verify_seconds": 10})).await;
    assert_eq!(apply["state"], "done", "{apply}");
    assert_eq!(apply["counts"]["conflict"], 1, "{apply}");
    assert_eq!(apply["conflicts"][0]["robot_part_id"], edited.as_str());
    assert_eq!(configs(&h)[&edited], edited_config, "the edited part is not overwritten");
    assert_eq!(writes(&h), 1 + 2, "the edit, then the two unchanged parts");
    let again = h.err("apply_fleet_change", json!({"plan": plan["plan"], "confirm": true})).await;
    assert!(again["message"].as_str().unwrap().contains("already applied"), "{again}");
    h.stop().await;
}

/// A plan of the big location's online parts, applied one part per wave so that it runs long.
async fn slow_apply(h: &Harness) -> Value {
    let plan = h
        .ok(
            "plan_fleet_change",
            json!({"org_id": ids::ORG, "location_ids": [big_location()], "online_state": "online",
                   "change": {"op": "add_item", "kind": "fragments", "item": PACK}}),
        )
        .await;
    json!({"plan": plan["plan"], "confirm": true, "wave_size": 1, "verify_seconds": 5})
}

/// The parts whose config the sandbox now shows changed.
fn changed(h: &Harness, before: &BTreeMap<String, String>) -> Vec<String> {
    configs(h).into_iter().filter(|(part, text)| before[part] != *text).map(|(p, _)| p).collect()
}

#[tokio::test]
async fn stop_fleet_change_stops_a_running_change_between_writes() {
    let Fleet { h, dir: _dir } = Fleet::start().await;
    let before = configs(&h);
    let mut apply = slow_apply(&h).await;
    apply["wait_seconds"] = json!(1);
    let running = h.ok("apply_fleet_change", apply).await;
    assert_eq!(running["state"], "running", "{running}");
    let change_id = running["change_id"].as_str().unwrap().to_string();
    let stopping = h.ok("stop_fleet_change", json!({"change_id": change_id})).await;
    assert_eq!(stopping["state"], "stopping");
    let stopped = until_state(&h, &change_id, "stopped").await;
    let written = writes(&h);
    assert!((1..320).contains(&written), "stopped part-way: {written} writes; {stopped}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(writes(&h), written, "nothing is written after the stop");
    // Every write finished: the record's written parts are exactly the parts the sandbox changed.
    let (_, parts) = every_part(&h, &change_id).await;
    let mut recorded: Vec<String> = parts
        .iter()
        .filter(|p| p.get("written_last_updated").is_some())
        .map(|p| p["robot_part_id"].as_str().unwrap().to_string())
        .collect();
    recorded.sort();
    assert_eq!(recorded, changed(&h, &before));
    assert_eq!(recorded.len(), written);
    let again = h.ok("stop_fleet_change", json!({"change_id": change_id})).await;
    assert_eq!(again["state"], "stopped", "stopping a stopped change changes nothing: {again}");
    h.stop().await;
}

#[tokio::test]
async fn cancelling_the_apply_stops_it_between_writes() {
    let Fleet { h, dir: _dir } = Fleet::start().await;
    let before = configs(&h);
    let apply = slow_apply(&h).await;
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new("apply_fleet_change").with_arguments(apply.as_object().unwrap().clone()),
    ));
    let handle = h.client.send_cancellable_request(request, PeerRequestOptions::no_options()).await.unwrap();
    while writes(&h) < 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.cancel(Some("test".into())).await.unwrap();
    let changes = h.ok("list_fleet_changes", json!({})).await;
    let change_id = changes["changes"][0]["change_id"].as_str().unwrap().to_string();
    until_state(&h, &change_id, "stopped").await;
    let written = writes(&h);
    assert!(written < 320, "{written}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(writes(&h), written, "nothing is written after the cancellation");
    assert_eq!(changed(&h, &before).len(), written);
    h.stop().await;
}

/// The server process serving this harness's client, found by its unique --state-dir.
fn server_pid(dir: &Path) -> i32 {
    let needle = dir.join("state").display().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) && pid != std::process::id() as i32 {
            return pid;
        }
    }
    panic!("no server process with {needle}");
}

#[tokio::test]
async fn a_change_killed_mid_apply_is_interrupted_and_rolled_back_after_a_restart() {
    let Fleet { h, dir } = Fleet::start().await;
    let before = configs(&h);
    let mut apply = slow_apply(&h).await;
    apply["wait_seconds"] = json!(1);
    let running = h.ok("apply_fleet_change", apply).await;
    let change_id = running["change_id"].as_str().unwrap().to_string();
    while writes(&h) < 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SAFETY: a signal to the child server process this test started.
    assert_eq!(unsafe { libc::kill(server_pid(dir.path()), libc::SIGKILL) }, 0);
    // The same sandbox and state directory, a new server process.
    let args = args(dir.path());
    let replica = h.replica(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[], ()).await;
    let call = |tool: &'static str, arguments: Value| {
        let replica = &replica;
        async move {
            let params = CallToolRequestParams::new(tool).with_arguments(arguments.as_object().unwrap().clone());
            let result = replica.call_tool(params).await.unwrap();
            assert_ne!(result.is_error, Some(true), "{tool}: {:?}", result.structured_content);
            result.structured_content.unwrap()
        }
    };
    let mut status = json!({});
    for _ in 0..100 {
        status = call("get_fleet_change", json!({"change_id": change_id})).await;
        if status["state"] == "interrupted" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status["state"], "interrupted", "{status}");
    // Exactly the parts the sandbox shows written are recorded as written.
    let mut recorded: Vec<String> = status["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("written_last_updated").is_some())
        .map(|p| p["robot_part_id"].as_str().unwrap().to_string())
        .collect();
    recorded.sort();
    assert!(!recorded.is_empty());
    assert_eq!(recorded, changed(&h, &before), "{status}");
    assert!(status["counts"].get("outcome_unknown").is_none(), "every open intent was resolved: {status}");

    let rollback = call(
        "rollback_fleet_change",
        json!({"change_id": change_id, "confirm": true, "wave_size": 10, "verify_seconds": 5}),
    )
    .await;
    assert_eq!(rollback["state"], "done", "{rollback}");
    assert_eq!(configs(&h), before, "every config is back after the restart");
    let _ = replica.cancel().await;
    h.stop().await;
}
