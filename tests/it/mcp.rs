//! MCP-level behaviour through the real binary over stdio: the tools/list contract, the confirm
//! gate, bad input, gRPC error mapping, default location, re-authentication and stdio hygiene.
use crate::common;

use common::{BIN, Harness, assert_error_code};
use serde_json::{Value, json};
use std::time::Duration;
use viam_fleet_mcp::sandbox::{DEMO_API_KEY, SandboxConfig, ids};

common::over_both_transports!(
    tools_list_matches_the_snapshots,
    destructive_tools_without_confirm_change_nothing_and_preview,
    bad_input_to_every_tool_is_refused_without_an_rpc,
    grpc_errors_carry_the_code_the_message_and_a_hint,
    a_key_without_the_role_gets_permission_denied_with_a_hint,
);

const SNAPSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/tools");

/// Any change to a tool's contract (name, schema, annotations, description) shows up in review as
/// a change to that tool's own file, which the binary serves as compiled in. A unit test checks
/// each against the code and regenerates them: `UPDATE_SNAPSHOTS=1 cargo test --lib compiled_definitions`.
async fn tools_list_matches_the_snapshots() {
    let harness = Harness::start().await;
    let tools = harness.tools().await;
    let mut changed = Vec::new();
    for tool in &tools {
        let path = format!("{SNAPSHOTS}/{}.json", tool.name);
        let rendered = serde_json::to_string_pretty(tool).unwrap() + "\n";
        if std::fs::read_to_string(&path).ok().as_deref() != Some(rendered.as_str()) {
            changed.push(tool.name.to_string());
        }
    }
    let files = std::fs::read_dir(SNAPSHOTS).map(|dir| dir.count()).unwrap_or_default();
    assert!(changed.is_empty(), "these tools are not served as reviewed: {changed:?}");
    assert_eq!(files, tools.len(), "a snapshot of a tool that is not served");
    harness.stop().await;
}

/// Arguments that are valid for each destructive tool against the seeded fleet.
fn destructive_calls(plan: &Value, change_id: &Value) -> Vec<(&'static str, Value)> {
    vec![
        ("apply_fleet_change", json!({"plan": plan})),
        ("rollback_fleet_change", json!({"change_id": change_id})),
        ("delete_organization", json!({"org_id": ids::ORG})),
        ("delete_organization_member", json!({"org_id": ids::ORG, "user_id": ids::USER_BOB})),
        ("delete_organization_invite", json!({"org_id": ids::ORG, "email": ids::INVITE_EMAIL})),
        ("delete_location", json!({"location_id": ids::LOCATION_LAB})),
        ("unshare_location", json!({"organization_id": ids::ORG, "location_id": ids::LOCATION_LAB})),
        ("delete_location_secret", json!({"location_id": ids::LOCATION_LAB, "secret_id": "s"})),
        ("delete_robot", json!({"robot_id": ids::ROBOT_ROVER_1})),
        ("delete_robot_part", json!({"robot_part_id": ids::PART_ROVER_1_LIDAR})),
        ("mark_part_for_restart", json!({"robot_part_id": ids::PART_ROVER_1_MAIN})),
        ("delete_robot_part_secret", json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "secret_id": "s"})),
        (
            "update_robot_part",
            json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "name": "main", "robot_config": {"components": [], "new_key": 1}}),
        ),
        ("remove_config_item", json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "kind": "components", "name": "base"})),
        ("delete_fragment", json!({"fragment_id": ids::FRAGMENT})),
        ("update_fragment", json!({"fragment_id": ids::FRAGMENT, "name": "renamed", "config": {"services": []}})),
        (
            "remove_role",
            json!({"org_id": ids::ORG, "identity_id": ids::USER_BOB, "role": "operator", "resource_type": "organization", "resource_id": ids::ORG}),
        ),
        (
            "change_role",
            json!({"organization_id": ids::ORG, "old_identity_id": ids::USER_BOB, "old_role": "operator",
                "old_resource_type": "organization", "old_resource_id": ids::ORG, "new_identity_id": ids::USER_BOB,
                "new_role": "owner", "new_resource_type": "organization", "new_resource_id": ids::ORG}),
        ),
        ("delete_registry_item", json!({"item_id": ids::ML_MODEL_ID})),
        ("delete_key", json!({"id": ids::API_KEY_ROVER})),
        ("rotate_key", json!({"id": ids::API_KEY_ROVER})),
    ]
}

