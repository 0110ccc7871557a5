//! The sandbox's simulated viam-servers through the real binary: online parts check in, a config
//! change is applied at the next check-in, and a broken config shows in the logs and the online state.
use std::time::Duration;

use crate::common::Harness;
use serde_json::{Value, json};
use viam_fleet_mcp::sandbox::{SandboxConfig, ids};

const PERIOD: Duration = Duration::from_millis(50);

async fn harness() -> Harness {
    Harness::start_with(SandboxConfig { checkin_period: PERIOD, ..SandboxConfig::default() }, &[]).await
}

/// Polls `read` until `done` holds (a bounded number of check-in periods), and returns the last answer.
async fn until(h: &Harness, what: &str, read: (&str, Value), done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let out = h.ok(read.0, read.1.clone()).await;
        if done(&out) {
            return out;
        }
        tokio::time::sleep(PERIOD / 2).await;
    }
    panic!("{what}: never happened");
}

fn robot(id: &str) -> (&'static str, Value) {
    ("get_robot", json!({"robot_id": id}))
}

fn errors(part_id: &str, filter: &str) -> (&'static str, Value) {
    ("get_robot_part_logs", json!({"robot_part_id": part_id, "log_levels": ["error"], "filter": filter}))
}

fn messages(logs: &Value) -> Vec<(String, String)> {
    let logs = logs["logs"].as_array().unwrap();
    logs.iter().map(|e| (e["time"].as_str().unwrap().to_string(), e["message"].as_str().unwrap().to_string())).collect()
}

