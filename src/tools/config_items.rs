//! Config edits by item: read, add, merge-patch or remove one item of a part's or a fragment's
//! config. Each write reads the config and its `last_updated`, changes the one item in the
//! config's JSON text and sends one update carrying `last_known_update`, so a concurrent change
//! makes it fail (`conflict`) instead of being overwritten.
pub(super) mod edit;

pub(super) use edit::config_changes;

use super::args::{Id, to_struct};
use super::{App, BoxFuture, CallContext, Row, ToolResult, custom, custom_with_preview, row, schema_object};
use crate::call::ScopeArg::PartOrFragment;
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;
use crate::proto_json::to_json;
use crate::safety::redact;
use edit::{Applied, Change, Config, KNOWN_KINDS, Refusal};
use prost_types::Timestamp;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The most a whole config may take in a result; a bigger one comes back as its item names.
const WHOLE_CONFIG_BUDGET: usize = 16 * 1024;

pub(super) fn rows() -> Vec<Row> {
    vec![
        row!(
            get_config_items,
            Read,
            custom::<_, app::GetRobotPartResponse>(READ, get_config_items).with_output(read_output)
        )
        .configs(),
        row!(
            add_config_item,
            Additive,
            custom::<_, app::UpdateRobotPartResponse>(WRITE, add_config_item).with_output(write_output)
        )
        .configs()
        .dry_run()
        .scope(&[PartOrFragment])
        .verify("get_config_items"),
        row!(
            update_config_item,
            Mutating,
            custom::<_, app::UpdateRobotPartResponse>(WRITE, update_config_item).with_output(write_output)
        )
        .configs()
        .dry_run()
        .scope(&[PartOrFragment])
        .verify("get_config_items"),
        row!(
            remove_config_item,
            Destructive,
            custom_with_preview::<_, app::UpdateRobotPartResponse>(
                WRITE,
                remove_config_item,
                remove_config_item_preview
            )
            .with_output(write_output)
        )
        .configs()
        .dry_run()
        .scope(&[PartOrFragment])
        .verify("get_config_items"),
    ]
}

const READ: &str = "GetRobotPart | GetFragment";
const WRITE: &str = "UpdateRobotPart | UpdateFragment";

// The results are not response messages but items and diffs, so their schemas are given here.
fn target_properties() -> Value {
    json!({
        "robot_part_id": {"type": "string"},
        "fragment_id": {"type": "string"},
        "last_updated": {"type": ["string", "null"], "format": "date-time"},
        "message": {"type": "string"},
    })
}

fn read_output() -> Map<String, Value> {
    let mut properties = target_properties();
    properties["config"] = json!({"type": "object"});
    properties["items"] = json!({"type": "object", "additionalProperties": {"type": "array"}});
    properties["names"] = json!({"type": "object", "additionalProperties": {"type": "array"}});
    schema_object(json!({"type": "object", "properties": properties}))
}

fn write_output() -> Map<String, Value> {
    let mut properties = target_properties();
    for (name, schema) in [
        ("kind", json!({"type": "string"})),
        ("name", json!({"type": "string"})),
        ("added", json!({})),
        ("removed", json!({})),
        ("changed", json!({"type": "object"})),
        ("referenced_by", json!({"type": "array"})),
        ("dry_run", json!({"type": "boolean"})),
        ("unchanged", json!({"type": "boolean"})),
    ] {
        properties[name] = schema;
    }
    schema_object(json!({"type": "object", "properties": properties, "required": ["kind", "name", "last_updated"]}))
}

/// Whose config a call edits.
#[derive(Debug, Clone)]
pub(super) enum Target {
    Part(String),
    Fragment(String),
}

impl Target {
    /// Exactly one of the two ids; otherwise the problem, naming both arguments.
    fn from_args(part: &Option<Id>, fragment: &Option<Id>, problems: &mut Vec<String>) -> Option<Self> {
        match (part, fragment) {
            (Some(part), None) => Some(Self::Part(part.0.clone())),
            (None, Some(fragment)) => Some(Self::Fragment(fragment.0.clone())),
            _ => {
                problems.push("robot_part_id, fragment_id: give exactly one of them".into());
                None
            }
        }
    }

