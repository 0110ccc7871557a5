//! The one proto → JSON path: proto3 JSON with the proto's snake_case field names, RFC 3339
//! timestamps, `Struct` as plain JSON and enums as names, exactly as prost-reflect writes it, but
//! with each part or fragment config once (see [`CONFIGS`]). Also gives the JSON Schema of a
//! message as this writes it.
//!
//! The JSON is read straight from the message's wire bytes with its descriptor. prost-reflect would
//! first build a `DynamicMessage` and then re-encode and re-decode every `Struct` in it, which costs
//! about 30 times the walk for a part with a config.
use crate::config_fields::{CONFIGS, HANDED_DOWN};
use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use prost::Message as _;
use prost::encoding::{WireType, decode_key, decode_varint};
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

/// Serializes any generated message as proto3 JSON, each config once.
pub fn to_json<M: prost::Message + prost::Name>(message: &M) -> Value {
    message_json(&descriptor(&M::full_name()), &message.encode_to_vec())
        .expect("proto3 JSON serialization of a valid message")
}

/// [`to_json`] of a message as it came off the wire, without decoding it into prost types first;
/// `None` if the bytes are not such a message.
pub fn wire_json<M: prost::Name>(bytes: &[u8]) -> Option<Value> {
    message_json(&descriptor(&M::full_name()), bytes)
}

/// A config still as wire bytes: as JSON text, as a `Struct`.
#[derive(Clone, Copy, Default)]
struct Wire<'a> {
    text: Option<&'a [u8]>,
    structure: Option<&'a [u8]>,
}

