//! Secrets through the real binary: every tool of the catalogue runs against the sandbox's
//! seeded secrets and none comes back unless the tool hands it out; `--show-secrets` shows them
//! (never the server's own key); `--secrets-dir` moves a handed-out secret into a 0600 file; and
//! config values are redacted by key name, in results and in the audit log.
use crate::common;

use common::Harness;
use rmcp::model::CallToolResult;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use viam_fleet_mcp::sandbox::{DEMO_API_KEY, SandboxConfig, ids};

common::over_both_transports!(no_tool_returns_a_seeded_secret_unless_it_hands_it_out);

/// Whose secret a seeded value is, as the sandbox state files it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Location,
    Part,
    ApiKey,
}

/// Every secret-looking value of the sandbox state, by kind: `locations[].auth`,
/// `parts[].part` (and its history), `api_keys[]`.
pub(crate) fn seeded_secrets(snapshot: &Value) -> Vec<(String, Kind)> {
    fn walk(value: &Value, kind: Kind, out: &mut Vec<(String, Kind)>) {
        match value {
            Value::Object(object) => {
                for (key, v) in object {
                    let named =
                        ["secret", "key", "password", "token", "api_key", "private_key"].contains(&key.as_str());
                    match v {
                        Value::String(s) if named && !s.is_empty() => out.push((s.clone(), kind)),
                        _ => walk(v, kind, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, kind, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (section, kind) in [("locations", Kind::Location), ("parts", Kind::Part), ("api_keys", Kind::ApiKey)] {
        walk(&snapshot[section], kind, &mut out);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup();
    out
}

/// The kind of seeded secret a tool is there to hand out. (The key tools hand out new keys only.)
fn hands_out(tool: &str) -> Option<Kind> {
    match tool {
        "location_auth" | "create_location_secret" => Some(Kind::Location),
        "create_robot_part_secret" => Some(Kind::Part),
        _ => None,
    }
}

fn is_hand_out(tool: &str) -> bool {
    matches!(
        tool,
        "location_auth"
            | "create_location_secret"
            | "create_robot_part_secret"
            | "create_key"
            | "rotate_key"
            | "create_key_from_existing_key_authorizations"
    )
}

/// Every string under a field named `secret` or `key`, with its JSON path.
fn secret_fields(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(object) => {
            for (key, v) in object {
                let here = format!("{path}/{key}");
                match v {
                    Value::String(s) if key == "secret" || key == "key" => out.push((here, s.clone())),
                    _ => secret_fields(v, &here, out),
                }
            }
        }
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, v)| secret_fields(v, &format!("{path}/{i}"), out))
        }
        _ => {}
    }
}

/// Replaces each `"$name"` string in the arguments by the id captured under that name.
fn resolve(arguments: &Value, captured: &HashMap<String, String>) -> Value {
    match arguments {
        Value::String(s) if s.starts_with('$') => {
            json!(captured.get(&s[1..]).unwrap_or_else(|| panic!("{s} was not captured yet")))
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, captured)).collect()),
        Value::Object(object) => Value::Object(object.iter().map(|(k, v)| (k.clone(), resolve(v, captured))).collect()),
        other => other.clone(),
    }
}

fn grant(resource_type: &str, id: &str) -> Value {
    json!({"authorization_type": "role", "authorization_id": format!("{resource_type}_operator"),
        "resource_type": resource_type, "resource_id": id, "organization_id": ids::ORG, "identity_type": "user"})
}

/// (name, JSON pointer): an id of a result that later arguments use as `"$name"`.
type Capture = (&'static str, &'static str);

/// Every tool with valid arguments, in an order where each finds what it needs. Reads and
/// changes of seeded things come first where they carry seeded secrets.
fn calls() -> Vec<(&'static str, Value, Option<Capture>)> {
    let (org, warehouse, lab) = (ids::ORG, ids::LOCATION_WAREHOUSE, ids::LOCATION_LAB);
    let invitee = "new.person@example.com";
    let role = |role: &str| json!({"org_id": org, "identity_id": ids::USER_BOB, "role": role, "resource_type": "location", "resource_id": lab});
    let mut remove_role = role("owner");
    remove_role["confirm"] = json!(true);
    let filters = json!({"organization_id": org, "types": [], "visibilities": [], "platforms": [], "statuses": []});
    vec![
        ("list_organizations", json!({}), None),
        ("get_organization", json!({"org_id": org}), None),
        ("get_organization_namespace_availability", json!({"public_namespace": "brand-new-namespace"}), None),
        ("update_organization", json!({"org_id": org, "region": "us-east"}), None),
        ("list_organization_members", json!({"org_id": org}), None),
        ("get_user_id_by_email", json!({"email": ids::ALICE_EMAIL}), None),
        ("list_organizations_by_user", json!({"user_id": ids::USER_ALICE}), None),
        (
            "create_organization_invite",
            json!({"org_id": org, "email": invitee, "authorizations": [grant("organization", org)], "send_email_invite": false}),
            None,
        ),
        (
            "update_organization_invite_authorizations",
            json!({"org_id": org, "email": invitee, "add_authorizations": [grant("location", warehouse)]}),
            None,
        ),
        ("resend_organization_invite", json!({"org_id": org, "email": invitee}), None),
        ("delete_organization_invite", json!({"org_id": org, "email": invitee, "confirm": true}), None),
        ("create_organization", json!({"name": "Partner Org"}), Some(("partner", "/organization/id"))),
        // Locations: each result carries a Location with its auth.
        ("list_locations", json!({"org_id": org}), None),
        ("get_location", json!({"location_id": warehouse}), None),
        ("get_organizations_with_access_to_location", json!({"location_id": warehouse}), None),
        ("update_location", json!({"location_id": lab, "name": "Lab 2"}), None),
        ("create_location", json!({"org_id": org, "name": "Test Site"}), Some(("site", "/location/id"))),
        ("share_location", json!({"organization_id": "$partner", "location_id": "$site"}), None),
        ("unshare_location", json!({"organization_id": "$partner", "location_id": "$site", "confirm": true}), None),
        ("location_auth", json!({"location_id": warehouse}), None),
        ("create_location_secret", json!({"location_id": "$site"}), Some(("site_secret", "/auth/secrets/0/id"))),
        ("delete_location_secret", json!({"location_id": "$site", "secret_id": "$site_secret", "confirm": true}), None),
        // Machines: parts carry their secrets, history entries the old part.
        ("list_robots", json!({"location_id": warehouse}), None),
        ("list_robots_for_locations", json!({"location_ids": [warehouse, lab]}), None),
        ("list_machine_summaries", json!({"org_id": org}), None),
        ("get_robot", json!({"robot_id": ids::ROBOT_ROVER_1}), None),
        ("get_robot_parts", json!({"robot_id": ids::ROBOT_ROVER_1}), None),
        ("get_robot_part", json!({"robot_part_id": ids::PART_ROVER_1_MAIN}), None),
        ("get_robot_part_logs", json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "num_log_entries": 10}), None),
        (
            "tail_robot_part_logs",
            json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "errors_only": false, "max_entries": 2, "duration_seconds": 5}),
            None,
        ),
        ("get_robot_part_history", json!({"robot_part_id": ids::PART_ROVER_1_MAIN}), None),
        ("get_robot_api_keys", json!({"robot_id": ids::ROBOT_ROVER_1}), None),
        ("get_rover_rental_robots", json!({"org_id": org}), None),
        (
            "update_robot_part",
            json!({"robot_part_id": ids::PART_ROVER_1_LIDAR, "name": "rover-1-lidar",
                "robot_config": {"components": []}, "confirm": true}),
            None,
        ),
        ("get_config_items", json!({"robot_part_id": ids::PART_ROVER_1_MAIN}), None),
        (
            "add_config_item",
            json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "kind": "services",
                "item": {"name": "nav", "api": "rdk:service:navigation", "model": "builtin"}}),
            None,
        ),
        (
            "update_config_item",
            json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "kind": "services", "name": "nav",
                "patch": {"attributes": {"store": {"type": "memory"}}}}),
            None,
        ),
        (
            "remove_config_item",
            json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "kind": "services", "name": "nav", "confirm": true}),
            None,
        ),
        (
            "plan_fleet_change",
            json!({"org_id": ids::ORG, "machine_ids": [ids::ROBOT_ROVER_1], "change": {"op": "add_item",
                "kind": "services", "item": {"name": "nav", "api": "rdk:service:navigation", "model": "builtin"}}}),
            Some(("plan", "/plan")),
        ),
        (
            "apply_fleet_change",
            json!({"plan": "$plan", "confirm": true, "verify_seconds": 1, "wait_seconds": 30}),
            Some(("change", "/change_id")),
        ),
        ("get_fleet_change", json!({"change_id": "$change"}), None),
        ("list_fleet_changes", json!({}), None),
        ("stop_fleet_change", json!({"change_id": "$change"}), None),
        (
            "rollback_fleet_change",
            json!({"change_id": "$change", "confirm": true, "verify_seconds": 1, "wait_seconds": 30}),
            None,
        ),
        ("new_robot", json!({"name": "test-bot", "location_id": "$site"}), Some(("bot", "/id"))),
        ("update_robot", json!({"robot_id": "$bot", "name": "test-bot-2", "location_id": "$site"}), None),
        ("get_robot_parts", json!({"robot_id": "$bot"}), Some(("bot_main", "/parts/0/id"))),
        ("new_robot_part", json!({"robot_id": "$bot", "part_name": "aux"}), Some(("aux", "/part_id"))),
        ("mark_part_as_main", json!({"robot_part_id": "$aux"}), None),
        ("mark_part_for_restart", json!({"robot_part_id": "$aux", "confirm": true}), None),
        ("create_robot_part_secret", json!({"robot_part_id": "$aux"}), Some(("aux_secret", "/part/secrets/0/id"))),
        (
            "delete_robot_part_secret",
            json!({"robot_part_id": "$aux", "secret_id": "$aux_secret", "confirm": true}),
            None,
        ),
        ("delete_robot_part", json!({"robot_part_id": "$bot_main", "confirm": true}), None),
        ("delete_robot", json!({"robot_id": "$bot", "confirm": true}), None),
        ("delete_location", json!({"location_id": "$site", "confirm": true}), None),
        // Fragments.
        ("list_fragments", json!({"org_id": org}), None),
        ("get_fragment", json!({"fragment_id": ids::FRAGMENT}), None),
        ("get_fragment_history", json!({"id": ids::FRAGMENT}), None),
        (
            "create_fragment",
            json!({"org_id": org, "name": "test-fragment", "config": {"components": []}}),
            Some(("fragment", "/fragment/id")),
        ),
        (
            "update_fragment",
            json!({"fragment_id": "$fragment", "name": "test-fragment", "config": {"services": []}, "confirm": true}),
            None,
        ),
        ("delete_fragment", json!({"fragment_id": "$fragment", "confirm": true}), None),
        // Roles.
        ("list_authorizations", json!({"org_id": org}), None),
        (
            "check_permissions",
            json!({"permissions": [{"resource_type": "organization", "resource_id": org, "permissions": ["read_organization"]}]}),
            None,
        ),
        ("add_role", role("operator"), None),
        (
            "change_role",
            json!({"organization_id": org, "old_identity_id": ids::USER_BOB, "old_role": "operator",
                "old_resource_type": "location", "old_resource_id": lab, "new_identity_id": ids::USER_BOB,
                "new_role": "owner", "new_resource_type": "location", "new_resource_id": lab, "confirm": true}),
            None,
        ),
        ("remove_role", remove_role, None),
        // Registry.
        ("list_registry_items", filters, None),
        ("get_registry_item", json!({"item_id": ids::ML_MODEL_ID}), None),
        ("create_registry_item", json!({"organization_id": org, "name": "test-model", "type": "ml_model"}), None),
        (
            "update_registry_item",
            json!({"item_id": "demo-robotics:test-model", "type": "ml_model", "description": "d", "visibility": "private"}),
            None,
        ),
        ("delete_registry_item", json!({"item_id": "demo-robotics:test-model", "confirm": true}), None),
        ("list_modules", json!({"org_id": org}), None),
        ("get_module", json!({"module_id": ids::MODULE_ID}), None),
        ("create_module", json!({"org_id": org, "name": "test-module"}), Some(("module", "/module_id"))),
        (
            "update_module",
            json!({"module_id": "$module", "url": "https://github.com/x/y", "description": "d",
                "models": [{"api": "rdk:component:motor", "model": "x:y:z"}], "entrypoint": "run.sh"}),
            None,
        ),
        (
            "upload_module_file",
            json!({"module_file_info": {"module_id": "$module", "version": "0.0.1", "platform": "linux/amd64"},
                "file_base64": "AQID"}),
            None,
        ),
        // Keys: listings carry every key, the server's own among them.
        ("list_keys", json!({"org_id": org}), None),
        (
            "create_key",
            json!({"org_id": org, "name": "ci-key",
                "authorizations": [{"role": "owner", "resource_type": "organization", "resource_id": org}]}),
            Some(("key", "/id")),
        ),
        ("create_key_from_existing_key_authorizations", json!({"id": "$key"}), None),
        ("rotate_key", json!({"id": ids::API_KEY_ROVER, "confirm": true}), None),
        ("delete_key", json!({"id": "$key", "confirm": true}), None),
        ("delete_organization_member", json!({"org_id": org, "user_id": ids::USER_BOB, "confirm": true}), None),
        ("delete_organization", json!({"org_id": "$partner", "confirm": true}), None),
    ]
}

