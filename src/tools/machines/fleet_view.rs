//! `list_machine_summaries`: every machine of an organization, filtered and paged by the server
//! (AppService filters by location and fragment only, and has no paging): as full rows, as the
//! columns `fields` names, or counted by `group_by`.
mod groups;
mod version;

use super::super::args::{Id, arg_enum};
use super::super::{App, BoxFuture, CallContext, Op, ToolResult, custom, schema_object};
use crate::cursor;
use crate::error::ToolError;
use crate::json_text::compact;
use crate::proto::viam::app::v1 as app;
use crate::proto_json::to_json;
use crate::safety::budget::MAX_LIMIT;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use version::Version;

const TOOL: &str = "list_machine_summaries";
/// A result stops before its text would pass this many bytes, so it stays within what clients accept
/// (Claude Code warns at ~10k tokens, about 40,000 bytes) whatever the limit.
const RESULT_BYTES: usize = 39_000;
/// The longest version a filter names.
const MAX_VERSION_LEN: usize = 50;
/// The longest name `name_contains` looks for.
const MAX_NAME_LEN: usize = 200;
/// A century: anything longer is a mistake.
const MAX_OFFLINE_SECONDS: u64 = 3_155_760_000;

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
    #[schemars(length(max = MAX_NAME_LEN))]
    name_contains: Option<String>,
    #[serde(default)]
    online_state: Option<Filter>,
    /// Offline longer than this (seconds_since_online).
    #[serde(default)]
    #[schemars(range(max = MAX_OFFLINE_SECONDS))]
    offline_for_seconds_over: Option<u64>,
    #[serde(default)]
    #[schemars(description = "older_than or equals; older_than \"newest\": than the newest asked for.")]
    viam_server_version: Option<VersionFilter>,
    /// Columns, for rows as arrays in this order.
    #[serde(default)]
    fields: Option<Vec<Field>>,
    #[schemars(description = "Counts per value, biggest first, 5 example machines each, in one result; a machine \
        counts under each fragment it uses. Not with fields or cursor.")]
    #[serde(default)]
    group_by: Option<GroupBy>,
    /// Default 1,000; a page also ends before 39,000 bytes. With group_by: the most groups.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_LIMIT))]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
}

arg_enum! {
    // The states a filter can ask for.
    Filter {
        Online = "online" | "ONLINE_STATE_ONLINE",
        Offline = "offline" | "ONLINE_STATE_OFFLINE",
        AwaitingSetup = "awaiting_setup" | "ONLINE_STATE_AWAITING_SETUP",
    }
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

// Exactly one of the two.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct VersionFilter {
    #[serde(default)]
    #[schemars(length(max = MAX_VERSION_LEN))]
    older_than: Option<String>,
    #[serde(default)]
    #[schemars(length(max = MAX_VERSION_LEN))]
    equals: Option<String>,
}

arg_enum! {
    // A column `fields` names.
    Field {
        MachineId = "machine_id",
        Name = "name",
        LocationId = "location_id",
        OnlineState = "online_state",
        LastOnline = "last_online",
        ViamServerVersion = "viam_server_version",
        ViamAgentVersion = "viam_agent_version",
        Platform = "platform",
        Os = "os",
        Fragments = "fragments",
        PartNames = "part_names",
    }
}

arg_enum! {
    // What `group_by` counts machines by.
    GroupBy {
        OnlineState = "online_state",
        ViamServerVersion = "viam_server_version",
        ViamAgentVersion = "viam_agent_version",
        Platform = "platform",
        Location = "location",
        Fragment = "fragment",
    }
}

/// A name as it is written in the arguments and the result.
fn name_of(value: impl Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// What a cursor is tied to: everything that selects the machines and shapes their rows.
#[derive(Serialize)]
struct Selection<'a> {
    org_id: &'a str,
    location_ids: Vec<&'a str>,
    fragment_ids: Vec<&'a str>,
    name_contains: Option<&'a str>,
    online_state: Option<Filter>,
    offline_for_seconds_over: Option<u64>,
    viam_server_version: Option<&'a VersionFilter>,
    fields: Option<&'a [Field]>,
}

/// Where a page ended: the sort key of its last machine, so a page boundary survives machines being
/// added or removed between calls.
type Position = (String, String, String, String);

