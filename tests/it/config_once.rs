//! Each config once (issue 7), through the real binary: `get_robot_part` and `get_fragment` carry
//! a part's or fragment's config as one object, equal to the JSON text the service sent, with no
//! copy as text beside it; the results still match their output schemas (`--output-schemas`).
use crate::common::Harness;
use crate::fleet::fleet_harness;
use crate::sandbox::client;
use serde_json::{Value, json};
use viam_fleet_mcp::proto::viam::app::v1::{GetFragmentRequest, GetRobotPartRequest};
use viam_fleet_mcp::sandbox::{fleet, ids};

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// Calls `tool` and checks its result against the tool's output schema.
async fn call(h: &Harness, tool: &str, arguments: Value) -> Value {
    let tools = h.tools().await;
    let schema = tools.iter().find(|t| t.name == tool).unwrap().output_schema.clone().unwrap();
    assert!(!schema["properties"].as_object().unwrap().contains_key("config_json"), "{tool}: {schema:?}");
    let out = h.ok(tool, arguments).await;
    let validator = jsonschema::validator_for(&Value::Object((*schema).clone())).unwrap();
    assert!(validator.is_valid(&out), "{tool}: {out}");
    out
}

async fn carries_each_config_once(h: &Harness, part_id: &str, fragment_id: &str) {
    let mut app = client(&h.sandbox).await;
    let sent = app.get_robot_part(GetRobotPartRequest { id: part_id.into() }).await.unwrap().into_inner();
    let out = call(h, "get_robot_part", json!({"robot_part_id": part_id})).await;
    // Beside the part, only the note on its redacted secrets.
    let keys: Vec<&String> = out.as_object().unwrap().keys().filter(|k| *k != "redacted").collect();
    assert_eq!(keys, ["part"], "{out}");
    assert!(out["part"].get("robot_config_json").is_none());
    let config = parsed(&sent.config_json);
    assert!(config.as_object().is_some_and(|c| !c.is_empty()), "{config}");
    assert_eq!(out["part"]["robot_config"], config);

    let request = GetFragmentRequest { id: fragment_id.into(), ..Default::default() };
    let sent = app.get_fragment(request).await.unwrap().into_inner().fragment.unwrap();
    let out = call(h, "get_fragment", json!({"fragment_id": fragment_id})).await;
    assert!(out["fragment"].get("fragment_config_json").is_none());
    let config = parsed(sent.fragment_config_json.as_deref().unwrap());
    assert!(config.as_object().is_some_and(|c| !c.is_empty()), "{config}");
    assert_eq!(out["fragment"]["fragment"], config);
}

#[tokio::test]
async fn get_robot_part_and_get_fragment_carry_each_config_once_on_the_fleet() {
    let h = fleet_harness(&["--output-schemas"]).await;
    let fragment = h.ok("list_fragments", json!({"org_id": ids::ORG})).await["fragments"][0]["id"].clone();
    carries_each_config_once(&h, &fleet::main_part_id(0), fragment.as_str().unwrap()).await;
    h.stop().await;
}

#[tokio::test]
async fn get_robot_part_and_get_fragment_carry_each_config_once_on_the_demo() {
    let h = Harness::start_with(Default::default(), &["--output-schemas"]).await;
    carries_each_config_once(&h, ids::PART_ROVER_1_MAIN, ids::FRAGMENT).await;
    h.stop().await;
}
