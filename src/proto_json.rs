//! The one proto → JSON path: proto3 JSON through prost-reflect, with the proto's snake_case
//! field names, RFC 3339 timestamps, `Struct` as plain JSON and enums as names. Also derives the
//! JSON Schema of a message as that serializer writes it.
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, SerializeOptions};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(crate::proto::DESCRIPTOR_SET).expect("descriptor set compiled by build.rs")
});

const OPTIONS: SerializeOptions = SerializeOptions::new().use_proto_field_name(true).skip_default_fields(false);

pub fn descriptor(full_name: &str) -> MessageDescriptor {
    POOL.get_message_by_name(full_name).unwrap_or_else(|| panic!("message {full_name} is in the descriptor set"))
}

/// A generated message as a dynamic one, for serde in either direction.
pub fn to_dynamic<M: prost::Message>(full_name: &str, message: &M) -> DynamicMessage {
    DynamicMessage::decode(descriptor(full_name), message.encode_to_vec().as_slice())
        .expect("a message re-decodes with its own descriptor")
}

/// Serializes any generated message as proto3 JSON.
pub fn to_json<M: prost::Message + prost::Name>(message: &M) -> Value {
    to_dynamic(&M::full_name(), message)
        .serialize_with_options(serde_json::value::Serializer, &OPTIONS)
        .expect("proto3 JSON serialization of a valid message")
}

/// Converts a JSON object to a `google.protobuf.Struct` as the SDK's `dict_to_struct` does:
/// every number becomes a double.
pub fn to_struct(object: &Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct { fields: object.iter().map(|(k, v)| (k.clone(), to_value(v))).collect() }
}

fn to_value(value: &Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue { values: items.iter().map(to_value).collect() }),
        Value::Object(object) => Kind::StructValue(to_struct(object)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// The JSON Schema of `to_json`'s output for a message: its fields, one level deep.
pub fn object_schema(message: &MessageDescriptor) -> Map<String, Value> {
    let properties: Map<String, Value> =
        message.fields().map(|field| (field.name().to_string(), field_schema(&field))).collect();
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    schema
}

fn field_schema(field: &FieldDescriptor) -> Value {
    if field.is_map() {
        return json!({"type": ["object", "null"]});
    }
    let single = kind_schema(&field.kind());
    if field.is_list() { json!({"type": "array", "items": single}) } else { single }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::viam::app::v1::{GetRobotPartResponse, RobotPart};

    #[test]
    fn writes_snake_case_rfc3339_struct_and_enum_names() {
        let part = RobotPart {
            id: "p1".into(),
            main_part: true,
            online_state: 1,
            seconds_since_online: 5,
            created_on: Some(prost_types::Timestamp { seconds: 1_704_164_645, nanos: 0 }),
            robot_config: Some(prost_types::Struct {
                fields: [(
                    "a".to_string(),
                    prost_types::Value { kind: Some(prost_types::value::Kind::NumberValue(1.5)) },
                )]
                .into(),
            }),
            ..Default::default()
        };
        let v = to_json(&GetRobotPartResponse { part: Some(part), config_json: "{}".into() });
        assert_eq!(v["part"]["main_part"], json!(true));
        assert_eq!(v["part"]["online_state"], json!("ONLINE_STATE_ONLINE"));
        assert_eq!(v["part"]["seconds_since_online"], json!("5"));
        assert_eq!(v["part"]["created_on"], json!("2024-01-02T03:04:05Z"));
        assert_eq!(v["part"]["robot_config"], json!({"a": 1.5}));
        assert_eq!(v["config_json"], json!("{}"));
    }
}
