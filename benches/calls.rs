//! `cargo bench --bench calls`: the size of `tools/list`, and the per-call latency against the
//! sandbox, both through the real binary over stdio and as a bare gRPC call on the same
//! connection code, so the MCP layer's cost is a ratio measured in one run.
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use std::time::{Duration, Instant};
use viam_fleet_mcp::connection::{ApiKey, Connection, ConnectionConfig, Retry};
use viam_fleet_mcp::proto::viam::app::v1::GetRobotPartRequest;
use viam_fleet_mcp::sandbox::{self, DEMO_API_KEY, DEMO_API_KEY_ID, SandboxConfig, ids};

const CALLS: usize = 500;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

#[tokio::main]
async fn main() {
    let sandbox = sandbox::start(SandboxConfig::default(), tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await
        .unwrap();

    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_viam-fleet-mcp")).configure(|c| {
        c.env("VIAM_APP_URL", sandbox.url())
            .env("VIAM_API_KEY_ID", DEMO_API_KEY_ID)
            .env("VIAM_API_KEY", DEMO_API_KEY)
            .env("RUST_LOG", "warn");
    });
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let tools = client.list_tools(None).await.unwrap();
    let list_bytes = serde_json::to_vec(&tools).unwrap().len();
    println!(
        "tools/list: {} tools, {} bytes of JSON ({:.0} bytes per tool)",
        tools.tools.len(),
        list_bytes,
        list_bytes as f64 / tools.tools.len() as f64
    );

    let started = Instant::now();
    let mut list_times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        client.list_tools(None).await.unwrap();
        list_times.push(t.elapsed());
    }
    println!("tools/list round trip: median {:?} over 50", median(list_times));

    let arguments = serde_json::json!({"robot_part_id": ids::PART_ROVER_1_MAIN});
    let params = CallToolRequestParams::new("get_robot_part").with_arguments(arguments.as_object().unwrap().clone());
    client.call_tool(params.clone()).await.unwrap(); // warm: connect and authenticate
    let mut mcp = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        let result = client.call_tool(params.clone()).await.unwrap();
        mcp.push(t.elapsed());
        assert_ne!(result.is_error, Some(true));
    }

    let conn = Connection::new(ConnectionConfig {
        url: sandbox.url(),
        api_key: Some(ApiKey { id: DEMO_API_KEY_ID.into(), key: DEMO_API_KEY.into() }),
        timeout: Duration::from_secs(30),
    })
    .unwrap();
    let request = GetRobotPartRequest { id: ids::PART_ROVER_1_MAIN.into() };
    conn.unary(request.clone(), Retry::Never).await.unwrap();
    let mut grpc = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        conn.unary(request.clone(), Retry::Never).await.unwrap();
        grpc.push(t.elapsed());
    }

    let (mcp_median, grpc_median) = (median(mcp.clone()), median(grpc.clone()));
    println!(
        "get_robot_part over MCP stdio: median {:?}, p90 {:?} ({} calls)",
        mcp_median,
        percentile(&mcp, 0.9),
        CALLS
    );
    println!(
        "GetRobotPart as bare gRPC:     median {:?}, p90 {:?} ({} calls)",
        grpc_median,
        percentile(&grpc, 0.9),
        CALLS
    );
    println!(
        "ratio MCP/gRPC: {:.2}x (the MCP layer adds {:?} per call); total bench time {:?}",
        mcp_median.as_secs_f64() / grpc_median.as_secs_f64(),
        mcp_median.saturating_sub(grpc_median),
        started.elapsed()
    );
    let _ = client.cancel().await;
    sandbox.shutdown().await;
}
