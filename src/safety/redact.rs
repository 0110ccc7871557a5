//! Secret redaction of results and audited arguments.
//!
//! Results are walked along the response message's descriptor, so a secret is found by its typed
//! field path (`RobotPart.secrets[].secret`), never by guessing from a field name: a `secret`
//! field of some other message is left alone. Inside configs, which have no types, values are
//! redacted by key name. A result carries each config as an object (`proto_json` drops the
//! `*_config_json` texts), so its `Struct` field is where a config is found.
use crate::call::{HandsOut, SecretOwner as Owner};
use crate::error::ToolError;
use prost_reflect::{Kind, MessageDescriptor};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, RwLock};

/// What replaces a secret. It is short because a listing repeats it; what it means is said once, in
/// the server instructions and in the result's [`NOTE`] member.
pub const REDACTED: &str = "<redacted>";

/// The member of a result that says what [`REDACTED`] stands for there and how to get such a secret.
pub const NOTE: &str = "redacted";

/// The kinds of secret one redaction replaced, for the result's note.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Redacted {
    part: bool,
    location: bool,
    api_key: bool,
    config: bool,
}

impl std::ops::BitOrAssign for Redacted {
    fn bitor_assign(&mut self, other: Self) {
        self.part |= other.part;
        self.location |= other.location;
        self.api_key |= other.api_key;
        self.config |= other.config;
    }
}

impl Redacted {
    fn owner(&mut self, owner: Owner) {
        match owner {
            Owner::Part => self.part = true,
            Owner::Location => self.location = true,
            Owner::ApiKey => self.api_key = true,
        }
    }

    /// Adds the [`NOTE`] to a result object that had a secret replaced.
    pub fn note(self, value: &mut Value) {
        let Some(object) = value.as_object_mut().filter(|_| self != Redacted::default()) else { return };
        let kinds = [
            (self.part, "A machine part secret: create_robot_part_secret issues a new one and shows only that one."),
            (self.location, "A location secret: create_location_secret issues a new one and shows only that one."),
            (self.api_key, "An API key: rotate_key issues a new key for its id."),
            (
                self.config,
                "A config value with a secret key name: get_robot_part with dest writes the whole config to a file.",
            ),
        ];
        let mut note = format!("{REDACTED} stands for a secret left out.");
        for (_, how) in kinds.iter().filter(|(redacted, _)| *redacted) {
            note.push(' ');
            note.push_str(how);
        }
        note.push_str(" Restart the server with --show-secrets to see them.");
        object.insert(NOTE.into(), json!(note));
    }
}

/// Every field that holds a secret, as (message, path inside that message, owner). `[]` steps
/// into each element of a repeated field. The first five are the incidental ones (a part, a
/// location or a key listing carries them); the last three are what the key tools hand out.
const SECRET_FIELDS: [(&str, &str, Owner); 8] = [
    ("viam.app.v1.RobotPart", "secret", Owner::Part),
    ("viam.app.v1.RobotPart", "secrets[].secret", Owner::Part),
    ("viam.app.v1.LocationAuth", "secret", Owner::Location),
    ("viam.app.v1.LocationAuth", "secrets[].secret", Owner::Location),
    ("viam.app.v1.APIKey", "key", Owner::ApiKey),
    ("viam.app.v1.CreateKeyResponse", "key", Owner::ApiKey),
    ("viam.app.v1.CreateKeyFromExistingKeyAuthorizationsResponse", "key", Owner::ApiKey),
    ("viam.app.v1.RotateKeyResponse", "key", Owner::ApiKey),
];