/// How `viam_server_version` selects, once its version is read.
enum VersionTest {
    /// Older than this version; `None` for "newest", read from the response.
    OlderThan(Option<Version>),
    /// The same version, or the same text when it is no version (`dev`).
    Equals(String, Option<Version>),
}

/// The arguments checked together: every problem is named at once, before anything is sent.
struct Checked {
    limit: usize,
    server_version: Option<VersionTest>,
}

fn check(a: &SummariesArgs) -> Result<Checked, ToolError> {
    let mut problems = Vec::new();
    let limit = match a.limit.map(|l| l as usize) {
        None => MAX_LIMIT,
        Some(l @ 1..=MAX_LIMIT) => l,
        Some(other) => {
            problems.push(format!("limit: expected 1 to {MAX_LIMIT}, got {other}"));
            MAX_LIMIT
        }
    };
    if a.name_contains.as_ref().is_some_and(|n| n.len() > MAX_NAME_LEN) {
        problems.push(format!("name_contains: at most {MAX_NAME_LEN} characters"));
    }
    if a.group_by.is_some() && a.fields.is_some() {
        problems.push(
            "group_by: not with fields (group_by counts machines, fields picks the columns of rows); pass one".into(),
        );
    }
    if a.group_by.is_some() && a.cursor.is_some() {
        problems.push("cursor: a group_by result is never paged; omit cursor".into());
    }
    if let Some(fields) = &a.fields {
        if fields.is_empty() {
            problems.push("fields: name at least one column, or omit fields for full rows".into());
        }
        for (i, field) in fields.iter().enumerate() {
            if fields[..i].contains(field) {
                problems.push(format!("fields: {:?} is named twice", name_of(field)));
            }
        }
    }
    match (a.offline_for_seconds_over, a.online_state) {
        (Some(n), _) if n > MAX_OFFLINE_SECONDS => {
            problems.push(format!("offline_for_seconds_over: at most {MAX_OFFLINE_SECONDS}, got {n}"))
        }
        (Some(_), Some(state)) if state != Filter::Offline => problems.push(format!(
            "offline_for_seconds_over: selects offline machines, but online_state is {:?}",
            name_of(state)
        )),
        _ => {}
    }
    let server_version = match &a.viam_server_version {
        None => None,
        Some(filter) => version_test(filter).map_err(|problem| problems.push(problem)).ok(),
    };
    match problems.len() {
        0 => Ok(Checked { limit, server_version }),
        1 => Err(ToolError::invalid(problems.remove(0))),
        n => Err(ToolError::invalid(format!("{n} problems: {}", problems.join("; ")))),
    }
}

fn version_test(filter: &VersionFilter) -> Result<VersionTest, String> {
    let long = |given: &str, name: &str| {
        (given.len() > MAX_VERSION_LEN)
            .then(|| format!("viam_server_version.{name}: at most {MAX_VERSION_LEN} characters"))
    };
    match (&filter.older_than, &filter.equals) {
        (Some(given), None) => {
            if let Some(problem) = long(given, "older_than") {
                return Err(problem);
            }
            match Version::parse(given) {
                Some(version) => Ok(VersionTest::OlderThan(Some(version))),
                None if given == "newest" => Ok(VersionTest::OlderThan(None)),
                None => Err(format!(
                    "viam_server_version.older_than: {given:?} is not a version such as 0.65 or v0.65.1, nor newest"
                )),
            }
        }
        (None, Some(given)) => match long(given, "equals") {
            Some(problem) => Err(problem),
            None => Ok(VersionTest::Equals(given.clone(), Version::parse(given))),
        },
        _ => Err("viam_server_version: give older_than or equals, one of them".into()),
    }
}

/// One machine that passed the filters.
struct Machine<'a> {
    key: Position,
    location: &'a app::LocationSummary,
    summary: &'a app::MachineSummary,
    /// Its main part (its first part when none is marked main), whose state, versions and platform
    /// are the machine's.
    main: Option<&'a app::PartSummary>,
    state: State,
}

