//! What a model pays on a fleet at scale (`fleet:2000`), through the real binary over stdio:
//! `tools/list` bytes, the first-page result of each list tool, and paging all 10,000 logs of
//! `noisy`. Sizes are deterministic; the paging time is one run on this machine.
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::ServiceExt;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};
use std::time::Instant;
use viam_fleet_mcp::sandbox::{self, DEMO_API_KEY, DEMO_API_KEY_ID, SandboxConfig, Seed, fleet, ids};

const BIN: &str = env!("CARGO_BIN_EXE_viam-fleet-mcp");

fn text_bytes(result: &CallToolResult) -> usize {
    result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.len()).sum()
}

#[tokio::main]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = SandboxConfig { seed: Seed::Fleet(2000), ..SandboxConfig::default() };
    let sandbox = sandbox::start(config, listener).await.unwrap();
    let command = tokio::process::Command::new(BIN).configure(|c| {
        c.env("VIAM_APP_URL", sandbox.url())
            .env("VIAM_API_KEY_ID", DEMO_API_KEY_ID)
            .env("VIAM_API_KEY", DEMO_API_KEY)
            .env("VIAM_LOCATION_ID", fleet::location_id(0))
            .env("RUST_LOG", "warn");
    });
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let call = |tool: &str, arguments: Value| {
        let params =
            CallToolRequestParams::new(tool.to_string()).with_arguments(arguments.as_object().cloned().unwrap());
        let client = &client;
        async move { client.call_tool(params).await.unwrap() }
    };

    let tools = client.list_all_tools().await.unwrap();
    let catalogue = serde_json::to_vec(&tools).unwrap().len();
    println!("tools/list: {} tools, {catalogue} bytes (~{} tokens)", tools.len(), catalogue / 4);

    let org = json!({"org_id": ids::ORG});
    let noisy_part = fleet::main_part_id(0);
    let fragments = call("list_fragments", org.clone()).await.structured_content.unwrap();
    let fragment = fragments["fragments"][0]["id"].clone();
    let location_ids: Vec<String> = (0..20).map(fleet::location_id).collect();
    let first_pages = [
        ("list_organizations", json!({})),
        ("list_organization_members", org.clone()),
        ("list_locations", org.clone()),
        ("list_robots", json!({})),
        ("list_robots_for_locations", json!({"location_ids": location_ids})),
        ("list_machine_summaries", org.clone()),
        ("get_robot_parts", json!({"robot_id": fleet::robot_id(0)})),
        ("get_robot_part_history", json!({"robot_part_id": noisy_part})),
        ("get_robot_part_logs", json!({"robot_part_id": noisy_part, "num_log_entries": 1000})),
        ("list_fragments", org.clone()),
        ("get_fragment_history", json!({"id": fragment})),
        ("list_keys", org.clone()),
        ("get_robot_api_keys", json!({"robot_id": fleet::robot_id(0)})),
        ("list_authorizations", org.clone()),
        ("list_registry_items", json!({"organization_id": ids::ORG})),
        ("list_modules", org.clone()),
    ];
    println!("\n| list tool (first page) | bytes of result text | total |\n|---|---|---|");
    for (tool, arguments) in first_pages {
        let result = call(tool, arguments).await;
        let total = result.structured_content.as_ref().and_then(|v| v.get("total").cloned()).unwrap_or(Value::Null);
        println!("| {tool} | {} | {total} |", text_bytes(&result));
    }

    let started = Instant::now();
    let mut arguments = json!({"robot_part_id": noisy_part, "num_log_entries": 0});
    let (mut pages, mut entries, mut bytes) = (0, 0, 0);
    loop {
        let result = call("get_robot_part_logs", arguments.clone()).await;
        pages += 1;
        bytes += text_bytes(&result);
        let page = result.structured_content.unwrap();
        entries += page["logs"].as_array().map_or(0, Vec::len);
        match page["next_cursor"].as_str() {
            Some(next) => arguments["cursor"] = json!(next),
            None => break,
        }
    }
    println!(
        "\npaging all logs of noisy: {entries} entries in {pages} pages, {bytes} bytes, {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let _ = client.cancel().await;
    sandbox.shutdown().await;
}
