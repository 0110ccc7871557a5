//! The MCP surface besides tool calls, through the real binary: every tool's hints and title,
//! the prompts rendered with completed arguments, the resource templates read (and redacted), the
//! completion of names, on every protocol version the server speaks, and what the filters hide.
use crate::common;
use crate::fleet::{RESULT_BYTES, fleet_harness};
use crate::secrets::seeded_secrets;

use common::Harness;
use rmcp::ClientHandler;
use rmcp::model::{
    ClientConfig, CompletionContext, GetPromptRequestParams, ProtocolVersion, ReadResourceRequestParams,
    ResourceContents,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use viam_fleet_mcp::sandbox::{DEMO_API_KEY, SandboxConfig, ids};

common::over_both_transports!(
    every_tool_has_the_five_hints_and_a_title,
    each_prompt_is_listed_and_renders_with_completed_arguments,
    each_template_reads_through_the_tools_and_redacts,
    completing_rov_offers_both_rovers,
);

async fn every_tool_has_the_five_hints_and_a_title() {
    let h = Harness::start().await;
    let tools = h.tools().await;
    assert_eq!(tools.len(), viam_fleet_mcp::tools::catalogue().rows.len());
    for tool in &tools {
        let hints = tool.annotations.as_ref().unwrap_or_else(|| panic!("{}: no annotations", tool.name));
        let title = tool.title.as_deref().unwrap_or_else(|| panic!("{}: no title", tool.name));
        assert!(!title.is_empty() && !title.contains('_'), "{}: {title:?}", tool.name);
        assert_eq!(hints.title.as_deref(), Some(title), "{}", tool.name);
        let all = [hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint];
        assert!(all.iter().all(Option::is_some), "{}: {hints:?}", tool.name);
        assert_eq!(hints.open_world_hint, Some(true), "{}", tool.name);
    }
    let delete = tools.iter().find(|t| t.name == "delete_robot").unwrap();
    assert_eq!(delete.title.as_deref(), Some("Delete machine"));
    assert_eq!(delete.annotations.as_ref().unwrap().destructive_hint, Some(true));
    h.stop().await;
}

/// The first value completion offers for a prompt's argument, as a person would pick it.
async fn first_completion<C: ClientHandler>(h: &Harness<C>, prompt: &str, argument: &str, typed: &str) -> String {
    let offered = h.client.complete_prompt_argument(prompt, argument, typed, None).await.unwrap();
    offered.values.first().unwrap_or_else(|| panic!("{prompt}.{argument}: nothing for {typed:?}")).clone()
}

async fn each_prompt_is_listed_and_renders_with_completed_arguments() {
    let h = Harness::start().await;
    let prompts = h.client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["fleet_health", "diagnose_machine", "change_many_machines", "review_access"]);
    let org = first_completion(&h, "fleet_health", "org", "demo").await;
    assert_eq!(org, format!("Demo Robotics ({})", ids::ORG));
    let location = first_completion(&h, "fleet_health", "location", "ware").await;
    let machine = first_completion(&h, "diagnose_machine", "machine", "rover-2").await;
    // The fleet-change tools when this build has them, the config item tools until then.
    let fleet_change = h.tools().await.iter().any(|t| t.name == "plan_fleet_change");
    let change_tool = if fleet_change { "`plan_fleet_change`" } else { "`update_config_item`" };
    let cases = [
        ("fleet_health", json!({"org": org, "location": location}), vec![ids::ORG, ids::LOCATION_WAREHOUSE]),
        ("diagnose_machine", json!({"machine": machine}), vec![ids::ROBOT_ROVER_2, "`get_robot_part_logs`"]),
        (
            "change_many_machines",
            json!({"org": org, "change": "set scan_rate to 10 on the lidars"}),
            vec![ids::ORG, "set scan_rate to 10 on the lidars", change_tool],
        ),
        ("review_access", json!({"org": org}), vec![ids::ORG, "`list_keys`"]),
    ];
    for (name, arguments, expected) in cases {
        let request = GetPromptRequestParams::new(name).with_arguments(arguments.as_object().unwrap().clone());
        let rendered = h.client.get_prompt(request).await.unwrap();
        let text: String =
            rendered.messages.iter().filter_map(|m| m.content.as_text()).map(|t| t.text.clone()).collect();
        for part in expected {
            assert!(text.contains(part), "{name}: {part:?} not in\n{text}");
        }
        assert!(!text.contains('{'), "{name}: a placeholder is left in\n{text}");
    }
    // A name alone is resolved to its id too; a missing argument is named.
    let by_name =
        GetPromptRequestParams::new("review_access").with_arguments(json_object(json!({"org": "demo robotics"})));
    let text = format!("{:?}", h.client.get_prompt(by_name).await.unwrap().messages);
    assert!(text.contains(ids::ORG), "{text}");
    let missing = GetPromptRequestParams::new("diagnose_machine");
    let error = h.client.get_prompt(missing).await.unwrap_err().to_string();
    assert!(error.contains("machine: missing"), "{error}");
    h.stop().await;
}

