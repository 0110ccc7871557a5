//! The tool catalogue: one table row per documented AppClient operation. A row declares the
//! name, its description file, the risk class, the toolset and the operation (argument type →
//! request). Annotations, the `confirm` gate and output schemas are all derived here, once.
mod access;
pub mod args;
mod cursor;
mod defaults;
mod fragments;
mod keys;
mod locations;
mod logs;
mod machines;
mod names;
mod organizations;
mod registry;
mod validate;

pub(crate) use keys::find_api_key;

use crate::connection::{Connection, Retry};
use crate::error::ToolError;
use crate::proto::Rpc;
use crate::proto_json::{descriptor, object_schema, to_json};
use crate::safety::confirm::{Interaction, gate};
use crate::safety::{Policy, redact};
use prost_reflect::MessageDescriptor;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;
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
    pub fn annotations(self, title: &str) -> ToolAnnotations {
        let base = ToolAnnotations::with_title(title).open_world(true);
        match self {
            Risk::Read => base.read_only(true).destructive(false).idempotent(true),
            Risk::Additive => base.read_only(false).destructive(false).idempotent(false),
            Risk::Mutating => base.read_only(false).destructive(false).idempotent(true),
            Risk::Destructive => base.read_only(false).destructive(true).idempotent(false),
        }
    }

    fn retry(self) -> Retry {
        if self == Risk::Read { Retry::OnUnavailable } else { Retry::Never }
    }
}

/// The domain a tool belongs to, for `--toolsets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
}

/// What every call shares: the connection and the configured defaults.
pub struct App {
    pub conn: Connection,
    /// From `--location-id` / `VIAM_LOCATION_ID`.
    pub default_location: Option<String>,
    pub policy: Policy,
}

impl App {
    /// `location_id` as given, or the configured default location.
    pub fn location_or_default(&self, given: Option<args::Id>) -> Result<String, ToolError> {
        given.map(String::from).or_else(|| self.default_location.clone()).ok_or_else(|| {
            ToolError::invalid(
                "location_id: no location_id was given and no default location is configured; pass \
                 location_id (list_locations shows them) or start the server with --location-id / \
                 VIAM_LOCATION_ID",
            )
        })
    }
}

/// Reports progress of a long call to the client, when it asked for progress.
pub type ProgressSink = Arc<dyn Fn(f64, Option<f64>, String) -> BoxFuture<()> + Send + Sync>;

/// One call of one tool.
pub struct CallContext {
    pub app: Arc<App>,
    pub tool: &'static str,
    pub risk: Risk,
    /// The caller passed `confirm: true` (only destructive tools take it).
    pub confirmed: bool,
    /// Cancelled when the client cancels the request.
    pub cancel: CancellationToken,
    pub progress: Option<ProgressSink>,
    /// The client's MCP roots, where it declared any: directories files may be written to.
    pub roots: Vec<PathBuf>,
    /// How the call was confirmed, for the audit log.
    pub confirmation: Mutex<Option<Value>>,
    /// What the client can do to ask a person, and its answer to an earlier round.
    pub interaction: Interaction,
}

impl CallContext {
    /// Checks a validated call against the pinned scope, before anything that changes state.
    async fn admit(&self, arguments: &JsonObject) -> Result<(), ToolError> {
        if self.risk == Risk::Read || self.app.policy.scope.is_unrestricted() {
            return Ok(());
        }
        self.app.policy.scope.check(&self.app, self.tool, arguments).await
    }

    pub async fn unary<R: Rpc>(&self, request: R) -> Result<R::Response, ToolError> {
        self.app.conn.unary(request, self.risk.retry()).await
    }

    pub async fn report(&self, done: f64, total: Option<f64>, message: String) {
        if let Some(progress) = &self.progress {
            progress(done, total, message).await;
        }
    }
}

type Handler = Box<dyn Fn(Arc<CallContext>, JsonObject) -> BoxFuture<ToolResult> + Send + Sync>;
/// Reads what a destructive call would affect, for the confirmation preview.
pub type Preview<A> = fn(Arc<App>, A) -> BoxFuture<ToolResult>;

