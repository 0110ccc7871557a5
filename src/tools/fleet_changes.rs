//! Fleet changes: one config item change planned once across many parts, then rolled out in the
//! server in waves with health checks, halted on failure, stopped, and rolled back. The plan reads
//! every selected part's config (16 reads at once) and keeps what it found in the journal under
//! `--state-dir`; its token is a sealed reference to that plan file (a 2,000-part plan is hundreds
//! of kilobytes, too large to carry), bound to its bytes and expiring after an hour.
mod record;
mod rollout;

use super::args::Id;
use super::config_items::edit::{self, Change, Refusal, Saved};
use super::config_items::{self, Target, time_json};
use super::machines::fleet_view::{Filter, main_state, read_summaries};
use super::{App, BoxFuture, CallContext, Row, ToolResult, custom, custom_with_preview, row, schema_object};
use crate::call::ScopeArg::Targets;
use crate::error::ToolError;
use crate::journal::{Journal, new_id};
use crate::proto::viam::app::v1 as app;
use futures::StreamExt;
use prost_types::Timestamp;
use record::ChangeRecord;
use rollout::{Edit, Event, Job, Rollout, Settings, now, parse_time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The most parts one change may target.
pub const MAX_TARGETS: usize = 20_000;
/// How long a plan may be applied.
const PLAN_TTL: Duration = Duration::from_secs(3600);
/// Examples shown per group and per skip reason.
const EXAMPLES: usize = 3;
/// Parts an apply or rollback result names as failed or in conflict.
const NAMED: usize = 10;
/// The order of get_fleet_change's parts: these outcomes first, then the rest as rolled out.
const PROBLEMS_FIRST: [&str; 5] = ["failed", "error", "outcome_unknown", "conflict", "not_written"];
/// Recorded changes list_fleet_changes reads.
const LISTED: usize = 50;

pub(super) fn rows() -> Vec<Row> {
    vec![
        row!(plan_fleet_change, Read, custom::<_, app::GetRobotPartResponse>(PLAN, plan).with_output(object)).configs(),
        row!(
            apply_fleet_change,
            Destructive,
            custom_with_preview::<_, app::UpdateRobotPartResponse>(WRITE, apply, apply_preview).with_output(object)
        )
        .configs()
        .scope(&[Targets])
        .verify("get_fleet_change"),
        // The rows are not RobotParts: GetRobotPartsResponse names the paged list `parts`.
        row!(get_fleet_change, Read, custom::<_, app::GetRobotPartsResponse>(READ, get).with_output(object))
            .configs()
            .pages(&["parts"]),
        row!(list_fleet_changes, Read, custom::<_, app::GetRobotPartResponse>(READ, list).with_output(object)),
        row!(stop_fleet_change, Mutating, custom::<_, app::GetRobotPartResponse>(READ, stop).with_output(object))
            .scope(&[Targets])
            .verify("get_fleet_change"),
        row!(
            rollback_fleet_change,
            Destructive,
            custom_with_preview::<_, app::UpdateRobotPartResponse>(WRITE, rollback, rollback_preview)
                .with_output(object)
        )
        .configs()
        .scope(&[Targets])
        .verify("get_fleet_change"),
    ]
}

const PLAN: &str = "ListMachineSummaries, GetRobotPart";
const WRITE: &str = "GetRobotPart, UpdateRobotPart, GetRobotPartLogs";
const READ: &str = "(the fleet change journal)";

fn object() -> Map<String, Value> {
    schema_object(json!({"type": "object"}))
}

/// Runs `f` on every item, at most `limit` at once; results in the order they finish.
async fn bounded<I, T, Fut: Future<Output = T>>(items: Vec<I>, limit: usize, f: impl FnMut(I) -> Fut) -> Vec<T> {
    futures::stream::iter(items).map(f).buffer_unordered(limit).collect().await
}

fn timestamp(text: &str) -> Option<Timestamp> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    Some(Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 })
}

