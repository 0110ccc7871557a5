//! MCP over Streamable HTTP: rmcp's `StreamableHttpService` at `/mcp` in axum, serving the same
//! `FleetServer` as stdio. 2026-07-28 requests are stateless (any replica can answer them);
//! 2025-06-18 / 2025-11-25 clients get rmcp's legacy sessions with SSE. Around it: bearer
//! authentication, Host/Origin allowlists, a concurrency limit, `/healthz`, graceful SIGTERM.
use crate::server::FleetServer;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;
use tokio_stream::StreamExt as _;
use tokio_util::sync::CancellationToken;

/// The environment variable holding the bearer token, when no `--http-token-file` is given.
pub const TOKEN_ENV: &str = "VIAM_MCP_HTTP_TOKEN";
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
const LOOPBACK_ORIGINS: [&str; 6] = [
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
    "https://[::1]:*",
];

#[derive(clap::Args, Debug, Default)]
pub struct HttpOptions {
    /// Serve MCP over Streamable HTTP at http://ADDR/mcp instead of stdio (ADDR defaults to
    /// 127.0.0.1:8080). Anything but a loopback address needs a bearer token
    /// (VIAM_MCP_HTTP_TOKEN or --http-token-file).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8080")]
    pub http: Option<SocketAddr>,
    /// A file holding the bearer token HTTP clients must send (instead of VIAM_MCP_HTTP_TOKEN).
    #[arg(long, value_name = "FILE", requires = "http")]
    pub http_token_file: Option<PathBuf>,
    /// A Host (name or name:port) HTTP clients may address besides loopback ones (repeatable).
    #[arg(long = "allowed-host", value_name = "HOST", requires = "http")]
    pub allowed_hosts: Vec<String>,
    /// A browser Origin allowed besides loopback ones, e.g. https://app.example.com (repeatable).
    #[arg(long = "allowed-origin", value_name = "ORIGIN", requires = "http")]
    pub allowed_origins: Vec<String>,
    /// How many MCP requests are handled at once; more wait for a slot.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub http_max_concurrency: u32,
    /// On SIGTERM, how long in-flight calls may take to finish, in seconds.
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace_secs: u64,
}

impl HttpOptions {
    /// The bearer token: the file's first line, else the environment; empty means none.
    fn token(&self) -> anyhow::Result<Option<String>> {
        let token = match &self.http_token_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read --http-token-file {}: {e}", path.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string(),
            None => std::env::var(TOKEN_ENV).unwrap_or_default(),
        };
        Ok((!token.is_empty()).then_some(token))
    }
}

#[derive(Clone)]
struct Guard {
    /// `Bearer <token>` as bytes, when clients must authenticate.
    expected: Option<Arc<[u8]>>,
    slots: Arc<Semaphore>,
    /// How long a request waits for a slot before it is turned away.
    wait: Duration,
}

