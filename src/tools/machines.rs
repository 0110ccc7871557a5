//! Machines (robots) and their parts: configs, secrets, the main part and restarts.
use super::args::{DefaultLocationArgs, Id, OrgArgs, PartArgs, RobotArgs, Time, config_struct, within, within_opt};
use super::config_items::config_changes;
use super::locations::secret_preview;
use super::{App, BoxFuture, CallContext, Row, ToolResult, custom, row, unary, unary_with_preview};
use crate::call::FileArg;
use crate::call::ScopeArg::*;
use crate::call::{HandsOut, SecretOwner};
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;
use crate::proto_json::to_json;
use crate::safety::files;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub(super) mod fleet_view;

pub(super) fn rows() -> Vec<Row> {
    vec![
        row!(get_robot, Read, unary(get_robot)),
        row!(get_rover_rental_robots, Read, unary(get_rover_rental_robots)).pages(&["robots"]),
        row!(get_robot_parts, Read, unary(get_robot_parts)).pages(&["parts"]),
        row!(get_robot_part, Read, custom::<_, app::GetRobotPartResponse>("GetRobotPart", get_robot_part))
            .files(&[FileArg::Write("dest")]),
        row!(get_robot_part_history, Read, unary(get_robot_part_history)).pages(&["history"]),
        row!(update_robot_part, Destructive, unary_with_preview(update_robot_part, update_robot_part_preview))
            .scope(&[Part("robot_part_id")])
            .verify("get_robot_part"),
        row!(new_robot_part, Additive, unary(new_robot_part))
            .title("Add machine part")
            .scope(&[Robot("robot_id")])
            .verify("get_robot_parts"),
        row!(delete_robot_part, Destructive, unary_with_preview(delete_robot_part, delete_robot_part_preview))
            .scope(&[Part("robot_part_id")])
            .verify("get_robot_parts"),
        row!(mark_part_as_main, Mutating, unary(mark_part_as_main))
            .scope(&[Part("robot_part_id")])
            .verify("get_robot_part"),
        row!(
            mark_part_for_restart,
            Destructive,
            unary_with_preview(mark_part_for_restart, mark_part_for_restart_preview)
        )
        .scope(&[Part("robot_part_id")])
        .verify("get_robot_part"),
        row!(create_robot_part_secret, Additive, unary(create_robot_part_secret))
            .scope(&[Part("robot_part_id")])
            .verify("get_robot_part")
            .hands_out(HandsOut::Created(SecretOwner::Part)),
        row!(
            delete_robot_part_secret,
            Destructive,
            unary_with_preview(delete_robot_part_secret, delete_robot_part_secret_preview)
        )
        .scope(&[Part("robot_part_id")])
        .verify("get_robot_part"),
        row!(list_robots, Read, unary(list_robots)).pages(&["robots"]),
        row!(list_robots_for_locations, Read, unary(list_robots_for_locations)).pages(&["robots"]),
        row!(list_machine_summaries, Read, fleet_view::op()),
        row!(new_robot, Additive, unary(new_robot))
            .title("Create machine")
            .scope(&[DefaultLocation])
            .verify("list_robots"),
        // Moving a machine: both where it is and where it goes must be inside the scope.
        row!(update_robot, Mutating, custom::<_, app::UpdateRobotResponse>("UpdateRobot", update_robot))
            .scope(&[Robot("robot_id"), MaybeLocation("location_id")])
            .verify("get_robot"),
        row!(delete_robot, Destructive, unary_with_preview(delete_robot, delete_robot_preview))
            .scope(&[Robot("robot_id")])
            .verify("get_robot"),
    ]
}

fn get_robot(a: RobotArgs, _: &App) -> Result<app::GetRobotRequest, ToolError> {
    Ok(app::GetRobotRequest { id: a.robot_id.into() })
}

fn get_rover_rental_robots(a: OrgArgs, _: &App) -> Result<app::GetRoverRentalRobotsRequest, ToolError> {
    Ok(app::GetRoverRentalRobotsRequest { org_id: a.org_id.into() })
}