/// prost-reflect's own serializer: for the well-known types the walk leaves to it, and for bytes
/// the walk cannot read.
pub(crate) fn reflect_json(desc: &MessageDescriptor, bytes: &[u8]) -> Option<Value> {
    DynamicMessage::decode(desc.clone(), bytes)
        .ok()?
        .serialize_with_options(serde_json::value::Serializer, &OPTIONS)
        .ok()
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

fn message_json(desc: &MessageDescriptor, bytes: &[u8]) -> Option<Value> {
    handed_json(desc, bytes, Wire::default())
}

/// The walk reads all that prost encodes of a viam message; what it leaves to prost-reflect is a
/// well-known type other than those it reads, which holds no config.
fn handed_json(desc: &MessageDescriptor, bytes: &[u8], handed: Wire) -> Option<Value> {
    walk(desc, bytes, handed).or_else(|| reflect_json(desc, bytes))
}

/// The fields prost-reflect writes with `skip_default_fields(false)`: every field that has no
/// presence (with its default when absent) and every field with presence that is set. A config
/// field is set aside while walking and written once at the end (see [`CONFIGS`]).
fn walk(desc: &MessageDescriptor, mut bytes: &[u8], handed: Wire) -> Option<Value> {
    match desc.full_name() {
        "google.protobuf.Struct" => return Some(struct_to_json(&prost_types::Struct::decode(bytes).ok()?)),
        "google.protobuf.Value" => return Some(value_json(&prost_types::Value::decode(bytes).ok()?)),
        "google.protobuf.ListValue" => return Some(list_json(&prost_types::ListValue::decode(bytes).ok()?)),
        "google.protobuf.Timestamp" => {
            return Some(Value::String(rfc3339(&prost_types::Timestamp::decode(bytes).ok()?)));
        }
        name if name.starts_with("google.protobuf.") => return None,
        _ => {}
    }
    let full_name = desc.full_name();
    let config = CONFIGS.iter().find(|(message, ..)| *message == full_name);
    let hands_down = HANDED_DOWN.iter().find(|(message, ..)| *message == full_name);
    // Set aside as wire bytes: only the one that is written is ever decoded or parsed.
    let (mut own, mut down, mut child) = (Wire::default(), None, None);
    let mut out = Map::new();
    while !bytes.is_empty() {
        let (number, wire_type) = decode_key(&mut bytes).ok()?;
        // A field this build does not know (a newer service's) is skipped, as prost skips it.
        let Some(field) = desc.get_field(number) else {
            skip(wire_type, &mut bytes)?;
            continue;
        };
        let name = field.name();
        if config.is_some_and(|&(_, kept, _)| name == kept) {
            own.structure = Some(take_len(wire_type, &mut bytes)?);
        } else if config.is_some_and(|&(_, _, text)| name == text) {
            own.text = Some(take_len(wire_type, &mut bytes)?);
        } else if hands_down.is_some_and(|&(_, field, _)| name == field) {
            down = Some((field, take_len(wire_type, &mut bytes)?));
        } else if hands_down.is_some_and(|&(_, _, below)| name == below) {
            child = Some((field, take_len(wire_type, &mut bytes)?));
        } else if field.is_map() {
            let Kind::Message(entry) = field.kind() else { return None };
            let (key, value) = map_entry(&entry, take_len(wire_type, &mut bytes)?)?;
            let map = out.entry(name).or_insert_with(|| Value::Object(Map::new()));
            map.as_object_mut()?.insert(key, value);
        } else if field.is_list() {
            let list = out.entry(name).or_insert_with(|| Value::Array(Vec::new())).as_array_mut()?;
            let kind = field.kind();
            match packed_wire_type(&kind) {
                Some(element) if wire_type == WireType::LengthDelimited => {
                    let mut packed = take_len(wire_type, &mut bytes)?;
                    while !packed.is_empty() {
                        list.push(scalar(&kind, element, &mut packed)?);
                    }
                }
                _ => list.push(scalar(&kind, wire_type, &mut bytes)?),
            }
        } else {
            out.insert(name.to_string(), scalar(&field.kind(), wire_type, &mut bytes)?);
        }
    }
    if let Some(&(_, kept, _)) = config {
        // Validated whole, the text is parsed without checking each string again.
        let text = [handed.text, own.text]
            .into_iter()
            .flatten()
            .find_map(|t| serde_json::from_str::<Map<_, _>>(std::str::from_utf8(t).ok()?).ok());
        let structure = match own.structure.or(handed.structure) {
            Some(s) if text.is_none() => Some(message_json(&descriptor("google.protobuf.Struct"), s)?),
            _ => None,
        };
        if let Some(value) = text.map(Value::Object).or(structure) {
            out.insert(kept.to_string(), value);
        }
    }
    match (down, child) {
        (down, Some((child, below))) => {
            let handed = match down {
                Some((field, text)) if field.kind() == Kind::String => Wire { text: Some(text), structure: None },
                structure => Wire { text: None, structure: structure.map(|(_, s)| s) },
            };
            let Kind::Message(m) = child.kind() else { return None };
            out.insert(child.name().to_string(), handed_json(&m, below, handed)?);
        }
        // With nothing to hand it to, a `Struct` stays where it is; a text is never written.
        (Some((field, payload)), None) if field.kind() != Kind::String => {
            out.insert(field.name().to_string(), delimited(&field.kind(), payload)?);
        }
        _ => {}
    }
    // A handed-down field without presence (`config_json`) is not written as its default either.
    let handed_name = hands_down.map(|&(_, handed, _)| handed);
    for field in desc.fields().filter(|f| !f.supports_presence() && Some(f.name()) != handed_name) {
        if !out.contains_key(field.name()) {
            out.insert(field.name().to_string(), default_json(&field));
        }
    }
    Some(Value::Object(out))
}

/// A map entry's key (as proto3 JSON writes map keys) and value; either may be absent.
fn map_entry(entry: &MessageDescriptor, mut bytes: &[u8]) -> Option<(String, Value)> {
    let (key_field, value_field) = (entry.map_entry_key_field(), entry.map_entry_value_field());
    let (mut key, mut value) = (None, None);
    while !bytes.is_empty() {
        let (number, wire_type) = decode_key(&mut bytes).ok()?;
        if number == key_field.number() {
            key = Some(scalar(&key_field.kind(), wire_type, &mut bytes)?);
        } else if number == value_field.number() {
            value = Some(scalar(&value_field.kind(), wire_type, &mut bytes)?);
        } else {
            return None;
        }
    }
    let key = match key.unwrap_or_else(|| default_json(&key_field)) {
        Value::String(s) => s,
        other => other.to_string(),
    };
    Some((key, value.unwrap_or_else(|| default_json(&value_field))))
}

/// The wire type of one element of a packed repeated field, for the kinds that can be packed.
fn packed_wire_type(kind: &Kind) -> Option<WireType> {
    match kind {
        Kind::String | Kind::Bytes | Kind::Message(_) => None,
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => Some(WireType::SixtyFourBit),
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => Some(WireType::ThirtyTwoBit),
        _ => Some(WireType::Varint),
    }
}

fn take_len<'a>(wire_type: WireType, bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    if wire_type != WireType::LengthDelimited {
        return None;
    }
    let len = usize::try_from(decode_varint(bytes).ok()?).ok()?;
    let (value, rest) = bytes.split_at_checked(len)?;
    *bytes = rest;
    Some(value)
}

