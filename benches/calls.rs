//! `cargo bench --bench calls`: how close an MCP call comes to the gRPC call under it, measured in
//! one run on one machine, printed as figures and as ratios to the limits.
//!
//! The limits: a bare tonic client and server returning the sandbox's own payloads (in this
//! process), the project's `Connection` against the sandbox in its own process, and the stdio
//! floor (one line through two pipes to `cat` and back). Then the real binary over stdio, driven
//! with raw JSON-RPC lines so the client's own parsing is not counted: p50/p99 per tool,
//! throughput at 1, 8, 64 and 256 in flight, startup to the first `tools/list` answer, the
//! instructions it executes per call (callgrind, when valgrind is installed: a figure the host's
//! noise does not move), and its RSS at idle, after 10k calls and after a 5 MB response. The
//! overhead's verdict comes from MCP, Connection and floor calls interleaved in the same rounds.
//! Bounded to a minute or two.
use prost::Message as _;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinSet;
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::transport::server::TcpIncoming;
use viam_fleet_mcp::connection::{ApiKey, Connection, ConnectionConfig, Retry};
use viam_fleet_mcp::proto::Rpc;
use viam_fleet_mcp::proto::viam::app::v1::app_service_client::AppServiceClient;
use viam_fleet_mcp::proto::viam::app::v1::{
    GetRobotPartLogsRequest, GetRobotPartRequest, GetRobotPartResponse, ListOrganizationsRequest,
    ListOrganizationsResponse, MarkPartForRestartRequest, UpdateRobotPartRequest,
};
use viam_fleet_mcp::proto_json;
use viam_fleet_mcp::safety::redact;
use viam_fleet_mcp::sandbox::{DEMO_API_KEY, DEMO_API_KEY_ID, ids};

const BIN: &str = env!("CARGO_BIN_EXE_viam-fleet-mcp");
/// Names another build of the server to measure (`BENCH_BIN=target/dist/viam-fleet-mcp`), so that two
/// profiles can be compared by one bench binary in one session; the sandbox stays this build's.
const SERVER_VAR: &str = "BENCH_BIN";
/// Sequential calls per latency figure.
const SAMPLES: usize = 2_000;
/// Calls per throughput figure.
const BURST: usize = 4_000;
const IN_FLIGHT: [usize; 4] = [1, 8, 64, 256];
/// The issue's targets.
const MAX_OVERHEAD_US: [(&str, f64); 2] = [("list_organizations", 30.0), ("get_robot_part", 60.0)];

#[derive(Clone, Copy)]
struct Latency {
    p50: Duration,
    p99: Duration,
}

impl Latency {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
        Latency { p50: at(0.5), p99: at(0.99) }
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn row(what: &str, l: Latency) {
    println!("  {what:<44} p50 {:>8.1} µs   p99 {:>8.1} µs", us(l.p50), us(l.p99));
}

async fn latency<F: Future<Output = ()>>(n: usize, mut call: impl FnMut() -> F) -> Latency {
    for _ in 0..n / 10 {
        call().await; // warm
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        call().await;
        samples.push(t.elapsed());
    }
    Latency::of(samples)
}

/// Calls per second with `in_flight` tasks calling until `total` calls are done.
async fn throughput<F>(in_flight: usize, total: usize, call: impl Fn() -> F + Clone + Send + 'static) -> f64
where
    F: Future<Output = ()> + Send,
{
    let left = Arc::new(AtomicUsize::new(total));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..in_flight {
        let (call, left) = (call.clone(), left.clone());
        tasks.spawn(async move {
            while left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok() {
                call().await;
            }
        });
    }
    tasks.join_all().await;
    total as f64 / started.elapsed().as_secs_f64()
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok()).unwrap_or(0)
}

/// The sandbox as its own process, as `viam-fleet-mcp sandbox` runs it.
struct SandboxProcess {
    _child: Child,
    _stdout: Lines<BufReader<ChildStdout>>,
    url: String,
}

fn server_binary() -> String {
    std::env::var(SERVER_VAR).unwrap_or_else(|_| BIN.to_owned())
}

async fn start_sandbox() -> SandboxProcess {
    let mut child = Command::new(BIN)
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = stdout.next_line().await.unwrap().expect("the sandbox prints its address");
    let url = line.rsplit(' ').next().unwrap().to_string();
    SandboxProcess { _child: child, _stdout: stdout, url }
}

/// Answers ListOrganizations and GetRobotPart with fixed payloads: tonic and nothing else.
#[derive(Clone)]
struct Bare {
    organizations: Arc<ListOrganizationsResponse>,
    part: Arc<GetRobotPartResponse>,
}

struct Canned<Q, R>(Arc<R>, PhantomData<fn(Q)>);

impl<Q, R: Clone + Send + Sync + 'static> UnaryService<Q> for Canned<Q, R> {
    type Response = R;
    type Future = BoxFuture<tonic::Response<R>, tonic::Status>;
    fn call(&mut self, _: tonic::Request<Q>) -> Self::Future {
        let response = (*self.0).clone();
        Box::pin(async move { Ok(tonic::Response::new(response)) })
    }
}

