//! Every tool, called through the real binary over stdio against the sandbox, in
//! one scenario that discovers ids as a person would; each result is validated against the tool's
//! outputSchema (declared with `--output-schemas`), and the whole catalogue must have been exercised.
use crate::common;

use common::Harness;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

common::over_both_transports!(every_tool_works_end_to_end_and_matches_its_output_schema);

struct Session {
    harness: Harness,
    schemas: HashMap<String, jsonschema::Validator>,
    called: BTreeSet<String>,
}

impl Session {
    async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let out = self.harness.ok(tool, arguments).await;
        let validator = &self.schemas[tool];
        let errors: Vec<String> =
            validator.iter_errors(&out).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "{tool}: output does not match its outputSchema: {errors:?}\n{out}");
        self.called.insert(tool.to_string());
        out
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("expected a string, got {v}")).to_string()
}

async fn every_tool_works_end_to_end_and_matches_its_output_schema() {
    let harness = Harness::start_with(Default::default(), &["--output-schemas"]).await;
    let tools = harness.tools().await;
    assert_eq!(tools.len(), viam_fleet_mcp::tools::catalogue().rows.len());
    let schemas = tools
        .iter()
        .map(|t| {
            let schema = Value::Object((*t.output_schema.clone().expect("outputSchema")).clone());
            (t.name.to_string(), jsonschema::validator_for(&schema).expect("a valid schema"))
        })
        .collect();
    let mut x = Session { harness, schemas, called: BTreeSet::new() };

    // Organizations and members.
    let orgs = x.call("list_organizations", json!({})).await;
    let org = s(&orgs["organizations"][0]["id"]);
    let got = x.call("get_organization", json!({"org_id": org})).await;
    assert_eq!(got["organization"]["id"], json!(org));
    x.call("get_organization_namespace_availability", json!({"public_namespace": "brand-new-namespace"})).await;
    x.call("update_organization", json!({"org_id": org, "region": "us-east"})).await;
    let members = x.call("list_organization_members", json!({"org_id": org})).await;
    let email = s(&members["members"][0]["emails"][0]);
    let user = x.call("get_user_id_by_email", json!({"email": email})).await;
    let user_id = s(&user["user_id"]);
    x.call("list_organizations_by_user", json!({"user_id": user_id})).await;
    let invitee = "new.person@example.com";
    let grant = |resource_type: &str, id: &str| {
        json!({"authorization_type": "role", "authorization_id": format!("{resource_type}_operator"),
            "resource_type": resource_type, "resource_id": id, "organization_id": org, "identity_type": "user"})
    };
    let invite = x
        .call(
            "create_organization_invite",
            json!({"org_id": org, "email": invitee, "authorizations": [grant("organization", &org)], "send_email_invite": false}),
        )
        .await;
    assert_eq!(invite["invite"]["email"], json!(invitee));
    let location = s(&x.call("list_locations", json!({"org_id": org})).await["locations"][0]["id"]);
    x.call(
        "update_organization_invite_authorizations",
        json!({"org_id": org, "email": invitee, "add_authorizations": [grant("location", &location)]}),
    )
    .await;
    x.call("resend_organization_invite", json!({"org_id": org, "email": invitee})).await;
    x.call("delete_organization_invite", json!({"org_id": org, "email": invitee, "confirm": true})).await;
    let partner = x.call("create_organization", json!({"name": "Partner Org"})).await;
    let partner_id = s(&partner["organization"]["id"]);

    // Locations and their secrets.
    x.call("get_location", json!({"location_id": location})).await;
    x.call("get_organizations_with_access_to_location", json!({"location_id": location})).await;
    let created = x.call("create_location", json!({"org_id": org, "name": "Test Site"})).await;
    let site = s(&created["location"]["id"]);
    let renamed = x.call("update_location", json!({"location_id": site, "name": "Test Site 2"})).await;
    assert_eq!(renamed["location"]["name"], json!("Test Site 2"));
    x.call("share_location", json!({"organization_id": partner_id, "location_id": site})).await;
    x.call("unshare_location", json!({"organization_id": partner_id, "location_id": site, "confirm": true})).await;
    x.call("location_auth", json!({"location_id": site})).await;
    let auth = x.call("create_location_secret", json!({"location_id": site})).await;
    let secret_id = s(&auth["auth"]["secrets"].as_array().unwrap().last().unwrap()["id"]);
    x.call("delete_location_secret", json!({"location_id": site, "secret_id": secret_id, "confirm": true})).await;

    // Machines and parts.
    let robots = x.call("list_robots", json!({"location_id": location})).await;
    let robot = s(&robots["robots"][0]["id"]);
    let everywhere = x.call("list_robots_for_locations", json!({"location_ids": [location, site]})).await;
    assert!(everywhere["robots"].to_string().contains(&robot), "{everywhere}");
    let summaries = x.call("list_machine_summaries", json!({"org_id": org, "location_ids": [location]})).await;
    assert!(summaries["machines"].to_string().contains(&robot), "{summaries}");
    x.call("get_robot", json!({"robot_id": robot})).await;
    let parts = x.call("get_robot_parts", json!({"robot_id": robot})).await;
    let part = s(&parts["parts"][0]["id"]);
    let one = x.call("get_robot_part", json!({"robot_part_id": part})).await;
    assert_eq!(one["part"]["id"], json!(part));
    let logs = x.call("get_robot_part_logs", json!({"robot_part_id": part, "num_log_entries": 10})).await;
    assert_eq!(logs["logs"].as_array().unwrap().len(), 10);
    let tail = x
        .call(
            "tail_robot_part_logs",
            json!({"robot_part_id": part, "errors_only": false, "max_entries": 2, "duration_seconds": 5}),
        )
        .await;
    assert_eq!(tail["logs"].as_array().unwrap().len(), 2);
    x.call("get_robot_part_history", json!({"robot_part_id": part})).await;
    x.call("get_robot_api_keys", json!({"robot_id": robot})).await;
    x.call("get_rover_rental_robots", json!({"org_id": org})).await;

    let new_robot = x.call("new_robot", json!({"name": "test-bot", "location_id": site})).await;
    let bot = s(&new_robot["id"]);
    x.call("update_robot", json!({"robot_id": bot, "name": "test-bot-2", "location_id": site})).await;
    let bot_parts = x.call("get_robot_parts", json!({"robot_id": bot})).await;
    let first_main = s(&bot_parts["parts"][0]["id"]);
    let aux = x.call("new_robot_part", json!({"robot_id": bot, "part_name": "aux"})).await;
    let aux = s(&aux["part_id"]);
    let updated = x
        .call(
            "update_robot_part",
            json!({"robot_part_id": aux, "name": "aux", "robot_config": {"components": []}, "confirm": true}),
        )
        .await;
    assert_eq!(updated["part"]["robot_config"], json!({"components": []}));
    // Config items, on the new part.
    let component = json!({"name": "cam", "type": "camera", "model": "webcam"});
    x.call("add_config_item", json!({"robot_part_id": aux, "kind": "components", "item": component})).await;
    let patch = json!({"attributes": {"video_path": "/dev/video0"}});
    x.call("update_config_item", json!({"robot_part_id": aux, "kind": "components", "name": "cam", "patch": patch}))
        .await;
    let items = x.call("get_config_items", json!({"robot_part_id": aux, "kind": "components"})).await;
    assert_eq!(items["items"]["components"][0]["attributes"]["video_path"], json!("/dev/video0"));
    x.call("remove_config_item", json!({"robot_part_id": aux, "kind": "components", "name": "cam", "confirm": true}))
        .await;
    x.call("mark_part_as_main", json!({"robot_part_id": aux})).await;
    x.call("mark_part_for_restart", json!({"robot_part_id": aux, "confirm": true})).await;
    let with_secret = x.call("create_robot_part_secret", json!({"robot_part_id": aux})).await;
    let part_secret = s(&with_secret["part"]["secrets"].as_array().unwrap().last().unwrap()["id"]);
    x.call("delete_robot_part_secret", json!({"robot_part_id": aux, "secret_id": part_secret, "confirm": true})).await;
    x.call("delete_robot_part", json!({"robot_part_id": first_main, "confirm": true})).await;
    x.call("delete_robot", json!({"robot_id": bot, "confirm": true})).await;
    x.call("delete_location", json!({"location_id": site, "confirm": true})).await;

    // A fleet change on one machine, and its rollback.
    let change = json!({"op": "add_item", "kind": "services",
                        "item": {"name": "fleet-test", "api": "rdk:service:navigation", "model": "builtin"}});
    let plan = x.call("plan_fleet_change", json!({"org_id": org, "machine_ids": [robot], "change": change})).await;
    assert_eq!(plan["targets"], json!(1), "{plan}");
    let settings = json!({"plan": plan["plan"], "confirm": true, "verify_seconds": 1, "wait_seconds": 30});
    let applied = x.call("apply_fleet_change", settings).await;
    let change_id = s(&applied["change_id"]);
    x.call("get_fleet_change", json!({"change_id": change_id})).await;
    x.call("list_fleet_changes", json!({})).await;
    x.call("stop_fleet_change", json!({"change_id": change_id})).await;
    let undo = json!({"change_id": change_id, "confirm": true, "verify_seconds": 1, "wait_seconds": 30});
    x.call("rollback_fleet_change", undo).await;

    // Fragments.
    let fragments = x.call("list_fragments", json!({"org_id": org})).await;
    let fragment = s(&fragments["fragments"][0]["id"]);
    x.call("get_fragment", json!({"fragment_id": fragment})).await;
    x.call("get_fragment_history", json!({"id": fragment})).await;
    let created =
        x.call("create_fragment", json!({"org_id": org, "name": "test-fragment", "config": {"components": []}})).await;
    let new_fragment = s(&created["fragment"]["id"]);
    x.call(
        "update_fragment",
        json!({"fragment_id": new_fragment, "name": "test-fragment", "config": {"services": []}, "confirm": true}),
    )
    .await;
    x.call("delete_fragment", json!({"fragment_id": new_fragment, "confirm": true})).await;

    // Roles and permissions.
    x.call("list_authorizations", json!({"org_id": org})).await;
    x.call(
        "check_permissions",
        json!({"permissions": [{"resource_type": "organization", "resource_id": org, "permissions": ["read_organization"]}]}),
    )
    .await;
    let role = |identity: &str, role: &str| json!({"org_id": org, "identity_id": identity, "role": role, "resource_type": "location", "resource_id": location});
    x.call("add_role", role(&user_id, "operator")).await;
    x.call(
        "change_role",
        json!({"organization_id": org, "old_identity_id": user_id, "old_role": "operator", "old_resource_type": "location",
            "old_resource_id": location, "new_identity_id": user_id, "new_role": "owner", "new_resource_type": "location",
            "new_resource_id": location, "confirm": true}),
    )
    .await;
    let mut remove = role(&user_id, "owner");
    remove["confirm"] = json!(true);
    x.call("remove_role", remove).await;

    // Registry items and modules.
    let all = json!({"organization_id": org, "types": [], "visibilities": [], "platforms": [], "statuses": []});
    let items = x.call("list_registry_items", all.clone()).await;
    x.call("get_registry_item", json!({"item_id": s(&items["items"][0]["item_id"])})).await;
    x.call("create_registry_item", json!({"organization_id": org, "name": "test-model", "type": "ml_model"})).await;
    let items = x.call("list_registry_items", all).await;
    let item =
        items["items"].as_array().unwrap().iter().find(|i| i["name"] == json!("test-model")).expect("created item");
    let item_id = s(&item["item_id"]);
    x.call(
        "update_registry_item",
        json!({"item_id": item_id, "type": "ml_model", "description": "d", "visibility": "private"}),
    )
    .await;
    x.call("delete_registry_item", json!({"item_id": item_id, "confirm": true})).await;
    let modules = x.call("list_modules", json!({"org_id": org})).await;
    x.call("get_module", json!({"module_id": s(&modules["modules"][0]["module_id"])})).await;
    let module = x.call("create_module", json!({"org_id": org, "name": "test-module"})).await;
    let module_id = s(&module["module_id"]);
    x.call(
        "update_module",
        json!({"module_id": module_id, "url": "https://github.com/x/y", "description": "d",
            "models": [{"api": "rdk:component:motor", "model": "x:y:z"}], "entrypoint": "run.sh"}),
    )
    .await;
    let uploaded = x
        .call(
            "upload_module_file",
            json!({"module_file_info": {"module_id": module_id, "version": "0.0.1", "platform": "linux/amd64"}, "file_base64": "AQID"}),
        )
        .await;
    assert_eq!(uploaded["bytes_uploaded"], json!(3));

    // API keys.
    x.call("list_keys", json!({"org_id": org})).await;
    let key = x
        .call(
            "create_key",
            json!({"org_id": org, "name": "ci-key", "authorizations": [{"role": "owner", "resource_type": "organization", "resource_id": org}]}),
        )
        .await;
    let key_id = s(&key["id"]);
    x.call("create_key_from_existing_key_authorizations", json!({"id": key_id})).await;
    x.call("rotate_key", json!({"id": key_id, "confirm": true})).await;
    x.call("delete_key", json!({"id": key_id, "confirm": true})).await;

    // Last, the organization-wide deletes.
    let member = members["members"].as_array().unwrap().last().unwrap();
    x.call("delete_organization_member", json!({"org_id": org, "user_id": s(&member["user_id"]), "confirm": true}))
        .await;
    x.call("delete_organization", json!({"org_id": partner_id, "confirm": true})).await;

    let all_tools: BTreeSet<String> = tools.iter().map(|t| t.name.to_string()).collect();
    let missed: Vec<_> = all_tools.difference(&x.called).collect();
    assert!(missed.is_empty(), "tools never called: {missed:?}");
    x.harness.stop().await;
}