async fn destructive_tools_without_confirm_change_nothing_and_preview() {
    let harness = Harness::start().await;
    let destructive: Vec<String> = harness
        .tools()
        .await
        .into_iter()
        // A tool with no hints is destructive under the spec's defaults.
        .filter(|t| {
            let hints = t.annotations.clone().unwrap_or_default();
            !hints.read_only_hint.unwrap_or(false) && hints.destructive_hint.unwrap_or(true)
        })
        .map(|t| t.name.to_string())
        .collect();
    // A fleet change to preview: a plan, and a change already applied (before the state is taken).
    let change = json!({"op": "add_item", "kind": "services",
                        "item": {"name": "nav", "api": "rdk:service:navigation", "model": "builtin"}});
    let plan = harness
        .ok("plan_fleet_change", json!({"org_id": ids::ORG, "machine_ids": [ids::ROBOT_ROVER_1], "change": change}))
        .await;
    let applied = harness
        .ok(
            "apply_fleet_change",
            json!({"plan": plan["plan"], "confirm": true, "verify_seconds": 1, "wait_seconds": 30}),
        )
        .await;
    let calls = destructive_calls(&plan["plan"], &applied["change_id"]);
    let mut covered: Vec<String> = calls.iter().map(|(name, _)| name.to_string()).collect();
    covered.sort();
    let mut expected = destructive.clone();
    expected.sort();
    assert_eq!(covered, expected, "every destructive tool is exercised here");

    let before = harness.sandbox.snapshot();
    let mut previews = std::collections::HashMap::new();
    for (tool, arguments) in calls {
        harness.sandbox.clear_journal();
        let error = harness.err(tool, arguments.clone()).await;
        assert_error_code(&error, "confirmation_required");
        let mutating: Vec<String> = harness
            .methods()
            .into_iter()
            .filter(|m| !(m.starts_with("Get") || m.starts_with("List") || m == "LocationAuth"))
            .collect();
        assert!(mutating.is_empty(), "{tool} sent {mutating:?} without confirm");
        let mut explicit_no = arguments.clone();
        explicit_no["confirm"] = json!(false);
        assert_error_code(&harness.err(tool, explicit_no).await, "confirmation_required");
        previews.insert(tool, error["preview"].clone());
    }
    assert_eq!(harness.sandbox.snapshot(), before, "no state changed");

    // The previews name what would be affected.
    let robot = previews["delete_robot"].to_string();
    assert!(robot.contains(ids::PART_ROVER_1_MAIN) && robot.contains(ids::PART_ROVER_1_LIDAR), "{robot}");
    let location = previews["delete_location"].to_string();
    assert!(location.contains(ids::ROBOT_ARM) || location.contains(ids::ROBOT_BENCH), "{location}");
    assert!(previews["delete_fragment"].to_string().contains("robot_part_count"), "{}", previews["delete_fragment"]);
    assert!(previews["update_robot_part"].to_string().contains("new_key"), "{}", previews["update_robot_part"]);
    assert!(previews["update_fragment"].to_string().contains("services"), "{}", previews["update_fragment"]);
    let key = previews["rotate_key"].to_string();
    assert!(key.contains(ids::API_KEY_ROVER) && !key.contains(ids::API_KEY_ROVER_SECRET), "{key}");
    let part = &previews["delete_robot_part"];
    assert_eq!((&part["part"]["name"], &part["part"]["main_part"]), (&json!("rover-1-lidar"), &json!(false)), "{part}");
    assert!(part["other_parts"].to_string().contains(ids::PART_ROVER_1_MAIN), "{part}");
    assert_eq!(previews["remove_role"]["exists"], json!(true), "{}", previews["remove_role"]);
    let change = &previews["change_role"];
    assert_eq!((&change["old"]["exists"], &change["new"]["exists"]), (&json!(true), &json!(false)), "{change}");
    assert!(previews["delete_organization_member"].to_string().contains(ids::BOB_EMAIL));
    assert_eq!(previews["delete_organization"]["location_count"], json!(3), "{}", previews["delete_organization"]);
    assert_eq!(previews["unshare_location"]["has_access"], json!(true), "{}", previews["unshare_location"]);
    assert_eq!(previews["delete_registry_item"]["item"]["name"], json!("pallet-detector"));

    // Previews of seeded secrets name them, and no preview shows a secret value.
    let secret_id = |secrets: &Value| secrets["secrets"][0]["id"].as_str().unwrap().to_string();
    let lab = before["locations"].as_array().unwrap().iter().find(|l| l["id"] == ids::LOCATION_LAB).unwrap();
    let main = before["parts"].as_array().unwrap().iter().find(|p| p["part"]["id"] == ids::PART_ROVER_1_MAIN).unwrap();
    let (location_secret, part_secret) = (secret_id(&lab["auth"]), secret_id(&main["part"]));
    for (tool, arguments, id) in [
        (
            "delete_location_secret",
            json!({"location_id": ids::LOCATION_LAB, "secret_id": location_secret}),
            &location_secret,
        ),
        (
            "delete_robot_part_secret",
            json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "secret_id": part_secret}),
            &part_secret,
        ),
    ] {
        let preview = harness.err(tool, arguments).await["preview"].clone();
        assert_eq!(preview["secret"]["id"], json!(id), "{preview}");
        assert!(preview["secret"]["created_on"].is_string(), "{preview}");
        previews.insert(tool, preview);
    }
    let mut seeded_secrets = Vec::new();
    secret_values(&before, &mut seeded_secrets);
    assert!(seeded_secrets.len() > 10, "{seeded_secrets:?}");
    for (tool, preview) in &previews {
        let shown = preview.to_string();
        assert!(seeded_secrets.iter().all(|s| !shown.contains(s.as_str())), "{tool} shows a secret: {shown}");
    }

    // With confirm the call goes straight through.
    let done = harness.ok("delete_robot", json!({"robot_id": ids::ROBOT_ROVER_2, "confirm": true})).await;
    assert_eq!(done["status"], json!("ok"));
    assert_error_code(&harness.err("get_robot", json!({"robot_id": ids::ROBOT_ROVER_2})).await, "NOT_FOUND");
    harness.stop().await;
}