impl Machine<'_> {
    fn server_version(&self) -> Option<String> {
        self.main.and_then(|p| p.viam_server_version.as_ref()).and_then(|v| version::text(&v.major, &v.minor))
    }

    fn agent_version(&self) -> Option<String> {
        self.main.and_then(|p| p.viam_agent_version.as_ref()).and_then(|v| version::text(&v.major, &v.minor))
    }

    fn last_online(&self) -> Value {
        self.main.and_then(|p| p.last_access.as_ref().or(p.last_online.as_ref())).map_or(Value::Null, to_json)
    }

    /// The fragments its parts use, each once: (id, name).
    fn fragments(&self) -> Vec<(&str, &str)> {
        let mut fragments: Vec<(&str, &str)> = Vec::new();
        for fragment in self.summary.part_summaries.iter().flat_map(|p| &p.fragments) {
            if !fragments.iter().any(|(id, _)| *id == fragment.id) {
                fragments.push((&fragment.id, &fragment.name));
            }
        }
        fragments
    }

    /// The example a group shows.
    fn example(&self) -> Value {
        json!({"machine_id": self.summary.machine_id, "name": self.summary.machine_name})
    }
}

fn list_machine_summaries(cx: Arc<CallContext>, a: SummariesArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let checked = check(&a)?;
        let selection = Selection {
            org_id: &a.org_id.0,
            location_ids: a.location_ids.iter().map(|id| id.0.as_str()).collect(),
            fragment_ids: a.fragment_ids.iter().map(|id| id.0.as_str()).collect(),
            name_contains: a.name_contains.as_deref(),
            online_state: a.online_state,
            offline_for_seconds_over: a.offline_for_seconds_over,
            viam_server_version: a.viam_server_version.as_ref(),
            fields: a.fields.as_deref(),
        };
        let after: Option<Position> = a.cursor.as_deref().map(|c| cursor::open(TOOL, &selection, c)).transpose()?;
        let response = read_summaries(&cx.app, &a.org_id, &a.fragment_ids, &a.location_ids).await?;
        let machines = select(&response, &a, checked.server_version.as_ref());
        if let Some(by) = a.group_by {
            return Ok(groups::count(&machines, by, checked.limit));
        }
        let listing = match &a.fields {
            Some(fields) => Listing::Table { fields, fragment_ids: &a.fragment_ids },
            None => Listing::Full,
        };
        page(machines, after, checked.limit, &selection, listing)
    })
}

/// The machines the filters keep, in the listing's order: locations by name, then machines by name.
fn select<'a>(
    response: &'a app::ListMachineSummariesResponse,
    a: &SummariesArgs,
    server_version: Option<&VersionTest>,
) -> Vec<Machine<'a>> {
    let mut all: Vec<Machine<'a>> = Vec::new();
    for location in &response.location_summaries {
        for summary in &location.machine_summaries {
            let main = main_part(summary);
            let state = main_state(summary);
            let key = (
                location.location_name.clone(),
                location.location_id.clone(),
                summary.machine_name.clone(),
                summary.machine_id.clone(),
            );
            all.push(Machine { key, location, summary, main, state });
        }
    }
    // "newest" is the newest of every machine asked for, before the filters below.
    let newest = match server_version {
        Some(VersionTest::OlderThan(None)) => all.iter().filter_map(|m| Version::parse(&m.server_version()?)).max(),
        _ => None,
    };
    let needle = a.name_contains.as_deref().map(str::to_lowercase);
    let version_matches = |m: &Machine| {
        let Some(test) = server_version else { return true };
        let Some(text) = m.server_version() else { return false };
        match test {
            VersionTest::OlderThan(given) => {
                let than = given.as_ref().or(newest.as_ref());
                than.is_some_and(|than| Version::parse(&text).is_some_and(|v| v < *than))
            }
            VersionTest::Equals(_, Some(version)) => Version::parse(&text).as_ref() == Some(version),
            VersionTest::Equals(given, None) => text.eq_ignore_ascii_case(given),
        }
    };
    let offline_long = |m: &Machine| {
        a.offline_for_seconds_over.is_none_or(|over| {
            m.state == State::Offline
                && m.main.is_some_and(|p| u64::try_from(p.seconds_since_online).unwrap_or(0) > over)
        })
    };
    let mut machines: Vec<Machine<'a>> = all
        .into_iter()
        .filter(|m| a.online_state.is_none_or(|f| f.state() == m.state))
        .filter(|m| needle.as_deref().is_none_or(|n| m.summary.machine_name.to_lowercase().contains(n)))
        .filter(|m| version_matches(m))
        .filter(|m| offline_long(m))
        .collect();
    machines.sort_by(|x, y| x.key.cmp(&y.key));
    machines
}

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