fn json_object(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn text_of(contents: &[ResourceContents]) -> String {
    contents
        .iter()
        .map(|c| match c {
            ResourceContents::TextResourceContents { text, .. } => text.clone(),
            other => panic!("not text: {other:?}"),
        })
        .collect()
}

async fn each_template_reads_through_the_tools_and_redacts() {
    let h = Harness::start().await;
    // Secrets in a part's config and a fragment's, one of them the server's own key under a plain name.
    let planted = "planted-password-value-42";
    for target in [json!({"robot_part_id": ids::PART_ROVER_1_MAIN}), json!({"fragment_id": ids::FRAGMENT})] {
        let mut arguments = json!({"kind": "components", "item": {"name": "cam", "api": "rdk:component:camera",
            "model": "webcam", "attributes": {"password": planted, "note": DEMO_API_KEY}}});
        arguments.as_object_mut().unwrap().extend(json_object(target));
        h.ok("add_config_item", arguments).await;
    }
    let mut never: Vec<String> = seeded_secrets(&h.sandbox.snapshot()).into_iter().map(|(s, _)| s).collect();
    never.extend([planted.to_string(), DEMO_API_KEY.to_string()]);

    let templates = h.client.list_all_resource_templates().await.unwrap();
    let uris: Vec<&str> = templates.iter().map(|t| t.uri_template.as_str()).collect();
    assert_eq!(
        uris,
        [
            "viam://parts/{part_id}/config",
            "viam://machines/{machine_id}",
            "viam://fragments/{fragment_id}",
            "viam://orgs/{org_id}/summary"
        ]
    );
    let expected: HashMap<&str, (&str, &str)> = HashMap::from([
        ("part_id", ("rover-1-main", "cam")),
        ("machine_id", ("rover-1", "rover-1-lidar")),
        ("fragment_id", ("rover-base", "cam")),
        ("org_id", ("demo", "rover-2")),
    ]);
    for template in &templates {
        let variable = template.uri_template.split_once('{').unwrap().1.split_once('}').unwrap().0;
        let (typed, shown) = expected[variable];
        let offered = h.client.complete_resource_argument(&template.uri_template, variable, typed, None).await.unwrap();
        let id = offered.values.first().unwrap_or_else(|| panic!("{variable}: nothing for {typed:?}"));
        let uri = template.uri_template.replace(&format!("{{{variable}}}"), id);
        let read = h.client.read_resource(ReadResourceRequestParams::new(uri.clone())).await.unwrap();
        let text = text_of(&read.contents);
        assert!(text.contains(shown), "{uri}: {shown:?} not in {text}");
        serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{uri} is not JSON ({e}): {text}"));
        assert!(text.len() <= RESULT_BYTES, "{uri}: {} bytes", text.len());
        for secret in &never {
            assert!(!text.contains(secret.as_str()), "{uri} shows a secret");
        }
    }
    let config = h
        .client
        .read_resource(ReadResourceRequestParams::new(format!("viam://parts/{}/config", ids::PART_ROVER_1_MAIN)));
    let config: Value = serde_json::from_str(&text_of(&config.await.unwrap().contents)).unwrap();
    assert_eq!(config["config"]["components"].as_array().unwrap().iter().filter(|c| c["name"] == "cam").count(), 1);
    // The organization's summary is the only resource listed.
    let listed = h.client.list_all_resources().await.unwrap();
    let listed: Vec<&str> = listed.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(listed, [format!("viam://orgs/{}/summary", ids::ORG)]);
    let unknown = h.client.read_resource(ReadResourceRequestParams::new("viam://robots/x")).await.unwrap_err();
    assert!(unknown.to_string().contains("resources/templates/list"), "{unknown}");
    h.stop().await;
}

async fn completing_rov_offers_both_rovers() {
    let h = Harness::start().await;
    let offered = h.client.complete_prompt_argument("diagnose_machine", "machine", "rov", None).await.unwrap();
    assert_eq!(
        offered.values,
        [format!("rover-1 ({})", ids::ROBOT_ROVER_1), format!("rover-2 ({})", ids::ROBOT_ROVER_2)]
    );
    assert_eq!((offered.total, offered.has_more), (Some(2), Some(false)));
    let by_id = h.client.complete_resource_argument("viam://machines/{machine_id}", "machine_id", "rov", None);
    assert_eq!(by_id.await.unwrap().values, [ids::ROBOT_ROVER_1, ids::ROBOT_ROVER_2]);
    // Typing on sends no further listing: the one just read answers.
    h.sandbox.clear_journal();
    for typed in ["r", "ro", "rove", "rover-"] {
        h.client.complete_prompt_argument("diagnose_machine", "machine", typed, None).await.unwrap();
    }
    assert_eq!(h.methods(), Vec::<String>::new());
    // The organization given narrows the machines to its own.
    let context = CompletionContext::with_arguments(HashMap::from([("org".to_string(), ids::ORG.to_string())]));
    let in_org = h.client.complete_prompt_argument("fleet_health", "location", "a", Some(context)).await.unwrap();
    assert!(in_org.values.iter().any(|v| v.contains(ids::LOCATION_WAREHOUSE)), "{in_org:?}");
    h.stop().await;
}

/// A client that asks for one protocol version.
struct Version(ProtocolVersion);

impl ClientHandler for Version {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default().with_protocol_version(self.0.clone())
    }
}