    fn argument(&self) -> (&'static str, &str) {
        match self {
            Self::Part(id) => ("robot_part_id", id),
            Self::Fragment(id) => ("fragment_id", id),
        }
    }

    /// `{"robot_part_id": id}` or `{"fragment_id": id}`, plus `more`.
    fn with(&self, more: Value) -> Map<String, Value> {
        let (argument, id) = self.argument();
        let mut out = Map::from_iter([(argument.to_string(), json!(id))]);
        if let Value::Object(more) = more {
            out.extend(more);
        }
        out
    }

    fn what(&self) -> String {
        match self {
            Self::Part(id) => format!("part {id:?}"),
            Self::Fragment(id) => format!("fragment {id:?}"),
        }
    }
}

/// A config as read, with what an update must send back unchanged.
pub(super) struct Current {
    pub(super) name: String,
    pub(super) text: String,
    pub(super) last_updated: Option<Timestamp>,
}

impl Current {
    fn last_updated(&self) -> Value {
        time_json(self.last_updated.as_ref())
    }

    pub(super) fn config(&self, target: &Target) -> Result<Config, ToolError> {
        Config::parse(&self.text).map_err(|e| ToolError::local(format!("{}: {e}", target.what())))
    }

    fn value(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| json!({}))
    }
}

pub(super) fn time_json(time: Option<&Timestamp>) -> Value {
    let time = time.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32));
    time.map_or(Value::Null, |t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
}

/// Reads the config as text: the `*_config_json` the service sends keeps integers exact; a
/// service that sends none gets its `Struct` written out.
pub(super) async fn read(app: &App, target: &Target) -> Result<Current, ToolError> {
    let given = |text: Option<String>| text.filter(|t| !t.trim().is_empty());
    match target {
        Target::Part(id) => {
            let request = app::GetRobotPartRequest { id: id.clone() };
            let response = app.read(request).await?;
            let part = response.part.unwrap_or_default();
            let text = given(Some(response.config_json))
                .or_else(|| given(part.robot_config_json.clone()))
                .unwrap_or_else(|| to_json(&part)["robot_config"].to_string());
            Ok(Current { name: part.name, text, last_updated: part.last_updated })
        }
        Target::Fragment(id) => {
            let request = app::GetFragmentRequest { id: id.clone(), ..Default::default() };
            let response = app.read(request).await?;
            let fragment = response.fragment.unwrap_or_default();
            let text = given(fragment.fragment_config_json.clone())
                .unwrap_or_else(|| to_json(&fragment)["fragment"].to_string());
            Ok(Current { name: fragment.name, text, last_updated: fragment.last_updated })
        }
    }
}

/// The one update: the name as read, the new config text, and `last_known_update`. A fragment
/// also gets the config as a `Struct`, which is all the SDK sends there.
pub(super) async fn write(
    cx: &CallContext,
    target: &Target,
    current: &Current,
    text: String,
) -> Result<Option<Timestamp>, ToolError> {
    let last_known_update = current.last_updated;
    let updated = match target {
        Target::Part(id) => {
            let request = app::UpdateRobotPartRequest {
                id: id.clone(),
                name: current.name.clone(),
                robot_config: None,
                last_known_update,
                robot_config_json: Some(text),
            };
            cx.unary(request).await?.part.and_then(|p| p.last_updated)
        }
        Target::Fragment(id) => {
            let config: Map<String, Value> =
                serde_json::from_str(&text).map_err(|e| ToolError::local(e.to_string()))?;
            let request = app::UpdateFragmentRequest {
                id: id.clone(),
                name: current.name.clone(),
                config: Some(to_struct(&config)),
                public: None,
                visibility: None,
                last_known_update,
                fragment_config_json: Some(text),
            };
            cx.unary(request).await?.fragment.and_then(|f| f.last_updated)
        }
    };
    Ok(updated)
}

