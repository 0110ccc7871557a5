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

// google.protobuf.Struct has no `prost::Name` impl, hence the literal name.
const STRUCT: &str = "google.protobuf.Struct";

/// A `Struct` as the plain JSON object it stands for.
pub fn struct_to_json(value: &prost_types::Struct) -> serde_json::Value {
    let message = to_dynamic(STRUCT, value);
    serde_json::to_value(message).expect("a Struct always serializes")
}

/// A JSON object as a `Struct`; anything else is an error message.
pub fn json_to_struct(value: serde_json::Value) -> Result<prost_types::Struct, String> {
    value.as_object().map(crate::proto_json::to_struct).ok_or_else(|| "a JSON object is required".into())
}
