//! The tool catalogue: one table row per documented AppClient operation. A row declares the
//! name, its description file, the risk class, the operation (argument type → request, and for
//! destructive tools a preview) and its policy (scope targets, the secret it hands out, its file
//! arguments, the read that verifies a lost write); the domain file gives the toolset.
//! Annotations, the `confirm` property and output schemas are derived here, once; everything a
//! call goes through is in `pipeline`.
mod access;
pub mod args;
mod config_items;
mod defaults;
mod fleet_changes;
mod fragments;
mod keys;
mod locations;
mod logs;
mod machines;
pub mod names;
mod organizations;
mod registry;
mod validate;

pub use crate::call::{App, BoxFuture, CallContext, Risk, RowPolicy, ToolResult, Toolset};

use crate::call::{FileArg, HandsOut, ScopeArg};
use crate::error::ToolError;
use crate::proto::Rpc;
use crate::proto_json::{descriptor, output_schema};
use crate::safety::budget;
use crate::safety::filter::Listed;
use prost_reflect::MessageDescriptor;
use rmcp::model::{JsonObject, Tool};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock};

/// Reads what a destructive call would affect, for the confirmation preview.
pub type Preview<A> = fn(Arc<App>, A) -> BoxFuture<ToolResult>;

/// A call whose arguments passed every check: it can be previewed and run.
pub trait Prepared: Send + Sync {
    /// What a destructive call would affect, read fresh; `None` when the op has no preview.
    fn preview(&self, app: Arc<App>) -> Option<BoxFuture<ToolResult>>;
    fn run(self: Box<Self>, cx: Arc<CallContext>) -> BoxFuture<ToolResult>;
}

type Prepare = Box<dyn Fn(&Op, JsonObject, &App, &[&str]) -> Result<Box<dyn Prepared>, ToolError> + Send + Sync>;

/// A schema made from the code the first time it is needed: by a one-RPC tool's first call (does it
/// fall back to the default location?), a call whose arguments are refused, or a listing that has
/// no compiled-in definition (see [`Catalogue`]). Startup makes none.
type LazySchema = LazyLock<JsonObject, fn() -> JsonObject>;

/// How a tool runs: its argument schema, its output schema, and how a call is prepared.
pub struct Op {
    input_schema: LazySchema,
    output_schema: LazySchema,
    /// The AppService method, for the catalogue listing.
    pub method: &'static str,
    /// The response message the result carries: looked up by the first call that needs it (the
    /// descriptor pool is not decoded at startup), then kept.
    response: OnceLock<MessageDescriptor>,
    response_of: fn() -> MessageDescriptor,
    /// Whether the op reads a preview of what it would affect.
    pub has_preview: bool,
    prepare: Prepare,
}

impl Op {
    /// The response message the result carries, which redaction walks by type.
    pub fn response(&self) -> &MessageDescriptor {
        self.response.get_or_init(self.response_of)
    }

    /// Parses and validates the arguments completely; nothing is sent. `also` names the arguments
    /// the pipeline took before (see [`ToolRow::pipeline_arguments`]), for a refusal to list.
    pub fn prepare(&self, arguments: JsonObject, app: &App, also: &[&str]) -> Result<Box<dyn Prepared>, ToolError> {
        (self.prepare)(self, arguments, app, also)
    }

    pub fn input_schema(&self) -> &JsonObject {
        &self.input_schema
    }

    /// The result's schema, for results that are not a response message.
    pub fn with_output(mut self, schema: fn() -> JsonObject) -> Self {
        self.output_schema = LazyLock::new(schema);
        self
    }
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

struct UnaryCall<A, R> {
    arguments: A,
    request: R,
    echo: JsonObject,
    empty_response: bool,
    /// The tool falls back to the default location: its result says which it used.
    default_location: bool,
    preview: Option<Preview<A>>,
}

impl<A: Clone + Send + Sync + 'static, R: Rpc> Prepared for UnaryCall<A, R> {
    fn preview(&self, app: Arc<App>) -> Option<BoxFuture<ToolResult>> {
        self.preview.map(|preview| preview(app, self.arguments.clone()))
    }

