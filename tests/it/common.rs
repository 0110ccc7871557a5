//! Test harness: a sandbox in the test process, and the real binary pointed at it with an rmcp
//! client, so every test crosses the whole path (MCP → tool → gRPC → sandbox). The client talks
//! stdio, or Streamable HTTP to `serve --http` for tests run through `over_both_transports!`.

use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion, Tool};
use rmcp::service::RunningService;
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};
use std::future::Future;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt};
use viam_fleet_mcp::sandbox::{self, DEMO_API_KEY, DEMO_API_KEY_ID, RunningSandbox, SandboxConfig};

pub const BIN: &str = env!("CARGO_BIN_EXE_viam-fleet-mcp");

/// Where every server of this test run keeps fleet changes (not the user's state directory);
/// a test that needs its own passes --state-dir.
pub fn state_dir() -> &'static str {
    static DIR: std::sync::LazyLock<tempfile::TempDir> = std::sync::LazyLock::new(|| tempfile::tempdir().unwrap());
    DIR.path().to_str().unwrap()
}
/// The server's log filter in tests: debug, without the transport crates' chatter.
const RUST_LOG: &str = "debug,rmcp=warn,h2=info,tower=info,hyper_util=info,hyper=info,reqwest=info";

/// How the test client reaches the binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Http,
}

tokio::task_local! {
    /// The transport of the running test; a task-local so the same test body runs over both
    /// transports without threading a parameter through every helper.
    static TRANSPORT: Transport;
}

/// Runs `test` with every `Harness` it starts using `transport`.
pub async fn over<F: Future>(transport: Transport, test: F) -> F::Output {
    TRANSPORT.scope(transport, test).await
}

/// Runs each named `async fn()` test over stdio and over HTTP, as `stdio::NAME` and `http::NAME`.
macro_rules! over_both_transports {
    ($($test:ident),+ $(,)?) => {
        mod stdio {
            $(#[tokio::test]
            async fn $test() {
                crate::common::over(crate::common::Transport::Stdio, super::$test()).await
            })+
        }
        mod http {
            $(#[tokio::test]
            async fn $test() {
                crate::common::over(crate::common::Transport::Http, super::$test()).await
            })+
        }
    };
}
pub(crate) use over_both_transports;

pub struct Harness<C: ClientHandler = ()> {
    pub sandbox: RunningSandbox,
    pub client: RunningService<RoleClient, C>,
    stderr: Arc<Mutex<String>>,
    /// The `serve --http` process, when the client talks HTTP.
    _server: Option<HttpServer>,
}

/// The binary serving MCP over HTTP on a loopback port it picked; killed when dropped.
pub struct HttpServer {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT/mcp`
    pub url: String,
    pub stderr: Arc<Mutex<String>>,
}

impl HttpServer {
    /// Starts `BIN [args] serve --http 127.0.0.1:0 [serve_args]` with the environment `env`,
    /// against the app at `app_url` with the demo key, and waits for the address it prints.
    pub async fn start(app_url: &str, args: &[&str], serve_args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = tokio::process::Command::new(BIN)
            .args(args)
            .args(["serve", "--http", "127.0.0.1:0"])
            .args(serve_args)
            .env("VIAM_APP_URL", app_url)
            .env("VIAM_API_KEY_ID", DEMO_API_KEY_ID)
            .env("VIAM_API_KEY", DEMO_API_KEY)
            .env_remove("VIAM_LOCATION_ID")
            .env_remove(viam_fleet_mcp::http::TOKEN_ENV)
            .env("VIAM_MCP_STATE_DIR", state_dir())
            .env("RUST_LOG", RUST_LOG)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = collect(child.stderr.take().unwrap());
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let Ok(Some(line)) = stdout.next_line().await else {
            let status = child.wait().await.unwrap();
            panic!("serve --http did not start ({status}): {}", stderr.lock().unwrap());
        };
        let url = line.rsplit(' ').next().unwrap().to_string();
        assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"), "{line}");
        Self { child, url, stderr }
    }

    /// An rmcp client transport to this server, sending `token` as a bearer token if given.
    pub fn transport(&self, token: Option<&str>) -> StreamableHttpClientTransport<reqwest::Client> {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.url.clone());
        if let Some(token) = token {
            config = config.auth_header(token);
        }
        StreamableHttpClientTransport::from_config(config)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

/// Collects everything `pipe` yields, as it comes (a full pipe would stall the server).
fn collect(mut pipe: impl AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
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

    /// The binary with `args` against an already running `sandbox` (e.g. one serving TLS).
    pub async fn start_against(sandbox: RunningSandbox, args: &[&str]) -> Self {
        let key = (DEMO_API_KEY_ID, DEMO_API_KEY);
        Self::attach(sandbox, args, (), ClientLifecycleMode::Initialize, key, &[]).await
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
        Self::attach(sandbox, args, handler, lifecycle, (key_id, key), env).await
    }

    /// Starts the binary with `args` against a running `sandbox` and connects to it.
    async fn attach(
        sandbox: RunningSandbox,
        args: &[&str],
        handler: C,
        lifecycle: ClientLifecycleMode,
        (key_id, key): (&str, &str),
        env: &[(&str, &str)],
    ) -> Self {
        let url = sandbox.url();
        if TRANSPORT.try_with(|t| *t) == Ok(Transport::Http) {
            let key_env = [("VIAM_API_KEY_ID", key_id), ("VIAM_API_KEY", key)];
            let env: Vec<(&str, &str)> = key_env.iter().chain(env).copied().collect();
            let server = HttpServer::start(&url, args, &[], &env).await;
            let client = handler.serve_with_lifecycle(server.transport(None), lifecycle).await.unwrap();
            return Self { sandbox, client, stderr: server.stderr.clone(), _server: Some(server) };
        }
        let (client, stderr) = serve_stdio(&url, args, handler, lifecycle, (key_id, key), env).await;
        Self { sandbox, client, stderr, _server: None }
    }

    /// Another server process against this harness's sandbox, over stdio on a 2026-07-28
    /// session: a replica.
    pub async fn replica<H: ClientHandler>(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        handler: H,
    ) -> RunningService<RoleClient, H> {
        let modern = ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] };
        serve_stdio(&self.sandbox.url(), args, handler, modern, (DEMO_API_KEY_ID, DEMO_API_KEY), env).await.0
    }

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

/// Starts the binary against the app at `url` and connects `handler` to it over stdio; its
/// stderr is collected.
async fn serve_stdio<C: ClientHandler>(
    url: &str,
    args: &[&str],
    handler: C,
    lifecycle: ClientLifecycleMode,
    (key_id, key): (&str, &str),
    env: &[(&str, &str)],
) -> (RunningService<RoleClient, C>, Arc<Mutex<String>>) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let command = tokio::process::Command::new(BIN).configure(|c| {
        c.args(&args)
            .env("VIAM_APP_URL", url)
            .env("VIAM_API_KEY_ID", key_id)
            .env("VIAM_API_KEY", key)
            .env_remove("VIAM_LOCATION_ID")
            .env("VIAM_MCP_STATE_DIR", state_dir())
            .env("RUST_LOG", RUST_LOG)
            .envs(env.iter().copied());
    });
    let (transport, child_stderr) = TokioChildProcess::builder(command).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = collect(child_stderr.unwrap());
    let client = handler.serve_with_lifecycle(transport, lifecycle).await.unwrap();
    (client, stderr)
}

/// The error object of a failed call must name its code.
pub fn assert_error_code(error: &Value, code: &str) {
    assert_eq!(error["error"], json!(code), "unexpected error: {error}");
}