/// A machine's main part (its first part, when none is marked main).
fn main_part(machine: &app::MachineSummary) -> Option<&app::PartSummary> {
    let parts = &machine.part_summaries;
    parts.iter().find(|p| p.is_main_part).or(parts.first())
}

/// A machine is in the state of its main part.
pub(in crate::tools) fn main_state(machine: &app::MachineSummary) -> State {
    main_part(machine).map_or(State::Unknown, |p| State::of(p.online_state))
}

/// How a page shows its machines.
enum Listing<'a> {
    /// `machines`: one object per machine, with its parts.
    Full,
    /// `columns` and `rows`: one array per machine.
    Table { fields: &'a [Field], fragment_ids: &'a [Id] },
}

impl Listing<'_> {
    fn row(&self, m: &Machine) -> Value {
        match self {
            Listing::Full => machine_row(m),
            Listing::Table { fields, fragment_ids } => fields.iter().map(|f| cell(m, *f, fragment_ids)).collect(),
        }
    }

    /// Whether its rows name locations, for the `locations` map.
    fn names_locations(&self) -> bool {
        match self {
            Listing::Full => true,
            Listing::Table { fields, .. } => fields.contains(&Field::LocationId),
        }
    }

    /// The result without its rows, the location names and the cursor.
    fn skeleton(&self) -> Map<String, Value> {
        let mut result = Map::new();
        match self {
            Listing::Full => {
                result.insert("machines".into(), json!([]));
            }
            Listing::Table { fields, .. } => {
                result.insert("columns".into(), json!(fields));
                result.insert("rows".into(), json!([]));
            }
        }
        if self.names_locations() {
            result.insert("locations".into(), json!({}));
        }
        result
    }
}

/// As many machines after `after` as `limit` allows and fit the result bytes, with the cursor that
/// goes on after the last of them.
fn page(
    machines: Vec<Machine>,
    after: Option<Position>,
    limit: usize,
    selection: &Selection,
    listing: Listing,
) -> ToolResult {
    let total = machines.len();
    let start = after.map_or(0, |after| machines.partition_point(|m| m.key <= after));
    let mut result = listing.skeleton();
    result.insert("count".into(), json!(limit));
    result.insert("total".into(), json!(total));
    result.insert("next_cursor".into(), Value::Null);
    let mut bytes = compact(&Value::Object(result.clone())).len();
    let mut rows = Vec::new();
    let mut locations = Map::new();
    let mut last = None;
    for machine in &machines[start..] {
        if rows.len() == limit {
            break;
        }
        let row = listing.row(machine);
        let mut size = compact(&row).len() + 1;
        let location = &machine.location;
        let new_location = listing.names_locations() && !locations.contains_key(&location.location_id);
        if new_location {
            size += compact(&json!({&location.location_id: &location.location_name})).len() - 1;
        }
        // The cursor that would follow this machine replaces `null`.
        let cursor = cursor::sealed_len(&machine.key)? + 2 - 4;
        if !rows.is_empty() && bytes + size + cursor > RESULT_BYTES {
            break;
        }
        bytes += size;
        rows.push(row);
        if new_location {
            locations.insert(location.location_id.clone(), json!(location.location_name));
        }
        last = Some(machine);
    }
    let shown = rows.len();
    let next_cursor = match last {
        Some(last) if start + shown < total => Some(cursor::seal(TOOL, selection, &last.key)?),
        _ => None,
    };
    let list = if matches!(listing, Listing::Full) { "machines" } else { "rows" };
    result.insert(list.into(), Value::Array(rows));
    if listing.names_locations() {
        result.insert("locations".into(), Value::Object(locations));
    }
    result.insert("count".into(), json!(shown));
    result.insert("next_cursor".into(), json!(next_cursor));
    Ok(Value::Object(result))
}

