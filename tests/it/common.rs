//! Test harness: a sandbox in the test process, and the real binary over stdio pointed at it with
//! an rmcp client, so every test crosses the whole path (MCP → tool → gRPC → sandbox).

use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion, Tool};
use rmcp::service::RunningService;
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncReadExt;
use viam_fleet_mcp::sandbox::{self, DEMO_API_KEY, DEMO_API_KEY_ID, RunningSandbox, SandboxConfig};

pub const BIN: &str = env!("CARGO_BIN_EXE_viam-fleet-mcp");

pub struct Harness<C: ClientHandler = ()> {
    pub sandbox: RunningSandbox,
    pub client: RunningService<RoleClient, C>,
    stderr: Arc<Mutex<String>>,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(SandboxConfig::default(), &[]).await
    }

    /// Starts a sandbox with `config` and the binary with extra command-line `args`.
    pub async fn start_with(config: SandboxConfig, args: &[&str]) -> Self {
        Harness::start_client(config, args, ()).await
    }

    /// As `start_with`, with the binary authenticating as API key `key_id`.
    pub async fn start_as(config: SandboxConfig, key_id: &str, key: &str) -> Self {
        Self::start_session(config, &[], (), ClientLifecycleMode::Initialize, (key_id, key), &[]).await
    }

    /// As `start_with`, with extra environment variables for the binary (e.g. `RUST_LOG`).
    pub async fn start_env(config: SandboxConfig, args: &[&str], env: &[(&str, &str)]) -> Self {
        let key = (DEMO_API_KEY_ID, DEMO_API_KEY);
        Self::start_session(config, args, (), ClientLifecycleMode::Initialize, key, env).await
    }
}

impl<C: ClientHandler> Harness<C> {
    /// As `start_with`, with `handler` as the MCP client (elicitation, progress, …).
    pub async fn start_client(config: SandboxConfig, args: &[&str], handler: C) -> Self {
        let key = (DEMO_API_KEY_ID, DEMO_API_KEY);
        Self::start_session(config, args, handler, ClientLifecycleMode::Initialize, key, &[]).await
    }

    /// As `start_client`, on a 2026-07-28 session (no initialize; MRTR instead of elicitation).
    pub async fn start_modern(config: SandboxConfig, args: &[&str], handler: C) -> Self {
        let modern = ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] };
        Self::start_session(config, args, handler, modern, (DEMO_API_KEY_ID, DEMO_API_KEY), &[]).await
    }

    async fn start_session(
        config: SandboxConfig,
        args: &[&str],
        handler: C,
        lifecycle: ClientLifecycleMode,
        (key_id, key): (&str, &str),
        env: &[(&str, &str)],
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sandbox = sandbox::start(config, listener).await.unwrap();
        let (client, stderr) = serve_binary(&sandbox.url(), args, handler, lifecycle, (key_id, key), env).await;
        Self { sandbox, client, stderr }
    }

    /// Another server process against this harness's sandbox, on a 2026-07-28 session: a replica.
    pub async fn replica<H: ClientHandler>(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        handler: H,
    ) -> RunningService<RoleClient, H> {
        let modern = ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] };
        serve_binary(&self.sandbox.url(), args, handler, modern, (DEMO_API_KEY_ID, DEMO_API_KEY), env).await.0
    }
}

/// Starts the binary against the app at `url` and connects `handler` to it over stdio; its
/// stderr is collected.
async fn serve_binary<C: ClientHandler>(
    url: &str,
    args: &[&str],
    handler: C,
    lifecycle: ClientLifecycleMode,
    (key_id, key): (&str, &str),
    env: &[(&str, &str)],
) -> (RunningService<RoleClient, C>, Arc<Mutex<String>>) {
    {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let command = tokio::process::Command::new(BIN).configure(|c| {
            c.args(&args)
                .env("VIAM_APP_URL", url)
                .env("VIAM_API_KEY_ID", key_id)
                .env("VIAM_API_KEY", key)
                .env_remove("VIAM_LOCATION_ID")
                .env("RUST_LOG", "debug,rmcp=warn,h2=info,tower=info,hyper_util=info")
                .envs(env.iter().copied());
        });
        let (transport, child_stderr) = TokioChildProcess::builder(command).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child_stderr {
            let sink = stderr.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let client = handler.serve_with_lifecycle(transport, lifecycle).await.unwrap();
        (client, stderr)
    }
}

impl<C: ClientHandler> Harness<C> {
    pub async fn tools(&self) -> Vec<Tool> {
        self.client.list_all_tools().await.unwrap()
    }

    /// Calls a tool; a protocol error fails the test (tool errors come back as `isError`).
    pub async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
            .await
            .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"))
    }

    /// Calls a tool that must succeed and returns its structured content.
    pub async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments).await;
        assert_ne!(result.is_error, Some(true), "{tool} failed: {:?}", result.structured_content);
        result.structured_content.unwrap_or_else(|| panic!("{tool} returned no structuredContent"))
    }

    /// Calls a tool that must fail and returns its structured error.
    pub async fn err(&self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments).await;
        assert_eq!(result.is_error, Some(true), "{tool} should fail: {:?}", result.structured_content);
        result.structured_content.unwrap_or_else(|| panic!("{tool} returned no structuredContent"))
    }

    /// The AppService methods the sandbox has received, in order.
    pub fn methods(&self) -> Vec<String> {
        self.sandbox.journal().into_iter().map(|(method, _)| method).collect()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub async fn stop(self) {
        let _ = self.client.cancel().await;
        self.sandbox.shutdown().await;
    }
}

/// The error object of a failed call must name its code.
pub fn assert_error_code(error: &Value, code: &str) {
    assert_eq!(error["error"], json!(code), "unexpected error: {error}");
}
