//! Scope pinning through the real binary: `--org` / `--location` let changes inside the scope
//! through, and refuse every change outside it before anything but reads reaches the service.
use crate::common;

use common::{Harness, assert_error_code};
use serde_json::{Value, json};
use viam_fleet_mcp::sandbox::{SandboxConfig, ids};

common::over_both_transports!(location_pin_allows_changes_inside_and_refuses_everything_outside);

const OTHER_ORG: &str = "de300000-0001-4000-8000-0000000000ff";

async fn pinned(args: &[&str]) -> Harness {
    Harness::start_with(SandboxConfig::default(), args).await
}

/// Calls `tool` and asserts it is refused as out of scope with nothing changed: the service saw
/// only reads (to resolve the target) and its state is as before. Returns the message.
async fn refused(harness: &Harness, tool: &str, arguments: Value) -> String {
    harness.sandbox.clear_journal();
    let before = harness.sandbox.snapshot();
    let error = harness.err(tool, arguments).await;
    assert_error_code(&error, "out_of_scope");
    let methods = harness.methods();
    assert!(
        methods.iter().all(|m| m.starts_with("Get") || m.starts_with("List")),
        "{tool} sent more than reads: {methods:?}"
    );
    assert!(harness.sandbox.snapshot() == before, "{tool} changed the sandbox");
    error["message"].as_str().unwrap().to_string()
}

fn q(id: &str) -> String {
    format!("{id:?}")
}

async fn location_pin_allows_changes_inside_and_refuses_everything_outside() {
    let h = pinned(&["--location", ids::LOCATION_WAREHOUSE]).await;
    let scope = format!("(--location {})", ids::LOCATION_WAREHOUSE);

    // Inside: machines and parts in the Warehouse, including a destructive call.
    h.ok(
        "update_robot",
        json!({"robot_id": ids::ROBOT_ROVER_1, "name": "rover-1b", "location_id": ids::LOCATION_WAREHOUSE}),
    )
    .await;
    h.ok("new_robot_part", json!({"robot_id": ids::ROBOT_ROVER_2, "part_name": "camera"})).await;
    h.ok("delete_robot_part", json!({"robot_part_id": ids::PART_ROVER_1_LIDAR, "confirm": true})).await;
    h.ok("create_location_secret", json!({"location_id": ids::LOCATION_WAREHOUSE})).await;
    // The rover key's only role is on rover-1, a machine in the Warehouse.
    h.ok("rotate_key", json!({"id": ids::API_KEY_ROVER, "confirm": true})).await;
    // A new location under a pinned one lives inside it.
    h.ok(
        "create_location",
        json!({"org_id": ids::ORG, "name": "Bay 2", "parent_location_id": ids::LOCATION_WAREHOUSE}),
    )
    .await;

    // A machine in another location.
    let message = refused(
        &h,
        "update_robot",
        json!({"robot_id": ids::ROBOT_ARM, "name": "arm", "location_id": ids::LOCATION_WAREHOUSE}),
    )
    .await;
    let expected = format!(
        "robot {} is in location {} of organization {}, outside the allowed scope {scope}",
        q(ids::ROBOT_ARM),
        q(ids::LOCATION_LAB),
        q(ids::ORG)
    );
    assert!(message.starts_with(&expected), "{message}");
    // A part of such a machine, even with confirm: the scope is checked before the confirm gate.
    let message =
        refused(&h, "delete_robot_part", json!({"robot_part_id": ids::PART_ARM_GRIPPER, "confirm": true})).await;
    let expected = format!(
        "part {} of robot {} is in location {}",
        q(ids::PART_ARM_GRIPPER),
        q(ids::ROBOT_ARM),
        q(ids::LOCATION_LAB)
    );
    assert!(message.starts_with(&expected) && message.contains(&scope), "{message}");
    refused(&h, "mark_part_for_restart", json!({"robot_part_id": ids::PART_BENCH_MAIN})).await;
    // Moving an inside machine to an outside location.
    let message = refused(
        &h,
        "update_robot",
        json!({"robot_id": ids::ROBOT_ROVER_2, "name": "rover-2", "location_id": ids::LOCATION_LAB}),
    )
    .await;
    assert!(message.starts_with(&format!("location {} is in organization", q(ids::LOCATION_LAB))), "{message}");
    // Matching is exact: a location nested under the pinned one is not inside it.
    refused(&h, "delete_location", json!({"location_id": ids::LOCATION_LOADING_DOCK, "confirm": true})).await;
    // Organization-level tools are outside any --location.
    let message = refused(&h, "create_fragment", json!({"org_id": ids::ORG, "name": "f"})).await;
    assert!(message.starts_with(&format!("organization {} is an organization-level target", q(ids::ORG))), "{message}");
    assert!(message.contains(&scope) && message.contains("--org"), "{message}");
    refused(&h, "update_organization", json!({"org_id": ids::ORG, "name": "x"})).await;
    refused(&h, "delete_organization", json!({"org_id": ids::ORG, "confirm": true})).await;
    refused(&h, "create_organization", json!({"name": "new"})).await;
    refused(&h, "create_key", json!({"org_id": ids::ORG, "authorizations": [{"role": "owner", "resource_type": "organization", "resource_id": ids::ORG}]})).await;
    let message = refused(&h, "delete_fragment", json!({"fragment_id": ids::FRAGMENT, "confirm": true})).await;
    assert!(
        message.starts_with(&format!("fragment {} belongs to organization {}", q(ids::FRAGMENT), q(ids::ORG))),
        "{message}"
    );
    refused(
        &h,
        "update_module",
        json!({"module_id": ids::MODULE_ID, "url": "u", "description": "d", "entrypoint": "run"}),
    )
    .await;
    // Sharing the pinned location with an organization reaches outside the location.
    refused(&h, "share_location", json!({"location_id": ids::LOCATION_WAREHOUSE, "organization_id": OTHER_ORG})).await;
    // A call that names an organization its target is not in.
    let role = json!({"org_id": OTHER_ORG, "identity_id": ids::USER_BOB, "role": "operator",
        "resource_type": "location", "resource_id": ids::LOCATION_WAREHOUSE});
    let message = refused(&h, "add_role", role).await;
    assert!(message.contains(&format!("not in organization {}", q(OTHER_ORG))), "{message}");

    // Reads are not restricted: pinning bounds changes, and reads find the ids.
    h.ok("get_robot", json!({"robot_id": ids::ROBOT_ARM})).await;
    h.ok("list_robots", json!({"location_id": ids::LOCATION_LAB})).await;
    h.ok("get_organization", json!({"org_id": ids::ORG})).await;
    h.stop().await;
}

