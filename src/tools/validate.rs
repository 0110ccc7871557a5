//! Argument errors, all at once: serde stops at the first problem, so when it refuses a call the
//! arguments are checked against the tool's input schema too, and every missing, unknown or
//! ill-typed argument is named in one message. A model then fixes a call in one retry, not one per
//! argument.
use crate::error::ToolError;
use jsonschema::error::ValidationErrorKind;
use rmcp::model::JsonObject;
use serde_json::Value;

/// The error for arguments serde refused with `first`: every problem the schema finds, or `first`
/// alone when the schema finds none (a check only the argument type makes, such as a blank id).
pub fn all_problems(schema: &JsonObject, arguments: &Value, first: String) -> ToolError {
    let Ok(validator) = jsonschema::validator_for(&Value::Object(schema.clone())) else {
        return ToolError::invalid(first);
    };
    let mut problems: Vec<String> = validator.iter_errors(arguments).flat_map(|e| describe(&e)).collect();
    problems.sort();
    problems.dedup();
    if problems.len() < 2 {
        return ToolError::invalid(first);
    }
    ToolError::invalid(format!("{} problems: {}", problems.len(), problems.join("; ")))
}

/// `argument: what is wrong`, one line per argument.
fn describe(error: &jsonschema::ValidationError<'_>) -> Vec<String> {
    let path = error.instance_path.as_str().trim_start_matches('/').replace('/', ".");
    match &error.kind {
        ValidationErrorKind::Required { property } => {
            vec![format!("{}: missing (required)", property.as_str().unwrap_or_default())]
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            unexpected.iter().map(|name| format!("{}: unknown argument", prefixed(&path, name))).collect()
        }
        _ if path.is_empty() => vec![error.to_string()],
        _ => vec![format!("{path}: {error}")],
    }
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
        let err = all_problems(&schema(), &json!({"limit": 0, "colour": "red"}), "first".into()).to_string();
        for part in ["robot_id: missing", "name: missing", "limit:", "colour: unknown argument", "4 problems"] {
            assert!(err.contains(part), "{part} in {err}");
        }
    }

    #[test]
    fn a_single_problem_keeps_serdes_message() {
        let err = all_problems(&schema(), &json!({"robot_id": "r"}), "name: missing field".into());
        assert_eq!(err.to_string(), "invalid arguments: name: missing field");
    }
}