/// How a tool runs: its argument schema, its output schema and its handler.
pub struct Op {
    input_schema: Arc<JsonObject>,
    output_schema: JsonObject,
    /// The AppService method, for the catalogue listing.
    pub method: &'static str,
    /// The response message the result carries, which redaction walks by type.
    pub response: MessageDescriptor,
    handler: Handler,
}

/// An operation that is one unary RPC: `build` maps the arguments to the request. An empty
/// response becomes `{"status": "ok", …arguments}`, so the result names what was acted on.
pub fn unary<A, R>(build: fn(A, &App) -> Result<R, ToolError>) -> Op
where
    A: DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static,
    R: Rpc,
{
    unary_op(build, None)
}

/// As [`unary`], for a destructive operation with a preview of what it would affect.
pub fn unary_with_preview<A, R>(build: fn(A, &App) -> Result<R, ToolError>, preview: Preview<A>) -> Op
where
    A: DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static,
    R: Rpc,
{
    unary_op(build, Some(preview))
}

fn unary_op<A, R>(build: fn(A, &App) -> Result<R, ToolError>, preview: Option<Preview<A>>) -> Op
where
    A: DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static,
    R: Rpc,
{
    let response = descriptor(&<R::Response as prost::Name>::full_name());
    let empty_response = response.fields().len() == 0;
    let mut output_schema = if empty_response {
        // `{"status": "ok"}` plus the arguments, echoed.
        let schema = json!({"type": "object", "properties": {"status": {"type": "string", "const": "ok"}}, "required": ["status"]});
        schema.as_object().cloned().unwrap_or_default()
    } else {
        object_schema(&response)
    };
    let schema = input_schema::<A>();
    let default_location = defaults::takes_default_location(&schema);
    if default_location {
        defaults::declare(&mut output_schema);
    }
    Op {
        input_schema: schema.clone(),
        output_schema,
        method: R::method(),
        response,
        handler: Box::new(move |cx, arguments| {
            let schema = schema.clone();
            Box::pin(async move {
                let parsed: A = parse(&schema, &arguments)?;
                let echo = arguments;
                // Building the request validates everything, so a bad call never gets a preview.
                let request = build(parsed.clone(), &cx.app)?;
                cx.admit(&echo).await?;
                if cx.risk == Risk::Destructive {
                    let app = cx.app.clone();
                    let shown = echo.clone();
                    let preview_of = move || -> BoxFuture<ToolResult> {
                        match preview {
                            Some(preview) => preview(app.clone(), parsed.clone()),
                            None => {
                                let fallback = json!({"would_call": R::method(), "arguments": shown.clone()});
                                Box::pin(async move { Ok(fallback) })
                            }
                        }
                    };
                    gate(&cx, &Value::Object(echo.clone()), &preview_of).await?;
                }
                let response = cx.unary(request).await?;
                let mut result = if empty_response {
                    let mut done = echo.clone();
                    done.insert("status".into(), json!("ok"));
                    Value::Object(done)
                } else {
                    to_json(&response)
                };
                if default_location {
                    defaults::report(&cx.app, &echo, &mut result);
                }
                Ok(result)
            })
        }),
    }
}

/// An operation with its own logic (paging, streaming, files). `M` is the response message whose
/// fields the output carries; the handler may add more.
pub fn custom<A, M>(method: &'static str, run: fn(Arc<CallContext>, A) -> BoxFuture<ToolResult>) -> Op
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    M: prost::Name,
{
    let response = descriptor(&M::full_name());
    let schema = input_schema::<A>();
    Op {
        input_schema: schema.clone(),
        output_schema: object_schema(&response),
        method,
        response,
        handler: Box::new(move |cx, arguments| {
            let schema = schema.clone();
            Box::pin(async move {
                let parsed: A = parse(&schema, &arguments)?;
                let echo = arguments;
                cx.admit(&echo).await?;
                run(cx, parsed).await
            })
        }),
    }
}

fn input_schema<A: JsonSchema + 'static>() -> Arc<JsonObject> {
    rmcp::handler::server::common::schema_for_input::<A>()
        .unwrap_or_else(|e| panic!("argument type {} has an object schema: {e}", std::any::type_name::<A>()))
}

