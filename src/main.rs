//! `viam-fleet-mcp`: an MCP server for a Viam robot fleet, over stdio or Streamable HTTP.
use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use rmcp::ServiceExt;
use serde_json::Value;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use viam_fleet_mcp::call::App;
use viam_fleet_mcp::connection::{ApiKey, Connection, ConnectionConfig, DEFAULT_APP_URL};
use viam_fleet_mcp::http::HttpOptions;
use viam_fleet_mcp::journal::{Journal, default_state_dir};
use viam_fleet_mcp::pipeline::{Call, Fleet, Reply};
use viam_fleet_mcp::safety::audit::AuditLog;
use viam_fleet_mcp::safety::budget::{Budget, DEFAULT_MAX_RESULT_BYTES, MIN_MAX_RESULT_BYTES};
use viam_fleet_mcp::safety::confirm::Confirmations;
use viam_fleet_mcp::safety::files::FileAccess;
use viam_fleet_mcp::safety::filter::{Selection, ToolFilter};
use viam_fleet_mcp::safety::scope::Scope;
use viam_fleet_mcp::safety::{ConfirmMode, Policy};
use viam_fleet_mcp::sandbox::{self, RunningSandbox, SandboxConfig, Seed};
use viam_fleet_mcp::server::FleetServer;
use viam_fleet_mcp::surface::{prompts, resources};
use viam_fleet_mcp::tools::{ToolRow, catalogue};

/// mimalloc: a call's many small allocations and frees cost fewer instructions than with glibc's
/// allocator (`cargo bench --bench calls`), and the server's idle hook returns its freed pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about = "MCP server that manages a Viam robot fleet through Viam's app API")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    options: Options,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP over stdio (the default), or over Streamable HTTP with --http.
    Serve(HttpOptions),
    /// List the tool catalogue with each tool's risk class, then the prompts and resource templates.
    Tools {
        /// Print JSON instead of a table.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the Markdown table that the README carries.
        #[arg(long)]
        markdown: bool,
    },
    /// Call one tool through the same dispatch path as the MCP server and print its result.
    Call {
        /// The tool name, e.g. list_organizations.
        tool: String,
        /// The arguments as a JSON object.
        #[arg(default_value = "{}")]
        arguments: String,
    },
    /// Run only the simulated Viam app, as a gRPC server (plaintext, or TLS with --tls-dir).
    Sandbox {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        /// Serve TLS with a certificate for 127.0.0.1 and localhost from a CA made at start,
        /// written to DIR/ca.pem (clients pass it with --ca-file).
        #[arg(long, value_name = "DIR")]
        tls_dir: Option<PathBuf>,
    },
}