impl<B> Service<http::Request<B>> for Bare
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let path = request.uri().path().to_string();
            Ok(if path == ListOrganizationsRequest::PATH {
                let canned = Canned::<ListOrganizationsRequest, _>(this.organizations, PhantomData);
                Grpc::new(tonic_prost::ProstCodec::default()).unary(canned, request).await
            } else if path == GetRobotPartRequest::PATH {
                let canned = Canned::<GetRobotPartRequest, _>(this.part, PhantomData);
                Grpc::new(tonic_prost::ProstCodec::default()).unary(canned, request).await
            } else {
                tonic::Status::unimplemented(path).into_http()
            })
        })
    }
}

impl NamedService for Bare {
    const NAME: &'static str = "viam.app.v1.AppService";
}

async fn start_bare(bare: Bare) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(tonic::transport::Server::builder().add_service(bare).serve_with_incoming(incoming));
    url
}

/// Spawns `command` with its stdin and stdout piped, killed when dropped.
fn spawn_piped(command: &mut Command) -> (Child, ChildStdin, Lines<BufReader<ChildStdout>>) {
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).kill_on_drop(true).spawn().expect("the command starts");
    let stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, stdin, stdout)
}

/// The real binary over stdio, spoken to in raw JSON-RPC lines.
struct Mcp {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
"#;

impl Mcp {
    fn spawn(app_url: &str, options: &[&str]) -> Self {
        Self::spawn_under(&[], app_url, options)
    }

    /// As `spawn`, run by `wrapper` (a command and its arguments) when it is not empty.
    fn spawn_under(wrapper: &[&str], app_url: &str, options: &[&str]) -> Self {
        let mut command = match wrapper {
            [program, arguments @ ..] => {
                let mut command = Command::new(program);
                command.args(arguments).arg(server_binary());
                command
            }
            [] => Command::new(server_binary()),
        };
        command
            // The transport's cost for big results is measured here, so no result is paged.
            .args(["--max-result-bytes", "100000000"])
            .args(options)
            .env("VIAM_APP_URL", app_url)
            .env("VIAM_API_KEY_ID", DEMO_API_KEY_ID)
            .env("VIAM_API_KEY", DEMO_API_KEY)
            .env("RUST_LOG", "warn")
            .stderr(Stdio::null());
        let (child, stdin, stdout) = spawn_piped(&mut command);
        Mcp { child, stdin, stdout, next_id: 1 }
    }

    /// Spawned, initialized, and `tools/list` answered.
    async fn start(app_url: &str, options: &[&str]) -> Self {
        Self::initialized(Self::spawn(app_url, options)).await
    }