/// Every secret value in the sandbox's state: shared secrets, location and part secrets, API keys.
fn secret_values(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (k, v) in object {
                match v.as_str() {
                    Some(s) if (k == "secret" || k == "key") && !s.is_empty() => found.push(s.to_string()),
                    _ => secret_values(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| secret_values(v, found)),
        _ => {}
    }
}

/// A value of the wrong JSON type for a property schema.
fn wrong_type(schema: &Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => json!(12345),
        Some("integer") | Some("number") => json!("not a number"),
        Some("boolean") => json!("yes"),
        Some("array") => json!({"not": "an array"}),
        _ => json!([1, 2, 3]),
    }
}

async fn bad_input_to_every_tool_is_refused_without_an_rpc() {
    let harness = Harness::start().await;
    let before = harness.sandbox.snapshot();
    harness.sandbox.clear_journal();
    for tool in harness.tools().await {
        let name = tool.name.to_string();
        let properties = tool.input_schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        let required: Vec<String> = tool
            .input_schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default();

        let unknown = harness.err(&name, json!({"no_such_argument": 1})).await;
        assert_error_code(&unknown, "invalid_arguments");
        let message = unknown["message"].as_str().unwrap();
        assert!(
            message.contains("no_such_argument") || required.iter().any(|r| message.contains(r.as_str())),
            "{name}: {message}"
        );

        for property in &required {
            let mut arguments = serde_json::Map::new();
            arguments.insert(property.clone(), wrong_type(&properties[property]));
            let error = harness.err(&name, Value::Object(arguments)).await;
            assert_error_code(&error, "invalid_arguments");
            let message = error["message"].as_str().unwrap();
            assert!(message.contains(property.as_str()), "{name}: the error names {property}: {message}");
        }
    }
    assert!(harness.methods().is_empty(), "RPCs were sent for bad input: {:?}", harness.methods());
    assert_eq!(harness.sandbox.snapshot(), before);
    // The server is still serving after all that.
    harness.ok("list_organizations", json!({})).await;
    harness.stop().await;
}

async fn grpc_errors_carry_the_code_the_message_and_a_hint() {
    let harness = Harness::start().await;
    let missing = harness.err("get_robot", json!({"robot_id": "no-such-robot"})).await;
    assert_error_code(&missing, "NOT_FOUND");
    assert!(missing["hint"].as_str().unwrap().contains("robot_id=\"no-such-robot\""), "{missing}");
    let refused =
        harness.err("delete_location", json!({"location_id": ids::LOCATION_WAREHOUSE, "confirm": true})).await;
    assert_error_code(&refused, "FAILED_PRECONDITION");
    let partner = harness.ok("create_organization", json!({"name": "Partner"})).await;
    let taken = harness
        .err(
            "update_organization",
            json!({"org_id": partner["organization"]["id"], "public_namespace": "demo-robotics"}),
        )
        .await;
    assert_error_code(&taken, "ALREADY_EXISTS");
    let empty = harness.err("create_location", json!({"org_id": ids::ORG, "name": ""})).await;
    assert_error_code(&empty, "INVALID_ARGUMENT");
    harness.stop().await;
}