/// Deserializes arguments; a refusal names every bad argument (see [`validate`]).
fn parse<A: DeserializeOwned>(schema: &JsonObject, arguments: &JsonObject) -> Result<A, ToolError> {
    let value = Value::Object(arguments.clone());
    serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let first = if path == "." { inner } else { format!("{path}: {inner}") };
        validate::all_problems(schema, &value, first)
    })
}

/// One row of the catalogue.
pub struct ToolRow {
    pub name: &'static str,
    pub description: &'static str,
    pub risk: Risk,
    pub toolset: Toolset,
    pub op: Op,
}

/// Declares a row; the description is `tool-descriptions/<name>.md`, compiled in.
macro_rules! row {
    ($name:ident, $risk:ident, $op:expr) => {
        $crate::tools::Row {
            name: stringify!($name),
            description: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tool-descriptions/",
                stringify!($name),
                ".md"
            )),
            risk: $crate::tools::Risk::$risk,
            op: $op,
        }
    };
}
use row;

/// A row as a domain file declares it; the domain's toolset is added by the catalogue.
pub struct Row {
    pub name: &'static str,
    pub description: &'static str,
    pub risk: Risk,
    pub op: Op,
}

/// The text up to the first full stop that ends a sentence (or the first line).
fn first_sentence(text: &str) -> &str {
    let line = text.trim().lines().next().unwrap_or_default();
    let end = line.match_indices(". ").next().map_or(line.len(), |(i, _)| i);
    line[..end].trim_end_matches('.')
}

/// A domain file's table.
type DomainRows = fn() -> Vec<Row>;

/// The whole catalogue, in a fixed order, with each tool's MCP definition built once.
pub struct Catalogue {
    pub rows: Vec<ToolRow>,
    pub tools: Vec<Tool>,
    index: HashMap<&'static str, usize>,
}

pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
        let domains: [(Toolset, DomainRows); 8] = [
            (Toolset::Organizations, organizations::rows),
            (Toolset::Locations, locations::rows),
            (Toolset::Machines, machines::rows),
            (Toolset::Logs, logs::rows),
            (Toolset::Fragments, fragments::rows),
            (Toolset::Access, access::rows),
            (Toolset::Registry, registry::rows),
            (Toolset::Keys, keys::rows),
        ];
        let rows: Vec<ToolRow> = domains
            .into_iter()
            .flat_map(|(toolset, rows)| {
                rows().into_iter().map(move |r| ToolRow {
                    name: r.name,
                    description: r.description,
                    risk: r.risk,
                    toolset,
                    op: r.op,
                })
            })
            .collect();
        let tools = rows.iter().map(ToolRow::definition).collect();
        let index = rows.iter().enumerate().map(|(i, r)| (r.name, i)).collect();
        Catalogue { rows, tools, index }
    });
    &CATALOGUE
}

impl Catalogue {
    pub fn get(&self, name: &str) -> Option<&ToolRow> {
        self.index.get(name).map(|&i| &self.rows[i])
    }

    /// The README's tool table: name, risk, toolset and the description's first sentence.
    pub fn markdown_table(&self) -> String {
        let mut table = String::from("| tool | risk | toolset | what it does |\n|---|---|---|---|\n");
        for row in &self.rows {
            let summary = first_sentence(row.description);
            let risk = serde_json::to_value(row.risk).unwrap_or_default();
            let toolset = serde_json::to_value(row.toolset).unwrap_or_default();
            table.push_str(&format!(
                "| `{}` | {} | {} | {}. |\n",
                row.name,
                risk.as_str().unwrap_or_default(),
                toolset.as_str().unwrap_or_default(),
                summary.replace('|', "\\|").replace('\n', " ")
            ));
        }
        table
    }
}

impl ToolRow {
    /// "get_robot_part_logs" → "Get robot part logs".
    pub fn title(&self) -> String {
        let words = self.name.replace('_', " ");
        let mut chars = words.chars();
        chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
    }