    fn run(self: Box<Self>, cx: Arc<CallContext>) -> BoxFuture<ToolResult> {
        Box::pin(async move {
            let mut result = if self.empty_response {
                cx.unary(self.request).await?;
                let mut done = self.echo.clone();
                done.insert("status".into(), json!("ok"));
                Value::Object(done)
            } else {
                cx.unary_json(self.request).await?
            };
            if self.default_location {
                defaults::report(&cx.app, &self.echo, &mut result);
            }
            Ok(result)
        })
    }
}

fn unary_op<A, R>(build: fn(A, &App) -> Result<R, ToolError>, preview: Option<Preview<A>>) -> Op
where
    A: DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static,
    R: Rpc,
{
    Op {
        input_schema: LazyLock::new(input_schema::<A>),
        output_schema: LazyLock::new(unary_output_schema::<A, R>),
        method: R::method(),
        response: OnceLock::new(),
        response_of: descriptor_of::<R::Response>,
        has_preview: preview.is_some(),
        prepare: Box::new(move |op, arguments, app, also| {
            let parsed: A = parse(op, &arguments, also)?;
            // Building the request validates everything, so a bad call never gets a preview.
            let request = build(parsed.clone(), app)?;
            Ok(Box::new(UnaryCall {
                arguments: parsed,
                request,
                echo: arguments,
                empty_response: response_is_empty(op.response()),
                default_location: defaults::takes_default_location(op.input_schema()),
                preview,
            }))
        }),
    }
}

/// A response with no fields: the result is `{"status": "ok"}` plus the arguments, echoed.
fn response_is_empty(response: &MessageDescriptor) -> bool {
    response.fields().len() == 0
}