#[tokio::test]
async fn prompts_resources_and_completion_answer_on_every_protocol_version() {
    let versions = [
        ProtocolVersion::V_2024_11_05,
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
    ];
    for version in versions {
        let h = Harness::start_client(SandboxConfig::default(), &[], Version(version.clone())).await;
        let agreed = h.client.peer_info().unwrap().protocol_version.clone();
        assert_eq!(agreed, version);
        answers_prompts_resources_and_completion(&h, &version.to_string()).await;
        h.stop().await;
    }
    let modern = Harness::start_modern(SandboxConfig::default(), &[], ()).await;
    answers_prompts_resources_and_completion(&modern, "2026-07-28").await;
    modern.stop().await;
}

async fn answers_prompts_resources_and_completion<C: ClientHandler>(h: &Harness<C>, version: &str) {
    assert_eq!(h.client.list_all_prompts().await.unwrap().len(), 4, "{version}");
    let machine = first_completion(h, "diagnose_machine", "machine", "rov").await;
    let request =
        GetPromptRequestParams::new("diagnose_machine").with_arguments(json_object(json!({"machine": machine})));
    let text = format!("{:?}", h.client.get_prompt(request).await.unwrap().messages);
    assert!(text.contains(ids::ROBOT_ROVER_1), "{version}: {text}");
    assert_eq!(h.client.list_all_resource_templates().await.unwrap().len(), 4, "{version}");
    assert_eq!(h.client.list_all_resources().await.unwrap().len(), 1, "{version}");
    let uri = format!("viam://machines/{}", ids::ROBOT_ROVER_1);
    let read = h.client.read_resource(ReadResourceRequestParams::new(uri)).await.unwrap();
    assert!(text_of(&read.contents).contains("rover-1-main"), "{version}");
}

/// A tool hidden by a filter hides the prompts and templates that need it; with none left, the
/// capability is not declared and the methods are not served.
#[tokio::test]
async fn what_the_filters_hide_is_neither_listed_nor_served() {
    let h =
        Harness::start_with(SandboxConfig::default(), &["--read-only", "--toolsets", "organizations,machines,logs"])
            .await;
    let prompts = h.client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    // change_many_machines needs the item tools, review_access needs list_authorizations and list_keys.
    assert_eq!(names, ["fleet_health", "diagnose_machine"]);
    let templates = h.client.list_all_resource_templates().await.unwrap();
    let uris: Vec<&str> = templates.iter().map(|t| t.uri_template.as_str()).collect();
    assert_eq!(uris, ["viam://parts/{part_id}/config", "viam://machines/{machine_id}", "viam://orgs/{org_id}/summary"]);
    let fragment =
        h.client.read_resource(ReadResourceRequestParams::new(format!("viam://fragments/{}", ids::FRAGMENT)));
    assert!(fragment.await.is_err());
    let hidden = h
        .client
        .get_prompt(GetPromptRequestParams::new("review_access").with_arguments(json_object(json!({"org": ids::ORG}))));
    assert!(hidden.await.unwrap_err().to_string().contains("hide"));
    h.stop().await;

    let keys_only = Harness::start_with(SandboxConfig::default(), &["--toolsets", "keys"]).await;
    let capabilities = keys_only.client.peer_info().unwrap().capabilities.clone();
    assert!(capabilities.tools.is_some());
    assert!(capabilities.prompts.is_none() && capabilities.resources.is_none() && capabilities.completions.is_none());
    assert!(keys_only.client.list_all_prompts().await.is_err());
    assert!(keys_only.client.list_all_resource_templates().await.is_err());
    keys_only.stop().await;
}

/// On 2,000 machines, completion and `resources/list` stay within the result budget, and
/// completion says there is more.
#[tokio::test]
async fn on_a_big_fleet_completion_and_the_resource_list_stay_within_the_budget() {
    let h = fleet_harness(&[]).await;
    let offered = h.client.complete_prompt_argument("diagnose_machine", "machine", "", None).await.unwrap();
    assert_eq!(offered.values.len(), 100);
    assert_eq!((offered.total, offered.has_more), (Some(2000), Some(true)));
    assert!(serde_json::to_vec(&offered).unwrap().len() <= RESULT_BYTES);
    let parts =
        h.client.complete_resource_argument("viam://parts/{part_id}/config", "part_id", "", None).await.unwrap();
    assert_eq!((parts.values.len(), parts.has_more), (100, Some(true)));
    let resources = h.client.list_all_resources().await.unwrap();
    assert_eq!(resources.len(), 1);
    assert!(serde_json::to_vec(&resources).unwrap().len() <= RESULT_BYTES);
    let summary = h.client.read_resource(ReadResourceRequestParams::new(resources[0].uri.clone())).await.unwrap();
    assert!(text_of(&summary.contents).len() <= RESULT_BYTES);
    h.stop().await;
}