fn get_robot_parts(a: RobotArgs, _: &App) -> Result<app::GetRobotPartsRequest, ToolError> {
    Ok(app::GetRobotPartsRequest { robot_id: a.robot_id.into() })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GetRobotPartArgs {
    robot_part_id: Id,
    /// A local file for the config JSON.
    #[serde(default)]
    dest: Option<String>,
    #[serde(default)]
    overwrite: bool,
    /// Spaces per level in `dest`.
    #[serde(default = "four", deserialize_with = "within::<_, _, 0, 16>")]
    #[schemars(range(min = 0, max = 16))]
    indent: u32,
}

fn four() -> u32 {
    4
}

fn get_robot_part(cx: std::sync::Arc<CallContext>, a: GetRobotPartArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        // The pipeline checked `dest` before any RPC; as in the SDK, an empty one writes nothing.
        let request = app::GetRobotPartRequest { id: a.robot_part_id.into() };
        let Some(target) = cx.file("dest").cloned() else { return cx.unary_json(request).await };
        let response = cx.unary(request).await?;
        let given = a.dest.unwrap_or_default();
        let failed = |e: String| ToolError::local(format!("cannot write the config to {given:?}: {e}"));
        let pretty = python_json_dumps(&response.config_json, a.indent as usize)
            .map_err(|e| failed(format!("config_json {e}")))?;
        files::write(&target, pretty.as_bytes(), a.overwrite, false).map_err(|e| failed(e.to_string()))?;
        // The file has it all; the result only says where, so the config is not paid for twice.
        let keys = serde_json::from_str::<Map<String, Value>>(&response.config_json).map_or(0, |config| config.len());
        Ok(files::receipt(&target, pretty.len(), keys))
    })
}

/// The text of Python's `json.dumps(json.loads(text), indent=indent)`, as the SDK writes `dest`:
/// key order kept, `ensure_ascii` escapes, floats in Python's `repr`, integers verbatim.
fn python_json_dumps(text: &str, indent: usize) -> Result<String, String> {
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| format!("is not valid JSON: {e}"))?;
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&" ".repeat(indent * depth));
    };
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'"' => {
                let mut end = i + 1;
                while bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                let decoded: String = serde_json::from_str(&text[i..=end]).map_err(|e| e.to_string())?;
                python_string(&mut out, &decoded);
                i = end + 1;
            }
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                let next = bytes[i + 1..].iter().position(|b| !b.is_ascii_whitespace()).map(|p| i + 1 + p);
                if next.is_some_and(|n| bytes[n] == close) {
                    out.push(open as char);
                    out.push(close as char);
                    i = next.unwrap_or(i) + 1;
                } else {
                    out.push(open as char);
                    depth += 1;
                    newline(&mut out, depth);
                    i += 1;
                }
            }
            close @ (b'}' | b']') => {
                depth -= 1;
                newline(&mut out, depth);
                out.push(close as char);
                i += 1;
            }
            b',' => {
                out.push(',');
                newline(&mut out, depth);
                i += 1;
            }
            b':' => {
                out.push_str(": ");
                i += 1;
            }
            _ => {
                let end = bytes[i..].iter().position(|b| b",:]} \t\n\r".contains(b)).map_or(bytes.len(), |p| i + p);
                python_scalar(&mut out, &text[i..end]);
                i = end;
            }
        }
    }
    Ok(out)
}

/// `true`/`false`/`null`, an integer, or a float as Python's `repr` writes it.
fn python_scalar(out: &mut String, token: &str) {
    let literal = matches!(token, "true" | "false" | "null");
    if literal || !token.contains(['.', 'e', 'E']) {
        // Python reads `-0` as the integer 0.
        out.push_str(if token == "-0" { "0" } else { token });
        return;
    }
    let x: f64 = token.parse().unwrap_or(f64::NAN);
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Shortest round-trip digits, then Python's layout: fixed for 1e-4 <= |x| < 1e16.
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    out.push_str(sign);
    if !(-4..16).contains(&exponent) {
        out.push_str(&format!("{mantissa}e{exponent:+03}"));
        return;
    }
    let digits = mantissa.replace('.', "");
    if exponent < 0 {
        out.push_str(&format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize)));
    } else {
        let point = exponent as usize + 1;
        if digits.len() <= point {
            out.push_str(&format!("{digits}{}.0", "0".repeat(point - digits.len())));
        } else {
            out.push_str(&format!("{}.{}", &digits[..point], &digits[point..]));
        }
    }
}