#[tokio::test]
async fn an_omitted_location_needs_a_configured_default() {
    let harness = Harness::start().await;
    let error = harness.err("list_robots", json!({})).await;
    assert_error_code(&error, "invalid_arguments");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("--location-id") && message.contains("VIAM_LOCATION_ID"), "{message}");
    assert!(harness.methods().is_empty());
    harness.stop().await;

    let harness = Harness::start_with(SandboxConfig::default(), &["--location-id", ids::LOCATION_LAB]).await;
    let robots = harness.ok("list_robots", json!({})).await;
    assert!(robots["robots"].to_string().contains(ids::ROBOT_ARM), "{robots}");
    harness.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_and_the_call_succeeds() {
    let config = SandboxConfig { token_ttl: Duration::from_millis(300), ..SandboxConfig::default() };
    let harness = Harness::start_with(config, &[]).await;
    harness.ok("list_organizations", json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    harness.ok("list_organizations", json!({})).await;
    assert!(harness.stderr().contains("authenticating again"), "the retry is logged");
    harness.stop().await;
}

#[tokio::test]
async fn the_server_starts_and_lists_tools_without_a_key_and_says_how_to_set_one() {
    use rmcp::ServiceExt;
    use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
    let command = tokio::process::Command::new(BIN).configure(|c| {
        c.env_remove("VIAM_API_KEY").env_remove("VIAM_API_KEY_ID").env("VIAM_APP_URL", "http://127.0.0.1:9");
    });
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), viam_fleet_mcp::tools::catalogue().rows.len());
    let result = client
        .call_tool(rmcp::model::CallToolRequestParams::new("list_organizations").with_arguments(Default::default()))
        .await
        .unwrap();
    let error = result.structured_content.unwrap();
    assert_error_code(&error, "not_configured");
    assert!(error["message"].as_str().unwrap().contains("VIAM_API_KEY"));
    let _ = client.cancel().await;
}

/// Raw JSON-RPC over the binary's stdio: every stdout line is JSON-RPC, and neither stdout nor
/// stderr (at debug level) ever shows the API key, even when tools fail.
#[tokio::test]
async fn stdout_is_only_json_rpc_and_the_api_key_never_appears() {
    let harness = Harness::start().await;
    harness.ok("list_keys", json!({"org_id": ids::ORG})).await;
    harness.err("get_robot", json!({"robot_id": "nope"})).await;
    harness.err("delete_key", json!({"id": ids::API_KEY_ROVER})).await;
    let stderr = harness.stderr();
    assert!(!stderr.contains(DEMO_API_KEY), "the key leaked into the logs");
    harness.stop().await;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let (sandbox, mut child) = raw_server("trace", std::process::Stdio::piped()).await;
    // Drain stderr as it comes, or trace logging would fill the pipe and stall the server.
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr_pipe, &mut text).await.unwrap();
        text
    });
    let mut stdin = child.stdin.take().unwrap();
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_organizations", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "get_robot", "arguments": {"robot_id": 7}}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {}}}),
    ];
    for request in requests {
        stdin.write_all(format!("{request}\n").as_bytes()).await.unwrap();
    }
    stdin.write_all(b"this is not json\n").await.unwrap();
    let last = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"});
    stdin.write_all(format!("{last}\n").as_bytes()).await.unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut answered = std::collections::BTreeSet::new();
    while answered.len() < 5 {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
        let message: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("stdout carried non-JSON: {line}"));
        assert_eq!(message["jsonrpc"], json!("2.0"), "{line}");
        assert!(!line.contains(DEMO_API_KEY));
        if let Some(id) = message["id"].as_i64() {
            answered.insert(id);
        }
    }
    drop(stdin);
    child.wait().await.unwrap();
    let stderr = stderr_task.await.unwrap();
    assert!(!stderr.contains(DEMO_API_KEY), "the key leaked into trace logs");
    sandbox.shutdown().await;
}