/// The whole result as the client sees it: text content and structured content.
fn seen(result: &CallToolResult) -> String {
    serde_json::to_string(result).unwrap()
}

async fn no_tool_returns_a_seeded_secret_unless_it_hands_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let harness = Harness::start_with(SandboxConfig::default(), &["--audit-log", audit.to_str().unwrap()]).await;
    let seeded = seeded_secrets(&harness.sandbox.snapshot());
    for (value, kind) in [(DEMO_API_KEY, Kind::ApiKey), (ids::API_KEY_ROVER_SECRET, Kind::ApiKey)] {
        assert!(seeded.contains(&(value.to_string(), kind)), "{value} is seeded: {seeded:?}");
    }
    for kind in [Kind::Location, Kind::Part] {
        assert!(seeded.iter().any(|(_, k)| *k == kind), "seeded {kind:?} secrets: {seeded:?}");
    }

    let mut captured = HashMap::new();
    let mut called = BTreeSet::new();
    let mut handed_out = BTreeSet::new();
    for (tool, arguments, capture) in calls() {
        let result = harness.call(tool, resolve(&arguments, &captured)).await;
        let out = result.structured_content.clone().unwrap_or_default();
        assert_ne!(result.is_error, Some(true), "{tool} failed: {out}");
        let text = seen(&result);
        for (secret, kind) in &seeded {
            if text.contains(secret.as_str()) {
                assert_eq!(hands_out(tool), Some(*kind), "{tool} returned the seeded {kind:?} secret {secret}: {text}");
                handed_out.insert(tool);
            }
        }
        // Secrets created during the run are not seeded, so check every secret field by path too.
        if !is_hand_out(tool) {
            let mut fields = Vec::new();
            secret_fields(&out, "", &mut fields);
            for (path, value) in fields {
                assert!(value.is_empty() || value.starts_with("<redacted"), "{tool}: {path} = {value:?} in {out}");
            }
        }
        if let Some((name, pointer)) = capture {
            let id =
                out.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("{tool}: no {pointer} in {out}"));
            captured.insert(name.to_string(), id.to_string());
        }
        called.insert(tool.to_string());
    }
    assert_eq!(handed_out, BTreeSet::from(["location_auth"]), "location_auth hands out the Warehouse secret");
    let all: BTreeSet<String> = harness.tools().await.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(all.len(), viam_fleet_mcp::tools::catalogue().rows.len());
    let missed: Vec<_> = all.difference(&called).collect();
    assert!(missed.is_empty(), "tools never called: {missed:?}");

    let logged = std::fs::read_to_string(&audit).unwrap();
    assert!(logged.contains("\"tool\":\"upload_module_file\""), "{logged}");
    assert!(logged.contains("<3 bytes>") && !logged.contains("AQID"), "{logged}");
    let stderr = harness.stderr();
    for (secret, _) in &seeded {
        assert!(!logged.contains(secret.as_str()), "the audit log holds {secret}");
    }
    assert!(!stderr.contains(DEMO_API_KEY), "the server's API key is in its log");
    harness.stop().await;
}