fn last_access(robot: &Value) -> String {
    robot["robot"]["last_access"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_online_machine_checks_in_and_an_offline_one_does_not() {
    let h = harness().await;
    let online = h.ok("get_robot", json!({"robot_id": ids::ROBOT_ROVER_1})).await;
    let first = last_access(&online);
    until(&h, "a later check-in", robot(ids::ROBOT_ROVER_1), |r| last_access(r) > first).await;
    let part = h.ok("get_robot_part", json!({"robot_part_id": ids::PART_ROVER_1_MAIN})).await;
    assert!(part["part"]["last_access"].as_str().unwrap() > first.as_str(), "{part}");

    let offline = h.ok("get_robot", json!({"robot_id": ids::ROBOT_ROVER_2})).await;
    tokio::time::sleep(PERIOD * 4).await;
    let later = h.ok("get_robot", json!({"robot_id": ids::ROBOT_ROVER_2})).await;
    assert_eq!(last_access(&later), last_access(&offline));
    assert_eq!(later["robot"]["online_state"], "ONLINE_STATE_OFFLINE");
    let seconds = |r: &Value| r["robot"]["seconds_since_online"].as_str().unwrap().parse::<i64>().unwrap();
    assert!(seconds(&later) >= 3 * 86_400, "{later}");

    let awaiting = h.ok("get_robot", json!({"robot_id": ids::ROBOT_BENCH})).await;
    assert_eq!(awaiting["robot"]["online_state"], "ONLINE_STATE_AWAITING_SETUP");
    assert!(awaiting["robot"].get("last_access").is_none(), "never online: {awaiting}");
    h.stop().await;
}

#[tokio::test]
async fn a_missing_module_logs_errors_and_takes_the_part_offline_until_the_config_is_fixed() {
    let h = harness().await;
    let module = |id: &str| {
        json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "kind": "modules", "name": "demo-robotics_wheel-odometry",
               "patch": {"module_id": id}})
    };
    h.ok("update_config_item", module("acme:nope")).await;
    let problem = r#"module "acme:nope" not found in the registry"#;
    let logs = until(&h, "the error entry", errors(ids::PART_ROVER_1_MAIN, "acme:nope"), |l| {
        !l["logs"].as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(messages(&logs)[0].1, problem);
    let down = h.ok("get_robot", json!({"robot_id": ids::ROBOT_ROVER_1})).await;
    assert_eq!(down["robot"]["online_state"], "ONLINE_STATE_OFFLINE", "{down}");
    // The check-in that applied the config is the last one seen, and the error is from it.
    assert_eq!(last_access(&down), messages(&logs)[0].0);
    let summaries = h.ok("list_machine_summaries", json!({"org_id": ids::ORG})).await;
    let rover = summaries["machines"].as_array().unwrap().iter().find(|m| m["name"] == "rover-1").unwrap();
    assert_eq!(rover["online_state"], "offline", "{rover}");
    tokio::time::sleep(PERIOD * 4).await;
    let still = h.ok("get_robot", json!({"robot_id": ids::ROBOT_ROVER_1})).await;
    assert_eq!(
        (last_access(&still), &still["robot"]["online_state"]),
        (last_access(&down), &down["robot"]["online_state"])
    );

    h.ok("update_config_item", module(ids::MODULE_ID)).await;
    let back =
        until(&h, "back online", robot(ids::ROBOT_ROVER_1), |r| r["robot"]["online_state"] == "ONLINE_STATE_ONLINE")
            .await;
    until(&h, "check-ins after the fix", robot(ids::ROBOT_ROVER_1), |r| last_access(r) > last_access(&back)).await;
    let after =
        h.ok(errors(ids::PART_ROVER_1_MAIN, "acme:nope").0, errors(ids::PART_ROVER_1_MAIN, "acme:nope").1).await;
    assert_eq!(messages(&after), messages(&logs), "one entry, from the check-in that went offline");
    h.stop().await;
}

#[tokio::test]
async fn a_broken_model_logs_at_every_checkin_and_the_part_stays_online() {
    let h = harness().await;
    let patch = |model: &str| json!({"robot_part_id": ids::PART_ARM_MAIN, "kind": "components", "name": "arm", "patch": {"model": model}});
    let before = h.ok("get_robot", json!({"robot_id": ids::ROBOT_ARM})).await;
    h.ok("update_config_item", patch("broken:ur5e")).await;
    let logs = until(&h, "two error entries", errors(ids::PART_ARM_MAIN, "broken:ur5e"), |l| {
        l["logs"].as_array().unwrap().len() >= 2
    })
    .await;
    assert_eq!(messages(&logs)[0].1, r#"component "arm": model "broken:ur5e" failed to build"#);
    let broken = h.ok("get_robot", json!({"robot_id": ids::ROBOT_ARM})).await;
    assert_eq!(broken["robot"]["online_state"], "ONLINE_STATE_ONLINE");
    assert!(last_access(&broken) > last_access(&before));

    h.ok("update_config_item", patch("viam:universal-robots:ur5e")).await;
    // Once a check-in after the fix has passed, no entry is newer than it.
    let fixed = until(&h, "a check-in", robot(ids::ROBOT_ARM), |_| true).await;
    let applied = until(&h, "the fix applied", robot(ids::ROBOT_ARM), |r| last_access(r) > last_access(&fixed)).await;
    until(&h, "more check-ins", robot(ids::ROBOT_ARM), |r| last_access(r) > last_access(&applied)).await;
    let all = messages(&until(&h, "a read", errors(ids::PART_ARM_MAIN, "broken:"), |_| true).await);
    assert!(all.iter().all(|(time, _)| time.as_str() <= last_access(&applied).as_str()), "{all:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_fragment_revision_that_does_not_exist_logs_errors() {
    let h = harness().await;
    let config = json!({"components": [{"name": "gripper", "type": "gripper", "model": "fake"}],
                        "fragments": [{"id": ids::FRAGMENT, "version": "9"}]});
    let update = json!({"robot_part_id": ids::PART_ARM_GRIPPER, "name": "arm-station-gripper", "robot_config": config, "confirm": true});
    h.ok("update_robot_part", update).await;
    let logs = until(&h, "the error entry", errors(ids::PART_ARM_GRIPPER, "revision"), |l| {
        !l["logs"].as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(messages(&logs)[0].1, format!("fragment {:?} has no revision \"9\"", ids::FRAGMENT));
    h.stop().await;
}

#[tokio::test]
async fn seeded_times_are_relative_to_the_start_and_log_integers_are_integers() {
    let time = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp();
    let before_start = chrono::Utc::now().timestamp();
    let h = harness().await;
    // Online at the start, on the one clock: not at a frozen date.
    let rover = h.ok("get_robot", json!({"robot_id": ids::ROBOT_ROVER_1})).await;
    assert!(time(&last_access(&rover)) >= before_start, "{rover} started {before_start}");
    let offline = h.ok("get_robot", json!({"robot_id": ids::ROBOT_ROVER_2})).await;
    assert!(time(&last_access(&offline)) >= before_start - 3 * 86_400, "offline for 3 days: {offline}");
    let logs = h.ok("get_robot_part_logs", json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "limit": 1})).await;
    let entry = &logs["logs"][0];
    assert!(entry["caller"]["Line"].is_u64() && entry["fields"][0]["seq"].is_u64(), "{entry}");
    assert!(time(entry["time"].as_str().unwrap()) < before_start, "seeded entries are in the past: {entry}");
    h.stop().await;
}

#[tokio::test]
async fn a_fragment_that_goes_bad_reaches_the_online_parts_importing_it() {
    let h = harness().await;
    let patch = json!({"fragment_id": ids::FRAGMENT, "kind": "components", "name": "imu",
                       "patch": {"model": "broken:imu"}});
    h.ok("update_config_item", patch).await;
    let logs = until(&h, "the error entry", errors(ids::PART_ROVER_1_MAIN, "broken:imu"), |l| {
        !l["logs"].as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(messages(&logs)[0].1, r#"component "imu": model "broken:imu" failed to build"#);
    // rover-2 imports it too, but is offline: it never fetches its config.
    let (tool, arguments) = errors(ids::PART_ROVER_2_MAIN, "broken:imu");
    assert_eq!(h.ok(tool, arguments).await["logs"], json!([]));
    h.stop().await;
}

#[test]
fn the_checkin_period_is_a_bounded_flag_and_an_environment_variable() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        std::process::Command::new(crate::common::BIN)
            .args(args)
            .envs(env.iter().copied())
            .env_remove("VIAM_LOCATION_ID")
            .output()
            .unwrap()
    };
    let call = ["call", "get_robot", r#"{"robot_id": "de300000-0003-4000-8000-000000000001"}"#];
    let zero = run(&[&["--sandbox", "--sandbox-checkin-ms", "0"][..], &call].concat(), &[]);
    assert_eq!(zero.status.code(), Some(2), "{zero:?}");
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--sandbox-checkin-ms"), "{zero:?}");
    let from_env = run(&[&["--sandbox"][..], &call].concat(), &[("VIAM_SANDBOX_CHECKIN_MS", "3600001")]);
    assert_eq!(from_env.status.code(), Some(2), "{from_env:?}");
    let fine = run(&[&["--sandbox"][..], &call].concat(), &[("VIAM_SANDBOX_CHECKIN_MS", "50")]);
    assert!(fine.status.success(), "{fine:?}");
}
