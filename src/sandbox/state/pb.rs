//! Proto messages as serde values (canonical proto3 JSON through prost-reflect), so the state model can
//! hold the generated types directly and still persist as readable JSON.
use std::ops::{Deref, DerefMut};

use crate::proto_json::{descriptor, to_dynamic};
use prost::{Message, Name};
use prost_reflect::DynamicMessage;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A generated message that (de)serializes as proto3 JSON.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pb<M>(pub M);

impl<M> Deref for Pb<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.0
    }
}

impl<M> DerefMut for Pb<M> {
    fn deref_mut(&mut self) -> &mut M {
        &mut self.0
    }
}

impl<M: Message + Name> Serialize for Pb<M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        to_dynamic(&M::full_name(), &self.0).serialize(serializer)
    }
}

impl<'de, M: Message + Name + Default> Deserialize<'de> for Pb<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DynamicMessage::deserialize(descriptor(&M::full_name()), deserializer)?
            .transcode_to()
            .map(Pb)
            .map_err(D::Error::custom)
    }
}

pub use crate::proto_json::struct_to_json;

/// A JSON object as a `Struct`; anything else is an error message.
pub fn json_to_struct(value: serde_json::Value) -> Result<prost_types::Struct, String> {
    value.as_object().map(crate::proto_json::to_struct).ok_or_else(|| "a JSON object is required".into())
}

/// The direct proto → JSON walk writes what prost-reflect's serializer writes, byte for byte, for
/// every answer the seeded fleet gives about its parts and fragments, and for the field kinds the
/// seed does not use, once the config-once rule is applied to prost-reflect's JSON too. (The state
/// file is written by prost-reflect through `Pb`, never by the walk, so it keeps every field.)
#[cfg(test)]
mod tests {
    use super::super::State;
    use crate::proto::viam::app::v1::*;
    use crate::proto_json::{descriptor, reflect_json, to_json, wire_json};
    use crate::sandbox::{DEMO_API_KEY, DEMO_API_KEY_ID, Seed, seed};
    use prost::{Message, Name};
    use prost_types::value::Kind;
    use serde_json::Value;

    /// For a message whose only doubles are in `Struct`s.
    fn same<M: Message + Name>(message: &M) {
        same_as_reflected(message, struct_integers);
    }

    fn same_as_reflected<M: Message + Name>(message: &M, rule: fn(&mut Value)) {
        let direct = serde_json::to_string(&to_json(message)).unwrap();
        let off_the_wire = wire_json::<M>(&message.encode_to_vec()).expect("valid bytes");
        assert_eq!(direct, serde_json::to_string(&off_the_wire).unwrap(), "{} off the wire", M::full_name());
        let mut reference = reflect_json(&descriptor(&M::full_name()), &message.encode_to_vec()).unwrap();
        config_once(&mut reference);
        rule(&mut reference);
        assert_eq!(direct, serde_json::to_string(&reference).unwrap(), "{}", M::full_name());
    }

