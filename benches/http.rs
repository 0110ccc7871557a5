//! `cargo bench --bench http`: 100 concurrent MCP clients over Streamable HTTP, 50 calls each,
//! against `serve --http` and the sandbox; reports p50/p90/p99 call latency and throughput for
//! legacy-session and stateless (2026-07-28) clients.
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use viam_fleet_mcp::sandbox::{self, DEMO_API_KEY, DEMO_API_KEY_ID, SandboxConfig, ids};

const CLIENTS: usize = 100;
const CALLS: usize = 50;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

async fn run(url: &str, lifecycle: ClientLifecycleMode) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (url, lifecycle) = (url.to_string(), lifecycle.clone());
        clients.spawn(async move {
            let client =
                ().serve_with_lifecycle(StreamableHttpClientTransport::from_uri(url), lifecycle).await.unwrap();
            let arguments = serde_json::json!({"robot_part_id": ids::PART_ROVER_1_MAIN});
            let params =
                CallToolRequestParams::new("get_robot_part").with_arguments(arguments.as_object().unwrap().clone());
            let mut times = Vec::with_capacity(CALLS);
            for _ in 0..CALLS {
                let t = Instant::now();
                let result = client.call_tool(params.clone()).await.unwrap();
                times.push(t.elapsed());
                assert_ne!(result.is_error, Some(true));
            }
            let _ = client.cancel().await;
            times
        });
    }
    let mut times = Vec::with_capacity(CLIENTS * CALLS);
    while let Some(done) = clients.join_next().await {
        times.extend(done.unwrap());
    }
    times.sort();
    (times, started.elapsed())
}

#[tokio::main]
async fn main() {
    let sandbox = sandbox::start(SandboxConfig::default(), tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await
        .unwrap();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_viam-fleet-mcp"))
        .args(["serve", "--http", "127.0.0.1:0"])
        .env("VIAM_APP_URL", sandbox.url())
        .env("VIAM_API_KEY_ID", DEMO_API_KEY_ID)
        .env("VIAM_API_KEY", DEMO_API_KEY)
        .env_remove(viam_fleet_mcp::http::TOKEN_ENV)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let line = stdout.next_line().await.unwrap().expect("serve --http prints its URL");
    let url = line.rsplit(' ').next().unwrap().to_string();

    let modern = ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] };
    for (name, lifecycle) in [("legacy sessions", ClientLifecycleMode::Initialize), ("stateless 2026-07-28", modern)] {
        let (times, elapsed) = run(&url, lifecycle).await;
        println!(
            "get_robot_part over HTTP, {name}: {CLIENTS} clients x {CALLS} calls: p50 {:?}, p90 {:?}, p99 {:?}; \
             {:.0} calls/s",
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            percentile(&times, 0.99),
            times.len() as f64 / elapsed.as_secs_f64()
        );
    }
    sandbox.shutdown().await;
}