/// Config keys are compared with `_`, `-`, `.` and spaces removed, lowercase, so `apiKey`,
/// `api-key` and `API_KEY` are one name. A key is secret when it contains one of these...
const SECRET_PARTS: [&str; 12] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "credential",
    "accesskey",
    "signingkey",
    "encryptionkey",
    "sessionkey",
];
/// ...or is one of these (`auth` only whole: `author` and `authority` are not secrets)...
const SECRET_NAMES: [&str; 4] = ["auth", "basicauth", "authorization", "pwd"];
/// ...unless its last word says it names or locates a secret rather than holding one:
/// `key_id`, `secret_name`, `token_url`, `credentials_path`. The model needs those to tell which
/// secret a config uses, and none of them lets anyone in. A bare `key` is not redacted either: in
/// robot configs it is mostly a lookup key or a keyboard key, and real keys are named `api_key`,
/// `private_key`, `access_key`, … which are.
const NOT_SECRET_LAST_WORDS: [&str; 13] =
    ["id", "ids", "name", "names", "type", "url", "uri", "endpoint", "path", "file", "expiry", "expiration", "ttl"];

/// Replaces incidental secrets in a result of message type `response` with [`REDACTED`], and says
/// which kinds it replaced. The secret a tool hands out stays: all of its owner's, or with
/// [`HandsOut::Created`] only the newest one; config secrets are redacted in every result.
pub fn redact_result(response: &MessageDescriptor, hands_out: Option<HandsOut>, value: &mut Value) -> Redacted {
    let mut redacted = Redacted::default();
    each_message(value, response, &mut |plan, object| {
        for &(_, path, owner) in &plan.secrets {
            let keep_all = hands_out == Some(HandsOut::All(owner));
            let keep_newest = hands_out == Some(HandsOut::Created(owner));
            if keep_all {
                continue;
            }
            let newest = if keep_newest { newest_element(object, path) } else { None };
            let mut index = 0;
            at_path(object, path, &mut |holder, field| {
                let kept = newest == Some(index) && path.contains("[]");
                index += 1;
                if !kept && holder.get(field).is_some_and(|v| !is_empty(v)) {
                    holder.insert(field.to_string(), json!(REDACTED));
                    redacted.owner(owner);
                }
            });
        }
        redacted.config |= redact_configs(plan, object);
    });
    redacted
}

/// For a path through a repeated field (`secrets[].secret`), the index of the element created
/// last: the latest `created_on`, the last one listed on a tie.
fn newest_element(object: &mut Map<String, Value>, path: &str) -> Option<usize> {
    let (list, _) = path.split_once("[].")?;
    let items = object.get(list)?.as_array()?;
    let created = |item: &Value| {
        item.get("created_on")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_nanos_opt().unwrap_or_default())
    };
    (0..items.len()).max_by_key(|&i| (created(&items[i]), i))
}

/// The arguments as the audit log records them, secrets redacted: configs by key name, a module
/// file by its size. Nothing else is touched; no other argument of any tool carries a secret.
pub fn redact_arguments(arguments: &Value) -> Value {
    let mut out = arguments.clone();
    redact_argument_tree(&mut out);
    out
}

/// What stands where the server's own API key was.
const OWN_KEY_MARKER: &str = "<the server's own API key: never shown>";

/// Replaces every occurrence of the server's own API key in a value, in its strings and its member
/// names (a key listing, a config, a log line): it never reaches the model, even with
/// `--show-secrets`.
pub fn hide_own_key(value: &mut Value, key: &str) {
    if key.is_empty() {
        return;
    }
    match value {
        Value::String(s) => hide_in(s, key),
        Value::Array(items) => items.iter_mut().for_each(|v| hide_own_key(v, key)),
        Value::Object(object) => {
            if object.keys().any(|name| holds(name, key)) {
                let members = std::mem::take(object).into_iter();
                *object = members
                    .map(|(mut name, member)| {
                        hide_in(&mut name, key);
                        (name, member)
                    })
                    .collect();
            }
            object.values_mut().for_each(|v| hide_own_key(v, key));
        }
        _ => {}
    }
}

/// Replaces the key in one string or member name.
fn hide_in(text: &mut String, key: &str) {
    if holds(text, key) {
        *text = text.replace(key, OWN_KEY_MARKER);
    }
}

/// Whether `text` holds `key`. Most strings and names are shorter than the key, and a substring
/// search has a setup cost of its own.
fn holds(text: &str, key: &str) -> bool {
    text.len() >= key.len() && text.contains(key)
}