#[derive(Args)]
struct Options {
    /// Use the embedded simulated fleet instead of Viam's cloud.
    #[arg(long, global = true)]
    sandbox: bool,
    /// The Viam app address; http:// means plaintext (loopback servers only).
    #[arg(long, global = true, env = "VIAM_APP_URL", default_value = DEFAULT_APP_URL)]
    app_url: String,
    /// A PEM file of CA certificates trusted for the app's TLS besides the webpki and system
    /// roots (a corporate proxy's, or the sandbox's DIR/ca.pem); SSL_CERT_FILE is used when unset.
    #[arg(long, global = true, env = "VIAM_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Log lines on stderr as text or as JSON objects.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// The location used when a tool's location_id is omitted.
    #[arg(long, global = true, env = "VIAM_LOCATION_ID")]
    location_id: Option<String>,
    /// The deadline of each call, in seconds.
    #[arg(long, global = true, default_value_t = 30)]
    timeout: u64,
    /// The sandbox's starting fleet: demo, empty, or fleet:N (N machines, deterministic).
    #[arg(long, global = true, default_value = "demo")]
    seed: Seed,
    /// Load the sandbox's state from this JSON file and save every change to it.
    #[arg(long, global = true)]
    sandbox_state: Option<PathBuf>,
    /// Latency added to every sandbox call, in milliseconds.
    #[arg(long, global = true, env = "VIAM_SANDBOX_LATENCY_MS", default_value_t = 0)]
    sandbox_latency_ms: u64,
    /// The fraction of sandbox calls that fail with UNAVAILABLE (0 to 1).
    #[arg(long, global = true, env = "VIAM_SANDBOX_FAILURE_RATE", default_value_t = 0.0)]
    sandbox_failure_rate: f64,
    /// How often each online part of the sandbox checks in, in milliseconds (1 to 3,600,000).
    #[arg(long, global = true, env = "VIAM_SANDBOX_CHECKIN_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    sandbox_checkin_ms: u64,
    /// The lifetime of sandbox access tokens, in seconds.
    #[arg(long, global = true, env = "VIAM_SANDBOX_TOKEN_TTL_SECS")]
    sandbox_token_ttl_secs: Option<u64>,
    #[command(flatten)]
    filter: ToolFilter,
    /// Who must accept destructive calls: `flag` (confirm: true, or a person when the client can
    /// ask) or `human` (a person, always).
    #[arg(long, global = true, value_enum, default_value = "flag")]
    confirm: ConfirmMode,
    /// Show secrets in read results instead of redacting them.
    #[arg(long, global = true)]
    show_secrets: bool,
    /// Tools that hand out a secret write it to a new file (mode 0600) here and return its path.
    #[arg(long, global = true)]
    secrets_dir: Option<PathBuf>,
    /// Append a JSON line per call that is not a read to this file.
    #[arg(long, global = true)]
    audit_log: Option<PathBuf>,
    /// A directory tools may read files from and write files to (repeatable).
    #[arg(long, global = true)]
    allow_dir: Vec<PathBuf>,
    /// Only allow changes inside this organization (repeatable).
    #[arg(long = "org", global = true)]
    orgs: Vec<String>,
    /// Only allow changes inside this location (repeatable).
    #[arg(long = "location", global = true)]
    locations: Vec<String>,
    /// Log each call's arguments and result, redacted. Without it, no request or response payload
    /// is logged at any level.
    #[arg(long, global = true)]
    log_payloads: bool,
    /// The most bytes of text one result may have: longer lists come in pages with next_cursor,
    /// and a single item too large is shortened with a marker saying how to get all of it.
    #[arg(long, global = true, default_value_t = DEFAULT_MAX_RESULT_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(MIN_MAX_RESULT_BYTES as u64..=100_000_000))]
    max_result_bytes: u64,
    /// A file holding the key that seals confirmation states (at least 32 characters), so that
    /// replicas sharing it accept each other's. The environment's VIAM_MCP_STATE_KEY is the key
    /// itself. Without either, each process has its own random key.
    #[arg(long, global = true)]
    state_key_file: Option<PathBuf>,
    /// Declare each tool's outputSchema in tools/list (about 11 KB more), for clients that
    /// validate structuredContent; no client hands it to a model.
    #[arg(long, global = true)]
    output_schemas: bool,
    /// Where fleet changes are recorded (plans and per-change journals); replicas share it.
    /// Default: $XDG_STATE_HOME/viam-fleet-mcp, else ~/.local/state/viam-fleet-mcp.
    #[arg(long, global = true, env = "VIAM_MCP_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Threads that run calls: 0 (the default) runs everything on one thread.
    #[arg(long, global = true, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=64))]
    worker_threads: u16,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl Options {
    fn policy(&self) -> anyhow::Result<Policy> {
        let audit = match &self.audit_log {
            Some(path) => {
                Some(AuditLog::open(path).with_context(|| format!("cannot open the audit log {}", path.display()))?)
            }
            None => None,
        };
        if let Some(dir) = &self.secrets_dir {
            // Checked now: a missing directory found after a key was created would lose the key.
            anyhow::ensure!(dir.is_dir(), "--secrets-dir {} is not an existing directory", dir.display());
        }
        // Without a shared key, a random one: states and plans are then this process's alone.
        let key = self.state_key()?.unwrap_or_else(|| rand::random::<[u8; 32]>().to_vec());
        let confirmations = Confirmations::with_key(key.clone()).map_err(anyhow::Error::msg)?;
        Ok(Policy {
            confirm: self.confirm,
            confirmations,
            show_secrets: self.show_secrets,
            secrets_dir: self.secrets_dir.clone(),
            audit,
            files: FileAccess { allow_dirs: self.allow_dir.clone() },
            scope: Scope { orgs: self.orgs.clone(), locations: self.locations.clone() },
            log_payloads: self.log_payloads,
            budget: Budget(self.max_result_bytes as usize),
            listings: Default::default(),
        })
    }

    /// The fleet change journal, sealing plans with the same key as confirmations.
    fn journal(&self, policy: &Policy) -> anyhow::Result<Arc<Journal>> {
        let key = self.state_key()?.unwrap_or_else(|| rand::random::<[u8; 32]>().to_vec());
        let dir = self.state_dir.clone().or_else(default_state_dir);
        let journal = Journal::new(dir, key, policy.audit.clone(), policy.scope.clone()).map_err(anyhow::Error::msg)?;
        Ok(Arc::new(journal))
    }

    /// The shared sealing key, from --state-key-file or VIAM_MCP_STATE_KEY.
    fn state_key(&self) -> anyhow::Result<Option<Vec<u8>>> {
        let key = match (&self.state_key_file, std::env::var("VIAM_MCP_STATE_KEY")) {
            (Some(path), _) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --state-key-file {}", path.display()))?,
            (None, Ok(key)) => key,
            (None, Err(_)) => return Ok(None),
        };
        let key = key.trim();
        anyhow::ensure!(key.len() >= 32, "the state key must be at least 32 characters (try `openssl rand -hex 32`)");
        Ok(Some(key.as_bytes().to_vec()))
    }

    /// What the filters expose of the catalogue; an unknown name stops the server.
    fn exposed(&self) -> anyhow::Result<Selection> {
        self.filter.select(&catalogue().listed()).map_err(anyhow::Error::msg)
    }

    fn sandbox_config(&self) -> anyhow::Result<SandboxConfig> {
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.sandbox_failure_rate),
            "--sandbox-failure-rate must be between 0 and 1"
        );
        let mut config = SandboxConfig {
            seed: self.seed,
            state_file: self.sandbox_state.clone(),
            latency: Duration::from_millis(self.sandbox_latency_ms),
            failure_rate: self.sandbox_failure_rate,
            checkin_period: Duration::from_millis(self.sandbox_checkin_ms),
            ..SandboxConfig::default()
        };
        if let Some(ttl) = self.sandbox_token_ttl_secs {
            config.token_ttl = Duration::from_secs(ttl);
        }
        Ok(config)
    }

    /// The app to talk to: the embedded sandbox on a loopback port, or the configured address
    /// with the API key from the environment.
    async fn fleet(&self) -> anyhow::Result<(Arc<Fleet>, Option<RunningSandbox>)> {
        let timeout = Duration::from_secs(self.timeout);
        if self.sandbox {
            let config = self.sandbox_config()?;
            let api_key = ApiKey { id: config.api_key_id.clone(), key: config.api_key.clone() };
            let default_location = self.location_id.clone().or_else(|| config.seed.default_location());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let running = sandbox::start(config, listener).await?;
            tracing::info!(url = %running.url(), "sandbox started");
            let conn = Connection::new(ConnectionConfig { url: running.url(), api_key: Some(api_key), timeout })?;
            let policy = self.policy()?;
            let app = Arc::new(App { conn, default_location, journal: self.journal(&policy)? });
            return Ok((Arc::new(Fleet { app, policy }), Some(running)));
        }
        let api_key = match (std::env::var("VIAM_API_KEY"), std::env::var("VIAM_API_KEY_ID")) {
            (Ok(key), Ok(id)) if !key.is_empty() && !id.is_empty() => Some(ApiKey { id, key }),
            _ => None,
        };
        let ca_file = self.ca_file.clone().or_else(|| std::env::var_os("SSL_CERT_FILE").map(PathBuf::from));
        let conn = Connection::with_ca_file(
            ConnectionConfig { url: self.app_url.clone(), api_key, timeout },
            ca_file.as_deref(),
        )?;
        let policy = self.policy()?;
        let app = Arc::new(App { conn, default_location: self.location_id.clone(), journal: self.journal(&policy)? });
        Ok((Arc::new(Fleet { app, policy }), None))
    }
}