/// Serves `server` at `http://addr/mcp` until SIGTERM or Ctrl-C, then stops accepting, lets
/// in-flight requests finish for up to the grace period, and returns.
pub async fn serve(server: FleetServer, options: &HttpOptions, call_deadline: Duration) -> anyhow::Result<()> {
    let addr = options.http.expect("serve is only called with --http");
    let token = options.token()?;
    anyhow::ensure!(
        token.is_some() || addr.ip().is_loopback(),
        "refusing to serve MCP on {addr} without authentication: set {TOKEN_ENV} or --http-token-file, \
         or bind a loopback address such as 127.0.0.1:{}",
        addr.port()
    );
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let stop = CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(LOOPBACK_HOSTS.iter().map(|h| h.to_string()).chain(options.allowed_hosts.iter().cloned()))
        .with_allowed_origins(
            LOOPBACK_ORIGINS.iter().map(|o| o.to_string()).chain(options.allowed_origins.iter().cloned()),
        )
        .enforce_origin_validation()
        .with_cancellation_token(stop.child_token());
    let max_body_bytes = config.max_request_body_bytes;
    let mcp = StreamableHttpService::new(move || Ok(server.clone()), Arc::new(LocalSessionManager::default()), config);
    let max = options.http_max_concurrency as usize;
    let authenticated = token.is_some();
    let guard = Guard {
        expected: token.map(|t| Arc::from(format!("Bearer {t}").into_bytes())),
        slots: Arc::new(Semaphore::new(max)),
        wait: call_deadline,
    };
    let slots = guard.slots.clone();
    let router = axum::Router::new()
        .route_service("/mcp", mcp)
        .route_layer(axum::middleware::from_fn_with_state(max_body_bytes, answer_refusals))
        .route_layer(axum::middleware::from_fn_with_state(guard, admit))
        .route("/healthz", axum::routing::get(|| async { "ok\n" }));

    // The address goes to stdout (free in HTTP mode), so scripts and tests can use port 0.
    println!("MCP over Streamable HTTP at http://{bound}/mcp");
    tracing::info!(%bound, authenticated, "serving MCP over HTTP");

    let signalled = CancellationToken::new();
    let serving = tokio::spawn(
        axum::serve(listener, router).with_graceful_shutdown(signalled.clone().cancelled_owned()).into_future(),
    );
    shutdown_signal().await;
    tracing::info!("shutting down: no new connections; waiting for in-flight calls");
    signalled.cancel();
    let grace = Duration::from_secs(options.shutdown_grace_secs);
    let drained = tokio::time::timeout(grace, async {
        // Every slot free again means no request is in flight.
        let _all = slots.acquire_many(max as u32).await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!(?grace, "in-flight calls did not finish within the grace period");
    }
    // Ends the SSE streams and sessions that keep connections open.
    stop.cancel();
    match tokio::time::timeout(Duration::from_secs(5), serving).await {
        Ok(result) => result??,
        Err(_) => tracing::warn!("connections still open after shutdown; closing them"),
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                return;
            }
            Err(e) => tracing::warn!("cannot listen for SIGTERM: {e}"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Bearer authentication (when configured) and the concurrency limit, before rmcp sees the
/// request. A POST holds its slot until its response body, possibly an SSE stream, is done.
async fn admit(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    if let Some(expected) = &guard.expected {
        let given = request.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
        if !bool::from(given.ct_eq(expected)) {
            let challenge = if given.is_empty() {
                r#"Bearer realm="viam-fleet-mcp""#
            } else {
                r#"Bearer realm="viam-fleet-mcp", error="invalid_token""#
            };
            tracing::warn!(method = %request.method(), "refused an MCP request without a valid bearer token");
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
                "a valid bearer token is required\n",
            )
                .into_response();
        }
    }
    // Only POSTs carry calls; a GET is the long-lived SSE stream of a legacy session.
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Ok(Ok(slot)) = tokio::time::timeout(guard.wait, guard.slots.clone().acquire_owned()).await else {
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], "the server is busy; retry\n")
            .into_response();
    };
    let (parts, body) = next.run(request).await.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _held = &slot;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

/// rmcp answers a body that is not a JSON-RPC message with a plain-text 415, which a client cannot
/// match to its request; here it gets the JSON-RPC error stdio gives: Parse error, or Invalid
/// Request with the request's id when it can be read.
async fn answer_refusals(State(max_body_bytes): State<usize>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, max_body_bytes).await else {
        let message = format!("Payload Too Large: request body exceeds {max_body_bytes} bytes");
        return (StatusCode::PAYLOAD_TOO_LARGE, message).into_response();
    };
    let response = next.run(Request::from_parts(parts, Body::from(bytes.clone()))).await;
    if bytes.len() > crate::stdio::KEPT_BUFFER_BYTES {
        crate::server::return_heap_when_idle();
    }
    if response.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10).await.unwrap_or_default();
    if !text.starts_with(b"fail to deserialize request body") {
        return Response::from_parts(parts, Body::from(text));
    }
    let frame = crate::stdio::refusal(&bytes);
    (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], frame).into_response()
}