/// A JSON string as Python writes it with `ensure_ascii`: everything outside ' '..='~' escaped.
fn python_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PartHistoryArgs {
    robot_part_id: Id,
    #[serde(default)]
    start: Option<Time>,
    #[serde(default)]
    end: Option<Time>,
    /// Omitted = the service's default.
    #[serde(default, deserialize_with = "within_opt::<_, 1, 1000>")]
    #[schemars(range(min = 1, max = 1000))]
    page_limit: Option<i64>,
}

fn get_robot_part_history(a: PartHistoryArgs, _: &App) -> Result<app::GetRobotPartHistoryRequest, ToolError> {
    Ok(app::GetRobotPartHistoryRequest {
        id: a.robot_part_id.into(),
        page_token: None,
        page_limit: a.page_limit,
        start: a.start.map(Time::to_proto),
        end: a.end.map(Time::to_proto),
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdatePartArgs {
    robot_part_id: Id,
    /// Pass the current name to keep it.
    name: String,
    /// The whole new config (numbers become doubles); omitted or {} = unchanged.
    #[serde(default)]
    robot_config: Option<Map<String, Value>>,
    /// Refuse the update if the part changed after this (its `last_updated`).
    #[serde(default)]
    last_known_update: Option<Time>,
    /// The whole new config as JSON text (keeps integers and key order); omitted or "" = not sent.
    #[serde(default)]
    robot_config_json: Option<String>,
}

fn update_robot_part(a: UpdatePartArgs, _: &App) -> Result<app::UpdateRobotPartRequest, ToolError> {
    let robot_config_json = a.robot_config_json.filter(|j| !j.is_empty());
    if let Some(text) = &robot_config_json {
        proposed_config_json(text)?;
    }
    Ok(app::UpdateRobotPartRequest {
        id: a.robot_part_id.into(),
        name: a.name,
        robot_config: config_struct(a.robot_config.as_ref()),
        last_known_update: a.last_known_update.map(Time::to_proto),
        robot_config_json,
    })
}

/// `robot_config_json` parsed; it must hold a JSON object.
fn proposed_config_json(text: &str) -> Result<Value, ToolError> {
    match serde_json::from_str(text) {
        Ok(config @ Value::Object(_)) => Ok(config),
        Ok(other) => Err(ToolError::invalid(format!("robot_config_json: expected a JSON object, got {other}"))),
        Err(e) => Err(ToolError::invalid(format!("robot_config_json: not valid JSON: {e}"))),
    }
}

/// The rename, and which top-level config keys the new config adds, removes or changes.
fn update_robot_part_preview(app: Arc<App>, a: UpdatePartArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let request = app::GetRobotPartRequest { id: a.robot_part_id.into() };
        let app::GetRobotPartResponse { part, config_json } = app.read(request).await?;
        let part = part.unwrap_or_default();
        let part_json = to_json(&part);
        let mut preview = json!({
            "part": {"id": part.id, "name": part.name, "last_updated": part_json["last_updated"]},
        });
        if a.name != part.name {
            preview["name"] = json!({"from": part.name, "to": a.name});
        }
        // robot_config_json is the exact text, so it is the one compared when both are given.
        let proposed = match a.robot_config_json.filter(|j| !j.is_empty()) {
            Some(text) => Some(proposed_config_json(&text)?),
            None => a.robot_config.filter(|c| !c.is_empty()).map(Value::Object),
        };
        preview["config"] = match proposed {
            Some(proposed) => {
                let current =
                    serde_json::from_str::<Value>(&config_json).unwrap_or_else(|_| part_json["robot_config"].clone());
                config_changes(&current, &proposed)
            }
            None => json!("not sent: the config stays as it is"),
        };
        Ok(preview)
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewPartArgs {
    robot_id: Id,
    part_name: String,
}

fn new_robot_part(a: NewPartArgs, _: &App) -> Result<app::NewRobotPartRequest, ToolError> {
    Ok(app::NewRobotPartRequest { robot_id: a.robot_id.into(), part_name: a.part_name })
}

fn delete_robot_part(a: PartArgs, _: &App) -> Result<app::DeleteRobotPartRequest, ToolError> {
    Ok(app::DeleteRobotPartRequest { part_id: a.robot_part_id.into() })
}

/// The part, and the machine's other parts that stay.
fn delete_robot_part_preview(app: Arc<App>, a: PartArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let part = robot_part(&app, a.robot_part_id.0).await?;
        let request = app::GetRobotPartsRequest { robot_id: part.robot.clone() };
        let parts = app.read(request).await?.parts;
        let others: Vec<_> = parts.iter().filter(|p| p.id != part.id).map(part_summary).collect();
        Ok(json!({"part": part_summary(&part), "robot_id": part.robot, "other_parts": others}))
    })
}

/// The part, for a preview; NOT_FOUND when there is none. The whole part is never shown: it
/// carries the part's secrets.
async fn robot_part(app: &App, id: String) -> Result<app::RobotPart, ToolError> {
    let response = app.read(app::GetRobotPartRequest { id }).await?;
    Ok(response.part.unwrap_or_default())
}

/// A part's id, name and whether it is the main part.
fn part_summary(part: &app::RobotPart) -> Value {
    json!({"id": part.id, "name": part.name, "main_part": part.main_part})
}

fn mark_part_as_main(a: PartArgs, _: &App) -> Result<app::MarkPartAsMainRequest, ToolError> {
    Ok(app::MarkPartAsMainRequest { part_id: a.robot_part_id.into() })
}

fn mark_part_for_restart(a: PartArgs, _: &App) -> Result<app::MarkPartForRestartRequest, ToolError> {
    Ok(app::MarkPartForRestartRequest { part_id: a.robot_part_id.into() })
}

/// The part and whether it is online. Not `last_access`: it moves while the part is online, so
/// the recheck before executing would always see a change.
fn mark_part_for_restart_preview(app: Arc<App>, a: PartArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let part = robot_part(&app, a.robot_part_id.0).await?;
        let online_state =
            app::OnlineState::try_from(part.online_state).map_or(json!(part.online_state), |s| json!(s.as_str_name()));
        Ok(json!({"part": part_summary(&part), "robot_id": part.robot, "online_state": online_state}))
    })
}