    async fn initialized(mut mcp: Self) -> Self {
        mcp.stdin.write_all(INITIALIZE.as_bytes()).await.unwrap();
        mcp.stdout.next_line().await.unwrap().expect("initialize is answered");
        mcp.request("tools/list", &json!({})).await;
        mcp
    }

    /// Closes stdin, which ends the server, and waits for it to exit.
    async fn finish(self) {
        drop(self.stdin);
        let mut child = self.child;
        child.wait().await.unwrap();
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    fn line(&mut self, method: &str, params: &Value) -> String {
        self.next_id += 1;
        format!("{}\n", json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}))
    }

    async fn request(&mut self, method: &str, params: &Value) -> String {
        let line = self.line(method, params);
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        let answer = self.stdout.next_line().await.unwrap().expect("the server answers");
        assert!(
            answer.contains(&format!("\"id\":{}", self.next_id)) && !answer.contains("\"isError\":true"),
            "{answer}"
        );
        answer
    }

    async fn call(&mut self, tool: &str, arguments: &Value) -> String {
        self.request("tools/call", &json!({"name": tool, "arguments": arguments})).await
    }

    /// Calls per second with `in_flight` requests outstanding until `total` are answered.
    async fn throughput(&mut self, tool: &str, arguments: &Value, in_flight: usize, total: usize) -> f64 {
        let params = json!({"name": tool, "arguments": arguments});
        let started = Instant::now();
        let mut sent = 0;
        while sent < in_flight.min(total) {
            let line = self.line("tools/call", &params);
            self.stdin.write_all(line.as_bytes()).await.unwrap();
            sent += 1;
        }
        for _ in 0..total {
            let answer = self.stdout.next_line().await.unwrap().expect("the server answers");
            assert!(answer.contains("\"isError\":false"), "{answer}");
            if sent < total {
                let line = self.line("tools/call", &params);
                self.stdin.write_all(line.as_bytes()).await.unwrap();
                sent += 1;
            }
        }
        total as f64 / started.elapsed().as_secs_f64()
    }
}

/// The instructions the server executes per call (user space, all threads), counted by callgrind:
/// unlike time, a count the host's noise does not move, so two builds compare in any run. The
/// count for 400 calls less that for 100, over 300; `None` without valgrind.
async fn instructions_per_call(app_url: &str, tool: &str, arguments: &Value) -> Option<f64> {
    let valgrind = Command::new("valgrind").arg("--version").stdout(Stdio::null()).status().await;
    if !valgrind.is_ok_and(|status| status.success()) {
        return None;
    }
    let mut counts = Vec::new();
    for calls in [100, 400] {
        let out = tempfile::NamedTempFile::new().unwrap();
        let out_file = format!("--callgrind-out-file={}", out.path().display());
        let wrapper = ["valgrind", "--tool=callgrind", "--quiet", &out_file];
        let mut mcp = Mcp::initialized(Mcp::spawn_under(&wrapper, app_url, &[])).await;
        for _ in 0..calls {
            mcp.call(tool, arguments).await;
        }
        mcp.finish().await;
        let profile = std::fs::read_to_string(out.path()).unwrap();
        let total = profile.lines().find_map(|l| l.strip_prefix("summary: ").or_else(|| l.strip_prefix("totals: ")));
        counts.push(total?.trim().parse::<f64>().ok()?);
    }
    Some((counts[1] - counts[0]) / 300.0)
}