/// With `--secrets-dir`: moves the secret a tool handed out (whatever [`redact_result`] left
/// unredacted) into a new 0600 file in `dir` and puts the file's path in its place.
pub fn store_secret(
    dir: &Path,
    tool: &str,
    response: &MessageDescriptor,
    mut value: Value,
) -> Result<Value, ToolError> {
    if !dir.is_dir() {
        return Err(ToolError::local(format!(
            "--secrets-dir {} is not an existing directory, so the secret was not handed out. {tool} \
             did run: create the directory (readable by you only) and call it again; a secret it just \
             created is then unused and can be deleted",
            dir.display()
        )));
    }
    let name = format!(
        "{tool}-{}-{:06x}.json",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        rand::random::<u32>() & 0xff_ffff
    );
    let path = dir.join(name);
    let stored = json!(format!("<stored in {}>", path.display()));
    let mut secrets = Vec::new();
    each_message(&mut value, response, &mut |plan, object| {
        for &(type_name, path, _) in &plan.secrets {
            at_path(object, path, &mut |holder, field| {
                let handed_out = |v: &&Value| !is_empty(v) && v.as_str() != Some(REDACTED);
                let Some(secret) = holder.get(field).filter(handed_out).cloned() else { return };
                // The id says which secret this is: a shared secret's or key's own id, else the owner's.
                let id = holder.get("id").or_else(|| holder.get("location_id")).cloned().unwrap_or(Value::Null);
                secrets.push(json!({"message": type_name, "field": path, "id": id, "secret": secret}));
                holder.insert(field.to_string(), stored.clone());
            });
        }
    });
    if secrets.is_empty() {
        return Ok(value);
    }
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let contents = json!({"tool": tool, "created": created, "secrets": secrets});
    let text = serde_json::to_vec_pretty(&contents).unwrap_or_default();
    super::files::write(&path, &text, false, true)
        .map_err(|e| ToolError::local(format!("cannot write the secret to {}: {e}", path.display())))?;
    value["secret_file"] = json!(path.display().to_string());
    Ok(value)
}

/// What redaction does in the objects of one message type, worked out once per type.
struct Plan {
    /// Its secret fields, as in [`SECRET_FIELDS`].
    secrets: Vec<(&'static str, &'static str, Owner)>,
    /// Fields holding configs as JSON values: `Struct`, `Value`, `ListValue` and string maps.
    configs: Vec<String>,
    /// Message fields to walk into, with their types.
    children: Vec<(String, MessageDescriptor)>,
}

impl Plan {
    fn of(message: &MessageDescriptor) -> Self {
        let mut plan = Plan {
            secrets: SECRET_FIELDS.into_iter().filter(|(name, _, _)| *name == message.full_name()).collect(),
            configs: Vec::new(),
            children: Vec::new(),
        };
        for field in message.fields() {
            let name = field.name().to_string();
            match field.kind() {
                _ if field.is_map() => plan.configs.push(name),
                Kind::Message(m)
                    if matches!(
                        m.full_name(),
                        "google.protobuf.Struct" | "google.protobuf.Value" | "google.protobuf.ListValue"
                    ) =>
                {
                    plan.configs.push(name)
                }
                // Other well-known types (Timestamp) are values, not messages to walk.
                Kind::Message(m) if m.package_name() != "google.protobuf" => plan.children.push((name, m)),
                _ => {}
            }
        }
        plan
    }
}

/// The plan of `message`'s type, built on first use.
fn plan_for(message: &MessageDescriptor) -> Arc<Plan> {
    static PLANS: LazyLock<RwLock<HashMap<String, Arc<Plan>>>> = LazyLock::new(Default::default);
    if let Some(plan) = PLANS.read().unwrap_or_else(|p| p.into_inner()).get(message.full_name()) {
        return plan.clone();
    }
    let plan = Arc::new(Plan::of(message));
    PLANS.write().unwrap_or_else(|p| p.into_inner()).insert(message.full_name().to_string(), plan.clone());
    plan
}