#[tokio::test]
async fn config_secrets_are_redacted_by_key_name_in_results_and_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let harness = Harness::start_with(SandboxConfig::default(), &["--audit-log", audit.to_str().unwrap()]).await;
    let config = json!({"components": [{"name": "cam", "type": "camera", "model": "rtsp",
        "attributes": {"password": "hunter2", "api_key_id": "visible-id", "url": "rtsp://cam"}}]});
    let part = ids::PART_ROVER_1_LIDAR;
    let updated = harness
        .ok(
            "update_robot_part",
            json!({"robot_part_id": part, "name": "rover-1-lidar", "robot_config": config, "confirm": true}),
        )
        .await;
    let got = harness.ok("get_robot_part", json!({"robot_part_id": part})).await;
    for out in [&updated, &got] {
        assert!(!out.to_string().contains("hunter2"), "{out}");
        let attributes = &out["part"]["robot_config"]["components"][0]["attributes"];
        assert!(attributes["password"].as_str().unwrap().starts_with("<redacted"), "{attributes}");
        assert_eq!(attributes["api_key_id"], json!("visible-id"));
        assert_eq!(attributes["url"], json!("rtsp://cam"));
    }
    // The config comes once, as an object: no text copy beside it to hold the secret.
    assert!(got.get("config_json").is_none() && got["part"].get("robot_config_json").is_none(), "{got}");
    let logged = std::fs::read_to_string(&audit).unwrap();
    assert!(logged.contains("update_robot_part") && logged.contains("\"password\""), "{logged}");
    assert!(!logged.contains("hunter2"), "{logged}");
    harness.stop().await;
}