    /// The MCP tool definition: schemas, and annotations derived from the risk class.
    fn definition(&self) -> Tool {
        let mut input = (*self.op.input_schema).clone();
        // Some clients reject an object schema without `properties`, even an empty one.
        let properties = input.entry("properties").or_insert_with(|| json!({}));
        if self.risk == Risk::Destructive {
            properties["confirm"] = json!({
                "type": "boolean",
                "description": "Must be true to carry out this destructive call. Without it nothing \
                                changes and the result previews what would be affected.",
            });
        }
        Tool::new(self.name, self.description, Arc::new(input))
            .with_title(self.title())
            .with_raw_output_schema(Arc::new(self.op.output_schema.clone()))
            .with_annotations(self.risk.annotations(&self.title()))
    }

    /// Validates and runs one call, then applies the result policies: secrets and the audit log.
    /// `confirm` is taken out of the arguments here, so argument types never see it.
    pub async fn call(
        &self,
        app: Arc<App>,
        mut arguments: JsonObject,
        cancel: CancellationToken,
        progress: Option<ProgressSink>,
        roots: Vec<PathBuf>,
        interaction: Interaction,
    ) -> ToolResult {
        let started = Instant::now();
        let confirmed = match (self.risk, arguments.remove("confirm")) {
            (Risk::Destructive, None) => Ok(false),
            (Risk::Destructive, Some(Value::Bool(b))) => Ok(b),
            (Risk::Destructive, Some(other)) => {
                Err(ToolError::invalid(format!("confirm: expected a boolean, got {other}")))
            }
            // Not a destructive tool: `confirm` is an unknown argument like any other.
            (_, Some(other)) => {
                arguments.insert("confirm".into(), other);
                Ok(false)
            }
            (_, None) => Ok(false),
        };
        let ids = ids_in(&arguments);
        // Reads are never audited, so only other calls pay for the copy.
        let audited = (self.risk != Risk::Read).then(|| Value::Object(arguments.clone()));
        let cx = Arc::new(CallContext {
            app,
            tool: self.name,
            risk: self.risk,
            confirmed: confirmed.as_ref().is_ok_and(|yes| *yes),
            cancel,
            progress,
            roots,
            confirmation: Mutex::new(None),
            interaction,
        });
        let result = match confirmed {
            Ok(_) => match (self.op.handler)(cx.clone(), arguments).await {
                Err(e) => Err(names::explain(&cx.app, e, &ids).await.with_ids(&ids)),
                ok => ok,
            },
            Err(e) => Err(e),
        };
        let result = result.and_then(|value| self.protect_secrets(&cx.app, value));
        if let Some(arguments) = &audited {
            self.audit(&cx, arguments, &result, started);
        }
        result
    }

    /// Redacts incidental secrets (a tool that hands one out keeps that one) and hides the
    /// server's own API key; with `--secrets-dir`, a handed-out secret goes to a file there.
    fn protect_secrets(&self, app: &App, mut value: Value) -> ToolResult {
        if !app.policy.show_secrets {
            redact::redact_result(self.name, &mut value);
        }
        if let Some(own) = app.conn.api_key() {
            redact::hide_own_key(&mut value, &own.key);
        }
        match &app.policy.secrets_dir {
            Some(dir) if redact::hands_out_secret(self.name) => redact::store_secret(dir, self.name, value),
            _ => Ok(value),
        }
    }

    fn audit(&self, cx: &CallContext, arguments: &Value, result: &ToolResult, started: Instant) {
        let Some(log) = &cx.app.policy.audit else { return };
        let confirmation = cx.confirmation.lock().map(|c| c.clone()).unwrap_or_default();
        let status = match result {
            Ok(_) => "OK".to_string(),
            Err(e) => e.code(),
        };
        let entry = json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "tool": self.name,
            "risk": self.risk,
            "arguments": redact::redact_arguments(arguments),
            "confirmation": confirmation,
            "status": status,
            "duration_ms": started.elapsed().as_millis() as u64,
        });
        if let Err(e) = log.record(&entry) {
            tracing::error!(tool = self.name, "audit log write failed: {e}");
        }
    }
}

/// The id-like arguments of a call, to name them when the service says NOT_FOUND.
fn ids_in(arguments: &JsonObject) -> Vec<(String, String)> {
    arguments
        .iter()
        .filter(|(k, _)| *k == "id" || k.ends_with("_id"))
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        .collect()
}

#[cfg(test)]
mod tests;
