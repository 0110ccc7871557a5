//! How long a fleet change takes on `fleet:2000` with 20 ms of latency on every sandbox call,
//! through the real binary over stdio: plan and apply (an added fragment) for the 400 main parts
//! of the first location and for all 2,000 machines' main parts. The apply's health checks wait for
//! the simulated viam-servers' check-ins (every 200 ms here), so its time is writes plus check-ins.
//! One run on this machine; nothing is asserted.
use rmcp::model::CallToolRequestParams;
use rmcp::service::ServiceExt;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use viam_fleet_mcp::sandbox::{self, DEMO_API_KEY, DEMO_API_KEY_ID, SandboxConfig, Seed, fleet, ids};

const BIN: &str = env!("CARGO_BIN_EXE_viam-fleet-mcp");
/// Reads and writes a fleet change has in flight at once (`fleet_changes::rollout::CONCURRENCY`).
const CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = SandboxConfig {
        seed: Seed::Fleet(2000),
        latency: Duration::from_millis(20),
        checkin_period: Duration::from_millis(200),
        ..SandboxConfig::default()
    };
    let sandbox = sandbox::start(config, listener).await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let command = tokio::process::Command::new(BIN).configure(|c| {
        c.args(["--state-dir", state.path().to_str().unwrap()])
            .env("VIAM_APP_URL", sandbox.url())
            .env("VIAM_API_KEY_ID", DEMO_API_KEY_ID)
            .env("VIAM_API_KEY", DEMO_API_KEY)
            .env("RUST_LOG", "warn");
    });
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let call = |tool: &str, arguments: Value| {
        let params =
            CallToolRequestParams::new(tool.to_string()).with_arguments(arguments.as_object().cloned().unwrap());
        let client = &client;
        async move { client.call_tool(params).await.unwrap().structured_content.unwrap() }
    };
    println!("sandbox latency 20 ms per call, check-ins every 200 ms, {CONCURRENCY} reads/writes in flight\n");
    println!("| targets | plan | apply | state | counts |\n|---|---|---|---|---|");
    let cases = [
        ("f1ee0000-0005-4000-8000-000000000007", json!([fleet::location_id(0)])),
        ("f1ee0000-0005-4000-8000-000000000008", json!([])),
    ];
    for (fragment, locations) in cases {
        let started = Instant::now();
        let plan = call(
            "plan_fleet_change",
            json!({"org_id": ids::ORG, "location_ids": locations,
                   "change": {"op": "add_item", "kind": "fragments", "item": fragment}}),
        )
        .await;
        let planned = started.elapsed();
        let started = Instant::now();
        let apply = call(
            "apply_fleet_change",
            json!({"plan": plan["plan"], "confirm": true, "verify_seconds": 30, "wait_seconds": 600}),
        )
        .await;
        let applied = started.elapsed();
        println!(
            "| {} | {:.1} s | {:.1} s | {} | {} |",
            plan["targets"],
            planned.as_secs_f64(),
            applied.as_secs_f64(),
            apply["state"],
            apply["counts"]
        );
    }
    let _ = client.cancel().await;
    sandbox.shutdown().await;
}
