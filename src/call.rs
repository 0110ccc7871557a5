//! The neutral core of a tool call, shared by the catalogue (`tools/`) and the pipeline stages
//! (`safety/`): the connection and defaults every call shares, one call's context, the risk class
//! and toolset, and the policy declarations a catalogue row makes.
use crate::connection::{Connection, Retry};
use crate::error::ToolError;
use crate::proto::Rpc;
use rmcp::RoleServer;
use rmcp::model::{InputResponses, ToolAnnotations};
use rmcp::service::RequestContext;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
pub type ToolResult = Result<Value, ToolError>;

/// What a tool can do to the fleet. Everything about safety is derived from this one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Changes nothing.
    Read,
    /// Creates something new; existing things are untouched.
    Additive,
    /// Changes existing things in a way that can be undone by another call.
    Mutating,
    /// Deletes, revokes, replaces whole configs or restarts hardware: needs confirmation.
    Destructive,
}

impl Risk {
    /// The annotations a client reads, every hint sent explicitly (clients and directories read
    /// them literally rather than applying the spec's defaults), with the tool's title. Every tool
    /// reaches Viam's cloud, so all are open world.
    pub fn annotations(self, title: String) -> ToolAnnotations {
        let (read_only, destructive, idempotent) = match self {
            Risk::Read => (true, false, true),
            Risk::Additive => (false, false, false),
            Risk::Mutating => (false, false, true),
            Risk::Destructive => (false, true, false),
        };
        ToolAnnotations::with_title(title)
            .read_only(read_only)
            .destructive(destructive)
            .idempotent(idempotent)
            .open_world(true)
    }

    /// Reads are retried when the service is unavailable; writes never are.
    pub fn retry(self) -> Retry {
        if self == Risk::Read { Retry::OnUnavailable } else { Retry::Never }
    }
}

/// The domain a tool belongs to, for `--toolsets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Toolset {
    Organizations,
    Locations,
    Machines,
    Logs,
    Fragments,
    Access,
    Registry,
    Keys,
    Changes,
}

/// What every call shares: the connection and the configured default location.
pub struct App {
    pub conn: Connection,
    /// From `--location-id` / `VIAM_LOCATION_ID`.
    pub default_location: Option<String>,
    /// The fleet change records under `--state-dir`.
    pub journal: Arc<crate::journal::Journal>,
}

impl App {
    /// `location_id` as given, or the configured default location.
    pub fn location_or_default(&self, given: Option<impl AsRef<str>>) -> Result<String, ToolError> {
        given.map(|id| id.as_ref().to_string()).or_else(|| self.default_location.clone()).ok_or_else(|| {
            ToolError::invalid(
                "location_id: no location_id was given and no default location is configured; pass \
                 location_id (list_locations shows them) or start the server with --location-id / \
                 VIAM_LOCATION_ID",
            )
        })
    }

    /// One read RPC, retried while the service is unavailable.
    pub async fn read<R: Rpc>(&self, request: R) -> Result<R::Response, ToolError> {
        self.conn.unary(request, Retry::OnUnavailable).await
    }
}

/// Reports progress of a long call to the client, when it asked for progress.
pub type ProgressSink = Arc<dyn Fn(f64, Option<f64>, String) -> BoxFuture<()> + Send + Sync>;

/// What an operation sees of its call, once the pipeline has admitted it.
pub struct CallContext {
    pub app: Arc<App>,
    pub risk: Risk,
    /// Cancelled when the client cancels the request.
    pub cancel: CancellationToken,
    pub progress: Option<ProgressSink>,
    /// The file arguments the row declares, checked against the allowed directories.
    pub files: HashMap<&'static str, PathBuf>,
}

impl CallContext {
    pub async fn unary<R: Rpc>(&self, request: R) -> Result<R::Response, ToolError> {
        self.app.conn.unary(request, self.risk.retry()).await
    }

    /// The response as proto3 JSON, read straight from its wire bytes.
    pub async fn unary_json<R: Rpc>(&self, request: R) -> ToolResult {
        let bytes = self.app.conn.unary_wire(request, self.risk.retry()).await?;
        crate::proto_json::wire_json::<R::Response>(&bytes).ok_or_else(|| ToolError::Grpc {
            code: tonic::Code::Internal,
            message: format!(
                "{} was answered (so any change it asked for was made), but the answer is not a valid {}",
                R::method(),
                <R::Response as prost::Name>::full_name()
            ),
            hint: None,
        })
    }

    pub async fn report(&self, done: f64, total: Option<f64>, message: String) {
        if let Some(progress) = &self.progress {
            progress(done, total, message).await;
        }
    }

    /// The checked path of a declared file argument, when the call gave one.
    pub fn file(&self, argument: &str) -> Option<&PathBuf> {
        self.files.get(argument)
    }
}