fn unary_output_schema<A: JsonSchema + 'static, R: Rpc>() -> JsonObject {
    let mut schema = if response_is_empty(&descriptor_of::<R::Response>()) {
        schema_object(json!({"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}))
    } else {
        output_schema(&<R::Response as prost::Name>::full_name())
    };
    if defaults::takes_default_location(&input_schema::<A>()) {
        defaults::declare(&mut schema);
    }
    schema
}

/// Runs a custom operation: its own logic (paging, streaming, files).
pub type Run<A> = fn(Arc<CallContext>, A) -> BoxFuture<ToolResult>;

struct CustomCall<A> {
    arguments: A,
    run: Run<A>,
    preview: Option<Preview<A>>,
}

impl<A: Clone + Send + Sync + 'static> Prepared for CustomCall<A> {
    fn preview(&self, app: Arc<App>) -> Option<BoxFuture<ToolResult>> {
        self.preview.map(|preview| preview(app, self.arguments.clone()))
    }

    fn run(self: Box<Self>, cx: Arc<CallContext>) -> BoxFuture<ToolResult> {
        (self.run)(cx, self.arguments)
    }
}

/// An operation with its own logic. `M` is the response message whose fields the output
/// carries; the handler may add more.
pub fn custom<A, M>(method: &'static str, run: Run<A>) -> Op
where
    A: DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static,
    M: prost::Name,
{
    custom_op::<A, M>(method, run, None)
}

/// As [`custom`], for a destructive operation with a preview of what it would affect.
pub fn custom_with_preview<A, M>(method: &'static str, run: Run<A>, preview: Preview<A>) -> Op
where
    A: DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static,
    M: prost::Name,
{
    custom_op::<A, M>(method, run, Some(preview))
}

fn custom_op<A, M>(method: &'static str, run: Run<A>, preview: Option<Preview<A>>) -> Op
where
    A: DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static,
    M: prost::Name,
{
    Op {
        input_schema: LazyLock::new(input_schema::<A>),
        output_schema: LazyLock::new(message_schema::<M>),
        method,
        response: OnceLock::new(),
        response_of: descriptor_of::<M>,
        has_preview: preview.is_some(),
        prepare: Box::new(move |op, arguments, _, also| {
            Ok(Box::new(CustomCall { arguments: parse::<A>(op, &arguments, also)?, run, preview }))
        }),
    }
}

/// A schema written with `json!`, as the object an output schema is.
fn schema_object(schema: Value) -> JsonObject {
    match schema {
        Value::Object(object) => object,
        other => panic!("a schema is an object, not {other}"),
    }
}

fn message_schema<M: prost::Name>() -> JsonObject {
    output_schema(&M::full_name())
}

fn descriptor_of<M: prost::Name>() -> MessageDescriptor {
    descriptor(&M::full_name())
}

/// The argument type's JSON Schema (2020-12), without the type's own name and doc comment. Each row
/// builds its own once, so rmcp's per-type cache (and its copies) would only cost time.
fn input_schema<A: JsonSchema + 'static>() -> JsonObject {
    let schema = schemars::generate::SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<A>();
    let Value::Object(mut object) = schema.to_value() else {
        panic!("argument type {} has an object schema", std::any::type_name::<A>())
    };
    assert_eq!(object.get("type"), Some(&json!("object")), "{} is an object", std::any::type_name::<A>());
    object.remove("title");
    object.remove("description");
    object
}

/// Deserializes arguments; a refusal names every bad argument (see [`validate`]).
fn parse<A: DeserializeOwned>(op: &Op, arguments: &JsonObject, also: &[&str]) -> Result<A, ToolError> {
    let value = Value::Object(arguments.clone());
    serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let first = if path == "." { inner } else { format!("{path}: {inner}") };
        validate::all_problems(op.input_schema(), &value, first, also)
    })
}

/// One row of the catalogue.
pub struct ToolRow {
    pub name: &'static str,
    /// The title, where the one derived from the name reads badly (see [`ToolRow::title`]).
    pub title: Option<&'static str>,
    pub description: &'static str,
    pub risk: Risk,
    pub toolset: Toolset,
    pub op: Op,
    pub policy: RowPolicy,
}

/// Declares a row; the description is `tool-descriptions/<name>.md`, compiled in. Its policy
/// follows with the builder methods of [`Row`].
macro_rules! row {
    ($name:ident, $risk:ident, $op:expr) => {
        $crate::tools::Row {
            name: stringify!($name),
            title: None,
            description: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tool-descriptions/",
                stringify!($name),
                ".md"
            )),
            risk: $crate::tools::Risk::$risk,
            op: $op,
            policy: $crate::tools::RowPolicy::default(),
        }
    };
}
use row;

/// A row as a domain file declares it; the domain's toolset is added by the catalogue.
pub struct Row {
    pub name: &'static str,
    pub title: Option<&'static str>,
    pub description: &'static str,
    pub risk: Risk,
    pub op: Op,
    pub policy: RowPolicy,
}

impl Row {
    /// The title, where the one derived from the name reads badly.
    pub fn title(mut self, title: &'static str) -> Self {
        self.title = Some(title);
        self
    }

    /// What a non-read call acts on, for scope pinning.
    pub fn scope(mut self, targets: &'static [ScopeArg]) -> Self {
        self.policy.scope = targets;
        self
    }

    /// The read tool that tells whether a write whose reply was lost took effect.
    pub fn verify(mut self, read_tool: &'static str) -> Self {
        self.policy.verify = Some(read_tool);
        self
    }

    /// The secret this tool exists to hand out.
    pub fn hands_out(mut self, secret: HandsOut) -> Self {
        self.policy.hands_out = Some(secret);
        self
    }

    /// The local files the tool reads or writes.
    pub fn files(mut self, files: &'static [FileArg]) -> Self {
        self.policy.files = files;
        self
    }

    /// The tool takes `dry_run`, which sends no write.
    pub fn dry_run(mut self) -> Self {
        self.policy.dry_run = true;
        self
    }

    /// The result carries config items, to be redacted by key name throughout.
    pub fn configs(mut self) -> Self {
        self.policy.configs = true;
        self
    }