/// Spawn to the `tools/list` answer, with the handshake written up front as a client would.
async fn startup(app_url: &str) -> Duration {
    let started = Instant::now();
    let mut mcp = Mcp::spawn(app_url, &[]);
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    mcp.stdin.write_all(format!("{INITIALIZE}{list}\n").as_bytes()).await.unwrap();
    while let Some(line) = mcp.stdout.next_line().await.unwrap() {
        if line.starts_with(r#"{"jsonrpc":"2.0","id":1,"#) {
            break;
        }
    }
    started.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench_started = Instant::now();
    // First, while nothing has touched them: what the server builds before it can answer
    // tools/list (the catalogue), and what only the first call decodes (the descriptor pool).
    let t = Instant::now();
    let tools = &viam_fleet_mcp::tools::catalogue().tools;
    let catalogue_time = t.elapsed();
    let t = Instant::now();
    proto_json::descriptor("viam.app.v1.RobotPart");
    let pool_time = t.elapsed();
    let t = Instant::now();
    let list_bytes = serde_json::to_vec(tools).unwrap().len();
    let list_time = t.elapsed();
    let sandbox = start_sandbox().await;
    let conn = Arc::new(
        Connection::new(ConnectionConfig {
            url: sandbox.url.clone(),
            api_key: Some(ApiKey { id: DEMO_API_KEY_ID.into(), key: DEMO_API_KEY.into() }),
            timeout: Duration::from_secs(30),
        })
        .unwrap(),
    );
    let part_request = GetRobotPartRequest { id: ids::PART_ROVER_1_MAIN.into() };
    let organizations = conn.unary(ListOrganizationsRequest {}, Retry::Never).await.unwrap();
    let part = conn.unary(part_request.clone(), Retry::Never).await.unwrap();

    // A 1,000-entry log page needs 1,000 entries: each restart mark logs one.
    for _ in 0..900 {
        let mark = MarkPartForRestartRequest { part_id: ids::PART_ROVER_1_MAIN.into() };
        conn.unary(mark, Retry::Never).await.unwrap();
    }
    // A config of ~2.5 MB, which a get_robot_part frame carries twice (as text and as structured
    // content): a ~5 MB response.
    let big_part = conn.unary(GetRobotPartRequest { id: ids::PART_BENCH_SENSORS.into() }, Retry::Never).await.unwrap();
    let components: Vec<Value> = (0..17_500)
        .map(|i| json!({"name": format!("sensor-{i}"), "api": "rdk:component:sensor", "model": "rdk:builtin:fake", "attributes": {"rate_hz": i % 50, "note": "benchmark padding"}}))
        .collect();
    let update = UpdateRobotPartRequest {
        id: ids::PART_BENCH_SENSORS.into(),
        name: big_part.part.unwrap().name,
        robot_config_json: Some(json!({ "components": components }).to_string()),
        ..Default::default()
    };
    conn.unary(update, Retry::Never).await.unwrap();

    println!("viam-fleet-mcp benchmark ({} calls per latency figure, {} per throughput figure)", SAMPLES, BURST);
    println!("machine: {} CPUs, {}", std::thread::available_parallelism().map_or(0, |n| n.get()), cpu_model());
    let server = server_binary();
    let bytes = std::fs::metadata(&server).map_or(0, |m| m.len());
    println!("server: {server} ({:.1} MB; {SERVER_VAR} names another)", bytes as f64 / 1e6);

    // In-process costs of one get_robot_part result.
    let direct = latency(SAMPLES, || async {
        std::hint::black_box(proto_json::to_json(&part));
    })
    .await;
    let reflect_options = prost_reflect::SerializeOptions::new().use_proto_field_name(true).skip_default_fields(false);
    let via_reflect = latency(SAMPLES / 4, || async {
        let dynamic = proto_json::to_dynamic("viam.app.v1.GetRobotPartResponse", &part);
        std::hint::black_box(dynamic.serialize_with_options(serde_json::value::Serializer, &reflect_options).unwrap());
    })
    .await;
    let part_json = proto_json::to_json(&part);
    let response = proto_json::descriptor("viam.app.v1.GetRobotPartResponse");
    let redaction = latency(SAMPLES, || async {
        let mut value = part_json.clone();
        redact::redact_result(&response, None, &mut value);
        std::hint::black_box(value);
    })
    .await;
    let clone_only = latency(SAMPLES, || async {
        std::hint::black_box(part_json.clone());
    })
    .await;
    println!("\nin process, one get_robot_part result ({} bytes encoded)", part.encoded_len());
    row("proto → JSON, direct walk", direct);
    row("proto → JSON, prost-reflect (before)", via_reflect);
    row("redact_result (with a clone of the value)", redaction);
    row("  of which the clone", clone_only);

    // The limits.
    let mut floor = Floor::start();
    let pipe = stdio_floor(&mut floor).await;
    let bare_url = start_bare(Bare { organizations: Arc::new(organizations), part: Arc::new(part) }).await;
    let bare = AppServiceClient::connect(bare_url).await.unwrap();
    let mut bare_lat = Vec::new();
    let mut bare_tp = Vec::new();
    let mut conn_lat = Vec::new();
    let mut conn_tp = Vec::new();
    for tool in ["list_organizations", "get_robot_part"] {
        let b = bare.clone();
        let bare_call = move || {
            let mut b = b.clone();
            async move {
                if tool == "list_organizations" {
                    b.list_organizations(ListOrganizationsRequest {}).await.unwrap();
                } else {
                    b.get_robot_part(GetRobotPartRequest { id: ids::PART_ROVER_1_MAIN.into() }).await.unwrap();
                }
            }
        };
        let c = conn.clone();
        let conn_call = move || connection_call(c.clone(), tool);
        bare_lat.push(latency(SAMPLES, bare_call.clone()).await);
        conn_lat.push(latency(SAMPLES, conn_call.clone()).await);
        let mut b = Vec::new();
        let mut c = Vec::new();
        for n in IN_FLIGHT {
            b.push(throughput(n, BURST, bare_call.clone()).await);
            c.push(throughput(n, BURST, conn_call.clone()).await);
        }
        bare_tp.push(b);
        conn_tp.push(c);
    }
    let logs_grpc = latency(SAMPLES / 20, || {
        let c = conn.clone();
        async move {
            let mut token = String::new();
            for _ in 0..10 {
                let request = GetRobotPartLogsRequest {
                    id: ids::PART_ROVER_1_MAIN.into(),
                    filter: Some(String::new()),
                    page_token: Some(token),
                    ..Default::default()
                };
                token = c.unary(request, Retry::Never).await.unwrap().next_page_token;
            }
        }
    })
    .await;

    // The real server over stdio.
    let mut startups: Vec<Duration> = Vec::new();
    for _ in 0..20 {
        startups.push(startup(&sandbox.url).await);
    }
    let startup = Latency::of(startups);
    let mut mcp = Mcp::start(&sandbox.url, &[]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_idle = rss_kb(mcp.pid(), "VmRSS:");
    let arguments = [json!({}), json!({"robot_part_id": ids::PART_ROVER_1_MAIN})];
    let mut mcp_lat = Vec::new();
    let mut mcp_tp = Vec::new();
    let mut mcp_cpu = Vec::new();
    let mut calls = 0;
    for (tool, arguments) in ["list_organizations", "get_robot_part"].iter().zip(&arguments) {
        let mut samples = Vec::with_capacity(SAMPLES);
        for i in 0..SAMPLES + SAMPLES / 10 {
            let t = Instant::now();
            mcp.call(tool, arguments).await;
            if i >= SAMPLES / 10 {
                samples.push(t.elapsed());
            }
        }
        calls += SAMPLES + SAMPLES / 10;
        mcp_lat.push(Latency::of(samples));
        let mut tp = Vec::new();
        for n in IN_FLIGHT {
            let cpu = cpu_time(mcp.pid());
            tp.push(mcp.throughput(tool, arguments, n, BURST).await);
            if n == 64 {
                mcp_cpu.push(us(cpu_time(mcp.pid()) - cpu) / BURST as f64);
            }
            calls += BURST;
        }
        mcp_tp.push(tp);
    }
    // The overhead's three figures again, interleaved.
    let mut overheads = Vec::new();
    for (tool, arguments) in ["list_organizations", "get_robot_part"].iter().zip(&arguments) {
        let conn_call = || connection_call(conn.clone(), tool);
        overheads.push(interleaved(&mut mcp, &mut floor, conn_call, tool, arguments).await);
        calls += SAMPLES + SAMPLES / 10;
    }
    let log_page = json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "num_log_entries": 1000});
    let log_answer = mcp.call("get_robot_part_logs", &log_page).await;
    assert!(log_answer.matches("logger_name").count() >= 2000, "1,000 entries, in both copies");
    let mut samples = Vec::new();
    for _ in 0..SAMPLES / 20 {
        let t = Instant::now();
        mcp.call("get_robot_part_logs", &log_page).await;
        samples.push(t.elapsed());
    }
    calls += 1 + SAMPLES / 20;
    let logs_mcp = Latency::of(samples);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_calls = rss_kb(mcp.pid(), "VmRSS:");
    let big = mcp.call("get_robot_part", &json!({"robot_part_id": ids::PART_BENCH_SENSORS})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_big = rss_kb(mcp.pid(), "VmRSS:");
    let rss_peak = rss_kb(mcp.pid(), "VmHWM:");

    // The runtime: the default single thread against two workers, the same calls in the same run.
    let mut workers = Mcp::start(&sandbox.url, &["--worker-threads", "2"]).await;
    let mut runtimes = Vec::new();
    for (tool, arguments) in ["list_organizations", "get_robot_part"].iter().zip(&arguments) {
        let mut samples = Vec::with_capacity(SAMPLES / 2);
        for _ in 0..SAMPLES / 2 {
            let t = Instant::now();
            workers.call(tool, arguments).await;
            samples.push(t.elapsed());
        }
        runtimes.push((Latency::of(samples), workers.throughput(tool, arguments, 64, BURST).await));
    }
    drop(workers);
    let mut instructions = Vec::new();
    for (tool, arguments) in ["list_organizations", "get_robot_part"].iter().zip(&arguments) {
        instructions.push(instructions_per_call(&sandbox.url, tool, arguments).await);
    }

    println!("\nlimits and the MCP server (p50 / p99)");
    row("stdio floor: pipe round trip to cat", pipe);
    for (i, tool) in ["list_organizations", "get_robot_part"].iter().enumerate() {
        row(&format!("{tool}: bare tonic"), bare_lat[i]);
        row(&format!("{tool}: Connection → sandbox process"), conn_lat[i]);
        row(&format!("{tool}: MCP over stdio"), mcp_lat[i]);
    }
    row("1,000-entry log page: Connection (10 pages)", logs_grpc);
    row("1,000-entry log page: MCP over stdio", logs_mcp);
    row("startup to the first tools/list answer", startup);
    println!(
        "    in process: catalogue {:.2} ms, tools/list JSON ({list_bytes} bytes) {:.2} ms; off that path, the \
         descriptor pool {:.2} ms",
        catalogue_time.as_secs_f64() * 1e3,
        list_time.as_secs_f64() * 1e3,
        pool_time.as_secs_f64() * 1e3
    );

    println!("\nthroughput, calls/s at 1 / 8 / 64 / 256 in flight");
    for (i, tool) in ["list_organizations", "get_robot_part"].iter().enumerate() {
        for (what, figures) in [("bare tonic", &bare_tp[i]), ("Connection → sandbox", &conn_tp[i]), ("MCP", &mcp_tp[i])]
        {
            let cells: Vec<String> = figures.iter().map(|f| format!("{f:>8.0}")).collect();
            println!("  {:<44} {}", format!("{tool}: {what}"), cells.join(" "));
        }
        println!("  {:<44} {:>8.1} µs", format!("{tool}: MCP server CPU per call at 64"), mcp_cpu[i]);
    }

    println!("\nruntime: one thread (the default) / two workers, p50 and calls/s at 64 in flight");
    for (i, tool) in ["list_organizations", "get_robot_part"].iter().enumerate() {
        let (latency, at64) = runtimes[i];
        println!(
            "  {tool:<44} p50 {:>6.1} / {:>6.1} µs   {:>6.0} / {:>6.0} calls/s",
            us(mcp_lat[i].p50),
            us(latency.p50),
            mcp_tp[i][2],
            at64
        );
    }

    println!("\ninstructions the MCP server executes per call (callgrind; user space, all threads)");
    for (tool, count) in ["list_organizations", "get_robot_part"].iter().zip(&instructions) {
        match count {
            Some(count) => println!("  {tool:<44} {:>8.0}k", count / 1e3),
            None => println!("  {tool:<44} not measured: valgrind is not installed"),
        }
    }

    println!("\nRSS of the MCP server");
    println!("  idle {:.1} MB; after {calls} calls {:.1} MB", rss_idle as f64 / 1024.0, rss_calls as f64 / 1024.0);
    println!(
        "  after a {:.1} MB response {:.1} MB (peak {:.1} MB)",
        big.len() as f64 / 1e6,
        rss_big as f64 / 1024.0,
        rss_peak as f64 / 1024.0
    );

    println!(
        "\nthe overhead's figures interleaved: MCP, Connection and the stdio floor in turn, each round (p50 / p99)"
    );
    for (tool, o) in ["list_organizations", "get_robot_part"].iter().zip(&overheads) {
        row(&format!("{tool}: MCP over stdio"), o.mcp);
        row(&format!("{tool}: Connection → sandbox process"), o.conn);
        row(&format!("{tool}: stdio floor"), o.floor);
        println!("    median of each round's MCP less Connection less floor {:.0} µs", o.paired_us);
    }

    println!("\nratios and targets (issue 10)");
    for (i, (tool, max)) in MAX_OVERHEAD_US.iter().enumerate() {
        let (m, b, c) = (us(mcp_lat[i].p50), us(bare_lat[i].p50), us(conn_lat[i].p50));
        let over = overheads[i].overhead_us();
        println!(
            "  {tool}: MCP/bare {:.2}×, MCP/Connection {:.2}×; overhead beyond the gRPC call and the stdio floor \
             {over:.0} µs interleaved (target ≤ {max} µs: {}); {:.0} µs from the figures measured one after another",
            m / b,
            m / c,
            if over <= *max { "met" } else { "not met" },
            m - c - us(pipe.p50)
        );
    }
    println!("  1,000-entry log page: MCP/Connection {:.2}×", us(logs_mcp.p50) / us(logs_grpc.p50));
    for (i, (tool, target)) in [("list_organizations", 20_000.0), ("get_robot_part", 10_000.0)].iter().enumerate() {
        let at64 = mcp_tp[i][2];
        println!(
            "  {tool} at 64 in flight: {at64:.0} calls/s, {:.0}% of Connection, {:.0}% of bare (target ≥ {target}: {})",
            100.0 * at64 / conn_tp[i][2],
            100.0 * at64 / bare_tp[i][2],
            if at64 >= *target { "met" } else { "not met" }
        );
    }
    let mb = |kb: u64| kb as f64 / 1024.0;
    let verdict = |ok: bool| if ok { "met" } else { "not met" };
    println!("  RSS idle ≤ 15 MB: {}", verdict(mb(rss_idle) <= 15.0));
    println!("  RSS after {calls} calls ≤ 20 MB: {}", verdict(mb(rss_calls) <= 20.0));
    println!("  RSS after {calls} calls ≤ 15 MB (issue 20, the dist build): {}", verdict(mb(rss_calls) <= 15.0));
    println!("  RSS after the 5 MB response ≤ 60 MB: {}", verdict(mb(rss_big) <= 60.0));
    println!("  startup ≤ 5 ms (p50): {}", verdict(startup.p50 <= Duration::from_millis(5)));
    println!(
        "  redaction: {:.0}% of the MCP get_robot_part p50",
        100.0 * us(redaction.p50.saturating_sub(clone_only.p50)) / us(mcp_lat[1].p50)
    );
    println!("\ntotal bench time {:.1} s", bench_started.elapsed().as_secs_f64());
}