fn journal_error(message: String) -> ToolError {
    ToolError::local(message)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
enum ChangeOp {
    #[serde(rename = "add_item")]
    Add,
    #[serde(rename = "update_item")]
    Update,
    #[serde(rename = "remove_item")]
    Remove,
}

/// The change, as plan_fleet_change takes it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ChangeArg {
    op: ChangeOp,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    item: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    patch: Option<Map<String, Value>>,
}

impl ChangeArg {
    /// The change, its item's name before and its name after; or what is wrong with it.
    fn edit(&self) -> Result<(Change, String, String), Vec<String>> {
        let mut problems = Vec::new();
        let kind = &self.kind;
        if kind.trim().is_empty() {
            problems.push("change.kind: must not be empty".to_string());
        }
        let name = self.name.clone().unwrap_or_default();
        let mut given = |field: &str, present: bool, wanted: bool| {
            if present != wanted {
                let op = serde_json::to_value(self.op).unwrap_or_default();
                let needs = if wanted { "needs" } else { "takes no" };
                problems.push(format!("change.{field}: {op} {needs} {field}"));
            }
        };
        given("item", self.item.is_some(), self.op == ChangeOp::Add);
        given("name", self.name.as_deref().is_some_and(|n| !n.trim().is_empty()), self.op != ChangeOp::Add);
        given("patch", self.patch.is_some(), self.op == ChangeOp::Update);
        let out = match self.op {
            ChangeOp::Add => {
                let item = self.item.clone().unwrap_or_default();
                let shape = edit::shape_problems(kind, &item);
                if self.item.is_some() && !shape.is_empty() {
                    problems.push(format!("change.item: {}", shape.join("; ")));
                }
                let name = edit::name_of(kind, &item).unwrap_or_default().to_string();
                (Change::Add(item), name.clone(), name)
            }
            ChangeOp::Update => {
                let patch = self.patch.clone().unwrap_or_default();
                if self.patch.as_ref().is_some_and(Map::is_empty) {
                    problems.push("change.patch: must change something".into());
                }
                let renamed = patch.get(edit::key_field(kind)).and_then(Value::as_str).unwrap_or(&name).to_string();
                (Change::Update { name: name.clone(), patch: Value::Object(patch) }, name, renamed)
            }
            ChangeOp::Remove => (Change::Remove { name: name.clone() }, name.clone(), name),
        };
        if problems.is_empty() { Ok(out) } else { Err(problems) }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PlanArgs {
    org_id: Id,
    #[serde(default)]
    location_ids: Vec<Id>,
    #[serde(default)]
    fragment_ids: Vec<Id>,
    #[serde(default)]
    machine_ids: Vec<Id>,
    /// Machine name, case-insensitive.
    #[serde(default)]
    name_contains: Option<String>,
    #[serde(default)]
    online_state: Option<Filter>,
    /// Default true.
    #[serde(default)]
    main_part_only: Option<bool>,
    /// add_item: item (a fragment: its id); update_item: name, RFC 7386 patch; remove_item: name.
    change: ChangeArg,
}

/// A part the plan selected.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Selected {
    part: String,
    machine: String,
    location: String,
    online: bool,
}

fn plan(cx: Arc<CallContext>, a: PlanArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let lists =
            [("location_ids", &a.location_ids), ("fragment_ids", &a.fragment_ids), ("machine_ids", &a.machine_ids)];
        let mut problems: Vec<String> = lists
            .iter()
            .filter(|(_, ids)| ids.len() > MAX_TARGETS)
            .map(|(name, _)| format!("{name}: at most {MAX_TARGETS} ids"))
            .collect();
        let edit = a.change.edit().map_err(|more| problems.extend(more));
        let Ok((change, name, name_after)) = edit.and_then(|e| if problems.is_empty() { Ok(e) } else { Err(()) })
        else {
            return Err(ToolError::invalid(problems.join("; ")));
        };
        let kind = a.change.kind.clone();
        if a.change.op == ChangeOp::Add && kind == "fragments" {
            let request = app::GetFragmentRequest { id: name.clone(), ..Default::default() };
            if let Err(ToolError::Grpc { code: tonic::Code::NotFound, .. }) = cx.app.read(request).await {
                return Err(ToolError::invalid(format!("change.item: no fragment has the id {name:?}")));
            }
        }
        let selected = select(&cx.app, &a).await?;
        let org = a.org_id.0.clone();
        let journal = &cx.app.journal;
        let (selected, outside): (Vec<Selected>, Vec<Selected>) =
            selected.into_iter().partition(|s| journal.scope.check_part(&s.part, &s.location, &org).is_ok());
        let mut skipped: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for s in &outside {
            skipped
                .entry("out_of_scope")
                .or_default()
                .push(json!({"robot_part_id": s.part, "machine_name": s.machine}));
        }
        let app = cx.app.clone();
        let reads = bounded(selected, rollout::CONCURRENCY, |s| {
            let app = app.clone();
            async move {
                let read = config_items::read(&app, &Target::Part(s.part.clone())).await;
                (s, read)
            }
        })
        .await;
        let mut groups: Vec<(String, Value, Vec<Selected>)> = Vec::new();
        let mut targets = Vec::new();
        for (s, read) in reads {
            let example = json!({"robot_part_id": s.part, "machine_name": s.machine});
            let current = match read {
                Ok(current) => current,
                Err(e) => {
                    skipped.entry("unreadable").or_default().push(with_message(example, e.to_string()));
                    continue;
                }
            };
            let outcome = current.config(&Target::Part(s.part.clone())).map_err(|e| Refusal::Invalid(e.to_string()));
            let applied = outcome.and_then(|config| edit::apply(config, &kind, &change));
            let (reason, message) = match applied {
                Ok(applied) if applied.text.is_some() => {
                    let mut diff = Map::new();
                    config_items::describe(&applied, &mut diff);
                    let shown = group_diff(diff);
                    let key = shown.to_string();
                    let group = match groups.iter().position(|(k, _, _)| *k == key) {
                        Some(g) => g,
                        None => {
                            groups.push((key, shown, Vec::new()));
                            groups.len() - 1
                        }
                    };
                    targets.push(json!({
                        "part": s.part, "machine": s.machine, "location": s.location, "online": s.online,
                        "expect": time_json(current.last_updated.as_ref()), "group": group,
                    }));
                    groups[group].2.push(s);
                    continue;
                }
                Ok(_) => ("already_so", None),
                Err(Refusal::Missing(message)) => ("item_not_found", Some(message)),
                Err(Refusal::Duplicate { existing, message }) => match &change {
                    Change::Add(item) if edit::same_json(&existing, item) => ("already_so", None),
                    _ => ("invalid", Some(message)),
                },
                Err(Refusal::Invalid(message)) => ("invalid", Some(message)),
            };
            let example = match message {
                Some(message) => with_message(example, message),
                None => example,
            };
            skipped.entry(reason).or_default().push(example);
        }
        if targets.len() > MAX_TARGETS {
            return Err(ToolError::invalid(format!(
                "the selection has {} parts to change, more than the {MAX_TARGETS} one change may target; narrow it \
                 (location_ids, machine_ids, name_contains)",
                targets.len()
            )));
        }
        let plan_id = new_id("fp");
        let created = now();
        let expires = (chrono::Utc::now() + PLAN_TTL).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let groups: Vec<Value> = groups
            .into_iter()
            .map(|(_, diff, parts)| {
                let examples: Vec<Value> = parts
                    .iter()
                    .take(EXAMPLES)
                    .map(|s| json!({"robot_part_id": s.part, "machine_name": s.machine}))
                    .collect();
                json!({"diff": diff, "count": parts.len(), "examples": examples})
            })
            .collect();
        let skipped: Map<String, Value> = skipped
            .into_iter()
            .map(|(reason, parts)| {
                let examples: Vec<Value> = parts.iter().take(EXAMPLES).cloned().collect();
                (reason.to_string(), json!({"count": parts.len(), "examples": examples}))
            })
            .collect();
        let n = targets.len();
        let defaults = Defaults::of(n);
        let summary = json!({
            "org_id": org, "change": a.change, "kind": kind, "name": name, "name_after": name_after,
            "targets": n, "groups": groups, "skipped": skipped, "waves": defaults.waves(n),
        });
        let plan_file = json!({"plan_id": plan_id, "created": created, "expires": expires, "summary": summary,
                               "targets": targets});
        let bytes = journal.save_plan(&plan_id, &plan_file).map_err(journal_error)?;
        let sealed = journal.seal(&json!({"plan_id": plan_id}), &bytes, PLAN_TTL).map_err(journal_error)?;
        let mut out = summary;
        let out_map = out.as_object_mut().expect("the summary is an object");
        for key in ["kind", "name", "name_after"] {
            out_map.remove(key);
        }
        out["plan"] = json!(format!("{plan_id}.{sealed}"));
        out["expires"] = json!(expires);
        out["message"] = json!(if n == 0 {
            "nothing to change: every selected part was skipped".to_string()
        } else {
            format!("{n} part(s) to change; apply_fleet_change with this plan rolls it out in the waves shown")
        });
        Ok(out)
    })
}