fn refused(refusal: Refusal) -> ToolError {
    match refusal {
        Refusal::Invalid(message) | Refusal::Missing(message) => ToolError::invalid(message),
        Refusal::Duplicate { message, existing } => ToolError::Refused {
            code: "already_exists",
            message: format!("item: {message}; the existing item is shown: change it with update_config_item"),
            detail: Map::from_iter([("existing".to_string(), existing.clone())]),
        },
    }
}

/// Refuses blank strings, collecting the problem under the argument's name.
fn non_empty(argument: &str, value: &str, problems: &mut Vec<String>) {
    if value.trim().is_empty() {
        problems.push(format!("{argument}: must not be empty"));
    }
}

fn invalid(problems: Vec<String>) -> ToolError {
    ToolError::invalid(problems.join("; "))
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GetArgs {
    #[serde(default)]
    robot_part_id: Option<Id>,
    #[serde(default)]
    fragment_id: Option<Id>,
    /// components, services, modules, processes, remotes, packages, fragments or another top-level list;
    /// omitted = all.
    #[serde(default)]
    kind: Option<String>,
    /// For fragments the fragment id, for processes the id; omitted = all.
    #[serde(default)]
    name: Option<String>,
}

fn get_config_items(cx: Arc<CallContext>, a: GetArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let mut problems = Vec::new();
        let target = Target::from_args(&a.robot_part_id, &a.fragment_id, &mut problems);
        for (argument, value) in [("kind", &a.kind), ("name", &a.name)] {
            if let Some(value) = value {
                non_empty(argument, value, &mut problems);
            }
        }
        let Some(target) = target.filter(|_| problems.is_empty()) else { return Err(invalid(problems)) };
        let current = read(&cx.app, &target).await?;
        let config = current.config(&target)?;
        let mut out = target.with(json!({"last_updated": current.last_updated()}));
        if a.kind.is_none() && a.name.is_none() {
            let whole = current.value();
            let size = whole.to_string().len();
            if size <= WHOLE_CONFIG_BUDGET {
                out.insert("config".into(), whole);
            } else {
                out.insert("names".into(), names(&config)?);
                out.insert(
                    "message".into(),
                    json!(format!(
                        "the whole config is {size} bytes, over the {WHOLE_CONFIG_BUDGET} a result may carry; \
                         these are its items by kind: read them by kind and name"
                    )),
                );
            }
            return Ok(Value::Object(out));
        }
        let kinds = match &a.kind {
            Some(kind) => vec![kind.as_str()],
            None => config.kinds(),
        };
        let mut items = Map::new();
        for kind in kinds {
            let matching: Vec<Value> = config
                .items(kind)
                .map_err(refused)?
                .into_iter()
                .map(|(_, item)| item)
                .filter(|item| a.name.is_none() || edit::name_of(kind, item) == a.name.as_deref())
                .collect();
            if !matching.is_empty() || a.name.is_none() {
                items.insert(kind.to_string(), Value::Array(matching));
            }
        }
        if items.is_empty() {
            out.insert("message".into(), json!("no item matches; these are the items by kind"));
            out.insert("names".into(), names(&config)?);
        }
        out.insert("items".into(), Value::Object(items));
        Ok(Value::Object(out))
    })
}