/// The project's `Connection` making the call a tool makes.
async fn connection_call(conn: Arc<Connection>, tool: &str) {
    if tool == "list_organizations" {
        conn.unary(ListOrganizationsRequest {}, Retry::Never).await.unwrap();
    } else {
        conn.unary(GetRobotPartRequest { id: ids::PART_ROVER_1_MAIN.into() }, Retry::Never).await.unwrap();
    }
}

/// The stdio floor: one request-sized line through two pipes to `cat` and back.
struct Floor {
    _cat: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    line: String,
}

impl Floor {
    fn start() -> Self {
        let (cat, stdin, stdout) = spawn_piped(&mut Command::new("cat"));
        let line = format!(
            "{}\n",
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_robot_part", "arguments": {"robot_part_id": ids::PART_ROVER_1_MAIN}}})
        );
        Floor { _cat: cat, stdin, stdout, line }
    }

    async fn round_trip(&mut self) {
        self.stdin.write_all(self.line.as_bytes()).await.unwrap();
        self.stdout.next_line().await.unwrap();
    }
}

async fn stdio_floor(floor: &mut Floor) -> Latency {
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES + SAMPLES / 10 {
        let t = Instant::now();
        floor.round_trip().await;
        if i >= SAMPLES / 10 {
            samples.push(t.elapsed());
        }
    }
    Latency::of(samples)
}

