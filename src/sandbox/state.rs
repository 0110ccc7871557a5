//! The simulated fleet: a serde model built from the generated proto types, plus the domain logic of every
//! AppService RPC (split by domain into the submodules). Every method either fails without touching the state
//! or applies its whole change, so a failed RPC never leaves half an update behind.
use std::time::SystemTime;

use prost_types::{Struct, Timestamp};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use tonic::Status;

use crate::proto::viam::app::v1::{
    ApiKey, Authorization, Fragment, FragmentHistoryEntry, Location, Organization, OrganizationInvite,
    OrganizationMember, RegistryItem, Robot, RobotPart, RobotPartHistoryEntry, SharedSecret, shared_secret,
};
use crate::proto::viam::common::v1::LogEntry;

mod access;
mod fragments;
mod locations;
mod logs;
mod orgs;
mod pb;
mod registry;
mod robots;
mod roles;
mod summaries;
mod viam_server;

pub use fragments::set_fragment_config;
use locations::primary_org;
pub use locations::sync_location_secret;
pub use logs::synth_log;
pub use pb::{Pb, json_to_struct, struct_to_json};
pub use robots::{new_part, set_part_config};
pub use roles::{Target, org_owner_grant};
pub use viam_server::Schedule;

/// The whole simulated fleet; also the format of the state file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub organizations: Vec<OrgRecord>,
    pub locations: Vec<Pb<Location>>,
    pub robots: Vec<Pb<Robot>>,
    pub parts: Vec<PartRecord>,
    pub fragments: Vec<FragmentRecord>,
    /// Role grants of users and API keys.
    pub authorizations: Vec<Pb<Authorization>>,
    pub api_keys: Vec<Pb<ApiKey>>,
    /// Modules are registry items of type module; their versions come from `module_files`.
    pub registry_items: Vec<Pb<RegistryItem>>,
    pub module_files: Vec<ModuleFile>,
    /// The parts' simulated viam-servers.
    #[serde(skip)]
    pub servers: viam_server::Servers,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OrgRecord {
    pub org: Pb<Organization>,
    pub members: Vec<Pb<OrganizationMember>>,
    pub invites: Vec<Pb<OrganizationInvite>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PartRecord {
    pub part: Pb<RobotPart>,
    /// Oldest first.
    pub history: Vec<Pb<RobotPartHistoryEntry>>,
    /// Oldest first.
    pub logs: Vec<Pb<LogEntry>>,
    /// What its simulated viam-server runs.
    #[serde(default, skip_serializing_if = "viam_server::ServerState::is_idle")]
    pub server: viam_server::ServerState,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FragmentRecord {
    pub fragment: Pb<Fragment>,
    /// Oldest first.
    pub history: Vec<Pb<FragmentHistoryEntry>>,
}

/// One uploaded module file; the bytes themselves are not kept.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ModuleFile {
    pub module_id: String,
    pub version: String,
    pub platform: String,
    pub platform_tags: Vec<String>,
    pub size: u64,
    pub uploaded_at: Pb<Timestamp>,
}

/// Records looked up by id; `KIND` names them in NOT_FOUND messages.
pub trait Keyed {
    const KIND: &'static str;
    fn key(&self) -> &str;
}

macro_rules! keyed {
    ($($ty:ty, $kind:literal, |$r:ident| $key:expr;)*) => {$(
        impl Keyed for $ty {
            const KIND: &'static str = $kind;
            fn key(&self) -> &str { let $r = self; &$key }
        }
    )*};
}

keyed! {
    OrgRecord, "organization", |r| r.org.id;
    Pb<Location>, "location", |r| r.id;
    Pb<Robot>, "robot", |r| r.id;
    PartRecord, "robot part", |r| r.part.id;
    FragmentRecord, "fragment", |r| r.fragment.id;
    Pb<ApiKey>, "api key", |r| r.id;
    Pb<RegistryItem>, "registry item", |r| r.item_id;
}

pub fn index_of<T: Keyed>(items: &[T], id: &str) -> Result<usize, Status> {
    if id.is_empty() {
        return Err(Status::invalid_argument(format!("{} id is required", T::KIND)));
    }
    items.iter().position(|item| item.key() == id).ok_or_else(|| not_found(T::KIND, id))
}

pub fn find<'a, T: Keyed>(items: &'a [T], id: &str) -> Result<&'a T, Status> {
    Ok(&items[index_of(items, id)?])
}

pub fn find_mut<'a, T: Keyed>(items: &'a mut [T], id: &str) -> Result<&'a mut T, Status> {
    let index = index_of(items, id)?;
    Ok(&mut items[index])
}

pub fn not_found(kind: &str, id: &str) -> Status {
    Status::not_found(format!("{kind} {id:?} not found"))
}

pub fn required(value: &str, what: &str) -> Result<(), Status> {
    if value.trim().is_empty() {
        return Err(Status::invalid_argument(format!("{what} is required")));
    }
    Ok(())
}