/// Steps over one field's value; groups (proto2) are left to prost-reflect.
fn skip(wire_type: WireType, bytes: &mut &[u8]) -> Option<()> {
    match wire_type {
        WireType::Varint => decode_varint(bytes).ok().map(drop),
        WireType::SixtyFourBit => take_fixed::<8>(bytes).map(drop),
        WireType::ThirtyTwoBit => take_fixed::<4>(bytes).map(drop),
        WireType::LengthDelimited => take_len(wire_type, bytes).map(drop),
        WireType::StartGroup | WireType::EndGroup => None,
    }
}

fn take_fixed<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
    let (value, rest) = bytes.split_first_chunk::<N>()?;
    *bytes = rest;
    Some(*value)
}

/// One value of a singular or repeated field.
fn scalar(kind: &Kind, wire_type: WireType, bytes: &mut &[u8]) -> Option<Value> {
    Some(match (kind, wire_type) {
        (Kind::Message(_) | Kind::String | Kind::Bytes, _) => delimited(kind, take_len(wire_type, bytes)?)?,
        (_, WireType::Varint) => {
            let v = decode_varint(bytes).ok()?;
            match kind {
                Kind::Int32 => json!(v as i32),
                Kind::Sint32 => json!(((v as u32) >> 1) as i32 ^ -((v & 1) as i32)),
                Kind::Uint32 => json!(v as u32),
                Kind::Int64 => Value::String((v as i64).to_string()),
                Kind::Sint64 => Value::String(((v >> 1) as i64 ^ -((v & 1) as i64)).to_string()),
                Kind::Uint64 => Value::String(v.to_string()),
                Kind::Bool => Value::Bool(v != 0),
                Kind::Enum(e) => enum_json(e, v as i32),
                _ => return None,
            }
        }
        (Kind::Double, WireType::SixtyFourBit) => float_json(f64::from_le_bytes(take_fixed(bytes)?)),
        (Kind::Fixed64, WireType::SixtyFourBit) => Value::String(u64::from_le_bytes(take_fixed(bytes)?).to_string()),
        (Kind::Sfixed64, WireType::SixtyFourBit) => Value::String(i64::from_le_bytes(take_fixed(bytes)?).to_string()),
        (Kind::Float, WireType::ThirtyTwoBit) => {
            let v = f32::from_le_bytes(take_fixed(bytes)?);
            if v.is_finite() { Value::from(v) } else { float_json(f64::from(v)) }
        }
        (Kind::Fixed32, WireType::ThirtyTwoBit) => json!(u32::from_le_bytes(take_fixed(bytes)?)),
        (Kind::Sfixed32, WireType::ThirtyTwoBit) => json!(i32::from_le_bytes(take_fixed(bytes)?)),
        _ => return None,
    })
}