/// The three figures an overhead is made of, sampled in turn within each round (in an order that
/// rotates), so that all three see the same host: its wake-up latency, which dominates each of
/// them on a small VM, moves from second to second.
struct Interleaved {
    mcp: Latency,
    conn: Latency,
    floor: Latency,
    /// The median over rounds of MCP less Connection less floor, in µs.
    paired_us: f64,
}

impl Interleaved {
    /// MCP p50 less the Connection's p50 and the floor's, in µs.
    fn overhead_us(&self) -> f64 {
        us(self.mcp.p50) - us(self.conn.p50) - us(self.floor.p50)
    }
}

async fn interleaved<F: Future<Output = ()>>(
    mcp: &mut Mcp,
    floor: &mut Floor,
    conn_call: impl Fn() -> F,
    tool: &str,
    arguments: &Value,
) -> Interleaved {
    let rounds = SAMPLES + SAMPLES / 10;
    let mut samples = [(); 3].map(|_| Vec::with_capacity(rounds));
    let mut paired = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let mut took = [Duration::ZERO; 3];
        for k in 0..3 {
            let which = (round + k) % 3;
            let t = Instant::now();
            match which {
                0 => {
                    mcp.call(tool, arguments).await;
                }
                1 => conn_call().await,
                _ => floor.round_trip().await,
            }
            took[which] = t.elapsed();
        }
        if round >= SAMPLES / 10 {
            paired.push(us(took[0]) - us(took[1]) - us(took[2]));
            for (series, sample) in samples.iter_mut().zip(took) {
                series.push(sample);
            }
        }
    }
    paired.sort_by(f64::total_cmp);
    let [mcp, conn, floor] = samples.map(Latency::of);
    Interleaved { mcp, conn, floor, paired_us: paired[paired.len() / 2] }
}

/// User plus system CPU time of a process so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<i64> =
        stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().filter_map(|f| f.parse().ok()).collect();
    // utime and stime are fields 14 and 15; after the name, only the state (a letter) fails to parse.
    let ticks = fields.get(10).zip(fields.get(11)).map_or(0, |(u, s)| u + s).max(0);
    Duration::from_secs_f64(ticks as f64 / 100.0)
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into())
}
