//! An embedded simulator of Viam's app API: a real tonic gRPC server with goutils' `AuthService` and all 70
//! `AppService` RPCs, backed by an in-memory fleet (optionally persisted to a JSON state file), enforcing the
//! calling API key's roles like Viam's app, with fault injection and a journal of every request for tests.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;

use crate::proto::rpc::v1::auth_service_server::AuthServiceServer;
use crate::proto::viam::app::v1::app_service_server::AppServiceServer;

mod auth;
mod seed;
mod service;
mod state;
mod store;
mod tls;

pub use seed::{demo_table, fleet, ids};

/// The id of the API key the sandbox accepts by default (a UUID, as the Python SDK insists).
pub const DEMO_API_KEY_ID: &str = "de300000-0006-4000-8000-000000000001";
/// The secret of `DEMO_API_KEY_ID`.
pub const DEMO_API_KEY: &str = "sandboxdemoapikey000000000000001";

/// goutils' limit, on both sides.
const MAX_MESSAGE_SIZE: usize = 32 << 20;

/// Which fleet a fresh sandbox starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seed {
    /// The demo fleet described by [`ids`].
    Demo,
    /// One empty organization ([`ids::ORG`]), and the API key the server authenticates with.
    Empty,
    /// `fleet:N`: a synthetic fleet of N machines in organization [`ids::ORG`] (see [`fleet`]).
    Fleet(u32),
}

impl Seed {
    /// The location `--sandbox` uses when no `--location-id` is given.
    pub fn default_location(self) -> Option<String> {
        match self {
            Seed::Demo => Some(ids::LOCATION_WAREHOUSE.to_string()),
            Seed::Empty => None,
            Seed::Fleet(_) => Some(fleet::location_id(0)),
        }
    }
}

impl FromStr for Seed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let expected = "expected \"demo\", \"empty\" or \"fleet:N\"";
        match s {
            "demo" => Ok(Seed::Demo),
            "empty" => Ok(Seed::Empty),
            _ => match s.strip_prefix("fleet:").map(str::parse::<u32>) {
                Some(Ok(n)) if (1..=fleet::MAX_MACHINES).contains(&n) => Ok(Seed::Fleet(n)),
                Some(_) => Err(format!("{s:?}: N must be a number from 1 to {}", fleet::MAX_MACHINES)),
                None => Err(format!("unknown seed {s:?}; {expected}")),
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    pub seed: Seed,
    /// Load the state from this file when it exists (otherwise seed and create it), and save every
    /// acknowledged mutation to it.
    pub state_file: Option<PathBuf>,
    pub api_key_id: String,
    pub api_key: String,
    /// Lifetime of the access tokens Authenticate hands out.
    pub token_ttl: Duration,
    /// Added before every AppService call.
    pub latency: Duration,
    /// Fraction (0..=1) of AppService calls that fail with UNAVAILABLE (deterministic sequence).
    pub failure_rate: f64,
    /// Held after a change is applied and before its answer, so that a client deadline shorter
    /// than this loses the reply of a write that took effect.
    pub reply_delay: Duration,
    /// How often a TailRobotPartLogs stream produces a batch.
    pub tail_interval: Duration,
    /// How often an online part's simulated viam-server checks in (whole milliseconds, at least one).
    pub checkin_period: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: Seed::Demo,
            state_file: None,
            api_key_id: DEMO_API_KEY_ID.into(),
            api_key: DEMO_API_KEY.into(),
            token_ttl: Duration::from_secs(24 * 3600),
            latency: Duration::ZERO,
            failure_rate: 0.0,
            reply_delay: Duration::ZERO,
            tail_interval: Duration::from_millis(200),
            checkin_period: DEFAULT_CHECKIN_PERIOD,
        }
    }
}

/// How often parts check in unless told otherwise.
pub const DEFAULT_CHECKIN_PERIOD: Duration = Duration::from_secs(2);

/// How many bytes of request the journal keeps: the oldest entries go first beyond it.
pub const JOURNAL_BYTES: usize = 16 << 20;

/// The most recent AppService requests, as (method, encoded request), bounded by [`JOURNAL_BYTES`].
#[derive(Default)]
struct Journal {
    entries: std::collections::VecDeque<(String, Vec<u8>)>,
    bytes: usize,
}

impl Journal {
    fn push(&mut self, method: &str, request: Vec<u8>) {
        self.bytes += request.len();
        self.entries.push_back((method.to_string(), request));
        // The newest entry stays even when it alone is over the bound.
        while self.bytes > JOURNAL_BYTES && self.entries.len() > 1 {
            if let Some((_, old)) = self.entries.pop_front() {
                self.bytes -= old.len();
            }
        }
    }
}

/// Shared by the AuthService and AppService implementations.
struct Sandbox {
    config: SandboxConfig,
    state: Arc<Mutex<state::State>>,
    store: Option<store::Store>,
    tokens: auth::Tokens,
    journal: Mutex<Journal>,
    faults: Mutex<StdRng>,
    /// Cancelled at shutdown; ends open log tails so the server can stop.
    stop: CancellationToken,
}