fn with_message(mut example: Value, message: String) -> Value {
    example["message"] = json!(message);
    example
}

/// The diff a group shares: what the parts become, without each part's own earlier values.
fn group_diff(mut diff: Map<String, Value>) -> Value {
    if let Some(Value::Object(changed)) = diff.get_mut("changed") {
        for change in changed.values_mut() {
            if let Some(change) = change.as_object_mut() {
                change.remove("from");
            }
        }
    }
    Value::Object(diff)
}

/// The parts the selection names: from one ListMachineSummaries, filtered here as
/// list_machine_summaries filters.
async fn select(app: &App, a: &PlanArgs) -> Result<Vec<Selected>, ToolError> {
    let response = read_summaries(app, &a.org_id, &a.fragment_ids, &a.location_ids).await?;
    let needle = a.name_contains.as_deref().map(str::to_lowercase);
    let main_only = a.main_part_only.unwrap_or(true);
    let mut selected = Vec::new();
    for location in response.location_summaries {
        for machine in location.machine_summaries {
            let wanted = a.online_state.is_none_or(|f| f.state() == main_state(&machine))
                && needle.as_deref().is_none_or(|n| machine.machine_name.to_lowercase().contains(n))
                && (a.machine_ids.is_empty() || a.machine_ids.iter().any(|id| id.0 == machine.machine_id));
            if !wanted {
                continue;
            }
            for part in machine.part_summaries.iter().filter(|p| p.is_main_part || !main_only) {
                selected.push(Selected {
                    part: part.part_id.clone(),
                    machine: machine.machine_name.clone(),
                    location: location.location_id.clone(),
                    online: part.online_state == app::OnlineState::Online as i32,
                });
                if selected.len() > MAX_TARGETS {
                    return Err(ToolError::invalid(format!(
                        "the selection has more than {MAX_TARGETS} parts; narrow it (location_ids, machine_ids, \
                         name_contains)"
                    )));
                }
            }
        }
    }
    Ok(selected)
}

