//! Argument shapes shared by many tools, defined once: ids, timestamps, config objects, the
//! lowercase enum strings of the Python SDK, and the proto messages tools take as JSON objects.
use crate::proto::viam::app::v1 as app;
pub use crate::proto_json::to_struct;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The longest id accepted. Viam's ids are UUIDs or `namespace:name`; a longer one is a mistake
/// (or an attack) and is refused before any RPC is sent.
pub const MAX_ID_LEN: usize = 200;

// Anything but a non-empty id of at most MAX_ID_LEN bytes is refused before any RPC. No doc
// comment: the schema's length bounds say it, and an id inlined in every tool stays short.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(transparent)]
pub struct Id(#[schemars(length(min = 1, max = 200))] pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        if id.trim().is_empty() {
            return Err(serde::de::Error::custom("expected a non-empty id string"));
        }
        if id.len() > MAX_ID_LEN {
            return Err(serde::de::Error::custom(format!(
                "an id is at most {MAX_ID_LEN} characters; this one has {}",
                id.len()
            )));
        }
        Ok(Self(id))
    }
}

/// The arguments of the many tools that take only an organization.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgArgs {
    pub org_id: Id,
}

/// The arguments of the tools that take only a location.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationArgs {
    pub location_id: Id,
}

/// A location that falls back to the configured default.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultLocationArgs {
    #[serde(default)]
    pub location_id: Option<Id>,
}

/// The arguments of the tools that take only a machine.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotArgs {
    pub robot_id: Id,
}

/// The arguments of the tools that take only a machine part.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartArgs {
    pub robot_part_id: Id,
}

/// Deserializes an integer argument that sizes work or output, refusing it outside `MIN..=MAX`
/// (the schema states the same range).
pub fn within<'de, D, T, const MIN: i64, const MAX: i64>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let n = i64::deserialize(deserializer)?;
    if !(MIN..=MAX).contains(&n) {
        return Err(serde::de::Error::custom(format!("must be between {MIN} and {MAX}, got {n}")));
    }
    T::try_from(n).map_err(|_| serde::de::Error::custom(format!("{n} is out of range")))
}

/// As [`within`], for an optional argument (`null` = not sent).
pub fn within_opt<'de, D, const MIN: i64, const MAX: i64>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<i64>::deserialize(deserializer)? {
        Some(n) if !(MIN..=MAX).contains(&n) => {
            Err(serde::de::Error::custom(format!("must be between {MIN} and {MAX}, got {n}")))
        }
        other => Ok(other),
    }
}

impl From<Id> for String {
    fn from(id: Id) -> Self {
        id.0
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An RFC 3339 time such as `2024-01-02T03:04:05Z`; without an offset it is taken as UTC, as the
/// Python SDK does with naive datetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(prost_types::Timestamp);

impl Time {
    pub fn to_proto(self) -> prost_types::Timestamp {
        self.0
    }
}

impl JsonSchema for Time {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Time".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "date-time"})
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let parsed = chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| t.to_utc())
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc()))
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "expected an RFC 3339 time such as 2024-01-02T03:04:05Z, got {text:?}"
                ))
            })?;
        let timestamp =
            prost_types::Timestamp { seconds: parsed.timestamp(), nanos: parsed.timestamp_subsec_nanos() as i32 };
        Ok(Self(timestamp))
    }
}

/// A config object sent only when it has keys, as the SDK sends only truthy dicts.
pub fn config_struct(config: Option<&Map<String, Value>>) -> Option<prost_types::Struct> {
    config.filter(|c| !c.is_empty()).map(to_struct)
}

/// An argument that is one of a fixed set of names. Every enum-like argument is one, so all are
/// read alike: case-insensitively, with the proto enum names as aliases; anything else is refused
/// with the names allowed and the closest one.
pub trait Named: Sized + Copy + PartialEq + 'static {
    /// Each value, its name (as the schema lists it and a string field sends it), its aliases.
    const NAMES: &'static [(Self, &'static str, &'static [&'static str])];

    fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|&&(value, _, _)| value == self).map_or("", |&(_, name, _)| name)
    }

    fn named(text: &str) -> Result<Self, String> {
        let same = |name: &str| name.eq_ignore_ascii_case(text);
        match Self::NAMES.iter().find(|(_, name, aliases)| same(name) || aliases.iter().copied().any(same)) {
            Some(&(value, _, _)) => Ok(value),
            None => Err(not_one_of(text, &Self::NAMES.iter().map(|&(_, name, _)| name).collect::<Vec<_>>())),
        }
    }
}

/// Why `text` is refused where one of `names` was expected: the names, and the closest one.
pub fn not_one_of(text: &str, names: &[&str]) -> String {
    let allowed = names.join(", ");
    let lower = text.to_ascii_lowercase();
    // An abbreviation (`desc`) is as far from its name as a typo is from anything.
    let abbreviated = names.iter().copied().find(|name| lower.len() >= 3 && name.starts_with(&lower));
    match abbreviated.or_else(|| crate::safety::filter::closest(&lower, names)) {
        Some(near) => format!("{text:?} is not one of {allowed}; did you mean {near:?}?"),
        None => format!("{text:?} is not one of {allowed}"),
    }
}