fn create_robot_part_secret(a: PartArgs, _: &App) -> Result<app::CreateRobotPartSecretRequest, ToolError> {
    Ok(app::CreateRobotPartSecretRequest { part_id: a.robot_part_id.into() })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DeletePartSecretArgs {
    robot_part_id: Id,
    /// get_robot_part shows them.
    secret_id: Id,
}

fn delete_robot_part_secret(a: DeletePartSecretArgs, _: &App) -> Result<app::DeleteRobotPartSecretRequest, ToolError> {
    Ok(app::DeleteRobotPartSecretRequest { part_id: a.robot_part_id.into(), secret_id: a.secret_id.into() })
}

/// The part and the secret's id, creation time and state, never its value.
fn delete_robot_part_secret_preview(app: Arc<App>, a: DeletePartSecretArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let part = robot_part(&app, a.robot_part_id.0).await?;
        Ok(json!({"part": part_summary(&part), "secret": secret_preview(&part.secrets, &a.secret_id.0)}))
    })
}

fn list_robots(a: DefaultLocationArgs, app: &App) -> Result<app::ListRobotsRequest, ToolError> {
    Ok(app::ListRobotsRequest { location_id: app.location_or_default(a.location_id)? })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewRobotArgs {
    name: String,
    #[serde(default)]
    location_id: Option<Id>,
}

fn new_robot(a: NewRobotArgs, app: &App) -> Result<app::NewRobotRequest, ToolError> {
    Ok(app::NewRobotRequest { name: a.name, location: app.location_or_default(a.location_id)? })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RobotsForLocationsArgs {
    location_ids: Vec<Id>,
}

fn list_robots_for_locations(
    a: RobotsForLocationsArgs,
    _: &App,
) -> Result<app::ListRobotsForLocationsRequest, ToolError> {
    Ok(app::ListRobotsForLocationsRequest { location_ids: a.location_ids.into_iter().map(String::from).collect() })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateRobotArgs {
    robot_id: Id,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    location_id: Option<Id>,
}

/// Given both name and location, this is the SDK's one UpdateRobot request. Whatever is omitted
/// is kept as it is, which takes reading the machine first: the request always carries both.
fn update_robot(cx: Arc<CallContext>, a: UpdateRobotArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let id = String::from(a.robot_id);
        let (name, location) = match (a.name, a.location_id) {
            (Some(name), Some(location)) => (name, location.0),
            (name, location) => {
                let request = app::GetRobotRequest { id: id.clone() };
                let current = cx.app.read(request).await?.robot.unwrap_or_default();
                (name.unwrap_or(current.name), location.map_or(current.location, String::from))
            }
        };
        Ok(to_json(&cx.unary(app::UpdateRobotRequest { id, name, location }).await?))
    })
}

fn delete_robot(a: RobotArgs, _: &App) -> Result<app::DeleteRobotRequest, ToolError> {
    Ok(app::DeleteRobotRequest { id: a.robot_id.into() })
}

/// The machine's name and location, and the parts that would go with it.
fn delete_robot_preview(app: Arc<App>, a: RobotArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let robot_id = String::from(a.robot_id);
        let (robot, parts) = tokio::try_join!(
            app.read(app::GetRobotRequest { id: robot_id.clone() }),
            app.read(app::GetRobotPartsRequest { robot_id: robot_id.clone() }),
        )?;
        let robot = robot.robot.unwrap_or_default();
        let parts: Vec<_> = parts.parts.iter().map(part_summary).collect();
        // The location by name, for the person asked; a key with a role on the machine alone may not
        // read it, and still gets its preview.
        let location = app.read(app::GetLocationRequest { location_id: robot.location.clone() }).await;
        let mut location_shown = json!({"id": robot.location});
        if let Some(found) = location.ok().and_then(|l| l.location) {
            location_shown["name"] = json!(found.name);
        }
        Ok(json!({
            "robot": {"id": robot_id, "name": robot.name, "location": location_shown},
            "parts": parts,
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::tests::{args, golden, hex, offline_app};

    #[tokio::test]
    async fn robot_reads_send_the_ids() {
        let app = offline_app();
        assert_eq!(
            hex(&get_robot(args(json!({"robot_id": "r1"})), &app).unwrap()),
            golden("machines::robot_reads_send_the_ids")
        );
        assert_eq!(
            hex(&get_rover_rental_robots(args(json!({"org_id": "org1"})), &app).unwrap()),
            golden("machines::robot_reads_send_the_ids#2")
        );
        assert_eq!(
            hex(&get_robot_parts(args(json!({"robot_id": "r1"})), &app).unwrap()),
            golden("machines::robot_reads_send_the_ids#3")
        );
    }

    #[tokio::test]
    async fn part_history_sends_bounds_only_when_given() {
        let app = offline_app();
        assert_eq!(
            hex(&get_robot_part_history(args(json!({"robot_part_id": "p1"})), &app).unwrap()),
            golden("machines::part_history_sends_bounds_only_when_given")
        );
        let a = json!({
            "robot_part_id": "p1", "start": "2024-01-02T03:04:05.678Z", "end": "2024-01-02T03:04:05.678Z",
            "page_limit": 5,
        });
        assert_eq!(
            hex(&get_robot_part_history(args(a), &app).unwrap()),
            golden("machines::part_history_sends_bounds_only_when_given#2")
        );
    }

    #[tokio::test]
    async fn update_robot_part_sends_configs_only_when_not_empty() {
        let app = offline_app();
        let r = update_robot_part(args(json!({"robot_part_id": "p1", "name": "main"})), &app).unwrap();
        assert_eq!(hex(&r), golden("machines::update_robot_part_sends_configs_only_when_not_empty"));
        let a = json!({"robot_part_id": "p1", "name": "main", "robot_config": {}, "robot_config_json": "{\"a\":1}"});
        assert_eq!(
            hex(&update_robot_part(args(a), &app).unwrap()),
            golden("machines::update_robot_part_sends_configs_only_when_not_empty#2")
        );
        let a = json!({"robot_part_id": "p1", "name": "main", "robot_config_json": ""});
        assert_eq!(
            hex(&update_robot_part(args(a), &app).unwrap()),
            golden("machines::update_robot_part_sends_configs_only_when_not_empty#3")
        );
    }

    #[tokio::test]
    async fn update_robot_part_converts_the_config_as_the_sdk_does() {
        let a = json!({
            "robot_part_id": "p1", "name": "main",
            "robot_config": {"components": [{"name": "c", "attributes": {"n": 1, "b": true, "z": null}}]},
            "last_known_update": "2024-01-02T03:04:05.678Z",
        });
        let r = update_robot_part(args(a), &offline_app()).unwrap();
        // Struct map order is unspecified, so compare decoded messages: the SDK encodes them in its own order.
        let sdk = "0a02703112046d61696e1a570a550a0a636f6d706f6e656e7473124732450a432a410a320a0a6174747269627574657312242a\
                   220a070a017a120208000a0e0a016e120911000000000000f03f0a070a0162120220010a0b0a046e616d6512031a0163220c08\
                   a5facdac061080eba5c302";
        let bytes: Vec<u8> =
            (0..sdk.len()).step_by(2).map(|i| u8::from_str_radix(&sdk[i..i + 2], 16).unwrap()).collect();
        assert_eq!(r, <app::UpdateRobotPartRequest as prost::Message>::decode(bytes.as_slice()).unwrap());
    }

    #[tokio::test]
    async fn update_robot_part_refuses_config_json_that_is_not_an_object() {
        for bad in ["[1]", "{oops"] {
            let a = json!({"robot_part_id": "p1", "name": "main", "robot_config_json": bad});
            let err = update_robot_part(args(a), &offline_app()).unwrap_err();
            assert_eq!(err.code(), "invalid_arguments");
            assert!(err.to_string().contains("robot_config_json"), "{err}");
        }
    }

    #[tokio::test]
    async fn part_writes_send_the_part_id() {
        let app = offline_app();
        let part = || args::<PartArgs>(json!({"robot_part_id": "p1"}));
        assert_eq!(
            hex(&new_robot_part(args(json!({"robot_id": "r1", "part_name": "p"})), &app).unwrap()),
            golden("machines::part_writes_send_the_part_id")
        );
        assert_eq!(hex(&delete_robot_part(part(), &app).unwrap()), golden("machines::part_writes_send_the_part_id#2"));
        assert_eq!(hex(&mark_part_as_main(part(), &app).unwrap()), golden("machines::part_writes_send_the_part_id#3"));
        assert_eq!(
            hex(&mark_part_for_restart(part(), &app).unwrap()),
            golden("machines::part_writes_send_the_part_id#4")
        );
        assert_eq!(
            hex(&create_robot_part_secret(part(), &app).unwrap()),
            golden("machines::part_writes_send_the_part_id#5")
        );
        let a = json!({"robot_part_id": "p1", "secret_id": "s1"});
        assert_eq!(
            hex(&delete_robot_part_secret(args(a), &app).unwrap()),
            golden("machines::part_writes_send_the_part_id#6")
        );
    }

    #[tokio::test]
    async fn robots_in_a_location() {
        let app = offline_app();
        assert_eq!(
            hex(&list_robots(args(json!({"location_id": "loc1"})), &app).unwrap()),
            golden("machines::robots_in_a_location")
        );
        let r = new_robot(args(json!({"name": "r", "location_id": "loc1"})), &app).unwrap();
        assert_eq!(hex(&r), golden("machines::robots_in_a_location#2"));
        let r = list_robots_for_locations(args(json!({"location_ids": ["loc1", "loc2"]})), &app).unwrap();
        assert_eq!(hex(&r), golden("machines::robots_in_a_location#3"));
        assert_eq!(
            hex(&delete_robot(args(json!({"robot_id": "r1"})), &app).unwrap()),
            golden("machines::robots_in_a_location#4")
        );
        assert!(new_robot(args(json!({"name": "r"})), &app).is_err());
    }

    #[test]
    fn config_files_are_written_as_python_json_dumps_does() {
        let text = r#"{"z": [], "a": {"k": [1, 2.50, -0, 1e16, 1.5e-7, 0.0001, 123456789012345678901]},
                      "s": "é\u0041\/😀\u007f", "e": {}}"#;
        let expected = "{\n  \"z\": [],\n  \"a\": {\n    \"k\": [\n      1,\n      2.5,\n      0,\n      1e+16,\n      \
                        1.5e-07,\n      0.0001,\n      123456789012345678901\n    ]\n  },\n  \
                        \"s\": \"\\u00e9A/\\ud83d\\ude00\\u007f\",\n  \"e\": {}\n}";
        assert_eq!(python_json_dumps(text, 2).unwrap(), expected);
        assert_eq!(python_json_dumps("[1,\ntrue, false,null]", 0).unwrap(), "[\n1,\ntrue,\nfalse,\nnull\n]");
        assert_eq!(
            python_json_dumps("{\"x\": 100.0, \"y\": 1E3}", 4).unwrap(),
            "{\n    \"x\": 100.0,\n    \"y\": 1000.0\n}"
        );
        assert!(python_json_dumps("", 4).is_err());
    }
}