/// Locks the state; a panicked RPC must not take the whole sandbox down with it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Sandbox {
    fn open(config: SandboxConfig) -> anyhow::Result<Self> {
        anyhow::ensure!((0.0..=1.0).contains(&config.failure_rate), "failure_rate must be within 0..=1");
        anyhow::ensure!(!config.tail_interval.is_zero(), "tail_interval must not be zero");
        anyhow::ensure!(config.checkin_period.as_millis() >= 1, "checkin_period must be at least 1 ms");
        let start = state::now();
        let fresh = || seed::build(config.seed, &config.api_key_id, &config.api_key, &start);
        let (store, mut state) = match &config.state_file {
            Some(path) => {
                let (store, state) = store::Store::open(path.clone(), fresh)?;
                (Some(store), state)
            }
            None => (None, fresh()),
        };
        state.start_servers(state::Schedule::new(&start, config.checkin_period));
        Ok(Sandbox {
            tokens: auth::Tokens::new(config.token_ttl),
            config,
            state: Arc::new(Mutex::new(state)),
            store,
            journal: Mutex::default(),
            faults: Mutex::new(StdRng::seed_from_u64(0x5eed)),
            stop: CancellationToken::new(),
        })
    }

    /// The state, with the simulated parts brought up to now: every call sees one moment.
    fn state(&self) -> MutexGuard<'_, state::State> {
        let mut state = lock(&self.state);
        state.advance(&state::now());
        state
    }

    fn journal(&self) -> MutexGuard<'_, Journal> {
        lock(&self.journal)
    }

    fn inject_failure(&self) -> bool {
        self.config.failure_rate > 0.0 && lock(&self.faults).random_bool(self.config.failure_rate)
    }
}

/// A sandbox serving in the background; dropping it stops the server too.
pub struct RunningSandbox {
    pub addr: SocketAddr,
    /// `https` when serving TLS.
    scheme: &'static str,
    sandbox: Arc<Sandbox>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningSandbox {
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Every AppService request received so far (after the token check), as (method, encoded request),
    /// in arrival order; each UploadModuleFile stream message is its own entry.
    /// Only the most recent requests are kept, up to [`JOURNAL_BYTES`] of them.
    pub fn journal(&self) -> Vec<(String, Vec<u8>)> {
        self.sandbox.journal().entries.iter().cloned().collect()
    }

    /// The bytes of request the journal holds now.
    pub fn journal_bytes(&self) -> usize {
        self.sandbox.journal().bytes
    }

    pub fn clear_journal(&self) {
        *self.sandbox.journal() = Journal::default();
    }

    /// The whole state, in the format of the state file.
    /// The simulated parts are brought up to now first; an online part's stored `last_access` is the
    /// one of the latest saved change or event (AppService shows its latest check-in).
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(&*self.sandbox.state()).expect("the state always serializes")
    }

    /// Every part's config text as GetRobotPart would return it now, by part id: cheaper than a
    /// whole [`snapshot`](Self::snapshot) for tests that compare configs before and after.
    pub fn part_configs(&self) -> std::collections::BTreeMap<String, String> {
        let state = self.sandbox.state();
        let text = |p: &state::PartRecord| p.part.robot_config_json.clone().unwrap_or_default();
        state.parts.iter().map(|p| (p.part.id.clone(), text(p))).collect()
    }

    /// Stops accepting calls, ends open streams and waits for the server to finish.
    pub async fn shutdown(mut self) {
        self.sandbox.stop.cancel();
        if tokio::time::timeout(Duration::from_secs(5), &mut self.server).await.is_err() {
            self.server.abort();
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        self.sandbox.stop.cancel();
    }
}

/// Starts a sandbox on `listener` in a background task and returns once it is serving.
pub async fn start(config: SandboxConfig, listener: TcpListener) -> anyhow::Result<RunningSandbox> {
    serve(config, listener, None).await
}

/// As `start`, over TLS with a certificate for `127.0.0.1` and `localhost` signed by a CA made
/// now, which is written to `tls_dir/ca.pem`.
pub async fn start_tls(config: SandboxConfig, listener: TcpListener, tls_dir: &Path) -> anyhow::Result<RunningSandbox> {
    serve(config, listener, Some(tls::server_config(tls_dir)?)).await
}

async fn serve(
    config: SandboxConfig,
    listener: TcpListener,
    tls: Option<tonic::transport::ServerTlsConfig>,
) -> anyhow::Result<RunningSandbox> {
    let addr = listener.local_addr()?;
    let sandbox = Arc::new(Sandbox::open(config)?);
    let auth = AuthServiceServer::from_arc(sandbox.clone())
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let app = AppServiceServer::from_arc(sandbox.clone())
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let stopped = sandbox.stop.clone().cancelled_owned();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let server = tokio::spawn(
        builder
            .add_service(auth)
            .add_service(app)
            // Without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms to every small response.
            .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), stopped),
    );
    Ok(RunningSandbox { addr, scheme, sandbox, server })
}