    /// The walk's rule for `Struct` numbers restated on JSON: an integral double below 2^53 (but
    /// -0) is an integer.
    fn struct_integers(value: &mut Value) {
        match value {
            Value::Number(n) => {
                let integral =
                    |f: &f64| f.fract() == 0.0 && f.abs() < 2f64.powi(53) && !(*f == 0.0 && f.is_sign_negative());
                if let Some(f) = n.as_f64().filter(|f| n.is_f64() && integral(f)) {
                    *value = Value::from(f as i64);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(struct_integers),
            Value::Object(object) => object.values_mut().for_each(struct_integers),
            _ => {}
        }
    }

    /// `proto_json`'s config-once rule restated on JSON, by field name, as the spec the walk is
    /// checked against: a response's `config_json` is its part's first choice, an entry's `config`
    /// its old fragment's last; a text that holds an object wins over the `Struct`; no text stays.
    fn config_once(value: &mut Value) {
        let parse = |text: Value| serde_json::from_str(text.as_str()?).ok().filter(Value::is_object);
        match value {
            Value::Object(object) => {
                let handed = object.remove("config_json").and_then(parse);
                if let (Some(text), Some(Value::Object(part))) = (handed, object.get_mut("part")) {
                    part.insert("robot_config".into(), text);
                    part.remove("robot_config_json");
                }
                if object.get("old").is_some_and(Value::is_object)
                    && let Some(config) = object.remove("config")
                {
                    object["old"].as_object_mut().unwrap().entry("fragment").or_insert(config);
                }
                for (text, kept) in [("robot_config_json", "robot_config"), ("fragment_config_json", "fragment")] {
                    if let Some(config) = object.remove(text).and_then(parse) {
                        object.insert(kept.into(), config);
                    }
                }
                object.values_mut().for_each(config_once);
            }
            Value::Array(items) => items.iter_mut().for_each(config_once),
            _ => {}
        }
    }

    #[test]
    fn direct_json_is_byte_identical_for_every_seeded_part_and_fragment() {
        let state: State = seed::build(Seed::Demo, DEMO_API_KEY_ID, DEMO_API_KEY, &super::super::now());
        assert!(!state.parts.is_empty() && !state.fragments.is_empty());
        for record in &state.parts {
            let id = record.part.id.clone();
            same(&state.get_robot_part(GetRobotPartRequest { id: id.clone() }).unwrap());
            same(&state.get_robot_parts(GetRobotPartsRequest { robot_id: record.part.robot.clone() }).unwrap());
            same(
                &state
                    .get_robot_part_history(GetRobotPartHistoryRequest { id: id.clone(), ..Default::default() })
                    .unwrap(),
            );
            let logs = GetRobotPartLogsRequest { id, ..Default::default() };
            same(&state.get_robot_part_logs(logs).unwrap());
            for entry in &record.history {
                same(&entry.0);
            }
        }
        for record in &state.fragments {
            let id = record.fragment.id.clone();
            same(&state.get_fragment(GetFragmentRequest { id: id.clone(), ..Default::default() }).unwrap());
            same(&state.get_fragment_history(GetFragmentHistoryRequest { id, ..Default::default() }).unwrap());
            let org = record.fragment.organization_owner.clone();
            same(
                &state
                    .list_fragments(ListFragmentsRequest {
                        organization_id: org,
                        show_public: true,
                        ..Default::default()
                    })
                    .unwrap(),
            );
        }
        for record in &state.organizations {
            same(&record.org.0);
            same(&state.list_organizations(ListOrganizationsRequest {}, DEMO_API_KEY_ID).unwrap());
        }
        for location in &state.locations {
            same(&location.0);
        }
        for robot in &state.robots {
            same(&robot.0);
        }
        for item in &state.registry_items {
            same(&item.0);
        }
    }

    #[test]
    fn direct_json_is_byte_identical_for_the_kinds_the_seed_does_not_use() {
        let import = FragmentImport {
            fragment_id: "f".into(),
            prefix: Some(String::new()),
            variables: [("b".to_string(), "2".to_string()), ("a".to_string(), String::new())].into(),
            fragment_variables: Some(prost_types::Struct::default()),
            ..Default::default()
        };
        same(&import);
        same(&FragmentImport::default());
        for per_machine in [0.0, -1.5, 1e300, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            same_as_reflected(&RegistryItemCostByResource { per_machine }, |_| {});
        }
        let file = UploadModuleFileRequest {
            module_file: Some(upload_module_file_request::ModuleFile::File(vec![0, 255, 7, 8])),
        };
        same(&file);
        let part = RobotPart {
            online_state: 99,
            seconds_since_online: -5,
            last_access: Some(prost_types::Timestamp { seconds: -62_135_596_800, nanos: 1_500 }),
            robot_config: Some(prost_types::Struct {
                fields: [
                    ("null".to_string(), prost_types::Value { kind: None }),
                    ("n".to_string(), prost_types::Value { kind: Some(Kind::NumberValue(-0.0)) }),
                    (
                        "l".to_string(),
                        prost_types::Value {
                            kind: Some(Kind::ListValue(prost_types::ListValue {
                                values: vec![prost_types::Value { kind: Some(Kind::BoolValue(true)) }],
                            })),
                        },
                    ),
                ]
                .into(),
            }),
            ..Default::default()
        };
        same(&part);
    }
}