/// The default waves for `n` targets.
struct Defaults {
    canary: usize,
    wave_size: usize,
}

impl Defaults {
    fn of(n: usize) -> Self {
        Self { canary: one() as usize, wave_size: (n / 10).max(1) }
    }

    fn waves(&self, n: usize) -> Value {
        let waves = rollout::waves(n, self.canary, self.wave_size);
        json!({"canary": self.canary, "wave_size": self.wave_size, "count": waves.len()})
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ApplyArgs {
    #[schemars(length(max = 4096))]
    plan: String,
    #[serde(flatten)]
    waves: WaveArgs,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
struct WaveArgs {
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 20000))]
    canary: u32,
    /// Default 10% of targets.
    #[serde(default)]
    #[schemars(range(min = 1, max = 20000))]
    wave_size: Option<u32>,
    #[serde(default)]
    #[schemars(range(min = 0, max = 20000))]
    max_failures: u32,
    #[serde(default = "sixty")]
    #[schemars(range(min = 1, max = 600))]
    verify_seconds: u32,
    /// Then it answers running.
    #[serde(default = "two_minutes")]
    #[schemars(range(min = 1, max = 600))]
    wait_seconds: u32,
}

fn one() -> u32 {
    1
}

fn sixty() -> u32 {
    60
}

