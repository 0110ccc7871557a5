//! `list_machine_summaries`: every machine of an organization in compact rows, filtered and paged by
//! the server (AppService filters by location and fragment only, and has no paging).
use super::super::args::Id;
use super::super::{App, BoxFuture, CallContext, Op, ToolResult, custom, schema_object};
use crate::cursor;
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;
use crate::proto_json::to_json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;

const TOOL: &str = "list_machine_summaries";
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 500;
/// A page stops before its text would pass this many bytes, so it stays within what clients accept
/// (Claude Code warns at ~10k tokens, about 40,000 bytes) whatever the limit.
const PAGE_BYTES: usize = 36_000;

pub(in crate::tools) fn op() -> Op {
    custom::<_, app::ListMachineSummariesResponse>("ListMachineSummaries", list_machine_summaries)
        .with_output(output_schema)
}

/// A machine's online state, as the filter takes it and the rows show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(in crate::tools) enum State {
    Online,
    Offline,
    AwaitingSetup,
    Unknown,
}

impl State {
    pub(in crate::tools) fn of(online_state: i32) -> State {
        match app::OnlineState::try_from(online_state) {
            Ok(app::OnlineState::Online) => State::Online,
            Ok(app::OnlineState::Offline) => State::Offline,
            Ok(app::OnlineState::AwaitingSetup) => State::AwaitingSetup,
            _ => State::Unknown,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SummariesArgs {
    org_id: Id,
    #[serde(default)]
    location_ids: Vec<Id>,
    /// Machines with a part using one of these; omitted or [] = any.
    #[serde(default)]
    fragment_ids: Vec<Id>,
    /// Case-insensitive.
    #[serde(default)]
    name_contains: Option<String>,
    #[serde(default)]
    online_state: Option<Filter>,
    /// Default 100; a page also ends before 36,000 bytes.
    #[serde(default)]
    #[schemars(range(min = 1, max = 500))]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(in crate::tools) enum Filter {
    Online,
    Offline,
    AwaitingSetup,
}

impl Filter {
    pub(in crate::tools) fn state(self) -> State {
        match self {
            Filter::Online => State::Online,
            Filter::Offline => State::Offline,
            Filter::AwaitingSetup => State::AwaitingSetup,
        }
    }
}

/// What a cursor is tied to: everything that selects the machines.
#[derive(Serialize)]
struct Selection<'a> {
    org_id: &'a str,
    location_ids: Vec<&'a str>,
    fragment_ids: Vec<&'a str>,
    name_contains: Option<&'a str>,
    online_state: Option<Filter>,
}

/// Where a page ended: the sort key of its last machine, so a page boundary survives machines being
/// added or removed between calls.
type Position = (String, String, String, String);

/// One machine, ready for its row.
struct Machine {
    key: Position,
    location_id: String,
    row: Value,
}

fn list_machine_summaries(cx: Arc<CallContext>, a: SummariesArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let limit = match a.limit.map(|l| l as usize) {
            None => DEFAULT_LIMIT,
            Some(l @ 1..=MAX_LIMIT) => l,
            Some(other) => return Err(ToolError::invalid(format!("limit: expected 1 to {MAX_LIMIT}, got {other}"))),
        };
        let selection = Selection {
            org_id: &a.org_id.0,
            location_ids: a.location_ids.iter().map(|id| id.0.as_str()).collect(),
            fragment_ids: a.fragment_ids.iter().map(|id| id.0.as_str()).collect(),
            name_contains: a.name_contains.as_deref(),
            online_state: a.online_state,
        };
        let after: Option<Position> = a.cursor.as_deref().map(|c| cursor::open(TOOL, &selection, c)).transpose()?;
        let response = read_summaries(&cx.app, &a.org_id, &a.fragment_ids, &a.location_ids).await?;
        let needle = a.name_contains.as_deref().map(str::to_lowercase);
        let mut location_names = Map::new();
        let mut machines: Vec<Machine> = Vec::new();
        for location in response.location_summaries {
            for machine in location.machine_summaries {
                let state = main_state(&machine);
                let wanted = a.online_state.is_none_or(|f| f.state() == state);
                let named = needle.as_deref().is_none_or(|n| machine.machine_name.to_lowercase().contains(n));
                if wanted && named {
                    let key = (
                        location.location_name.clone(),
                        location.location_id.clone(),
                        machine.machine_name.clone(),
                        machine.machine_id.clone(),
                    );
                    let row = machine_row(&machine, &location.location_id, state);
                    machines.push(Machine { key, location_id: location.location_id.clone(), row });
                }
            }
            location_names.insert(location.location_id, json!(location.location_name));
        }
        machines.sort_by(|x, y| x.key.cmp(&y.key));
        let total = machines.len();
        let start = after.map_or(0, |after| machines.partition_point(|m| m.key <= after));
        let mut page: Vec<Machine> = Vec::new();
        let mut bytes = 0;
        for machine in machines.drain(start..) {
            let size = machine.row.to_string().len() + 1;
            if page.len() == limit || (!page.is_empty() && bytes + size > PAGE_BYTES) {
                break;
            }
            bytes += size;
            page.push(machine);
        }
        let next_cursor = match page.last() {
            Some(last) if start + page.len() < total => Some(cursor::seal(TOOL, &selection, &last.key)?),
            _ => None,
        };
        let shown: Map<String, Value> = page
            .iter()
            .filter_map(|m| Some((m.location_id.clone(), location_names.get(&m.location_id)?.clone())))
            .collect();
        let count = page.len();
        let rows: Vec<Value> = page.into_iter().map(|m| m.row).collect();
        Ok(json!({
            "machines": rows,
            "locations": shown,
            "count": count,
            "total": total,
            "next_cursor": next_cursor,
        }))
    })
}

