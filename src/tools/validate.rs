//! Argument errors, all at once: serde stops at the first problem, so when it refuses a call the
//! arguments are checked against the tool's input schema too, and every missing, unknown or
//! ill-typed argument is named in one message. A model then fixes a call in one retry, not one per
//! argument.
use super::args::not_one_of;
use crate::error::ToolError;
use jsonschema::error::ValidationErrorKind;
use rmcp::model::JsonObject;
use serde_json::Value;

/// The error for arguments serde refused with `first`: every problem the schema finds, or `first`
/// alone when the schema finds one it says less well (a range, an enum) or none (a check only the
/// argument type makes, such as a blank id). A missing or unknown argument reads the same either
/// way, and an unknown one comes with every argument the tool takes: the schema's and `also`, the
/// ones the pipeline took before parsing (`confirm`, `limit`, `cursor`).
pub fn all_problems(schema: &JsonObject, arguments: &Value, first: String, also: &[&str]) -> ToolError {
    let Ok(validator) = jsonschema::validator_for(&Value::Object(schema.clone())) else {
        return ToolError::invalid(first);
    };
    let mut problems: Vec<Problem> = validator.iter_errors(arguments).flat_map(|e| describe(&e, arguments)).collect();
    problems.sort_by(|a, b| a.line.cmp(&b.line));
    problems.dedup_by(|a, b| a.line == b.line);
    let mut message = match problems.as_slice() {
        [] => first,
        // serde's own words name the members a nested object takes.
        [one] if matches!(one.kind, Kind::Other | Kind::UnknownMember) => first,
        [one] => one.line.clone(),
        many => {
            let lines: Vec<&str> = many.iter().map(|p| p.line.as_str()).collect();
            format!("{} problems: {}", many.len(), lines.join("; "))
        }
    };
    if problems.iter().any(|p| p.kind == Kind::UnknownArgument) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let takes: Vec<&str> =
            properties.into_iter().flat_map(|p| p.keys()).map(String::as_str).chain(also.iter().copied()).collect();
        if takes.is_empty() {
            message.push_str("; this tool takes no arguments");
        } else {
            message.push_str(&format!("; this tool takes {}", takes.join(", ")));
        }
    }
    ToolError::invalid(message)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Missing,
    /// An argument at the top level that the tool does not take.
    UnknownArgument,
    /// A member of an object argument that it does not have.
    UnknownMember,
    Other,
}

struct Problem {
    kind: Kind,
    line: String,
}

/// `argument: what is wrong`, one line per argument.
fn describe(error: &jsonschema::ValidationError<'_>, arguments: &Value) -> Vec<Problem> {
    let path = error.instance_path.as_str().trim_start_matches('/').replace('/', ".");
    let problem = |kind, line| Problem { kind, line };
    match &error.kind {
        ValidationErrorKind::Required { property } => {
            let name = prefixed(&path, property.as_str().unwrap_or_default());
            vec![problem(Kind::Missing, format!("{name}: missing (required)"))]
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let kind = if path.is_empty() { Kind::UnknownArgument } else { Kind::UnknownMember };
            unexpected
                .iter()
                .map(|name| problem(kind, format!("{}: unknown argument", prefixed(&path, name))))
                .collect()
        }
        // `additionalProperties: false` beside no `properties`: the object may have no member at all
        // (the error is the object's, and holds a member's value, not its name).
        ValidationErrorKind::FalseSchema if error.schema_path.as_str().ends_with("/additionalProperties") => {
            let kind = if path.is_empty() { Kind::UnknownArgument } else { Kind::UnknownMember };
            let object = arguments.pointer(error.instance_path.as_str()).and_then(Value::as_object);
            let members = object.into_iter().flat_map(|o| o.keys());
            members.map(|name| problem(kind, format!("{}: unknown argument", prefixed(&path, name)))).collect()
        }
        ValidationErrorKind::Enum { options } => enum_problem(&path, error, &[options]),
        // An optional enum: one branch lists the names, the other allows null.
        ValidationErrorKind::AnyOf { context } if context.iter().flatten().any(|e| is_enum(&e.kind)) => {
            let options: Vec<&Value> = context
                .iter()
                .flatten()
                .filter_map(|e| match &e.kind {
                    ValidationErrorKind::Enum { options } => Some(options),
                    _ => None,
                })
                .collect();
            enum_problem(&path, error, &options)
        }
        _ if path.is_empty() => vec![problem(Kind::Other, error.to_string())],
        _ => vec![problem(Kind::Other, format!("{path}: {error}"))],
    }
}