fn two_minutes() -> u32 {
    120
}

impl WaveArgs {
    fn settings(&self, n: usize) -> Result<(Settings, Duration), ToolError> {
        let mut problems = Vec::new();
        let mut within = |name: &str, value: u32, min: u32, max: u32| {
            if !(min..=max).contains(&value) {
                problems.push(format!("{name}: expected {min} to {max}, got {value}"));
            }
            value as usize
        };
        let defaults = Defaults::of(n);
        let max = MAX_TARGETS as u32;
        let canary = within("canary", self.canary, 1, max);
        let wave_size = within("wave_size", self.wave_size.unwrap_or(defaults.wave_size as u32), 1, max);
        let max_failures = within("max_failures", self.max_failures, 0, max);
        let verify = within("verify_seconds", self.verify_seconds, 1, 600);
        let wait = within("wait_seconds", self.wait_seconds, 1, 600);
        if !problems.is_empty() {
            return Err(ToolError::invalid(problems.join("; ")));
        }
        let verify = Duration::from_secs(verify as u64);
        Ok((Settings { canary, wave_size, max_failures, verify }, Duration::from_secs(wait as u64)))
    }
}

/// A plan, opened: its token checked against the plan file it names.
struct OpenPlan {
    plan_id: String,
    file: Value,
}

fn open_plan(journal: &Journal, token: &str) -> Result<OpenPlan, ToolError> {
    let refused = |why: String| ToolError::invalid(format!("plan: {why}; make a new one with plan_fleet_change"));
    let (plan_id, sealed) = token.split_once('.').ok_or_else(|| refused("not a plan token".into()))?;
    let bytes = journal.plan_bytes(plan_id).map_err(refused)?;
    let opened: Value = journal.open(sealed, &bytes).map_err(|e| refused(format!("the token was rejected ({e})")))?;
    if opened["plan_id"] != plan_id {
        return Err(refused("the token names another plan".into()));
    }
    let file = serde_json::from_slice(&bytes).map_err(|e| refused(e.to_string()))?;
    Ok(OpenPlan { plan_id: plan_id.to_string(), file })
}

fn apply_preview(app: Arc<App>, a: ApplyArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let plan = open_plan(&app.journal, &a.plan)?;
        let n = plan.file["targets"].as_array().map_or(0, Vec::len);
        let (settings, _) = a.waves.settings(n)?;
        let mut summary = plan.file["summary"].clone();
        summary["waves"] = json!({
            "canary": settings.canary, "wave_size": settings.wave_size,
            "count": rollout::waves(n, settings.canary, settings.wave_size).len(),
            "max_failures": settings.max_failures, "verify_seconds": settings.verify.as_secs(),
        });
        if let Some(object) = summary.as_object_mut() {
            object.remove("kind");
            object.remove("name");
            object.remove("name_after");
        }
        Ok(summary)
    })
}

