//! A call that falls back on the configured default location says so: its result names the
//! location as `location_id`, so a model never mistakes one location's answer for the whole fleet's.
use super::App;
use rmcp::model::JsonObject;
use serde_json::{Value, json};

/// Whether a unary tool's arguments have an optional `location_id`: it then means "the default
/// location" when omitted (App::location_or_default).
pub fn takes_default_location(input_schema: &JsonObject) -> bool {
    let optional = |required: &Value| !required.as_array().is_some_and(|r| r.contains(&json!("location_id")));
    input_schema.get("properties").and_then(|p| p.get("location_id")).is_some()
        && input_schema.get("required").is_none_or(optional)
}

/// The output schema's `location_id`, for tools that take a default location.
pub fn declare(output_schema: &mut JsonObject) {
    if let Some(Value::Object(properties)) = output_schema.get_mut("properties") {
        // What it means is said once, in the server instructions.
        properties.insert("location_id".into(), json!({"type": "string"}));
    }
}

/// Adds the default location to the result of a call that omitted `location_id`.
pub fn report(app: &App, arguments: &JsonObject, result: &mut Value) {
    if let (None, Some(location), Value::Object(result)) = (arguments.get("location_id"), &app.default_location, result)
    {
        result.insert("location_id".into(), json!(location));
    }
}