/// One column of a machine's table row.
fn cell(m: &Machine, field: Field, fragment_ids: &[Id]) -> Value {
    let main = |value: fn(&app::PartSummary) -> Option<&String>| json!(m.main.and_then(value));
    match field {
        Field::MachineId => json!(m.summary.machine_id),
        Field::Name => json!(m.summary.machine_name),
        Field::LocationId => json!(m.location.location_id),
        Field::OnlineState => json!(m.state),
        Field::LastOnline => m.last_online(),
        Field::ViamServerVersion => json!(m.server_version()),
        Field::ViamAgentVersion => json!(m.agent_version()),
        Field::Platform => main(|p| p.platform.as_ref()),
        Field::Os => main(|p| p.os.as_ref()),
        Field::Fragments => {
            m.fragments().into_iter().map(|(id, name)| json!(if name.is_empty() { id } else { name })).collect()
        }
        Field::PartNames => {
            let uses = |p: &app::PartSummary| {
                fragment_ids.is_empty() || p.fragments.iter().any(|f| fragment_ids.iter().any(|id| id.0 == f.id))
            };
            m.summary.part_summaries.iter().filter(|p| uses(p)).map(|p| json!(p.part_name)).collect()
        }
    }
}

fn machine_row(m: &Machine) -> Value {
    let mut row = json!({
        "machine_id": m.summary.machine_id, "name": m.summary.machine_name, "location_id": m.location.location_id,
        "online_state": m.state,
    });
    let last_online = m.last_online();
    if !last_online.is_null() {
        row["last_online"] = last_online;
    }
    row["parts"] = m.summary.part_summaries.iter().map(part_row).collect();
    row
}

/// Only what is known about a part: a part awaiting setup has no versions or platform yet.
fn part_row(part: &app::PartSummary) -> Value {
    let mut row =
        json!({"part_id": part.part_id, "name": part.part_name, "online_state": State::of(part.online_state)});
    if part.is_main_part {
        row["main"] = json!(true);
    }
    if let Some(v) = part.viam_server_version.as_ref().and_then(|v| version::text(&v.major, &v.minor)) {
        row["viam_server"] = json!(v);
    }
    if let Some(v) = part.viam_agent_version.as_ref().and_then(|v| version::text(&v.major, &v.minor)) {
        row["viam_agent"] = json!(v);
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
    let count = json!({"type": "integer"});
    let state = json!({"type": "string", "enum": ["online", "offline", "awaiting_setup", "unknown"]});
    let part = json!({"type": "object", "properties": {
        "part_id": text, "name": text, "main": {"type": "boolean"}, "online_state": state, "viam_server": text,
        "viam_agent": text, "os": text, "platform": text,
        "fragments": {"type": "array", "items": text, "description": "fragment names"},
    }});
    let machine = json!({"type": "object", "properties": {
        "machine_id": text, "name": text, "location_id": text, "online_state": state,
        "last_online": {"type": "string", "format": "date-time"},
        "parts": {"type": "array", "items": part},
    }});
    let example = json!({"type": "object", "properties": {"machine_id": text, "name": text}});
    let group = json!({"type": "object", "properties": {
        "value": {"type": ["string", "null"], "description": "null: not reported, or no fragment"},
        "name": {"type": "string", "description": "location's or fragment's"},
        "count": count, "examples": {"type": "array", "items": example},
    }});
    let schema = json!({"type": "object", "properties": {
        "machines": {"type": "array", "items": machine},
        "columns": {"type": "array", "items": text},
        "rows": {"type": "array", "items": {"type": "array"}, "description": "with fields: per machine, the values of \
            columns in order (null: not reported); part_names with fragment_ids: the parts using one"},
        "group_by": text,
        "groups": {"type": "array", "items": group},
        "other_groups": {"type": "object", "properties": {"groups": count, "count": count},
                         "description": "left out (limit, size)"},
        "locations": {"type": "object", "additionalProperties": text, "description": "location id → name"},
        "count": {"type": "integer", "description": "rows or groups here"},
        "total": {"type": "integer", "description": "machines matching the filters, on all pages"},
        "next_cursor": {"type": ["string", "null"]},
    }});
    schema_object(schema)
}