#[tokio::test]
async fn show_secrets_shows_them_but_never_the_servers_own_key() {
    let harness = Harness::start_with(SandboxConfig::default(), &["--show-secrets"]).await;
    let config = json!({"attributes": {"password": "hunter2"}});
    let part = ids::PART_ROVER_1_LIDAR;
    harness
        .ok(
            "update_robot_part",
            json!({"robot_part_id": part, "name": "rover-1-lidar", "robot_config": config, "confirm": true}),
        )
        .await;
    let got = harness.ok("get_robot_part", json!({"robot_part_id": part})).await;
    assert_eq!(got["part"]["robot_config"]["attributes"]["password"], json!("hunter2"));
    assert_eq!(got["part"]["secret"], json!("demo-part-secret-rover-1-lidar"));
    let location = harness.ok("get_location", json!({"location_id": ids::LOCATION_WAREHOUSE})).await;
    assert_eq!(location["location"]["auth"]["secrets"][0]["secret"], json!("demo-location-secret-warehouse"));

    let keys = harness.ok("list_keys", json!({"org_id": ids::ORG})).await;
    let text = keys.to_string();
    assert!(text.contains(ids::API_KEY_ROVER_SECRET), "{text}");
    assert!(!text.contains(DEMO_API_KEY), "{text}");
    assert!(text.contains("never shown"), "{text}");

    // A config member named with the key (as a map from key to robot might be) is renamed.
    let config = json!({"attributes": {"allowed": {DEMO_API_KEY: "admin"}}});
    let arguments = json!({"robot_part_id": part, "name": "rover-1-lidar", "robot_config": config, "confirm": true});
    harness.ok("update_robot_part", arguments).await;
    let got = harness.ok("get_robot_part", json!({"robot_part_id": part})).await;
    let allowed = &got["part"]["robot_config"]["attributes"]["allowed"];
    assert_eq!(allowed, &json!({"<the server's own API key: never shown>": "admin"}), "{got}");

    // Pages after the first come from the listing kept when the first was fetched: the key is
    // hidden on them too, in the text and in the structured content.
    let (robot, location) = (ids::ROBOT_ROVER_2, ids::LOCATION_WAREHOUSE);
    let name = format!("rover-{DEMO_API_KEY}");
    harness.ok("update_robot", json!({"robot_id": robot, "name": name, "location_id": location})).await;
    let mut arguments = json!({"location_id": location, "limit": 1});
    let mut pages_hiding_it = vec![];
    for page in 1.. {
        let result = harness.call("list_robots", arguments.clone()).await;
        let whole = serde_json::to_string(&result).unwrap();
        assert!(!whole.contains(DEMO_API_KEY), "page {page}: {whole}");
        if whole.contains("never shown") {
            pages_hiding_it.push(page);
        }
        match result.structured_content.as_ref().and_then(|page| page["next_cursor"].as_str()) {
            Some(next) => arguments["cursor"] = json!(next),
            None => break,
        }
        assert!(page < 50, "paging does not end");
    }
    assert!(pages_hiding_it.iter().any(|&page| page > 1), "the key's page: {pages_hiding_it:?}");
    harness.stop().await;
}