fn main() -> std::process::ExitCode {
    // Without transparent huge pages: where the kernel backs every heap range with them, each
    // 2 MiB the allocator touches is resident (idle RSS 19 MB instead of 12 in the benchmark).
    #[cfg(target_os = "linux")]
    // SAFETY: a prctl that sets a flag of this process; it reads no memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    forget_empty_variables();
    let cli = Cli::parse();
    // One thread by default: a call is mostly waiting on the app, and a single-thread runtime hands
    // no work between threads (`cargo bench --bench calls` compares it with two workers).
    let runtime = match cli.options.worker_threads {
        0 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n.into()).enable_all().build(),
    };
    match runtime {
        Ok(runtime) => runtime.block_on(run_logged(cli)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// An empty variable means unset, for every variable the server or a library reads: a desktop
/// bundle's blank setting (`VIAM_LOCATION_ID=`) is no location, not an empty one, and `VIAM_CA_FILE=`
/// is no CA file. Done before anything reads the environment, while the process has one thread.
fn forget_empty_variables() {
    for (name, value) in std::env::vars_os() {
        if value.is_empty() {
            // SAFETY: no other thread runs yet, so none reads the environment meanwhile.
            unsafe { std::env::remove_var(name) };
        }
    }
}

async fn run_logged(cli: Cli) -> std::process::ExitCode {
    let mut secrets: Vec<String> = std::env::var("VIAM_API_KEY").into_iter().collect();
    if cli.options.sandbox || matches!(cli.command, Some(Command::Sandbox { .. })) {
        secrets.push(SandboxConfig::default().api_key);
    }
    viam_fleet_mcp::logging::init(secrets, cli.options.log_format == LogFormat::Json);
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command.unwrap_or(Command::Serve(HttpOptions::default())) {
        Command::Serve(http) => {
            let selection = cli.options.exposed()?;
            let (fleet, _sandbox) = cli.options.fleet().await?;
            let server = FleetServer::new(fleet, selection, cli.options.output_schemas);
            if http.http.is_some() {
                viam_fleet_mcp::http::serve(server, &http, Duration::from_secs(cli.options.timeout)).await?;
            } else {
                // Non-blocking pipes on the IO driver: no blocking-pool hand-off per message.
                server.serve(viam_fleet_mcp::stdio::stdio()).await?.waiting().await?;
            }
        }
        Command::Tools { json, markdown } => print_catalogue(&cli.options.exposed()?.exposed, json, markdown)?,
        Command::Call { tool, arguments } => {
            let selection = cli.options.exposed()?;
            let arguments: Value = serde_json::from_str(&arguments).context("the arguments must be a JSON object")?;
            let Value::Object(arguments) = arguments else { anyhow::bail!("the arguments must be a JSON object") };
            let (fleet, _sandbox) = cli.options.fleet().await?;
            let server = FleetServer::new(fleet, selection, cli.options.output_schemas);
            return Ok(match server.dispatch(&tool, Call::plain(arguments)).await.map_err(anyhow::Error::msg)? {
                Reply::Done(done) => {
                    println!("{}", serde_json::to_string_pretty(&done.value)?);
                    std::process::ExitCode::SUCCESS
                }
                Reply::Failed(error) => {
                    println!("{}", serde_json::to_string_pretty(&error)?);
                    std::process::ExitCode::from(1)
                }
                Reply::InputRequired(_) => anyhow::bail!("{tool} needs a person to confirm; use an MCP client"),
            });
        }
        Command::Sandbox { listen, tls_dir } => {
            let config = cli.options.sandbox_config()?;
            let listener =
                tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            let (id, key) = (config.api_key_id.clone(), config.api_key.clone());
            let running = match &tls_dir {
                Some(dir) => sandbox::start_tls(config, listener, dir).await?,
                None => sandbox::start(config, listener).await?,
            };
            println!("Viam app sandbox listening on {}", running.url());
            if let Some(dir) = &tls_dir {
                println!("VIAM_CA_FILE={}", dir.join("ca.pem").display());
            }
            println!("VIAM_API_KEY_ID={id}");
            println!("VIAM_API_KEY={key}");
            tokio::signal::ctrl_c().await?;
            running.shutdown().await;
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn print_catalogue(exposed: &[usize], json: bool, markdown: bool) -> anyhow::Result<()> {
    let rows: Vec<&ToolRow> = exposed.iter().map(|&i| &catalogue().rows[i]).collect();
    let exposes = |tool: &str| rows.iter().any(|r| r.name == tool);
    let text = if markdown {
        format!("{}\n{}\n{}", catalogue().markdown_table(), prompts::markdown_table(), resources::markdown_table())
    } else if json {
        let listing: Vec<Value> = rows
            .iter()
            .map(|r| serde_json::json!({"name": r.name, "risk": r.risk, "toolset": r.toolset, "method": r.op.method, "title": r.title()}))
            .collect();
        serde_json::to_string_pretty(&listing)? + "\n"
    } else {
        let tools = rows
            .iter()
            .map(|r| format!("{:<45} {:<12} {:?}\n", r.name, format!("{:?}", r.risk).to_lowercase(), r.toolset));
        let prompts = prompts::listed(&exposes).into_iter().map(|p| {
            let arguments: Vec<&str> = p.arguments.iter().map(|a| a.name).collect();
            format!("prompt {:<38} {}\n", p.name, arguments.join(", "))
        });
        let templates = resources::served(&exposes).into_iter().map(|t| format!("resource {}\n", t.uri_template));
        tools.chain(prompts).chain(templates).collect()
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