/// The value of a length-delimited field of `kind` from its payload.
fn delimited(kind: &Kind, payload: &[u8]) -> Option<Value> {
    Some(match kind {
        Kind::Message(m) => message_json(m, payload)?,
        Kind::String => Value::String(std::str::from_utf8(payload).ok()?.to_string()),
        Kind::Bytes => Value::String(BASE64_STANDARD.encode(payload)),
        _ => return None,
    })
}

/// The value a field without presence is written with when it is not on the wire.
fn default_json(field: &FieldDescriptor) -> Value {
    if field.is_map() {
        return Value::Object(Map::new());
    }
    if field.is_list() {
        return Value::Array(Vec::new());
    }
    match field.kind() {
        Kind::String | Kind::Bytes => Value::String(String::new()),
        Kind::Bool => Value::Bool(false),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => json!(0i32),
        Kind::Uint32 | Kind::Fixed32 => json!(0u32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => Value::String("0".into()),
        Kind::Double => Value::from(0f64),
        Kind::Float => Value::from(0f32),
        Kind::Enum(e) => enum_json(&e, 0),
        // An empty message always has its JSON; `Null` is never reached.
        Kind::Message(m) => message_json(&m, &[]).unwrap_or_default(),
    }
}

fn enum_json(e: &prost_reflect::EnumDescriptor, number: i32) -> Value {
    if e.full_name() == "google.protobuf.NullValue" {
        return Value::Null;
    }
    e.get_value(number).map_or_else(|| json!(number), |v| Value::String(v.name().to_string()))
}

/// NaN and the infinities are strings in proto3 JSON.
fn float_json(v: f64) -> Value {
    match v {
        v if v.is_finite() => Value::from(v),
        f64::INFINITY => Value::String("Infinity".into()),
        f64::NEG_INFINITY => Value::String("-Infinity".into()),
        _ => Value::String("NaN".into()),
    }
}

/// The largest magnitude below which every integer is exactly a double.
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// A `Struct` holds every number as a double, so an integer written into one (a log line's `Line`, a
/// config's pin) comes back as one, as Go's protojson writes it: `249`, not `249.0`.
fn struct_number_json(v: f64) -> Value {
    let integer = v.fract() == 0.0 && v.abs() < EXACT_INTEGERS && !(v == 0.0 && v.is_sign_negative());
    if integer { Value::from(v as i64) } else { float_json(v) }
}

/// Seconds of 0001-01-01T00:00:00Z and of 9999-12-31T23:59:59Z.
const YEARS_1_TO_9999: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

/// What prost's `Display` writes for a timestamp, without `core::fmt` (a log page has a thousand):
/// years 1–9999, and the fraction as milli-, micro- or nanoseconds, whichever is exact. A time
/// outside those years is an error in prost-reflect; here prost writes it (`+10000-01-01T00:00:00Z`),
/// so that one odd time does not cost the whole answer.
fn rfc3339(t: &prost_types::Timestamp) -> String {
    let mut t = *t;
    t.normalize();
    if !YEARS_1_TO_9999.contains(&t.seconds) {
        return t.to_string();
    }
    // Howard Hinnant's days → civil date, for days since 1970-01-01.
    let (days, second_of_day) = (t.seconds.div_euclid(86_400), t.seconds.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let nanos = i64::from(t.nanos);
    let fraction = match nanos {
        0 => None,
        n if n % 1_000_000 == 0 => Some((n / 1_000_000, 3)),
        n if n % 1_000 == 0 => Some((n / 1_000, 6)),
        n => Some((n, 9)),
    };
    let (hour, minute, second) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    let fields = [(b'-', month, 2), (b'-', day, 2), (b'T', hour, 2), (b':', minute, 2), (b':', second, 2)];
    let mut out = Vec::with_capacity(30);
    push_digits(&mut out, year, 4);
    for (separator, value, width) in fields.into_iter().chain(fraction.map(|(value, width)| (b'.', value, width))) {
        out.push(separator);
        push_digits(&mut out, value, width);
    }
    out.push(b'Z');
    String::from_utf8(out).expect("digits and ASCII separators")
}

/// `value` in decimal, zero-padded to `width` digits.
fn push_digits(out: &mut Vec<u8>, value: i64, width: u32) {
    out.extend((0..width).rev().map(|place| b'0' + (value / 10i64.pow(place) % 10) as u8));
}

/// A `Struct` as the plain JSON object it stands for.
pub fn struct_to_json(s: &prost_types::Struct) -> Value {
    Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), value_json(v))).collect())
}

