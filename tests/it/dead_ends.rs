//! Regression tests for issue 23, items 3, 4, 5 and 8, through the real binary: answers that led
//! nowhere. A wrong enum value that matched nothing, a confirmation question in JSON, hints and
//! fields that name what cannot be used, and a placeholder repeated in every listed location.
use crate::common::{self, Harness, assert_error_code};
use crate::confirm::Person;
use crate::fleet::{fleet_harness, text_len};
use prost::Message;
use rmcp::model::ElicitationAction;
use serde_json::{Value, json};
use viam_fleet_mcp::proto::viam::app::v1::GetRobotPartLogsRequest;
use viam_fleet_mcp::sandbox::{SandboxConfig, ids};

fn message(error: &Value) -> &str {
    error["message"].as_str().unwrap_or_default()
}

fn logs(more: Value) -> Value {
    let mut call = json!({"robot_part_id": ids::PART_ROVER_1_MAIN});
    call.as_object_mut().unwrap().extend(more.as_object().unwrap().clone());
    call
}

#[tokio::test]
async fn a_wrong_enum_value_is_refused_with_the_names_allowed_and_the_closest_one() {
    let h = Harness::start().await;
    for (wrong, meant) in [("warning", "warn"), ("err", "error")] {
        let error = h.err("get_robot_part_logs", logs(json!({"log_levels": [wrong]}))).await;
        assert_error_code(&error, "invalid_arguments");
        let text = message(&error);
        assert!(text.contains("log_levels") && text.contains("debug, info, warn, error"), "{text}");
        assert!(text.contains(&format!("did you mean \"{meant}\"")), "{text}");
    }
    let order = h.err("get_robot_part_logs", logs(json!({"order": "DESC"}))).await;
    assert!(message(&order).contains("order") && message(&order).contains("did you mean \"descending\""), "{order}");
    assert!(h.methods().is_empty(), "a refused call sends nothing: {:?}", h.methods());

    // Every enum is read case-insensitively alike, and sent as the SDK spells it.
    let errors = h.ok("get_robot_part_logs", logs(json!({"log_levels": ["Error"], "order": "Descending"}))).await;
    assert!(errors["total"].as_u64().unwrap() > 0, "{errors}");
    let sent = GetRobotPartLogsRequest::decode(h.sandbox.journal()[0].1.as_slice()).unwrap();
    assert_eq!(sent.levels, ["error"]);
    let role = json!({"org_id": ids::ORG, "identity_id": ids::USER_BOB, "role": "Owner", "resource_type": "Location",
        "resource_id": ids::LOCATION_LAB});
    h.ok("add_role", role).await;
    let listing = h.ok("list_authorizations", json!({"org_id": ids::ORG})).await;
    let granted = listing["authorizations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["identity_id"] == json!(ids::USER_BOB) && a["authorization_id"] == json!("location_owner"));
    assert!(granted, "{listing}");
    let check = json!({"permissions": [{"resource_type": "ROBOT", "resource_id": ids::ROBOT_ROVER_1}]});
    h.ok("check_permissions", check).await;

    // The schema says which levels there are.
    let tools = h.tools().await;
    let schema = &tools.iter().find(|t| t.name == "get_robot_part_logs").unwrap().input_schema;
    assert_eq!(schema["properties"]["log_levels"]["items"]["enum"], json!(["debug", "info", "warn", "error"]));
    h.stop().await;
}

async fn an_eliciting_client_asks_a_sentence_that_names_what_goes() {
    let person = Person::new(ElicitationAction::Accept);
    let h = Harness::start_client(SandboxConfig::default(), &[], person.clone()).await;
    let instructions = h.client.peer_info().and_then(|info| info.instructions.clone()).unwrap_or_default();
    assert!(instructions.contains("a client that shows forms asks the user"), "{instructions}");
    h.ok("rotate_key", json!({"id": ids::API_KEY_ROVER})).await;
    h.ok("delete_robot", json!({"robot_id": ids::ROBOT_ROVER_1})).await;
    // The person is asked first; the service then refuses to delete a location that has machines.
    h.call("delete_location", json!({"location_id": ids::LOCATION_LAB})).await;
    let questions = person.asked.lock().unwrap().clone();
    assert_eq!(
        questions,
        [
            "Rotate API key rover-1-operator (1 authorization: robot_operator)?",
            "Delete machine rover-1 in location Warehouse (2 parts: rover-1-main, rover-1-lidar)?",
            "Delete location Lab (2 machines: arm-station, test-bench)?",
        ]
    );
    assert!(!h.sandbox.snapshot()["robots"].to_string().contains(ids::ROBOT_ROVER_1), "accepted, so deleted");
    h.stop().await;
}

common::over_both_transports!(an_eliciting_client_asks_a_sentence_that_names_what_goes);

#[tokio::test]
async fn a_key_without_a_role_is_pointed_to_a_tool_it_can_call() {
    let h = Harness::start_as(SandboxConfig::default(), ids::API_KEY_ROVER, ids::API_KEY_ROVER_SECRET).await;
    let denied = h.err("delete_robot", json!({"robot_id": ids::ROBOT_ROVER_1, "confirm": true})).await;
    assert_error_code(&denied, "PERMISSION_DENIED");
    let hint = denied["hint"].as_str().unwrap();
    assert!(hint.contains("check_permissions") && !hint.contains("list_authorizations"), "{hint}");
    assert_error_code(&h.err("list_authorizations", json!({"org_id": ids::ORG})).await, "PERMISSION_DENIED");
    let check = json!({"permissions": [{"resource_type": "robot", "resource_id": ids::ROBOT_ROVER_1,
        "permissions": ["read_robot", "delete_robot"]}]});
    let allowed = h.ok("check_permissions", check).await;
    assert!(allowed["authorized_permissions"].to_string().contains("read_robot"), "{allowed}");
    h.stop().await;
}

#[tokio::test]
async fn part_logs_say_more_exist_in_a_field_the_schema_names_and_no_argument_needs() {
    // The output schema is declared on request only.
    let h = Harness::start_with(Default::default(), &["--output-schemas"]).await;
    let some = h.ok("get_robot_part_logs", logs(json!({"num_log_entries": 3}))).await;
    assert!(some.get("next_page_token").is_none(), "{some}");
    assert!(some["more_entries"].as_str().unwrap().contains("num_log_entries"), "{some}");
    let all = h.ok("get_robot_part_logs", logs(json!({"num_log_entries": 0}))).await;
    assert!(all.get("next_page_token").is_none() && all.get("more_entries").is_none(), "{all}");
    let tools = h.tools().await;
    let output = tools.iter().find(|t| t.name == "get_robot_part_logs").unwrap().output_schema.clone().unwrap();
    assert!(output["properties"].get("more_entries").is_some(), "{output:?}");
    assert!(output["properties"].get("next_page_token").is_none(), "{output:?}");
    h.stop().await;
}

#[tokio::test]
async fn argument_errors_read_alike_and_list_every_argument_a_tool_takes() {
    let h = Harness::start().await;
    let unknown = h.err("list_locations", json!({"org_id": ids::ORG, "colour": 1})).await;
    assert_eq!(message(&unknown), "invalid arguments: colour: unknown argument; this tool takes org_id, limit, cursor");
    let unknown = h.err("list_organizations", json!({"colour": 1})).await;
    assert_eq!(message(&unknown), "invalid arguments: colour: unknown argument; this tool takes limit, cursor");
    let unknown = h.err("delete_robot", json!({"robot_id": ids::ROBOT_ROVER_1, "colour": 1})).await;
    assert!(message(&unknown).ends_with("this tool takes robot_id, confirm"), "{unknown}");
    // One missing argument reads as each of several does.
    let missing = h.err("list_locations", json!({})).await;
    assert_eq!(message(&missing), "invalid arguments: org_id: missing (required)");
    let both = h.err("list_locations", json!({"organization_id": ids::ORG})).await;
    assert!(message(&both).contains("org_id: missing (required); organization_id: unknown argument"), "{both}");
    assert!(h.methods().is_empty(), "{:?}", h.methods());
    h.stop().await;
}

#[tokio::test]
async fn a_large_listing_says_once_what_redacted_means() {
    let h = fleet_harness(&[]).await;
    let result = h.call("list_locations", json!({"org_id": ids::ORG})).await;
    let bytes = text_len(&result);
    let listing = result.structured_content.unwrap();
    // 17,321 bytes before, 6,040 of them a 151-byte placeholder repeated.
    assert!(bytes < 12_500, "{bytes} bytes");
    let locations = listing["locations"].as_array().unwrap();
    assert!(locations.len() >= 20, "{}", locations.len());
    assert!(locations.iter().all(|l| l["auth"]["secret"] == json!("<redacted>")), "{listing}");
    let note = listing["redacted"].as_str().unwrap();
    assert!(note.contains("<redacted>") && note.contains("create_location_secret"), "{note}");
    assert_eq!(listing.to_string().matches("create_location_secret").count(), 1);
    let instructions = h.client.peer_info().and_then(|info| info.instructions.clone()).unwrap_or_default();
    assert!(instructions.contains("<redacted>") && instructions.contains("redacted note"), "{instructions}");
    h.stop().await;
}