/// Every kind's item names.
fn names(config: &Config) -> Result<Value, ToolError> {
    let mut names = Map::new();
    for kind in config.kinds() {
        let items = config.items(kind).map_err(|_| ToolError::local(format!("{kind} is not a list")))?;
        let named = items.iter().map(|(_, item)| json!(edit::name_of(kind, item))).collect();
        names.insert(kind.to_string(), Value::Array(named));
    }
    Ok(Value::Object(names))
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AddArgs {
    #[serde(default)]
    robot_part_id: Option<Id>,
    #[serde(default)]
    fragment_id: Option<Id>,
    /// components, services, modules, processes, remotes, packages, fragments or another list the config has.
    kind: String,
    /// Components and services need name, api or type, and model; modules need name and module_id or
    /// executable_path; for fragments, the fragment id.
    item: Item,
    /// Show the change, write nothing.
    #[serde(default)]
    dry_run: bool,
}

/// A new item: a JSON object, or a string (a fragment id).
#[derive(Debug, Clone)]
struct Item(Value);

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            item @ (Value::Object(_) | Value::String(_)) => Ok(Self(item)),
            other => Err(serde::de::Error::custom(format!(
                "expected a JSON object, or for fragments the fragment id as a string; got {other}"
            ))),
        }
    }
}

impl JsonSchema for Item {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Item".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": ["object", "string"]})
    }
}

fn add_config_item(cx: Arc<CallContext>, a: AddArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let mut problems = Vec::new();
        let target = Target::from_args(&a.robot_part_id, &a.fragment_id, &mut problems);
        non_empty("kind", &a.kind, &mut problems);
        let shape = edit::shape_problems(&a.kind, &a.item.0);
        if !shape.is_empty() {
            problems.push(format!("item: {}", shape.join("; ")));
        }
        let Some(target) = target.filter(|_| problems.is_empty()) else { return Err(invalid(problems)) };
        if a.kind == "fragments" {
            let id = edit::name_of("fragments", &a.item.0).unwrap_or_default().to_string();
            let request = app::GetFragmentRequest { id: id.clone(), ..Default::default() };
            match cx.app.read(request).await {
                Err(ToolError::Grpc { code: tonic::Code::NotFound, .. }) => {
                    return Err(ToolError::invalid(format!("item: no fragment has the id {id:?}")));
                }
                other => other?,
            };
        }
        edit_item(&cx, &target, &a.kind, Change::Add(a.item.0), a.dry_run).await
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateArgs {
    #[serde(default)]
    robot_part_id: Option<Id>,
    #[serde(default)]
    fragment_id: Option<Id>,
    /// e.g. components.
    kind: String,
    /// For processes: its id.
    name: String,
    /// RFC 7386: {"attributes": {"pin": "12"}} changes one attribute, null removes a key.
    patch: Map<String, Value>,
    /// Show the change, write nothing.
    #[serde(default)]
    dry_run: bool,
}

fn update_config_item(cx: Arc<CallContext>, a: UpdateArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let mut problems = Vec::new();
        let target = Target::from_args(&a.robot_part_id, &a.fragment_id, &mut problems);
        non_empty("kind", &a.kind, &mut problems);
        non_empty("name", &a.name, &mut problems);
        if a.patch.is_empty() {
            problems.push("patch: must change something (an empty patch changes nothing)".into());
        }
        let Some(target) = target.filter(|_| problems.is_empty()) else { return Err(invalid(problems)) };
        let change = Change::Update { name: a.name, patch: Value::Object(a.patch) };
        edit_item(&cx, &target, &a.kind, change, a.dry_run).await
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RemoveArgs {
    #[serde(default)]
    robot_part_id: Option<Id>,
    #[serde(default)]
    fragment_id: Option<Id>,
    /// e.g. components.
    kind: String,
    /// For fragments the fragment id, for processes the id.
    name: String,
    /// Show the change, write nothing (no confirmation needed).
    #[serde(default)]
    dry_run: bool,
}

impl RemoveArgs {
    fn target(&self) -> Result<Target, ToolError> {
        let mut problems = Vec::new();
        let target = Target::from_args(&self.robot_part_id, &self.fragment_id, &mut problems);
        non_empty("kind", &self.kind, &mut problems);
        non_empty("name", &self.name, &mut problems);
        target.filter(|_| problems.is_empty()).ok_or_else(|| invalid(problems))
    }
}

fn remove_config_item(cx: Arc<CallContext>, a: RemoveArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let target = a.target()?;
        edit_item(&cx, &target, &a.kind, Change::Remove { name: a.name }, a.dry_run).await
    })
}