fn list_json(l: &prost_types::ListValue) -> Value {
    Value::Array(l.values.iter().map(value_json).collect())
}

/// A non-finite number is an error in prost-reflect; here it is written as a `double` field's is
/// (`"NaN"`, `"Infinity"`), so that one log field a robot filled oddly does not cost the page.
fn value_json(v: &prost_types::Value) -> Value {
    use prost_types::value::Kind as V;
    match &v.kind {
        None | Some(V::NullValue(_)) => Value::Null,
        Some(V::BoolValue(b)) => Value::Bool(*b),
        Some(V::NumberValue(n)) => struct_number_json(*n),
        Some(V::StringValue(s)) => Value::String(s.clone()),
        Some(V::ListValue(l)) => list_json(l),
        Some(V::StructValue(s)) => struct_to_json(s),
    }
}

include!(concat!(env!("OUT_DIR"), "/output_schemas.rs"));

/// The JSON Schema of `to_json`'s output for a response message, one level deep. It is derived
/// from the descriptors when the crate is built (`src/output_schema.rs`), so listing the tools
/// needs no descriptor pool: the pool is decoded only for the first call.
pub fn output_schema(full_name: &str) -> Map<String, Value> {
    let text = output_schema_json(full_name).unwrap_or_else(|| panic!("{full_name} is not a method's response"));
    serde_json::from_str(text).expect("build.rs writes each schema as a JSON object")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::viam::app::v1::{
        Fragment, FragmentHistoryEntry, GetFragmentResponse, GetRobotPartResponse, GetRobotPartsResponse, RobotPart,
        RobotPartHistoryEntry,
    };

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
        let v = to_json(&GetRobotPartResponse { part: Some(part), config_json: String::new() });
        assert_eq!(v["part"]["main_part"], json!(true));
        assert_eq!(v["part"]["online_state"], json!("ONLINE_STATE_ONLINE"));
        assert_eq!(v["part"]["seconds_since_online"], json!("5"));
        assert_eq!(v["part"]["created_on"], json!("2024-01-02T03:04:05Z"));
        assert_eq!(v["part"]["robot_config"], json!({"a": 1.5}));
        assert_eq!(v.get("config_json"), None);
    }

    fn config(pairs: &[(&str, f64)]) -> Option<prost_types::Struct> {
        let number = |n: f64| prost_types::Value { kind: Some(prost_types::value::Kind::NumberValue(n)) };
        Some(prost_types::Struct { fields: pairs.iter().map(|&(k, n)| (k.to_string(), number(n))).collect() })
    }

    #[test]
    fn each_config_once_from_its_text_with_integers_exact() {
        let text = r#"{"big": 12345678901234567890, "float": 1.0, "neg": -9007199254740993, "s": "x"}"#;
        let part = |json: Option<&str>| RobotPart {
            id: "p1".into(),
            robot_config: config(&[("from_struct", 1.0)]),
            robot_config_json: json.map(str::to_string),
            ..Default::default()
        };
        // The response's config_json is the part's config; the part's own text and Struct are not read.
        let v = to_json(&GetRobotPartResponse { part: Some(part(Some(r#"{"own": 1}"#))), config_json: text.into() });
        assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["part"]);
        assert_eq!(v["part"]["robot_config"], serde_json::from_str::<Value>(text).unwrap());
        assert!(v["part"].get("robot_config_json").is_none());
        let written = v.to_string();
        for exact in [r#""big":12345678901234567890"#, r#""float":1.0"#, r#""neg":-9007199254740993"#] {
            assert!(written.contains(exact), "{exact} in {written}");
        }
        // Without the response's text: the part's own, then its Struct when the text is no object.
        let own =
            to_json(&GetRobotPartResponse { part: Some(part(Some(r#"{"own": 1}"#))), config_json: String::new() });
        assert_eq!(own["part"]["robot_config"], json!({"own": 1}));
        for not_an_object in [None, Some(""), Some("[1]"), Some("{not json")] {
            let v = to_json(&part(not_an_object));
            assert_eq!(v["robot_config"], json!({"from_struct": 1}), "{not_an_object:?}");
            assert!(v.get("robot_config_json").is_none());
        }
        assert!(to_json(&RobotPart::default()).get("robot_config").is_none());
        // A list of parts and a history entry's old part get the same.
        let parts = to_json(&GetRobotPartsResponse { parts: vec![part(Some(text))] });
        assert_eq!(parts["parts"][0]["robot_config"]["big"], json!(12_345_678_901_234_567_890u64));
        let entry = RobotPartHistoryEntry { old: Some(part(Some(text))), ..Default::default() };
        assert!(to_json(&entry)["old"].get("robot_config_json").is_none());
    }

    #[test]
    fn a_fragment_config_once_and_a_history_entry_hands_its_config_down() {
        let fragment = |json: Option<&str>, structure| Fragment {
            id: "f1".into(),
            fragment: structure,
            fragment_config_json: json.map(str::to_string),
            ..Default::default()
        };
        let v = to_json(&GetFragmentResponse {
            fragment: Some(fragment(Some(r#"{"n": 3}"#), config(&[("n", 3.0)]))),
            ..Default::default()
        });
        assert_eq!(v["fragment"]["fragment"].to_string(), r#"{"n":3}"#);
        assert!(v["fragment"].get("fragment_config_json").is_none());
        // The entry's config is the old fragment's when that has none of its own, and not repeated.
        let entry = |old| FragmentHistoryEntry { config: config(&[("entry", 1.0)]), old, ..Default::default() };
        let v = to_json(&entry(Some(fragment(None, None))));
        assert_eq!(v["old"]["fragment"], json!({"entry": 1}));
        assert!(v.get("config").is_none());
        let v = to_json(&entry(Some(fragment(Some(r#"{"old": 2}"#), None))));
        assert_eq!(v["old"]["fragment"], json!({"old": 2}));
        assert!(v.get("config").is_none());
        // With no old fragment to carry it, the entry keeps its own.
        assert_eq!(to_json(&entry(None))["config"], json!({"entry": 1}));
    }

    #[test]
    fn off_the_wire_a_newer_services_fields_are_skipped_and_bad_bytes_are_refused() {
        let response = GetRobotPartResponse {
            part: Some(RobotPart {
                id: "p1".into(),
                robot_config_json: Some(r#"{"a": 1}"#.into()),
                ..Default::default()
            }),
            config_json: r#"{"a": 1}"#.into(),
        };
        let known = response.encode_to_vec();
        // Fields 900 (varint), 901 (bytes), 902 (fixed64) and 903 (fixed32), unknown to this build.
        let mut newer = known.clone();
        newer.extend([0xa0, 0x38, 0x05, 0xaa, 0x38, 0x02, b'h', b'i', 0xb1, 0x38, 0, 0, 0, 0, 0, 0, 0, 0]);
        newer.extend([0xbd, 0x38, 0, 0, 0, 0]);
        assert_eq!(wire_json::<GetRobotPartResponse>(&newer), Some(to_json(&response)));
        assert_eq!(wire_json::<GetRobotPartResponse>(&known[..known.len() - 3]), None, "cut short");
        assert_eq!(wire_json::<GetRobotPartResponse>(&[0x0a, 0x03, 0xff, 0xff, 0xff]), None, "bad nested bytes");
    }

    #[test]
    fn timestamps_are_written_as_prost_writes_them() {
        let edges = [-62_135_596_800, -62_135_596_799, -1, 0, 1, 951_782_400, 951_868_799, 253_402_300_799];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let span = (253_402_300_799_i64 + 62_135_596_800) as u64;
        let random = (0..5_000).map(|_| (next() % span) as i64 - 62_135_596_800);
        // Whole seconds, each width of fraction, and fractions prost normalizes first.
        let nanos =
            [0, 1, 999_999_999, 5_000_000, 120_000, 123_456_789, -1, -500_000_000, 1_000_000_000, 2_000_000_001];
        for seconds in edges.into_iter().chain(random) {
            for nanos in nanos {
                let t = prost_types::Timestamp { seconds, nanos };
                assert_eq!(rfc3339(&t), t.to_string(), "{t:?}");
            }
        }
    }

    #[test]
    fn a_non_finite_struct_number_and_a_time_past_9999_are_written_not_refused() {
        use crate::proto::viam::app::v1::GetRobotPartLogsResponse;
        use crate::proto::viam::common::v1::LogEntry;
        let number = |n: f64| prost_types::Value { kind: Some(prost_types::value::Kind::NumberValue(n)) };
        let fields = [("nan", f64::NAN), ("inf", f64::INFINITY), ("ok", 1.5)];
        let entry = LogEntry {
            time: Some(prost_types::Timestamp { seconds: 253_402_300_800, nanos: 0 }),
            fields: vec![prost_types::Struct { fields: fields.map(|(k, n)| (k.to_string(), number(n))).into() }],
            ..Default::default()
        };
        let page = GetRobotPartLogsResponse { logs: vec![entry], next_page_token: String::new() };
        let written = to_json(&page);
        assert_eq!(written["logs"][0]["time"], json!("+10000-01-01T00:00:00Z"));
        assert_eq!(written["logs"][0]["fields"][0], json!({"nan": "NaN", "inf": "Infinity", "ok": 1.5}));
        assert_eq!(wire_json::<GetRobotPartLogsResponse>(&page.encode_to_vec()), Some(written));
    }

    #[test]
    fn a_struct_integer_is_written_as_an_integer() {
        let number = |n: f64| prost_types::Value { kind: Some(prost_types::value::Kind::NumberValue(n)) };
        let fields = [("line", 249.0), ("neg", -3.0), ("half", 0.5), ("huge", 2f64.powi(53)), ("minus_zero", -0.0)];
        let caller = prost_types::Struct { fields: fields.map(|(k, n)| (k.to_string(), number(n))).into() };
        let entry = crate::proto::viam::common::v1::LogEntry { caller: Some(caller), ..Default::default() };
        let written = serde_json::to_string(&to_json(&entry)["caller"]).unwrap();
        assert_eq!(written, r#"{"half":0.5,"huge":9007199254740992.0,"line":249,"minus_zero":-0.0,"neg":-3}"#);
    }

    #[test]
    fn output_schemas_leave_out_the_config_texts() {
        let properties = |name: &str| output_schema(name)["properties"].as_object().unwrap().clone();
        let response = properties("viam.app.v1.GetRobotPartResponse");
        assert_eq!(response.keys().collect::<Vec<_>>(), ["part"]);
        assert_eq!(response["part"], json!({"type": ["object", "null"]}));
        let history = properties("viam.app.v1.GetFragmentHistoryResponse");
        assert_eq!(history["history"], json!({"type": "array", "items": {"type": "object"}}));
    }
}