#[tokio::test]
async fn secrets_dir_gets_a_private_file_and_the_result_only_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::start_with(SandboxConfig::default(), &["--secrets-dir", dir.path().to_str().unwrap()]).await;
    let key = harness
        .ok(
            "create_key",
            json!({"org_id": ids::ORG, "name": "ci-key",
                "authorizations": [{"role": "owner", "resource_type": "organization", "resource_id": ids::ORG}]}),
        )
        .await;
    let file = key["secret_file"].as_str().unwrap_or_else(|| panic!("no secret_file in {key}"));
    assert!(std::path::Path::new(file).starts_with(dir.path()), "{file}");
    assert_eq!(key["key"], json!(format!("<stored in {file}>")));
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let secret = stored["secrets"][0]["secret"].as_str().unwrap();
    assert_eq!(stored["secrets"][0]["id"], key["id"]);
    assert!(secret.len() >= 16 && !key.to_string().contains(secret), "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // A location's secrets: every one of them leaves the result, into a second, new file.
    let auth = harness.ok("location_auth", json!({"location_id": ids::LOCATION_WAREHOUSE})).await;
    assert!(!auth.to_string().contains("demo-location-secret-warehouse"), "{auth}");
    let second = auth["secret_file"].as_str().unwrap();
    assert_ne!(second, file);
    assert!(std::fs::read_to_string(second).unwrap().contains("demo-location-secret-warehouse"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    harness.stop().await;

    // A missing directory stops the server at startup, before any secret could be created and lost.
    let missing = dir.path().join("missing");
    let output = std::process::Command::new(common::BIN)
        .args(["--secrets-dir", missing.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--secrets-dir"));
}