/// Machine and part names end up in DNS names, so Viam restricts them.
pub fn check_resource_name(value: &str, what: &str) -> Result<(), Status> {
    required(value, what)?;
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(Status::invalid_argument(format!(
            "invalid {what} {value:?}: only letters, numbers, dashes and underscores are allowed"
        )));
    }
    Ok(())
}

/// A random version-4 UUID, the shape of every Viam id.
pub fn new_id() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

pub fn new_secret() -> String {
    rand::rng().sample_iter(Alphanumeric).take(32).map(char::from).collect()
}

/// A hash of an id that is the same on every run and every platform (FNV-1a), for what the sandbox
/// derives from an id.
pub fn stable_hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// The sandbox's one clock, with microsecond precision so that a timestamp survives a round trip
/// through Python's datetime (which matters for `last_known_update` comparisons).
pub fn now() -> Timestamp {
    let mut t = Timestamp::from(SystemTime::now());
    t.nanos -= t.nanos % 1000;
    t
}

pub fn time_key(t: &Timestamp) -> (i64, i32) {
    (t.seconds, t.nanos)
}

pub fn new_shared_secret(id: String, secret: String, created_on: Timestamp) -> SharedSecret {
    SharedSecret { id, secret, created_on: Some(created_on), state: shared_secret::State::Enabled as i32 }
}

/// Removes a location or part secret; the last one cannot go, or nothing could connect any more.
pub fn remove_secret(secrets: &mut Vec<SharedSecret>, secret_id: &str) -> Result<(), Status> {
    let index = secrets.iter().position(|s| s.id == secret_id).ok_or_else(|| not_found("secret", secret_id))?;
    if secrets.len() == 1 {
        return Err(Status::failed_precondition("cannot delete the last secret"));
    }
    secrets.remove(index);
    Ok(())
}

/// Optimistic concurrency: a caller that read an older version must not overwrite a newer one.
pub fn check_last_known_update(
    given: Option<&Timestamp>,
    current: Option<&Timestamp>,
    kind: &str,
) -> Result<(), Status> {
    match given {
        Some(given) if Some(given) != current => Err(Status::failed_precondition(format!(
            "{kind} was modified since last_known_update; fetch it again and retry"
        ))),
        _ => Ok(()),
    }
}

/// A config given either as a `Struct` or as JSON text (the JSON wins, like Viam's `*_config_json` fields).
pub fn config_from(json: Option<&str>, config: Option<Struct>) -> Result<Option<Struct>, Status> {
    match json {
        Some(text) => {
            let value = serde_json::from_str(text)
                .map_err(|e| Status::invalid_argument(format!("invalid config JSON: {e}")))?;
            json_to_struct(value).map(Some).map_err(|e| Status::invalid_argument(format!("invalid config JSON: {e}")))
        }
        None => Ok(config),
    }
}

pub fn config_json(config: Option<&Struct>) -> String {
    let value = config.map(struct_to_json).unwrap_or_else(|| serde_json::json!({}));
    serde_json::to_string_pretty(&value).expect("JSON values always serialize")
}

/// Offset-based paging over a list, for the history RPCs.
pub fn page<T: Clone>(
    items: &[T],
    token: Option<&str>,
    limit: Option<i64>,
    default_limit: usize,
) -> Result<(Vec<T>, String), Status> {
    let start = parse_token(token, items.len())?;
    let limit = match limit {
        Some(l) if l < 0 => {
            return Err(Status::invalid_argument("page_limit must not be negative"));
        }
        Some(l) if l > 0 => l as usize,
        _ => default_limit,
    };
    let end = (start + limit).min(items.len());
    let next = if end < items.len() { end.to_string() } else { String::new() };
    Ok((items[start..end].to_vec(), next))
}

/// Page tokens are positions; an empty or absent token starts at `0`.
pub fn parse_token(token: Option<&str>, len: usize) -> Result<usize, Status> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(0),
        Some(t) => t
            .parse()
            .ok()
            .filter(|&n| n <= len)
            .ok_or_else(|| Status::invalid_argument(format!("invalid page token {t:?}"))),
    }
}

/// The ids a config lists under `list`: plain strings, or objects carrying the id in `id_field` (Viam
/// accepts `"fragments": ["<id>"]` as well as `[{"id": "<id>", ...}]`; modules use `module_id`).
pub fn config_refs(config: Option<&Struct>, list: &str, id_field: &str) -> Vec<String> {
    use prost_types::value::Kind;
    let Some(Kind::ListValue(items)) = config.and_then(|c| c.fields.get(list)).and_then(|v| v.kind.as_ref()) else {
        return Vec::new();
    };
    items
        .values
        .iter()
        .filter_map(|v| match v.kind.as_ref()? {
            Kind::StringValue(id) => Some(id.clone()),
            Kind::StructValue(entry) => match entry.fields.get(id_field)?.kind.as_ref()? {
                Kind::StringValue(id) => Some(id.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