/// What the client can do for this call, and its answer to an earlier MRTR round.
#[derive(Default)]
pub struct Interaction {
    /// The MCP request; absent for the command-line `call`.
    pub context: Option<RequestContext<RoleServer>>,
    pub input_responses: Option<InputResponses>,
    pub request_state: Option<String>,
}

/// A row's policy: everything the pipeline needs to know about one tool beyond its risk class.
#[derive(Debug, Default, Clone, Copy)]
pub struct RowPolicy {
    /// What a non-read call acts on, for `--org` / `--location` pinning.
    pub scope: &'static [ScopeArg],
    /// The secret this tool exists to hand out, which redaction keeps.
    pub hands_out: Option<HandsOut>,
    /// Local files the tool reads or writes.
    pub files: &'static [FileArg],
    /// The read tool that tells whether a write whose reply was lost took effect.
    pub verify: Option<&'static str>,
    /// The result (and preview) carries config items outside any response message: secrets in
    /// it are redacted by key name throughout.
    pub configs: bool,
    /// The tool takes `dry_run`, and a dry run sends no write: it needs no confirmation.
    pub dry_run: bool,
    /// The repeated result fields the server pages over, read as one listing in this order: the
    /// tool takes `limit` and `cursor`, which never reach the request.
    pub pages: &'static [&'static str],
}

/// How a scope rule finds one target in the arguments (argument names as in the schema; `a.b`
/// is field `b` of object argument `a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeArg {
    NewOrganization,
    Org(&'static str),
    Location(&'static str),
    /// A location only when the argument is given and not empty (a new parent).
    MaybeLocation(&'static str),
    /// `location_id`, or the configured default location.
    DefaultLocation,
    /// `org_id` and `parent_location_id` of create_location: the parent if given, else the org.
    NewLocation,
    Robot(&'static str),
    Part(&'static str),
    Fragment(&'static str),
    /// `robot_part_id` or `fragment_id`, whichever is given (the config item tools take one).
    PartOrFragment,
    /// Targets the op finds itself (a fleet change's parts) and checks each against the scope.
    Targets,
    RegistryItem(&'static str),
    Module(&'static str),
    Key(&'static str),
    /// A role: `<prefix>resource_type` and `<prefix>resource_id`, in the organization `org`.
    Role {
        org: &'static str,
        prefix: &'static str,
    },
    /// Authorizations in the lists `lists`, in the organization `org`.
    Authorizations {
        org: &'static str,
        lists: &'static [&'static str],
    },
}

impl ScopeArg {
    /// The top-level arguments this target is read from.
    pub fn argument_names(self) -> Vec<String> {
        match self {
            ScopeArg::NewOrganization | ScopeArg::Targets => Vec::new(),
            ScopeArg::DefaultLocation => vec!["location_id".into()],
            ScopeArg::NewLocation => vec!["org_id".into(), "parent_location_id".into()],
            ScopeArg::PartOrFragment => vec!["robot_part_id".into(), "fragment_id".into()],
            ScopeArg::Org(n)
            | ScopeArg::Location(n)
            | ScopeArg::MaybeLocation(n)
            | ScopeArg::Robot(n)
            | ScopeArg::Part(n)
            | ScopeArg::Fragment(n)
            | ScopeArg::RegistryItem(n)
            | ScopeArg::Module(n)
            | ScopeArg::Key(n) => vec![n.split('.').next().unwrap_or_default().into()],
            ScopeArg::Role { org, prefix } => {
                vec![org.into(), format!("{prefix}resource_type"), format!("{prefix}resource_id")]
            }
            ScopeArg::Authorizations { org, lists } => {
                std::iter::once(org.to_string()).chain(lists.iter().map(|l| l.to_string())).collect()
            }
        }
    }
}

/// Whose secret a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOwner {
    Part,
    Location,
    ApiKey,
}

/// The secret a tool hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandsOut {
    /// Every secret of this owner in the result (location_auth, a new API key).
    All(SecretOwner),
    /// Only the newest secret of this owner: the one the call created. The owner's older
    /// secrets ride along in the response and are redacted like anywhere else.
    Created(SecretOwner),
}

impl HandsOut {
    pub fn owner(self) -> SecretOwner {
        match self {
            HandsOut::All(owner) | HandsOut::Created(owner) => owner,
        }
    }
}

/// A local file a tool touches, named by its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileArg {
    /// Read; only a regular file inside the allowed directories.
    Read(&'static str),
    /// Created, or replaced when the call's `overwrite` is true.
    Write(&'static str),
}

impl FileArg {
    pub fn argument(self) -> &'static str {
        match self {
            FileArg::Read(name) | FileArg::Write(name) => name,
        }
    }
}