    /// The repeated result fields the server pages over, as one listing in this order.
    pub fn pages(mut self, lists: &'static [&'static str]) -> Self {
        self.policy.pages = lists;
        self
    }
}

/// The text up to the first full stop that ends a sentence (or the first line).
fn first_sentence(text: &str) -> &str {
    let line = text.trim().lines().next().unwrap_or_default();
    let end = line.match_indices(". ").next().map_or(line.len(), |(i, _)| i);
    line[..end].trim_end_matches('.')
}

/// A domain file's table.
type DomainRows = fn() -> Vec<Row>;

/// The whole catalogue, in a fixed order, with each tool's MCP definition.
pub struct Catalogue {
    pub rows: Vec<ToolRow>,
    pub tools: Vec<Tool>,
    index: HashMap<&'static str, usize>,
}

pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
        let domains: [(Toolset, DomainRows); 10] = [
            (Toolset::Organizations, organizations::rows),
            (Toolset::Locations, locations::rows),
            (Toolset::Machines, machines::rows),
            (Toolset::Machines, config_items::rows),
            (Toolset::Logs, logs::rows),
            (Toolset::Fragments, fragments::rows),
            (Toolset::Access, access::rows),
            (Toolset::Registry, registry::rows),
            (Toolset::Keys, keys::rows),
            (Toolset::Changes, fleet_changes::rows),
        ];
        let built = build_domains(&domains);
        let (rows, tools): (Vec<ToolRow>, Vec<Tool>) = built.into_iter().unzip();
        let index = rows.iter().enumerate().map(|(i, r)| (r.name, i)).collect();
        Catalogue { rows, tools, index }
    });
    &CATALOGUE
}

/// The rows of these domain tables, in order, each with its MCP definition.
fn build_domains(domains: &[(Toolset, DomainRows)]) -> Vec<(ToolRow, Tool)> {
    let rows = domains.iter().flat_map(|&(toolset, rows)| {
        rows().into_iter().map(move |r| ToolRow {
            name: r.name,
            title: r.title,
            description: r.description,
            risk: r.risk,
            toolset,
            op: r.op,
            policy: r.policy,
        })
    });
    rows.map(|row| {
        let tool = compiled_definition(row.name).unwrap_or_else(|| row.definition());
        (row, tool)
    })
    .collect()
}

include!(concat!(env!("OUT_DIR"), "/tool_definitions.rs"));

/// The tool's definition as reviewed and compiled in, so startup derives no schema; a tool without
/// one (new, not yet reviewed) gets [`ToolRow::definition`].
fn compiled_definition(name: &str) -> Option<Tool> {
    serde_json::from_str(tool_definition_json(name)?).ok()
}

impl Catalogue {
    pub fn get(&self, name: &str) -> Option<&ToolRow> {
        self.index.get(name).map(|&i| &self.rows[i])
    }

    /// What the tool filters see of each row, in catalogue order.
    pub fn listed(&self) -> Vec<Listed> {
        self.rows.iter().map(|r| Listed { name: r.name, risk: r.risk, toolset: r.toolset }).collect()
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
    /// The arguments the pipeline takes before the op parses the rest.
    pub fn pipeline_arguments(&self) -> &'static [&'static str] {
        match (self.risk == Risk::Destructive, !self.policy.pages.is_empty()) {
            (true, true) => &["confirm", "limit", "cursor"],
            (true, false) => &["confirm"],
            (false, true) => &["limit", "cursor"],
            (false, false) => &[],
        }
    }

    /// The row's own title, or one from the name: "get_robot_part_logs" → "Get machine part logs"
    /// (Viam's app calls robots machines).
    pub fn title(&self) -> String {
        if let Some(title) = self.title {
            return title.to_string();
        }
        let words: Vec<&str> = self
            .name
            .split('_')
            .map(|word| match word {
                "robot" => "machine",
                "robots" => "machines",
                "api" => "API",
                "id" => "ID",
                word => word,
            })
            .collect();
        let words = words.join(" ");
        let mut chars = words.chars();
        chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
    }