/// A machine is in the state of its main part (of its first part, when none is marked main).
/// The organization's machine summaries, filtered by the service by location and fragment only:
/// no `limit` on the wire, which would cap the machines before the name and state filters.
pub(in crate::tools) async fn read_summaries(
    app: &App,
    org_id: &Id,
    fragment_ids: &[Id],
    location_ids: &[Id],
) -> Result<app::ListMachineSummariesResponse, ToolError> {
    let request = app::ListMachineSummariesRequest {
        organization_id: org_id.0.clone(),
        fragment_ids: fragment_ids.iter().map(|id| id.0.clone()).collect(),
        location_ids: location_ids.iter().map(|id| id.0.clone()).collect(),
        limit: None,
    };
    app.read(request).await
}

pub(in crate::tools) fn main_state(machine: &app::MachineSummary) -> State {
    let parts = &machine.part_summaries;
    parts.iter().find(|p| p.is_main_part).or(parts.first()).map_or(State::Unknown, |p| State::of(p.online_state))
}

fn machine_row(machine: &app::MachineSummary, location_id: &str, state: State) -> Value {
    let main = machine.part_summaries.iter().find(|p| p.is_main_part).or(machine.part_summaries.first());
    let mut row = json!({
        "machine_id": machine.machine_id, "name": machine.machine_name, "location_id": location_id,
        "online_state": state,
    });
    if let Some(last) = main.and_then(|p| p.last_access.as_ref().or(p.last_online.as_ref())) {
        row["last_access"] = to_json(last);
    }
    row["parts"] = machine.part_summaries.iter().map(part_row).collect();
    row
}

/// Only what is known about a part: a part awaiting setup has no versions or platform yet.
fn part_row(part: &app::PartSummary) -> Value {
    let mut row = json!({"part_id": part.part_id, "name": part.part_name});
    if part.is_main_part {
        row["main"] = json!(true);
    }
    let version = |major: &str, minor: &str| json!(format!("{major}.{minor}"));
    if let Some(v) = &part.viam_server_version {
        row["viam_server"] = version(&v.major, &v.minor);
    }
    if let Some(v) = &part.viam_agent_version {
        row["viam_agent"] = version(&v.major, &v.minor);
    }
    // A platform such as linux/arm64 names the OS too.
    match (&part.platform, &part.os) {
        (Some(platform), _) => row["platform"] = json!(platform),
        (None, Some(os)) => row["os"] = json!(os),
        (None, None) => {}
    }
    if !part.fragments.is_empty() {
        row["fragments"] = part.fragments.iter().map(|f| json!(f.name)).collect();
    }
    row
}

fn output_schema() -> Map<String, Value> {
    let text = json!({"type": "string"});
    let part = json!({"type": "object", "properties": {
        "part_id": text, "name": text, "main": {"type": "boolean"}, "viam_server": text, "viam_agent": text,
        "os": text, "platform": text, "fragments": {"type": "array", "items": text, "description": "fragment names"},
    }});
    let machine = json!({"type": "object", "properties": {
        "machine_id": text, "name": text, "location_id": text,
        "online_state": {"type": "string", "enum": ["online", "offline", "awaiting_setup", "unknown"]},
        "last_access": {"type": "string", "format": "date-time"},
        "parts": {"type": "array", "items": part},
    }});
    let schema = json!({"type": "object", "properties": {
        "machines": {"type": "array", "items": machine},
        "locations": {"type": "object", "additionalProperties": text, "description": "location id → name"},
        "count": {"type": "integer"},
        "total": {"type": "integer", "description": "machines matching the filters, on all pages"},
        "next_cursor": {"type": ["string", "null"]},
    }});
    schema_object(schema)
}