#[tokio::test]
async fn org_pin_refuses_every_target_of_another_organization() {
    let h = pinned(&["--org", OTHER_ORG]).await;
    let message = refused(
        &h,
        "update_robot",
        json!({"robot_id": ids::ROBOT_ROVER_1, "name": "r", "location_id": ids::LOCATION_WAREHOUSE}),
    )
    .await;
    let expected = format!(
        "robot {} is in location {} of organization {}, outside the allowed scope (--org {OTHER_ORG})",
        q(ids::ROBOT_ROVER_1),
        q(ids::LOCATION_WAREHOUSE),
        q(ids::ORG)
    );
    assert!(message.starts_with(&expected), "{message}");
    refused(&h, "delete_robot_part", json!({"robot_part_id": ids::PART_ROVER_1_LIDAR, "confirm": true})).await;
    refused(&h, "update_fragment", json!({"fragment_id": ids::FRAGMENT, "name": "x", "confirm": true})).await;
    refused(&h, "delete_registry_item", json!({"item_id": ids::ML_MODEL_ID, "confirm": true})).await;
    refused(&h, "upload_module_file", json!({"module_file_info": {"module_id": ids::MODULE_ID, "version": "9.0.0", "platform": "linux/amd64"}, "file_base64": ""})).await;
    // An API key resolves through ListKeys to the resources it grants.
    let message = refused(&h, "delete_key", json!({"id": ids::API_KEY_ROVER, "confirm": true})).await;
    assert!(message.starts_with(&format!("robot {}", q(ids::ROBOT_ROVER_1))), "{message}");
    refused(&h, "create_key_from_existing_key_authorizations", json!({"id": ids::API_KEY_ROVER})).await;
    refused(&h, "create_location", json!({"org_id": ids::ORG, "name": "n"})).await;
    refused(&h, "delete_organization_member", json!({"org_id": ids::ORG, "user_id": ids::USER_BOB, "confirm": true}))
        .await;
    refused(&h, "create_organization", json!({"name": "new"})).await;
    h.stop().await;
}

#[tokio::test]
async fn org_pin_allows_everything_in_the_organization() {
    let h = pinned(&["--org", ids::ORG]).await;
    h.ok("create_fragment", json!({"org_id": ids::ORG, "name": "f"})).await;
    h.ok("update_robot", json!({"robot_id": ids::ROBOT_ARM, "name": "arm-2", "location_id": ids::LOCATION_LAB})).await;
    h.ok("mark_part_as_main", json!({"robot_part_id": ids::PART_BENCH_SENSORS})).await;
    h.ok("update_fragment", json!({"fragment_id": ids::FRAGMENT, "name": "rover-base-2", "confirm": true})).await;
    let key = json!({"org_id": ids::ORG, "name": "k", "authorizations": [{"role": "operator", "resource_type": "robot", "resource_id": ids::ROBOT_ARM}]});
    h.ok("create_key", key).await;
    h.ok("create_key_from_existing_key_authorizations", json!({"id": ids::API_KEY_ROVER})).await;
    h.stop().await;
}

/// With both flags, machines and locations must be in a --location and organization-level
/// targets in an --org.
#[tokio::test]
async fn both_pins_judge_each_target_by_its_kind() {
    let h = pinned(&["--org", ids::ORG, "--location", ids::LOCATION_LAB]).await;
    h.ok("create_fragment", json!({"org_id": ids::ORG, "name": "f"})).await;
    h.ok("update_robot", json!({"robot_id": ids::ROBOT_ARM, "name": "arm-2", "location_id": ids::LOCATION_LAB})).await;
    let message = refused(
        &h,
        "update_robot",
        json!({"robot_id": ids::ROBOT_ROVER_1, "name": "r", "location_id": ids::LOCATION_WAREHOUSE}),
    )
    .await;
    let scope = format!("(--org {}; --location {})", ids::ORG, ids::LOCATION_LAB);
    assert!(message.contains(&scope), "{message}");
    h.stop().await;
}