    /// The MCP tool definition: the input schema, the title, and annotations derived from the
    /// risk class. The output schema is left out: no client hands it to a model, and it would
    /// cost a fifth of `tools/list` in every session; `--output-schemas` adds it
    /// ([`ToolRow::output_schema`]).
    fn definition(&self) -> Tool {
        let mut input = self.op.input_schema().clone();
        // Clients assume JSON Schema 2020-12 anyway; naming it in every tool costs every session.
        input.remove("$schema");
        // That unknown arguments are refused is said once, in the server instructions.
        input.remove("additionalProperties");
        compact(&mut input);
        // Some clients reject an object schema without `properties`, even an empty one.
        let properties = input.entry("properties").or_insert_with(|| json!({}));
        if self.risk == Risk::Destructive {
            // What `confirm` does is said once, in the server instructions.
            properties["confirm"] = json!({"type": "boolean"});
        }
        if !self.policy.pages.is_empty() {
            properties["limit"] = json!({"type": "integer", "minimum": 1, "maximum": budget::MAX_LIMIT});
            // How to page is said once, in the server instructions.
            properties["cursor"] = json!({"type": "string"});
        }
        let title = self.title();
        let mut tool = Tool::new(self.name, self.description.trim_end(), Arc::new(input));
        tool.title = Some(title.clone());
        tool.annotations = Some(self.risk.annotations(title));
        tool
    }

    /// The result's JSON Schema: the response message's fields (or the op's own result), with
    /// the paging fields and, with `dest`, where the payload went.
    pub fn output_schema(&self) -> JsonObject {
        let mut output = (*self.op.output_schema).clone();
        let outputs = output.entry("properties").or_insert_with(|| json!({}));
        if !self.policy.pages.is_empty() {
            outputs["total"] = json!({"type": "integer"});
            outputs["next_cursor"] = json!({"type": ["string", "null"]});
        }
        if self.policy.files.iter().any(|f| matches!(f, FileArg::Write(_))) {
            // With `dest` the result is only where the payload went (safety::files::receipt).
            outputs["path"] = json!({"type": "string"});
            outputs["bytes"] = json!({"type": "integer"});
            outputs["count"] = json!({"type": "integer"});
        }
        output
    }
}

/// Definitions smaller than this are inlined wherever they are used: a `$ref` and its entry in
/// `$defs` cost more than the definition itself.
const INLINE_BYTES: usize = 100;

/// The same input schema in fewer bytes, for `tools/list`: definitions used once or small are
/// inlined (a site's own keys, such as its description, win over the definition's), an optional
/// value is its type alone rather than `anyOf [T, null]` or `[T, "null"]` (it is not in
/// `required`; null is still accepted), and what a model needs no telling is dropped: a default
/// that is the type's empty value (what an omitted argument means anyway), an id's length bounds,
/// a bounded integer's `format`, and `additionalProperties: false` (that unknown arguments are
/// refused is said once, in the server instructions). Arguments are still checked against the
/// full schema.
fn compact(schema: &mut JsonObject) {
    let defs = match schema.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => JsonObject::new(),
    };
    let mut uses = HashMap::new();
    schema.values().chain(defs.values()).for_each(|v| count_refs(v, &mut uses));
    let (inline, kept): (JsonObject, JsonObject) = defs.into_iter().partition(|(name, def)| {
        uses.get(name.as_str()).copied().unwrap_or(0) <= 1
            || serde_json::to_vec(def).map_or(0, |v| v.len()) < INLINE_BYTES
    });
    let mut kept = Value::Object(kept);
    resolve(&mut kept, &inline);
    for value in schema.values_mut() {
        resolve(value, &inline);
    }
    if kept.as_object().is_some_and(|k| !k.is_empty()) {
        schema.insert("$defs".into(), kept);
    }
}