/// The item as it is now, and the items that name it.
fn remove_config_item_preview(app: Arc<App>, a: RemoveArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let target = a.target()?;
        let current = read(&app, &target).await?;
        let change = Change::Remove { name: a.name.clone() };
        let applied = edit::apply(current.config(&target)?, &a.kind, &change).map_err(refused)?;
        let item = applied.before.unwrap_or_default();
        Ok(Value::Object(target.with(json!({
            "kind": a.kind,
            "name": a.name,
            "item": item.clone(),
            "referenced_by": edit::references(&current.value(), &a.kind, &a.name),
            "last_updated": current.last_updated(),
        }))))
    })
}

/// Reads, works out the change, and writes it with `last_known_update` unless it is a no-op or
/// a dry run. The result is the one item's diff and the new `last_updated`.
async fn edit_item(cx: &CallContext, target: &Target, kind: &str, change: Change, dry_run: bool) -> ToolResult {
    let app = &cx.app;
    let current = read(app, target).await?;
    let config = current.config(target)?;
    if matches!(change, Change::Add(_)) && !KNOWN_KINDS.contains(&kind) && !config.kinds().contains(&kind) {
        return Err(ToolError::invalid(format!(
            "kind: {kind:?} is neither a known kind ({}) nor a list this config has ({})",
            KNOWN_KINDS.join(", "),
            config.kinds().join(", ")
        )));
    }
    let applied = edit::apply(config, kind, &change).map_err(refused)?;
    let name = match (&change, &applied.after) {
        (Change::Add(item), _) => edit::name_of(kind, item).unwrap_or_default().to_string(),
        (Change::Update { .. }, Some(after)) => edit::name_of(kind, after).unwrap_or_default().to_string(),
        (Change::Update { name, .. } | Change::Remove { name }, _) => name.clone(),
    };
    let mut out = target.with(json!({"kind": kind, "name": name}));
    describe(&applied, &mut out);
    if matches!(change, Change::Remove { .. }) {
        out.insert("referenced_by".into(), json!(edit::references(&current.value(), kind, &name)));
    }
    let Some(text) = applied.text else {
        out.insert("unchanged".into(), json!(true));
        out.insert("message".into(), json!("the item already is so: nothing was sent"));
        out.insert("last_updated".into(), current.last_updated());
        return Ok(Value::Object(out));
    };
    if dry_run {
        out.insert("dry_run".into(), json!(true));
        out.insert("message".into(), json!("dry run: nothing was written"));
        out.insert("last_updated".into(), current.last_updated());
        return Ok(Value::Object(out));
    }
    let original = match &change {
        Change::Update { name, .. } => name.clone(),
        _ => name,
    };
    match write(cx, target, &current, text).await {
        Ok(last_updated) => {
            out.insert("last_updated".into(), time_json(last_updated.as_ref()));
            Ok(Value::Object(out))
        }
        Err(e) => Err(write_failed(app, e, target, kind, &original).await),
    }
}

/// The diff of the one item: what was added or removed, or the changed paths.
pub(super) fn describe(applied: &Applied, out: &mut Map<String, Value>) {
    match (&applied.before, &applied.after) {
        (None, Some(added)) => {
            out.insert("added".into(), added.clone());
        }
        (Some(removed), None) => {
            out.insert("removed".into(), removed.clone());
        }
        (Some(before), Some(after)) => {
            // Values come from redacted copies: a path under a secret object (`auth.user`) has
            // no secret-looking name of its own. The written config keeps every value.
            let redacted = |item: &Value| {
                let mut shown = item.clone();
                redact::redact_config_items(&mut shown);
                shown
            };
            out.insert("changed".into(), edit::item_diff(before, after, &redacted(before), &redacted(after)));
        }
        (None, None) => {}
    }
}

