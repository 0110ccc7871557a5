//! The JSON Schema of what `proto_json` writes for a message, derived from its descriptor. Compiled
//! into `build.rs` only: the schemas are made when the crate is built, so that starting the server
//! and listing its tools decodes no descriptor pool.
use crate::config_fields::{CONFIGS, HANDED_DOWN};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

/// The JSON Schema of `to_json`'s output for a message: its fields, one level deep.
/// A config text or handed-down config is not written (see `CONFIGS`), so it is not listed.
pub fn object_schema(message: &MessageDescriptor) -> Map<String, Value> {
    let name = message.full_name();
    let written = |field: &FieldDescriptor| {
        !CONFIGS.iter().any(|&(m, _, text)| m == name && text == field.name())
            && !HANDED_DOWN.iter().any(|&(m, handed, _)| m == name && handed == field.name())
    };
    let properties: Map<String, Value> =
        message.fields().filter(written).map(|field| (field.name().to_string(), field_schema(&field))).collect();
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    schema
}

fn field_schema(field: &FieldDescriptor) -> Value {
    if field.is_map() {
        return json!({"type": ["object", "null"]});
    }
    let mut single = kind_schema(&field.kind());
    if !field.is_list() {
        return single;
    }
    // An element of a list is never null, so an item is just an object (or a time).
    if let Some(types) = single.get("type").and_then(Value::as_array).filter(|t| t.len() == 2 && t[1] == "null") {
        single["type"] = types[0].clone();
    }
    json!({"type": "array", "items": single})
}

fn kind_schema(kind: &Kind) -> Value {
    match kind {
        Kind::String | Kind::Bytes => json!({"type": "string"}),
        Kind::Bool => json!({"type": "boolean"}),
        // proto3 JSON writes 64-bit integers as strings.
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            json!({"type": "string", "pattern": "^-?[0-9]+$"})
        }
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => {
            json!({"type": "integer"})
        }
        // NaN and the infinities are strings in proto3 JSON.
        Kind::Double | Kind::Float => json!({"type": ["number", "string"]}),
        // Names for known values; a newer server may send a number this build has no name for.
        Kind::Enum(e) => json!({
            "type": ["string", "integer"],
            "description": e.values().map(|v| v.name().to_string()).collect::<Vec<_>>().join(" | "),
        }),
        Kind::Message(m) => match m.full_name() {
            "google.protobuf.Timestamp" => json!({"type": ["string", "null"], "format": "date-time"}),
            "google.protobuf.Value" => json!({}),
            "google.protobuf.ListValue" => json!({"type": ["array", "null"]}),
            _ => json!({"type": ["object", "null"]}),
        },
    }
}