/// Reads a [`Named`] argument from its string.
pub fn deserialize_named<'de, D: Deserializer<'de>, T: Named>(deserializer: D) -> Result<T, D::Error> {
    let text = String::deserialize(deserializer)?;
    T::named(&text).map_err(serde::de::Error::custom)
}

/// Defines an argument enum: lowercase names as in the Python docs, the proto enum names accepted
/// as aliases, and the value sent on the wire.
macro_rules! arg_enum {
    // Sent as a proto enum value.
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $lower:literal | $proto:literal => $value:expr),+ $(,)? }) => {
        arg_enum!($(#[$meta])* $name { $($variant = $lower | $proto),+ });

        impl $name {
            pub fn to_proto(self) -> i32 {
                match self { $(Self::$variant => $value as i32),+ }
            }
        }
    };
    // Sent as its lowercase name.
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $lower:literal $(| $alias:literal)?),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $lower)] $variant),+
        }

        impl $crate::tools::args::Named for $name {
            const NAMES: &'static [(Self, &'static str, &'static [&'static str])] =
                &[$((Self::$variant, $lower, &[$($alias)?])),+];
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::tools::args::deserialize_named(deserializer)
            }
        }
    };
}
pub(crate) use arg_enum;

arg_enum! {
    /// A role: `owner` or `operator`.
    Role {
        Owner = "owner" | "OWNER",
        Operator = "operator" | "OPERATOR",
    }
}

arg_enum! {
    // The kind of resource a role applies to.
    ResourceType {
        Organization = "organization" | "ORGANIZATION",
        Location = "location" | "LOCATION",
        Robot = "robot" | "ROBOT",
    }
}

arg_enum! {
    // Fragment visibility.
    FragmentVisibility {
        Private = "private" | "FRAGMENT_VISIBILITY_PRIVATE" => app::FragmentVisibility::Private,
        Public = "public" | "FRAGMENT_VISIBILITY_PUBLIC" => app::FragmentVisibility::Public,
        PublicUnlisted = "public_unlisted" | "FRAGMENT_VISIBILITY_PUBLIC_UNLISTED" => app::FragmentVisibility::PublicUnlisted,
    }
}

arg_enum! {
    // Registry item type.
    PackageType {
        Archive = "archive" | "PACKAGE_TYPE_ARCHIVE" => crate::proto::viam::app::packages::v1::PackageType::Archive,
        MlModel = "ml_model" | "PACKAGE_TYPE_ML_MODEL" => crate::proto::viam::app::packages::v1::PackageType::MlModel,
        Module = "module" | "PACKAGE_TYPE_MODULE" => crate::proto::viam::app::packages::v1::PackageType::Module,
        MlTraining = "ml_training" | "PACKAGE_TYPE_ML_TRAINING" => crate::proto::viam::app::packages::v1::PackageType::MlTraining,
    }
}

arg_enum! {
    // Registry item visibility.
    Visibility {
        Private = "private" | "VISIBILITY_PRIVATE" => app::Visibility::Private,
        Public = "public" | "VISIBILITY_PUBLIC" => app::Visibility::Public,
        PublicUnlisted = "public_unlisted" | "VISIBILITY_PUBLIC_UNLISTED" => app::Visibility::PublicUnlisted,
    }
}

arg_enum! {
    // Registry item status.
    RegistryItemStatus {
        Published = "published" | "REGISTRY_ITEM_STATUS_PUBLISHED" => app::RegistryItemStatus::Published,
        InDevelopment = "in_development" | "REGISTRY_ITEM_STATUS_IN_DEVELOPMENT" => app::RegistryItemStatus::InDevelopment,
    }
}

arg_enum! {
    /// Log order: `ascending` (oldest first) or `descending` (newest first).
    LogOrder {
        Ascending = "ascending" | "LOG_ORDER_ASCENDING" => app::LogOrder::Ascending,
        Descending = "descending" | "LOG_ORDER_DESCENDING" => app::LogOrder::Descending,
    }
}

arg_enum! {
    // A log entry's level.
    LogLevel {
        Debug = "debug",
        Info = "info",
        Warn = "warn",
        Error = "error",
    }
}

arg_enum! {
    // Who an authorization is for.
    IdentityType {
        User = "user",
        ApiKey = "api-key",
    }
}

arg_enum! {
    // What an authorization grants: a role.
    AuthorizationType {
        Role = "role",
    }
}

arg_enum! {
    // A role on a kind of resource. Checked, not listed in the schema: its example says the pattern.
    AuthorizationId {
        OrganizationOwner = "organization_owner",
        OrganizationOperator = "organization_operator",
        LocationOwner = "location_owner",
        LocationOperator = "location_operator",
        RobotOwner = "robot_owner",
        RobotOperator = "robot_operator",
    }
}