/// How a refused or unanswered update is reported.
#[derive(Debug, PartialEq)]
pub(super) enum Failure {
    /// The service refused a stale `last_known_update`.
    Conflict,
    /// No answer came back: the update may or may not have been applied.
    Unknown,
    Other,
}

pub(super) fn classify(error: &ToolError) -> Failure {
    use tonic::Code::*;
    match error {
        ToolError::Grpc { code: FailedPrecondition | Aborted, .. } => Failure::Conflict,
        ToolError::OutcomeUnknown { .. } => Failure::Unknown,
        _ => Failure::Other,
    }
}

/// A conflict shows the item as it is now (read again; never retried); an unanswered write
/// names the read that tells whether it landed.
async fn write_failed(app: &App, error: ToolError, target: &Target, kind: &str, name: &str) -> ToolError {
    let (argument, id) = target.argument();
    let verify = json!({argument: id, "kind": kind, "name": name});
    match classify(&error) {
        Failure::Other => error,
        Failure::Unknown => outcome_unknown(error, &verify),
        Failure::Conflict => {
            let now = read(app, target).await.ok();
            let item = now.as_ref().and_then(|current| {
                let items = current.config(target).ok()?.items(kind).ok()?;
                items.into_iter().map(|(_, item)| item).find(|item| edit::name_of(kind, item) == Some(name))
            });
            let detail = Map::from_iter([
                ("now".to_string(), item.unwrap_or(Value::Null)),
                ("last_updated".to_string(), now.map_or(Value::Null, |c| c.last_updated())),
            ]);
            ToolError::Refused {
                code: "conflict",
                message: format!(
                    "{} changed after it was read, so nothing was written ({error}). `now` is the item as it is \
                     now (null: it is gone); redo the edit against it",
                    target.what()
                ),
                detail,
            }
        }
    }
}

/// Names the exact read that shows whether an unanswered write landed.
fn outcome_unknown(error: ToolError, verify: &Value) -> ToolError {
    match error {
        ToolError::OutcomeUnknown { message, .. } => ToolError::OutcomeUnknown {
            message: format!("{message}. Call get_config_items {verify} to see the item as it is now"),
            verify: Some("get_config_items"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stale_update_is_a_conflict_and_a_lost_reply_names_the_read() {
        let status = |code| ToolError::from(tonic::Status::new(code, "x"));
        assert_eq!(classify(&status(tonic::Code::FailedPrecondition)), Failure::Conflict);
        assert_eq!(classify(&status(tonic::Code::InvalidArgument)), Failure::Other);
        let lost =
            ToolError::OutcomeUnknown { message: "UpdateRobotPart failed after it was sent".into(), verify: None };
        assert_eq!(classify(&lost), Failure::Unknown);
        let verify = json!({"robot_part_id": "p1", "kind": "components", "name": "cam"});
        let error = outcome_unknown(lost, &verify).to_json();
        assert_eq!(error["error"], json!("outcome_unknown"));
        assert_eq!(error["verify_with"], json!("get_config_items"));
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("get_config_items") && message.contains("\"p1\""), "{message}");
    }

    #[test]
    fn exactly_one_target_is_taken() {
        let id = |s: &str| Some(Id(s.into()));
        let mut problems = Vec::new();
        assert!(matches!(Target::from_args(&id("p"), &None, &mut problems), Some(Target::Part(p)) if p == "p"));
        assert!(Target::from_args(&id("p"), &id("f"), &mut problems).is_none());
        assert!(Target::from_args(&None, &None, &mut problems).is_none());
        assert_eq!(problems.len(), 2);
        assert!(problems[0].contains("robot_part_id") && problems[0].contains("fragment_id"));
    }

    #[test]
    fn times_are_rfc3339() {
        let t = Timestamp { seconds: 1_704_164_645, nanos: 678_000_000 };
        assert_eq!(time_json(Some(&t)), json!("2024-01-02T03:04:05.678Z"));
        assert_eq!(time_json(None), Value::Null);
    }
}