fn apply(cx: Arc<CallContext>, a: ApplyArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let journal = cx.app.journal.clone();
        let plan = open_plan(&journal, &a.plan)?;
        let summary = &plan.file["summary"];
        let org = summary["org_id"].as_str().unwrap_or_default();
        let targets = plan.file["targets"].as_array().cloned().unwrap_or_default();
        for target in &targets {
            let text = |key: &str| target[key].as_str().unwrap_or_default();
            journal.scope.check_part(text("part"), text("location"), org)?;
        }
        let (settings, wait) = a.waves.settings(targets.len())?;
        let change: ChangeArg = serde_json::from_value(summary["change"].clone())
            .map_err(|e| ToolError::local(format!("the plan's change is unreadable: {e}")))?;
        let (change_edit, name, name_after) = change.edit().map_err(|p| ToolError::local(p.join("; ")))?;
        let kind = change.kind.clone();
        let change_id = new_id("fc");
        journal.claim_plan(&plan.plan_id, &change_id).map_err(|other| {
            ToolError::invalid(format!(
                "plan: it was already applied as change {other} (get_fleet_change); make a new plan"
            ))
        })?;
        let mut jobs = Vec::new();
        let mut recorded = Vec::new();
        for target in &targets {
            let expect = parse_time(&target["expect"]).ok_or_else(|| ToolError::local("a plan target has no time"))?;
            let part = target["part"].as_str().unwrap_or_default().to_string();
            jobs.push(Job { part_id: part.clone(), online: target["online"] == true, expect, saved: None });
            recorded.push(json!({"part": part, "machine": target["machine"], "location": target["location"],
                                 "online": target["online"], "expect": target["expect"]}));
        }
        let start = json!({
            "type": "start", "change_id": change_id, "kind": "apply", "plan_id": plan.plan_id, "at": now(),
            "org_id": org, "change": summary["change"], "item": {"kind": kind, "name": name_after},
            "settings": settings_json(&settings), "targets": recorded,
        });
        let work =
            Work { edit: Edit::Apply { kind, change: change_edit, name, name_after }, jobs, settings, undoes: None };
        launch(cx, "apply_fleet_change", change_id, start, work, wait).await
    })
}

fn settings_json(s: &Settings) -> Value {
    json!({"canary": s.canary, "wave_size": s.wave_size, "max_failures": s.max_failures,
           "verify_seconds": s.verify.as_secs()})
}

/// What a rollout does: each job's write, in waves as `settings` say.
struct Work {
    edit: Edit,
    jobs: Vec<Job>,
    settings: Settings,
    /// For a rollback, the change it undoes.
    undoes: Option<String>,
}

/// Records the change's start, rolls it out in a task of the server and waits for it: until it
/// ends, `wait` passes (it goes on; the answer says `running`) or the call is cancelled (it
/// stops before its next write).
async fn launch(
    cx: Arc<CallContext>,
    tool: &'static str,
    change_id: String,
    start: Value,
    work: Work,
    wait: Duration,
) -> ToolResult {
    let journal = cx.app.journal.clone();
    let stop = journal.start_running(&change_id);
    if let Err(e) = journal.append(&change_id, &start).await {
        journal.finish_running(&change_id);
        return Err(ToolError::local(format!("nothing was written: {e}")));
    }
    let (events, mut progress) = mpsc::unbounded_channel();
    let Work { edit, jobs, settings, undoes } = work;
    let rollout = Rollout {
        change_id: change_id.clone(),
        tool,
        cx: cx.clone(),
        edit,
        jobs,
        settings,
        stop: stop.clone(),
        events,
        undoes,
        settled: Default::default(),
    };
    let running = tokio::spawn(Arc::new(rollout).run());
    let deadline = tokio::time::Instant::now() + wait;
    let mut cancelled = false;
    loop {
        tokio::select! {
            event = progress.recv() => match event {
                Some(Event { done, total, message }) => cx.report(done as f64, Some(total as f64), message).await,
                None => break,
            },
            _ = cx.cancel.cancelled(), if !cancelled => {
                cancelled = true;
                stop.cancel();
            }
            _ = tokio::time::sleep_until(deadline), if !cancelled => break,
        }
    }
    if progress.is_closed() || cancelled {
        let _ = running.await;
    }
    if cancelled {
        return Err(ToolError::Cancelled);
    }
    let record = load(&journal, &change_id)?;
    Ok(outcome_summary(&journal, &record))
}

fn load(journal: &Journal, change_id: &str) -> Result<ChangeRecord, ToolError> {
    let lines = journal.lines(change_id).map_err(ToolError::invalid)?;
    ChangeRecord::fold(&lines).map_err(|e| ToolError::local(format!("change {change_id}: {e}")))
}