/// The definition a local `$ref` names.
fn ref_name(value: &JsonObject) -> Option<&str> {
    value.get("$ref")?.as_str()?.strip_prefix("#/$defs/")
}

fn count_refs(value: &Value, uses: &mut HashMap<String, usize>) {
    match value {
        Value::Object(object) => {
            if let Some(name) = ref_name(object) {
                *uses.entry(name.to_string()).or_default() += 1;
            }
            object.values().for_each(|v| count_refs(v, uses));
        }
        Value::Array(items) => items.iter().for_each(|v| count_refs(v, uses)),
        _ => {}
    }
}

/// Inlines the `inline` definitions throughout `value` and folds optional values; see [`compact`].
fn resolve(value: &mut Value, inline: &JsonObject) {
    match value {
        Value::Object(object) => {
            if let Some(mut def) = ref_name(object).and_then(|name| inline.get(name)).cloned() {
                object.remove("$ref");
                resolve(&mut def, inline);
                if let Value::Object(def) = def {
                    for (key, v) in def {
                        object.entry(key).or_insert(v);
                    }
                }
            }
            object.values_mut().for_each(|v| resolve(v, inline));
            fold_nullable(object);
            drop_null_type(object);
            if object.get("default").is_some_and(is_empty_value) {
                object.remove("default");
            }
            if object.get("additionalProperties").is_some_and(Value::is_boolean) {
                object.remove("additionalProperties");
            }
            // An id is not empty and not 200 characters long: neither needs telling (both are checked).
            if object.get("minLength") == Some(&json!(1)) && object.contains_key("maxLength") {
                object.remove("minLength");
                object.remove("maxLength");
            }
            // An integer's bounds say more than schemars' `uint32` or `int64`.
            if object.contains_key("minimum") && object.contains_key("maximum") {
                object.remove("format");
            }
            if lists_only_its_enum(object) {
                object.remove("description");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| resolve(v, inline)),
        _ => {}
    }
}

/// What an omitted argument means anyway: null, `""`, `[]`, `{}` or `false`.
fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.is_empty(),
        Value::Number(_) | Value::Bool(true) => false,
    }
}

/// `{"type": [T, "null"]}` → `{"type": T}`, and `null` out of its `enum`: an optional argument is
/// left out rather than sent as null.
fn drop_null_type(object: &mut JsonObject) {
    let Some(Value::Array(types)) = object.get("type") else { return };
    let [only, null] = types.as_slice() else { return };
    if *null != json!("null") {
        return;
    }
    let only = only.clone();
    object.insert("type".into(), only);
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
}

/// A description such as "`owner` or `operator`." says no more than the `enum` beside it.
fn lists_only_its_enum(object: &JsonObject) -> bool {
    let (Some(Value::String(description)), Some(Value::Array(values))) =
        (object.get("description"), object.get("enum"))
    else {
        return false;
    };
    let mut rest = description.clone();
    for value in values.iter().filter_map(Value::as_str) {
        rest = rest.replace(&format!("`{value}`"), "");
    }
    rest.split([',', '.', ' ']).all(|word| word.is_empty() || word == "or")
}

/// `{"anyOf": [{"type": T, …}, {"type": "null"}]}` → `{"type": T, …}`, when the first branch is a
/// plain typed schema whose keys the site does not have already.
fn fold_nullable(object: &mut JsonObject) {
    let Some(Value::Array(branches)) = object.get("anyOf") else { return };
    let [Value::Object(some), null] = branches.as_slice() else { return };
    let clashes = |k: &String| k != "description" && object.contains_key(k);
    let plain = matches!(some.get("type"), Some(Value::String(_)))
        && !some.keys().any(|k| clashes(k) || ["anyOf", "oneOf", "allOf", "$ref", "const"].contains(&k.as_str()));
    if !plain || *null != json!({"type": "null"}) {
        return;
    }
    let some = some.clone();
    object.remove("anyOf");
    for (key, v) in some {
        object.entry(key).or_insert(v);
    }
}

#[cfg(test)]
mod tests;