async fn a_key_without_the_role_gets_permission_denied_with_a_hint() {
    let harness = Harness::start_as(SandboxConfig::default(), ids::API_KEY_ROVER, ids::API_KEY_ROVER_SECRET).await;
    harness.ok("get_robot", json!({"robot_id": ids::ROBOT_ROVER_1})).await;
    let denied = harness.err("delete_robot", json!({"robot_id": ids::ROBOT_ROVER_1, "confirm": true})).await;
    assert_error_code(&denied, "PERMISSION_DENIED");
    assert!(denied["hint"].as_str().unwrap().contains("lacks a role"), "{denied}");
    assert!(harness.sandbox.snapshot()["robots"].to_string().contains(ids::ROBOT_ROVER_1), "rover-1 is still there");
    harness.stop().await;
}

/// The SDK sends roles with an empty identity type; the service infers it, for grants it made
/// itself and for seeded ones alike.
#[tokio::test]
async fn roles_match_whatever_identity_type_the_grant_was_stored_with() {
    let harness = Harness::start().await;
    let role = json!({"org_id": ids::ORG, "identity_id": ids::USER_BOB, "role": "operator",
        "resource_type": "organization", "resource_id": ids::ORG});
    let held = |listing: &Value| {
        listing["authorizations"].as_array().unwrap().iter().any(|a| {
            a["identity_id"] == json!(ids::USER_BOB) && a["authorization_id"] == json!("organization_operator")
        })
    };
    assert!(held(&harness.ok("list_authorizations", json!({"org_id": ids::ORG})).await), "seeded");
    let mut remove = role.clone();
    remove["confirm"] = json!(true);
    harness.ok("remove_role", remove).await;
    assert!(!held(&harness.ok("list_authorizations", json!({"org_id": ids::ORG})).await));
    harness.ok("add_role", role).await;
    let listing = harness.ok("list_authorizations", json!({"org_id": ids::ORG})).await;
    assert!(held(&listing));
    let stored =
        listing["authorizations"].as_array().unwrap().iter().find(|a| a["identity_id"] == json!(ids::USER_BOB));
    assert_eq!(stored.unwrap()["identity_type"], json!("user"));
    harness.stop().await;
}

/// The stdio transport's framing, spoken to in raw lines: a line past the 16 MiB bound is dropped
/// and the session goes on; well-formed JSON that is no message gets Invalid Request, with its id;
/// a CRLF line, a leading byte-order mark and blank lines are read; a `tools/call` with `_meta`
/// carries it.
#[tokio::test]
async fn stdio_framing_drops_an_oversized_line_refuses_a_non_message_and_reads_the_rest() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let (sandbox, mut child) = raw_server("warn", std::process::Stdio::null()).await;
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
        serde_json::from_str::<Value>(&line).unwrap()
    };
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}});
    stdin.write_all(format!("{initialize}\n").as_bytes()).await.unwrap();
    assert_eq!(next().await["id"], json!(1));
    stdin.write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n\n").await.unwrap();

    // 16 MiB and one byte, without a newline in it: dropped whole, then the session goes on.
    let oversized =
        format!("{{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"pad\":\"{}\"}}\n", "x".repeat(16 << 20));
    let writer = tokio::spawn(async move {
        stdin.write_all(oversized.as_bytes()).await.unwrap();
        stdin
    });
    let mut stdin = writer.await.unwrap();
    stdin.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":5,\"method\":\"tools/list\"}\n").await.unwrap();
    let refused = next().await;
    assert_eq!(refused["error"]["code"], json!(-32600), "{refused}");
    assert_eq!(refused["id"], json!(3), "the request's id, which can be read: {refused}");

    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"_meta": {"progressToken": "p"}, "name": "list_organizations", "arguments": {}}});
    stdin.write_all(format!("\u{feff}{call}\r\n").as_bytes()).await.unwrap();
    let answer = next().await;
    assert_eq!(answer["id"], json!(4), "{answer}");
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    assert!(answer["result"]["structuredContent"]["organizations"].is_array(), "{answer}");
    drop(stdin);
    child.wait().await.unwrap();
    sandbox.shutdown().await;
}

/// The demo sandbox and the real binary against it, logging at `log`, its stdin and stdout piped for
/// raw JSON-RPC lines.
async fn raw_server(
    log: &str,
    stderr: std::process::Stdio,
) -> (viam_fleet_mcp::sandbox::RunningSandbox, tokio::process::Child) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = viam_fleet_mcp::sandbox::start(SandboxConfig::default(), listener).await.unwrap();
    let child = tokio::process::Command::new(BIN)
        .env("VIAM_APP_URL", sandbox.url())
        .env("VIAM_API_KEY_ID", viam_fleet_mcp::sandbox::DEMO_API_KEY_ID)
        .env("VIAM_API_KEY", DEMO_API_KEY)
        .env("RUST_LOG", log)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    (sandbox, child)
}