fn is_enum(kind: &ValidationErrorKind) -> bool {
    matches!(kind, ValidationErrorKind::Enum { .. })
}

/// A value outside an enum, unless the argument type reads it: names case-insensitively, and proto
/// enum names (`PREFIX_NAME`) as aliases.
fn enum_problem(path: &str, error: &jsonschema::ValidationError<'_>, options: &[&Value]) -> Vec<Problem> {
    let names: Vec<&str> = options.iter().filter_map(|o| o.as_array()).flatten().filter_map(Value::as_str).collect();
    let line = match error.instance.as_str() {
        Some(text) if names.iter().any(|name| is_spelling_of(text, name)) => return Vec::new(),
        Some(text) => format!("{path}: {}", not_one_of(text, &names)),
        None => format!("{path}: {error}"),
    };
    vec![Problem { kind: Kind::Other, line }]
}

/// `name` itself in any case, or a proto enum name for it: `LOG_ORDER_ASCENDING` for `ascending`.
fn is_spelling_of(text: &str, name: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower == name || lower.strip_suffix(name).is_some_and(|prefix| prefix.ends_with('_'))
}

fn prefixed(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> JsonObject {
        let schema = json!({
            "type": "object",
            "properties": {"robot_id": {"type": "string", "minLength": 1}, "name": {"type": "string"},
                           "limit": {"type": "integer", "minimum": 1}},
            "required": ["robot_id", "name"],
            "additionalProperties": false,
        });
        schema.as_object().unwrap().clone()
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let err = all_problems(&schema(), &json!({"limit": 0, "colour": "red"}), "first".into(), &[]).to_string();
        for part in ["robot_id: missing", "name: missing", "limit:", "colour: unknown argument", "4 problems"] {
            assert!(err.contains(part), "{part} in {err}");
        }
    }

    #[test]
    fn a_single_problem_keeps_serdes_message_unless_it_is_a_missing_or_unknown_argument() {
        let range =
            all_problems(&schema(), &json!({"robot_id": "r", "name": "n", "limit": 0}), "limit: low".into(), &[]);
        assert_eq!(range.to_string(), "invalid arguments: limit: low");
        let missing = all_problems(&schema(), &json!({"robot_id": "r"}), "missing field `name`".into(), &[]);
        assert_eq!(missing.to_string(), "invalid arguments: name: missing (required)");
        let unknown = json!({"robot_id": "r", "name": "n", "colour": 1});
        let unknown = all_problems(&schema(), &unknown, "unknown field `colour`".into(), &["cursor"]).to_string();
        assert!(
            unknown.ends_with("colour: unknown argument; this tool takes limit, name, robot_id, cursor"),
            "{unknown}"
        );
    }

    #[test]
    fn a_tool_without_arguments_names_an_unknown_one_too() {
        let schema = json!({"type": "object", "additionalProperties": false});
        let err = all_problems(schema.as_object().unwrap(), &json!({"x": 1}), "first".into(), &["limit"]);
        assert_eq!(err.to_string(), "invalid arguments: x: unknown argument; this tool takes limit");
    }

    #[test]
    fn enum_values_are_checked_as_the_argument_types_read_them() {
        let schema = json!({
            "type": "object",
            "properties": {"order": {"enum": ["ascending", "descending"]}, "n": {"type": "integer"}},
            "additionalProperties": false,
        });
        let schema = schema.as_object().unwrap();
        for spelling in ["DESCENDING", "LOG_ORDER_DESCENDING"] {
            let err = all_problems(schema, &json!({"order": spelling, "n": "x"}), "n: bad".into(), &[]);
            assert_eq!(err.to_string(), "invalid arguments: n: bad", "{spelling}");
        }
        let err = all_problems(schema, &json!({"order": "desc", "n": "x"}), "first".into(), &[]).to_string();
        assert!(
            err.contains(r#"order: "desc" is not one of ascending, descending; did you mean "descending"?"#),
            "{err}"
        );
    }
}