/// Calls `f` on every message object in `value`, typed by `message`, outer messages first.
fn each_message(value: &mut Value, message: &MessageDescriptor, f: &mut dyn FnMut(&Plan, &mut Map<String, Value>)) {
    let Value::Object(object) = value else { return };
    let plan = plan_for(message);
    f(&plan, object);
    for (field, child) in &plan.children {
        match object.get_mut(field) {
            Some(Value::Array(items)) => items.iter_mut().for_each(|item| each_message(item, child, f)),
            Some(item) => each_message(item, child, f),
            None => {}
        }
    }
}

/// Calls `f(holder, field)` for each object that `path` (e.g. `secrets[].secret`) reaches in
/// `object`, with the name of the last field.
fn at_path(object: &mut Map<String, Value>, path: &str, f: &mut dyn FnMut(&mut Map<String, Value>, &str)) {
    let Some((head, rest)) = path.split_once('.') else { return f(object, path) };
    match (head.strip_suffix("[]"), object.get_mut(head.trim_end_matches("[]"))) {
        (Some(_), Some(Value::Array(items))) => {
            for item in items {
                if let Value::Object(inner) = item {
                    at_path(inner, rest, f);
                }
            }
        }
        (None, Some(Value::Object(inner))) => at_path(inner, rest, f),
        _ => {}
    }
}

/// Redacts by key name every config a message object holds: its `Struct` (and `Value`) fields
/// and its string maps.
/// Says whether anything was.
fn redact_configs(plan: &Plan, object: &mut Map<String, Value>) -> bool {
    let mut changed = false;
    for field in &plan.configs {
        if let Some(value) = object.get_mut(field) {
            changed |= redact_config(value);
        }
    }
    changed
}

/// Redacts, by key name at any depth, a value made of config items (the config item tools'
/// results and previews, which follow no response message).
pub fn redact_config_items(value: &mut Value) -> Redacted {
    Redacted { config: redact_config(value), ..Redacted::default() }
}