/// What apply and rollback answer: the state, the counts, and the parts that failed or conflicted.
fn outcome_summary(journal: &Journal, record: &ChangeRecord) -> Value {
    let mut out = record.summary(journal.is_running(record.change_id()));
    let named = |outcomes: &[&str]| -> Vec<Value> {
        let rows = record.parts.iter().filter(|p| outcomes.contains(&p.outcome()));
        rows.take(NAMED).map(|p| p.row()).collect()
    };
    let failed = named(&["failed", "error", "outcome_unknown"]);
    if !failed.is_empty() {
        out["failed"] = json!(failed);
    }
    let conflicts = named(&["conflict"]);
    if !conflicts.is_empty() {
        out["conflicts"] = json!(conflicts);
    }
    out["message"] = json!(match out["state"].as_str() {
        Some("running") => "still rolling out in the server: get_fleet_change shows its progress",
        Some("halted") => "halted: later waves were not written; rollback_fleet_change undoes what was written",
        _ => "get_fleet_change pages through every part's outcome",
    });
    out
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ChangeIdArgs {
    change_id: Id,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListArgs {}

/// A change whose writes an interruption left open, with each one resolved by reading the part
/// (and the answer recorded, so it is read once).
async fn settled(app: &App, change_id: &str) -> Result<ChangeRecord, ToolError> {
    let journal = &app.journal;
    let record = load(journal, change_id)?;
    if journal.is_running(change_id) || !record.parts.iter().any(|p| p.unresolved()) {
        return Ok(record);
    }
    let open: Vec<(String, Value)> = record
        .parts
        .iter()
        .filter_map(|p| Some((p.part_id.clone(), p.intent.clone()?)).filter(|_| p.unresolved()))
        .collect();
    let lines = bounded(open, rollout::CONCURRENCY, |(part_id, intent)| async move {
        let expect = parse_time(&intent["last_known_update"]).unwrap_or_default();
        let kind = intent["kind"].as_str().unwrap_or_default();
        let name = intent["name_after"].as_str().unwrap_or_default();
        let (mut line, _) = rollout::resolve(app, &part_id, &expect, kind, name, &intent["after"]).await;
        line["at"] = json!(now());
        let reason = line["reason"].as_str().unwrap_or_default().to_string();
        line["reason"] = json!(format!("interrupted between intent and outcome; {reason}"));
        line
    })
    .await;
    for line in lines {
        journal.append(change_id, &line).await.map_err(ToolError::local)?;
    }
    load(journal, change_id)
}

fn get(cx: Arc<CallContext>, a: ChangeIdArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let record = settled(&cx.app, &a.change_id.0).await?;
        let mut out = record.summary(cx.app.journal.is_running(record.change_id()));
        out["settings"] = record.start["settings"].clone();
        // Problems first: the first page of a large change shows what needs looking at.
        let mut parts: Vec<&record::PartRecord> = record.parts.iter().collect();
        parts.sort_by_key(|p| PROBLEMS_FIRST.iter().position(|o| *o == p.outcome()).unwrap_or(PROBLEMS_FIRST.len()));
        out["parts"] = parts.iter().map(|p| p.row()).collect();
        Ok(out)
    })
}

fn list(cx: Arc<CallContext>, _: ListArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let journal = &cx.app.journal;
        let ids = journal.change_ids().map_err(ToolError::local)?;
        let changes: Vec<Value> = ids
            .iter()
            .take(LISTED)
            .filter_map(|id| load(journal, id).ok())
            .map(|record| record.summary(journal.is_running(record.change_id())))
            .collect();
        let mut out = json!({"changes": changes});
        if ids.len() > LISTED {
            out["message"] = json!(format!("the newest {LISTED} of {} recorded changes", ids.len()));
        }
        Ok(out)
    })
}

