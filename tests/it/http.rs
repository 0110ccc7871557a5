//! `serve --http` beyond the shared behaviour suite: refusals (token, Host, Origin) that run no
//! tool, the startup refusal without a token, `/healthz`, many concurrent clients, and SIGTERM
//! while calls are in flight.
use crate::common;

use common::{BIN, HttpServer};
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt as _};
use serde_json::{Value, json};
use std::time::Duration;
use viam_fleet_mcp::sandbox::{self, RunningSandbox, SandboxConfig, ids};

const TOKEN: &str = "test-token-0123456789";

async fn sandbox(config: SandboxConfig) -> RunningSandbox {
    sandbox::start(config, tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).await.unwrap()
}

fn arguments(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// A stateless 2026-07-28 `tools/call` that deletes rover-1, as a raw POST with `headers`.
async fn post_delete(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "delete_robot", "arguments": {"robot_id": ids::ROBOT_ROVER_1, "confirm": true},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}});
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "delete_robot")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn requests_without_the_token_or_from_a_foreign_host_or_origin_run_no_tool() {
    let sandbox = sandbox(SandboxConfig::default()).await;
    let server = HttpServer::start(&sandbox.url(), &[], &[], &[(viam_fleet_mcp::http::TOKEN_ENV, TOKEN)]).await;
    let bearer = format!("Bearer {TOKEN}");
    let before = sandbox.snapshot();

    let missing = post_delete(&server.url, &[]).await;
    assert_eq!(missing.status(), 401);
    assert!(missing.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let wrong = post_delete(&server.url, &[("authorization", "Bearer not-the-token")]).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    let foreign_host = post_delete(&server.url, &[("authorization", &bearer), ("host", "evil.example")]).await;
    assert_eq!(foreign_host.status(), 403);
    let foreign_origin =
        post_delete(&server.url, &[("authorization", &bearer), ("origin", "https://evil.example")]).await;
    assert_eq!(foreign_origin.status(), 403);
    assert!(sandbox.journal().is_empty(), "a refused request reached the service: {:?}", sandbox.journal());
    assert_eq!(sandbox.snapshot(), before);
    let logs = server.stderr();
    assert!(!logs.contains(TOKEN), "the token is in the log");

    // The same request with the token and a loopback Host and Origin goes through.
    let allowed = post_delete(&server.url, &[("authorization", &bearer), ("origin", "http://localhost:6274")]).await;
    assert_eq!(allowed.status(), 200);
    assert!(allowed.text().await.unwrap().contains("\"status\":\"ok\""));
    assert!(sandbox.journal().iter().any(|(method, _)| method == "DeleteRobot"));

    // rmcp's client sends the token as a bearer token too.
    let client = ().serve(server.transport(Some(TOKEN))).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), viam_fleet_mcp::tools::catalogue().rows.len());
    let _ = client.cancel().await;
}

#[tokio::test]
async fn a_non_loopback_address_without_a_token_is_refused_at_startup() {
    let output = std::process::Command::new(BIN)
        .args(["--sandbox", "serve", "--http", "0.0.0.0:0"])
        .env_remove(viam_fleet_mcp::http::TOKEN_ENV)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("VIAM_MCP_HTTP_TOKEN") && stderr.contains("--http-token-file"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing was served");
}

#[tokio::test]
async fn healthz_answers_without_a_token_and_shows_no_fleet_data() {
    let sandbox = sandbox(SandboxConfig::default()).await;
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), format!("{TOKEN}\n")).unwrap();
    let server =
        HttpServer::start(&sandbox.url(), &[], &["--http-token-file", token_file.path().to_str().unwrap()], &[]).await;
    let health = reqwest::get(server.url.replace("/mcp", "/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    assert!(sandbox.journal().is_empty());
    // The token from the file is the one required.
    assert_eq!(post_delete(&server.url, &[]).await.status(), 401);
    let client = ().serve(server.transport(Some(TOKEN))).await.unwrap();
    assert!(!client.list_all_tools().await.unwrap().is_empty());
    let _ = client.cancel().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_clients_each_finish_fifty_calls() {
    let sandbox = sandbox(SandboxConfig::default()).await;
    // Fewer slots than clients, so some calls wait for one.
    let server =
        HttpServer::start(&sandbox.url(), &[], &["--http-max-concurrency", "32"], &[("RUST_LOG", "warn")]).await;
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..100 {
        let transport = server.transport(None);
        clients.spawn(async move {
            // Half on legacy sessions, half stateless 2026-07-28.
            let lifecycle = if i % 2 == 0 {
                ClientLifecycleMode::Initialize
            } else {
                ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] }
            };
            let client = ().serve_with_lifecycle(transport, lifecycle).await.unwrap();
            for _ in 0..50 {
                let params =
                    CallToolRequestParams::new("list_locations").with_arguments(arguments(json!({"org_id": ids::ORG})));
                let result = client.call_tool(params).await.unwrap();
                assert_ne!(result.is_error, Some(true), "{:?}", result.structured_content);
            }
            let _ = client.cancel().await;
        });
    }
    while let Some(finished) = clients.join_next().await {
        finished.unwrap();
    }
    let calls = sandbox.journal().iter().filter(|(m, _)| m == "ListLocations").count();
    assert_eq!(calls, 100 * 50);
    assert!(!server.stderr().contains("ERROR"), "{}", server.stderr());
}

#[tokio::test]
async fn sigterm_finishes_the_calls_in_flight_and_exits_zero() {
    // Each call takes a while at the service, so SIGTERM arrives while they are in flight.
    let sandbox = sandbox(SandboxConfig { latency: Duration::from_millis(1500), ..SandboxConfig::default() }).await;
    let mut server = HttpServer::start(&sandbox.url(), &[], &[], &[]).await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..6 {
        // Legacy sessions (SSE) and stateless requests alike.
        let lifecycle = if i % 2 == 0 {
            ClientLifecycleMode::Initialize
        } else {
            ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] }
        };
        let client = ().serve_with_lifecycle(server.transport(None), lifecycle).await.unwrap();
        calls.spawn(async move {
            let name = format!("drained-{i}");
            let params = CallToolRequestParams::new("create_location")
                .with_arguments(arguments(json!({"org_id": ids::ORG, "name": name})));
            let result = client.call_tool(params).await;
            (name, result)
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());

    let mut acknowledged = Vec::new();
    while let Some(finished) = calls.join_next().await {
        let (name, result) = finished.unwrap();
        let result = result.unwrap_or_else(|e| panic!("{name}: an in-flight call was cut off: {e}"));
        assert_ne!(result.is_error, Some(true), "{name}: {:?}", result.structured_content);
        acknowledged.push(name);
    }
    let status = tokio::time::timeout(Duration::from_secs(60), server.child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    let state = sandbox.snapshot().to_string();
    for name in &acknowledged {
        assert!(state.contains(&format!("\"{name}\"")), "{name} was acknowledged but is not in the fleet");
    }
    assert_eq!(acknowledged.len(), 6);
}