/// Replaces the value of every secret-named key, at any depth; says whether anything was.
fn redact_config(value: &mut Value) -> bool {
    // Every element is visited: no short-circuit once something was redacted.
    let mut changed = false;
    match value {
        Value::Object(object) => {
            for (key, v) in object.iter_mut() {
                if is_secret_key(key) && !is_empty(v) {
                    *v = json!(REDACTED);
                    changed = true;
                } else {
                    changed |= redact_config(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| changed |= redact_config(v)),
        _ => {}
    }
    changed
}

/// A config as JSON text (an argument): rewritten only when something in it was redacted, so an untouched text
/// stays byte for byte. Text that does not parse cannot be searched for secrets, so it goes whole.
fn redact_config_text(value: &mut Value) {
    let Value::String(text) = value else { return };
    if text.is_empty() {
        return;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut config) => {
            if redact_config(&mut config) {
                *text = config.to_string();
            }
        }
        Err(_) => *text = REDACTED.to_string(),
    }
}

fn redact_argument_tree(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (name, v) in object.iter_mut() {
                match name.as_str() {
                    "config" | "robot_config" | "fragment_variables" | "item" | "patch" => {
                        redact_config(v);
                    }
                    "file_base64" => {
                        if let Value::String(data) = v {
                            // Base64 carries 3 bytes in every 4 characters.
                            *v = json!(format!("<{} bytes>", data.trim_end_matches('=').len() * 3 / 4));
                        }
                    }
                    n if n.ends_with("config_json") => redact_config_text(v),
                    _ => redact_argument_tree(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_argument_tree),
        _ => {}
    }
}

/// Config keys this long or shorter are normalized on the stack: every key of a config is
/// checked, so the common case must not allocate.
const SHORT_KEY: usize = 64;

fn is_secret_key(key: &str) -> bool {
    let mut buffer = [0u8; SHORT_KEY];
    let long;
    let normalized = if key.is_ascii() && key.len() <= SHORT_KEY {
        let mut len = 0;
        for byte in key.bytes().filter(u8::is_ascii_alphanumeric) {
            buffer[len] = byte.to_ascii_lowercase();
            len += 1;
        }
        std::str::from_utf8(&buffer[..len]).unwrap_or_default()
    } else {
        long = key.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
        long.as_str()
    };
    let named = SECRET_NAMES.contains(&normalized) || contains_secret_part(normalized.as_bytes());
    // Only secret-looking keys, a few per config, pay for the last word.
    named && !NOT_SECRET_LAST_WORDS.contains(&last_word(key).as_str())
}

/// Whether a secret part occurs in `key`, in one pass: a config has dozens of keys, and twelve
/// substring searches each cost more than the comparisons. Most places in a key start no part, and
/// cost one lookup.
fn contains_secret_part(key: &[u8]) -> bool {
    (0..key.len()).any(|at| {
        PART_STARTS[key[at] as usize] && SECRET_PARTS.iter().any(|part| key[at..].starts_with(part.as_bytes()))
    })
}

/// The bytes a secret part starts with.
const PART_STARTS: [bool; 256] = {
    let mut starts = [false; 256];
    let mut part = 0;
    while part < SECRET_PARTS.len() {
        starts[SECRET_PARTS[part].as_bytes()[0] as usize] = true;
        part += 1;
    }
    starts
};

/// The last word of a key, lowercase: `apiKeyId` → `id`, `token_url` → `url`, `APIKey` → `apikey`.
fn last_word(key: &str) -> String {
    let mut word = String::new();
    let mut after_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            word.clear();
            after_lower = false;
            continue;
        }
        if c.is_uppercase() && after_lower {
            word.clear();
        }
        after_lower = !c.is_uppercase();
        word.extend(c.to_lowercase());
    }
    word
}

/// Nothing to hide: an unset or empty value.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(name: &str) -> MessageDescriptor {
        crate::proto_json::descriptor(&format!("viam.app.v1.{name}"))
    }

    fn part() -> Value {
        json!({
            "id": "p1", "name": "main", "secret": "legacy-part-secret",
            "secrets": [{"id": "s1", "secret": "part-secret-1", "state": "STATE_ENABLED"}],
            "robot_config": {"components": [{"name": "cam", "attributes": {"password": "hunter2", "key_id": "k9"}}]},
            "user_supplied_info": {"apiKey": "abc"},
        })
    }

    #[test]
    fn secret_keys_by_name() {
        for secret in [
            "password",
            "Password",
            "passwd",
            "db_password",
            "secret",
            "client_secret",
            "key_secret",
            "token",
            "accessToken",
            "api_key",
            "apiKey",
            "API-KEY",
            "private_key",
            "credentials",
            "aws_access_key",
            "auth",
            "Authorization",
            "basic_auth",
            "password_hash",
            "secret_valid",
        ] {
            assert!(is_secret_key(secret), "{secret} should be redacted");
        }
        for harmless in [
            "key",
            "key_id",
            "api_key_id",
            "apiKeyId",
            "secret_id",
            "secret_name",
            "token_url",
            "credentials_path",
            "author",
            "authority",
            "name",
            "pins",
            "board",
            "url",
            "auth_type",
        ] {
            assert!(!is_secret_key(harmless), "{harmless} should not be redacted");
        }
        assert_eq!(last_word("apiKeyID"), "id");
        assert_eq!(last_word("APIKey"), "apikey");
        assert_eq!(last_word("token_"), "");
    }

    #[test]
    fn part_secrets_and_config_keys_are_redacted_by_path() {
        let mut result = json!({"part": part()});
        redact_result(&response("GetRobotPartResponse"), None, &mut result);
        let part = &result["part"];
        assert_eq!(part["secret"], json!(REDACTED));
        assert_eq!(part["secrets"][0]["secret"], json!(REDACTED));
        assert_eq!(part["secrets"][0]["id"], json!("s1"));
        let camera = &part["robot_config"]["components"][0]["attributes"];
        assert_eq!(camera["password"], json!(REDACTED));
        assert_eq!(camera["key_id"], json!("k9"));
        assert_eq!(part["user_supplied_info"]["apiKey"], json!(REDACTED));
        assert!(!result.to_string().contains("hunter2") && !result.to_string().contains("part-secret"));
    }

    #[test]
    fn a_config_from_its_text_is_redacted_as_an_object() {
        use crate::proto::viam::app::v1::{GetRobotPartResponse, RobotPart};
        let text = r#"{"network": {"token": "t0k"}, "count": 12345678901234567890}"#;
        let part = RobotPart { robot_config_json: Some(text.into()), ..Default::default() };
        let mut result =
            crate::proto_json::to_json(&GetRobotPartResponse { part: Some(part), config_json: text.into() });
        redact_result(&response("GetRobotPartResponse"), None, &mut result);
        assert_eq!(
            result["part"]["robot_config"],
            json!({"network": {"token": REDACTED}, "count": 12_345_678_901_234_567_890u64})
        );
        assert!(!result.to_string().contains("t0k"), "{result}");
    }

    #[test]
    fn an_untouched_config_text_stays_as_it_was_and_garbage_goes_whole() {
        let text = "{ \"b\": 1,  \"a\": [] }";
        let mut value = json!(text);
        redact_config_text(&mut value);
        assert_eq!(value, json!(text));
        let mut value = json!("{not json password=1");
        redact_config_text(&mut value);
        assert_eq!(value, json!(REDACTED));
    }

    #[test]
    fn history_entries_locations_and_key_listings() {
        let mut history = json!({"history": [{"part": "p1", "old": part()}]});
        redact_result(&response("GetRobotPartHistoryResponse"), None, &mut history);
        assert_eq!(history["history"][0]["old"]["secrets"][0]["secret"], json!(REDACTED));
        assert!(!history.to_string().contains("hunter2"));

        let auth = json!({"secret": "loc-legacy", "location_id": "l1", "secrets": [{"id": "s", "secret": "loc-1"}]});
        let mut locations = json!({"locations": [{"id": "l1", "name": "Lab", "auth": auth.clone()}]});
        redact_result(&response("ListLocationsResponse"), None, &mut locations);
        assert_eq!(locations["locations"][0]["auth"]["secret"], json!(REDACTED));
        assert_eq!(locations["locations"][0]["auth"]["secrets"][0]["secret"], json!(REDACTED));
        assert_eq!(locations["locations"][0]["name"], json!("Lab"));

        let mut keys =
            json!({"api_keys": [{"api_key": {"id": "k1", "key": "s3cr3t", "name": "ci"}, "authorizations": []}]});
        redact_result(&response("ListKeysResponse"), None, &mut keys);
        assert_eq!(keys["api_keys"][0]["api_key"], json!({"id": "k1", "key": REDACTED, "name": "ci"}));
    }

    #[test]
    fn tools_that_hand_out_a_secret_keep_it_but_not_config_secrets() {
        let auth = json!({"auth": {"secret": "loc-legacy", "secrets": [{"id": "s", "secret": "loc-1"}]}});
        let mut handed = auth.clone();
        redact_result(&response("LocationAuthResponse"), Some(HandsOut::All(Owner::Location)), &mut handed);
        assert_eq!(handed, auth);
        let mut created = json!({"part": part()});
        redact_result(&response("CreateRobotPartSecretResponse"), Some(HandsOut::Created(Owner::Part)), &mut created);
        assert_eq!(created["part"]["secrets"][0]["secret"], json!("part-secret-1"));
        assert!(!created.to_string().contains("hunter2"));
        // Only the secret the call created is handed out; the part's older ones stay hidden.
        let mut two = json!({"part": {"secret": "legacy", "secrets": [
            {"id": "new", "secret": "fresh", "created_on": "2026-01-02T00:00:00.5Z"},
            {"id": "old", "secret": "stale", "created_on": "2026-01-02T00:00:00Z"}]}});
        redact_result(&response("CreateRobotPartSecretResponse"), Some(HandsOut::Created(Owner::Part)), &mut two);
        assert_eq!(two["part"]["secrets"][0]["secret"], json!("fresh"));
        assert_eq!(two["part"]["secrets"][1]["secret"], json!(REDACTED));
        assert_eq!(two["part"]["secret"], json!(REDACTED));
        let mut key = json!({"id": "k1", "key": "new-key"});
        redact_result(&response("RotateKeyResponse"), Some(HandsOut::All(Owner::ApiKey)), &mut key);
        assert_eq!(key["key"], json!("new-key"));
    }

    #[test]
    fn a_field_named_secret_elsewhere_is_not_touched() {
        // DeleteLocationSecret answers with nothing, so its result echoes the arguments.
        let mut echo = json!({"location_id": "l1", "secret_id": "s1", "status": "ok"});
        redact_result(&response("DeleteLocationSecretResponse"), None, &mut echo);
        assert_eq!(echo, json!({"location_id": "l1", "secret_id": "s1", "status": "ok"}));
        let mut org = json!({"organization": {"id": "o", "name": "secret-project",
            "default_fragments": {"fragments": [{"fragment_id": "f", "fragment_variables": {"token": "x", "n": 1}}]}}});
        redact_result(&response("GetOrganizationResponse"), None, &mut org);
        assert_eq!(org["organization"]["name"], json!("secret-project"));
        assert_eq!(
            org["organization"]["default_fragments"]["fragments"][0]["fragment_variables"],
            json!({"token": REDACTED, "n": 1})
        );
    }

    #[test]
    fn arguments_lose_config_secrets_and_file_bytes_only() {
        let arguments = json!({
            "robot_part_id": "p1", "secret_id": "s1",
            "robot_config": {"components": [{"attributes": {"password": "hunter2", "host": "h"}}]},
            "robot_config_json": "{\"api_key\":\"abc\"}",
            "default_fragments": [{"fragment_id": "f", "fragment_variables": {"secret": "v"}}],
            "file_base64": "AQIDBA==",
        });
        let audited = redact_arguments(&arguments);
        assert_eq!(audited["robot_part_id"], json!("p1"));
        assert_eq!(audited["secret_id"], json!("s1"));
        assert_eq!(audited["robot_config"]["components"][0]["attributes"]["host"], json!("h"));
        assert_eq!(audited["file_base64"], json!("<4 bytes>"));
        let text = audited.to_string();
        for secret in ["hunter2", "abc", "\"v\""] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn the_servers_own_key_is_replaced_anywhere() {
        let mut value = json!({"a": ["x-OWNKEY-y", {"b": "OWNKEY"}], "c": 3, "d": {"OWNKEY-name": 1, "e": 2}});
        hide_own_key(&mut value, "OWNKEY");
        assert!(!value.to_string().contains("OWNKEY"), "{value}");
        assert_eq!(value["d"]["e"], json!(2));
        assert_eq!(value["d"][format!("{OWN_KEY_MARKER}-name")], json!(1));
        let mut untouched = json!({"a": "text"});
        hide_own_key(&mut untouched, "");
        assert_eq!(untouched, json!({"a": "text"}));
    }

    #[test]
    fn stored_secrets_leave_only_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let result = json!({"auth": {"secret": "loc-legacy", "location_id": "l1",
            "secrets": [{"id": "s1", "secret": "loc-1"}]}});
        let stored = store_secret(dir.path(), "location_auth", &response("LocationAuthResponse"), result).unwrap();
        let file = stored["secret_file"].as_str().unwrap();
        assert!(!stored.to_string().contains("loc-1") && !stored.to_string().contains("loc-legacy"));
        let name = Path::new(file).file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("location_auth-") && name.ends_with(".json"), "{name}");
        let contents: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        assert_eq!(contents["secrets"][0]["id"], json!("l1"));
        assert_eq!(
            contents["secrets"][1],
            json!({"message": "viam.app.v1.LocationAuth",
            "field": "secrets[].secret", "id": "s1", "secret": "loc-1"})
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let missing = store_secret(
            &dir.path().join("nope"),
            "create_key",
            &response("CreateKeyResponse"),
            json!({"id": "k", "key": "v"}),
        );
        assert!(matches!(missing, Err(ToolError::Local { message }) if message.contains("--secrets-dir")));
    }
}