// Who holds which role on which resource. An omitted field is sent empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    pub authorization_type: Option<AuthorizationType>,
    /// e.g. `location_owner`.
    #[schemars(with = "String")]
    pub authorization_id: Option<AuthorizationId>,
    pub resource_type: Option<ResourceType>,
    pub resource_id: String,
    pub identity_id: String,
    pub organization_id: String,
    pub identity_type: Option<IdentityType>,
}

impl Authorization {
    pub fn to_proto(&self) -> app::Authorization {
        app::Authorization {
            authorization_type: self.authorization_type.map(AuthorizationType::as_str).unwrap_or_default().into(),
            authorization_id: self.authorization_id.map(AuthorizationId::as_str).unwrap_or_default().into(),
            resource_type: self.resource_type.map(ResourceType::as_str).unwrap_or_default().into(),
            resource_id: self.resource_id.clone(),
            identity_id: self.identity_id.clone(),
            organization_id: self.organization_id.clone(),
            identity_type: self.identity_type.map(IdentityType::as_str).unwrap_or_default().into(),
        }
    }
}

/// A role authorization as the SDK builds it from `role`, `resource_type` and `resource_id`.
pub fn role_authorization(
    organization_id: &str,
    identity_id: &str,
    identity_type: &str,
    role: Role,
    resource_type: ResourceType,
    resource_id: &str,
) -> app::Authorization {
    app::Authorization {
        authorization_type: "role".into(),
        authorization_id: format!("{}_{}", resource_type.as_str(), role.as_str()),
        resource_type: resource_type.as_str().into(),
        resource_id: resource_id.into(),
        identity_id: identity_id.into(),
        organization_id: organization_id.into(),
        identity_type: identity_type.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn enums_take_lowercase_and_proto_names() {
        let a: PackageType = serde_json::from_value(json!("module")).unwrap();
        let b: PackageType = serde_json::from_value(json!("PACKAGE_TYPE_MODULE")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_proto(), 3);
        let err = serde_json::from_value::<Role>(json!("admin")).unwrap_err().to_string();
        assert!(err.contains("owner") && err.contains("operator"), "{err}");
    }

    #[test]
    fn enums_ignore_case_alike_and_suggest_the_closest_name() {
        assert_eq!(serde_json::from_value::<Role>(json!("Owner")).unwrap(), Role::Owner);
        assert_eq!(serde_json::from_value::<LogOrder>(json!("log_order_descending")).unwrap(), LogOrder::Descending);
        assert_eq!(serde_json::from_value::<LogLevel>(json!("ERROR")).unwrap().as_str(), "error");
        for (wrong, meant) in [("warning", "warn"), ("err", "error")] {
            let err = serde_json::from_value::<LogLevel>(json!(wrong)).unwrap_err().to_string();
            assert!(
                err.contains("debug, info, warn, error") && err.contains(&format!("did you mean {meant:?}")),
                "{err}"
            );
        }
        let err = serde_json::from_value::<LogOrder>(json!("DESC")).unwrap_err().to_string();
        assert!(err.contains(r#"did you mean "descending""#), "{err}");
    }

    /// A refusal that lists every problem reads the schema, which names no alias: each alias must be
    /// a spelling it recognises (`validate::is_spelling_of`: any case, or a `PREFIX_` proto name).
    #[test]
    fn every_alias_is_its_name_in_another_case_or_with_a_proto_prefix() {
        fn spellings<T: Named>() -> Vec<(&'static str, &'static str)> {
            T::NAMES.iter().flat_map(|&(_, name, aliases)| aliases.iter().map(move |&alias| (name, alias))).collect()
        }
        let all = [
            spellings::<Role>(),
            spellings::<ResourceType>(),
            spellings::<FragmentVisibility>(),
            spellings::<PackageType>(),
            spellings::<Visibility>(),
            spellings::<RegistryItemStatus>(),
            spellings::<LogOrder>(),
        ];
        for (name, alias) in all.into_iter().flatten() {
            let lower = alias.to_ascii_lowercase();
            assert!(lower == name || lower.ends_with(&format!("_{name}")), "{alias} for {name}");
        }
    }

    #[test]
    fn times_parse_with_and_without_offset() {
        let t: Time = serde_json::from_value(json!("2024-01-02T03:04:05.678Z")).unwrap();
        assert_eq!(t.to_proto(), prost_types::Timestamp { seconds: 1_704_164_645, nanos: 678_000_000 });
        let naive: Time = serde_json::from_value(json!("2024-01-02T03:04:05.678")).unwrap();
        assert_eq!(naive.to_proto(), t.to_proto());
        assert!(serde_json::from_value::<Time>(json!("yesterday")).is_err());
    }

    #[test]
    fn ids_must_not_be_empty() {
        assert!(serde_json::from_value::<Id>(json!("")).is_err());
        assert_eq!(serde_json::from_value::<Id>(json!("r1")).unwrap().0, "r1");
    }

    #[test]
    fn structs_turn_numbers_into_doubles() {
        let s = to_struct(json!({"n": 1, "l": [true, null], "o": {"s": "x"}}).as_object().unwrap());
        assert_eq!(s.fields["n"].kind, Some(prost_types::value::Kind::NumberValue(1.0)));
        assert!(config_struct(Some(&Map::new())).is_none());
    }
}