fn stop(cx: Arc<CallContext>, a: ChangeIdArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let journal = &cx.app.journal;
        let record = load(journal, &a.change_id.0)?;
        if !journal.is_running(&a.change_id.0) {
            let state = record.state(false);
            return Ok(json!({"change_id": a.change_id.0, "state": state, "message": "it is not running"}));
        }
        journal.request_stop(&a.change_id.0).map_err(ToolError::local)?;
        Ok(json!({"change_id": a.change_id.0, "state": "stopping",
                  "message": "it stops before its next write; get_fleet_change shows when it has"}))
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RollbackArgs {
    change_id: Id,
    #[serde(flatten)]
    waves: WaveArgs,
}

/// What a rollback restores: the change (an apply, not running, not rolled back) and its written
/// parts, each with the item to put back.
struct Undo {
    record: ChangeRecord,
    jobs: Vec<(Job, Value)>,
}

async fn undo_of(app: &App, change_id: &str) -> Result<Undo, ToolError> {
    let journal = &app.journal;
    let record = settled(app, change_id).await?;
    let refuse = |why: String| Err(ToolError::invalid(format!("change_id: {why}")));
    if record.is_rollback() {
        return refuse(format!("{change_id} is itself a rollback, and a rollback is not rolled back"));
    }
    if journal.is_running(change_id) {
        return refuse(format!("{change_id} is still running: stop_fleet_change first"));
    }
    if let Some(by) = &record.rolled_back_by {
        return refuse(format!("{change_id} was already rolled back by {by}"));
    }
    let mut jobs = Vec::new();
    for part in record.parts.iter().filter(|p| p.written()) {
        let intent = part.intent.as_ref();
        let saved: Option<Saved> = intent.and_then(|i| serde_json::from_value(i["saved"].clone()).ok());
        let (Some(saved), Some(expect)) = (saved, part.written_at.as_deref().and_then(timestamp)) else { continue };
        let target = json!({"part": part.part_id, "machine": part.machine_name, "location": part.location_id,
                            "online": part.online, "expect": part.written_at, "saved": saved});
        jobs.push((Job { part_id: part.part_id.clone(), online: part.online, expect, saved: Some(saved) }, target));
    }
    Ok(Undo { record, jobs })
}

fn rollback_preview(app: Arc<App>, a: RollbackArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let undo = undo_of(&app, &a.change_id.0).await?;
        let examples: Vec<Value> = undo
            .jobs
            .iter()
            .take(EXAMPLES)
            .map(|(_, t)| json!({"robot_part_id": t["part"], "machine_name": t["machine"]}))
            .collect();
        Ok(json!({"change_id": a.change_id.0, "change": undo.record.start["change"], "restores": undo.jobs.len(),
                  "examples": examples}))
    })
}

fn rollback(cx: Arc<CallContext>, a: RollbackArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let journal = cx.app.journal.clone();
        let undo = undo_of(&cx.app, &a.change_id.0).await?;
        let org = undo.record.start["org_id"].as_str().unwrap_or_default().to_string();
        for (_, target) in &undo.jobs {
            let text = |key: &str| target[key].as_str().unwrap_or_default();
            journal.scope.check_part(text("part"), text("location"), &org)?;
        }
        let (settings, wait) = a.waves.settings(undo.jobs.len())?;
        let item = &undo.record.start["item"];
        let kind = item["kind"].as_str().unwrap_or_default().to_string();
        let name_after = item["name"].as_str().unwrap_or_default().to_string();
        let change_id = new_id("fc");
        let (jobs, targets): (Vec<Job>, Vec<Value>) = undo.jobs.into_iter().unzip();
        let start = json!({
            "type": "start", "change_id": change_id, "kind": "rollback", "of": a.change_id.0, "at": now(),
            "org_id": org, "change": undo.record.start["change"], "item": item,
            "settings": settings_json(&settings), "targets": targets,
        });
        let undoes = Some(a.change_id.0.clone());
        let work = Work { edit: Edit::Restore { kind, name_after }, jobs, settings, undoes };
        launch(cx, "rollback_fleet_change", change_id, start, work, wait).await
    })
}
