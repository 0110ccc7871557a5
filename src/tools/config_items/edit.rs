//! The pure part of the config tools: items found by kind and name in a config's JSON text,
//! added, merge-patched or removed one at a time, and the diffs that show what changed.
//!
//! The config stays text: each top-level entry and each untouched item is written back exactly
//! as it was read, so numbers no JSON value type could hold, key order and formatting survive.
//! Only the one item that changes is parsed and written again.
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::fmt;

/// The kinds whose items the tools check and edit even when a config has none yet; any other
/// top-level list of a config can be edited too.
pub const KNOWN_KINDS: [&str; 9] =
    ["components", "services", "modules", "processes", "remotes", "packages", "fragments", "fragment_mods", "jobs"];

/// The field that names an item of `kind`: processes are named by `id` (their `name` is the
/// executable), fragment entries by the fragment id.
pub fn key_field(kind: &str) -> &'static str {
    match kind {
        "processes" | "fragments" => "id",
        "fragment_mods" => "fragment_id",
        _ => "name",
    }
}

/// An item's name: a string item (a fragment id) is its own name.
pub fn name_of<'a>(kind: &str, item: &'a Value) -> Option<&'a str> {
    match item {
        Value::String(id) => Some(id),
        _ => item.get(key_field(kind))?.as_str(),
    }
}

/// What is missing from an item for viam-server to accept it, as one message per problem.
pub fn shape_problems(kind: &str, item: &Value) -> Vec<String> {
    let text = |field: &str| item.get(field).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
    let mut problems = Vec::new();
    if kind == "fragments" {
        if !(item.as_str().is_some_and(|s| !s.trim().is_empty()) || text("id")) {
            problems.push(format!("a fragments entry is the fragment id as a string, got {item}"));
        }
        return problems;
    }
    if !item.is_object() {
        return vec![format!("a {kind} item is a JSON object, got {item}")];
    }
    let field = key_field(kind);
    if !text(field) {
        problems.push(format!("{field} (a non-empty string) is missing"));
    }
    match kind {
        "components" | "services" => {
            if !text("api") && !text("type") {
                problems.push("api or type is missing".into());
            }
            if !text("model") {
                problems.push("model is missing".into());
            }
        }
        "modules" if !text("module_id") && !text("executable_path") => {
            problems.push("module_id or executable_path is missing".into())
        }
        _ => {}
    }
    problems
}

/// A config as its top-level entries, each value kept as the text it was read as.
#[derive(Debug)]
pub struct Config(Vec<(String, Box<RawValue>)>);

impl Config {
    /// Empty text is an empty config (a part that never had one).
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self(Vec::new()));
        }
        serde_json::from_str(text).map_err(|e| format!("the config is not a JSON object: {e}"))
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("raw JSON values always serialize")
    }

    fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }

    /// The top-level keys that hold lists: the kinds this config has.
    pub fn kinds(&self) -> Vec<&str> {
        self.0.iter().filter(|(_, v)| v.get().starts_with('[')).map(|(k, _)| k.as_str()).collect()
    }

    /// The items of `kind`, each as written and parsed; none when the config has no such key.
    pub fn items(&self, kind: &str) -> Result<Vec<(Box<RawValue>, Value)>, Refusal> {
        let Some(raw) = self.get(kind) else { return Ok(Vec::new()) };
        let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get()).map_err(|_| {
            Refusal::Invalid(format!(
                "kind: {kind:?} is not a list in this config; its lists are {:?} (update_robot_part or \
                 update_fragment replace other keys)",
                self.kinds()
            ))
        })?;
        items
            .into_iter()
            .map(|raw| {
                let value = serde_json::from_str(raw.get()).map_err(|e| Refusal::Invalid(e.to_string()))?;
                Ok((raw, value))
            })
            .collect()
    }

    fn set(&mut self, kind: &str, items: Vec<Box<RawValue>>) {
        let list = raw(&items);
        match self.0.iter_mut().find(|(k, _)| k == kind) {
            Some((_, value)) => *value = list,
            None => self.0.push((kind.to_string(), list)),
        }
    }
}

fn raw(value: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("JSON values always serialize")
}

impl Serialize for Config {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Config;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Config, A::Error> {
                let mut entries: Vec<(String, Box<RawValue>)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    // The service would keep one of the two; an edit could land in the other.
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom(format!("the key {key:?} appears twice")));
                    }
                    entries.push((key, value));
                }
                Ok(Config(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// One change to one item.
#[derive(Debug, Clone)]
pub enum Change {
    Add(Value),
    /// An RFC 7386 merge patch for the item named `name`.
    Update {
        name: String,
        patch: Value,
    },
    Remove {
        name: String,
    },
}

/// Why a change cannot be made; nothing is sent.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    Invalid(String),
    /// The item to change is not there.
    Missing(String),
    /// Another item of the kind already has the name.
    Duplicate {
        message: String,
        existing: Value,
    },
}

/// A change worked out: the item before and after, and the new config text (none when nothing
/// changes).
#[derive(Debug)]
pub struct Applied {
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub text: Option<String>,
}

/// Works out `change` on the items of `kind`, leaving every other item and key as written.
pub fn apply(config: Config, kind: &str, change: &Change) -> Result<Applied, Refusal> {
    let mut config = config;
    let items = config.items(kind)?;
    let find = |name: &str| items.iter().position(|(_, item)| name_of(kind, item) == Some(name));
    let missing = |name: &str| {
        let names: Vec<&str> = items.iter().filter_map(|(_, item)| name_of(kind, item)).collect();
        Refusal::Missing(format!("name: {kind} has no item named {name:?}; it has {names:?}"))
    };
    let duplicate = |index: usize, name: &str| Refusal::Duplicate {
        message: format!("{kind} already has an item named {name:?}; nothing was changed"),
        existing: items[index].1.clone(),
    };
    let (index, before, after) = match change {
        Change::Add(item) => {
            check_shape(kind, item, "item")?;
            let name = name_of(kind, item).unwrap_or_default();
            if let Some(index) = find(name) {
                return Err(duplicate(index, name));
            }
            (None, None, Some(item.clone()))
        }
        Change::Update { name, patch } => {
            let index = find(name).ok_or_else(|| missing(name))?;
            let before = items[index].1.clone();
            // A fragment imported by its bare id takes fields (`version`) as `{"id": …}`.
            let mut after = match &before {
                Value::String(id) if kind == "fragments" => json!({"id": id}),
                item => item.clone(),
            };
            json_patch::merge(&mut after, patch);
            if same_json(&before, &after) {
                return Ok(Applied { before: Some(before), after: Some(after), text: None });
            }
            check_shape(kind, &after, "patch")?;
            let renamed = name_of(kind, &after).unwrap_or_default();
            if let Some(other) = find(renamed).filter(|other| *other != index) {
                return Err(duplicate(other, renamed));
            }
            (Some(index), Some(before), Some(after))
        }
        Change::Remove { name } => {
            let index = find(name).ok_or_else(|| missing(name))?;
            (Some(index), Some(items[index].1.clone()), None)
        }
    };
    let mut written: Vec<Box<RawValue>> = items.into_iter().map(|(raw, _)| raw).collect();
    match (index, &after) {
        (Some(index), Some(item)) => written[index] = raw(item),
        (Some(index), None) => {
            written.remove(index);
        }
        (None, Some(item)) => written.push(raw(item)),
        (None, None) => {}
    }
    config.set(kind, written);
    Ok(Applied { before, after, text: Some(config.to_text()) })
}

/// The item named `name` of `kind` as it is written, with its position and whether the config
/// has the kind at all: what [`restore`] needs to put it back.
pub fn find_raw(config: &Config, kind: &str, name: &str) -> Result<Saved, Refusal> {
    let items = config.items(kind)?;
    let found = items.iter().position(|(_, item)| name_of(kind, item) == Some(name));
    Ok(Saved {
        item: found.map(|i| items[i].0.get().to_string()),
        index: found.unwrap_or(items.len()),
        kind_present: config.get(kind).is_some(),
    })
}

/// An item as it was before a change, kept to undo it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Saved {
    /// The item's text as written; none when there was no such item.
    pub item: Option<String>,
    pub index: usize,
    pub kind_present: bool,
}

/// Puts back the item a change made into `name` (now present or not) as `saved` says it was:
/// the saved text in its old place, or no item (and no list, where there was none). Every
/// other item and key stays as written. None when it already is so.
pub fn restore(mut config: Config, kind: &str, name: &str, saved: &Saved) -> Result<Option<String>, Refusal> {
    let items = config.items(kind)?;
    let now = items.iter().position(|(_, item)| name_of(kind, item) == Some(name));
    let mut written: Vec<Box<RawValue>> = items.into_iter().map(|(raw, _)| raw).collect();
    let before = match &saved.item {
        Some(text) => Some(RawValue::from_string(text.clone()).map_err(|e| Refusal::Invalid(e.to_string()))?),
        None => None,
    };
    match (now, before) {
        (Some(i), Some(item)) if written[i].get() == item.get() => return Ok(None),
        (Some(i), Some(item)) => written[i] = item,
        (Some(i), None) => {
            written.remove(i);
        }
        (None, Some(item)) => written.insert(saved.index.min(written.len()), item),
        (None, None) => return Ok(None),
    }
    if written.is_empty() && !saved.kind_present {
        config.0.retain(|(k, _)| k != kind);
    } else {
        config.set(kind, written);
    }
    Ok(Some(config.to_text()))
}

fn check_shape(kind: &str, item: &Value, argument: &str) -> Result<(), Refusal> {
    let problems = shape_problems(kind, item);
    if problems.is_empty() {
        return Ok(());
    }
    Err(Refusal::Invalid(format!("{argument}: the {kind} item would be invalid: {}", problems.join("; "))))
}

/// JSON equality that ignores how a number is written: the service stores every number as a
/// double, so `1` and `1.0` are the same value.
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// The paths (JSON pointers) at which two items differ; lists are compared whole.
pub fn changed_paths(before: &Value, after: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    walk_changes(before, after, String::new(), &mut paths);
    paths
}

fn walk_changes(before: &Value, after: &Value, path: String, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let keys = b.keys().chain(a.keys().filter(|k| !b.contains_key(*k)));
            for key in keys {
                let here = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
                match (b.get(key), a.get(key)) {
                    (Some(x), Some(y)) => walk_changes(x, y, here, out),
                    _ => out.push(here),
                }
            }
        }
        _ if same_json(before, after) => {}
        _ => out.push(if path.is_empty() { "/".into() } else { path }),
    }
}

/// The value at `path` as shown: where the shown copy replaced a whole object (a secret), that
/// replacement; none where the path is absent.
fn shown_at<'a>(shown: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = shown;
    for step in path.split('/').skip(1).filter(|s| !s.is_empty()) {
        let step = step.replace("~1", "/").replace("~0", "~");
        at = match at {
            Value::Object(object) => object.get(&step)?,
            other => return Some(other),
        };
    }
    Some(at)
}

/// The compact diff of one changed item: `{path: {"from": …, "to": …}}`, an absent side left
/// out. Paths come from the real items; values from the shown (redacted) copies.
pub fn item_diff(before: &Value, after: &Value, shown_before: &Value, shown_after: &Value) -> Value {
    let mut diff = Map::new();
    for path in changed_paths(before, after) {
        let mut change = Map::new();
        if let Some(from) = shown_at(shown_before, &path) {
            change.insert("from".into(), from.clone());
        }
        if let Some(to) = shown_at(shown_after, &path) {
            change.insert("to".into(), to.clone());
        }
        diff.insert(path, Value::Object(change));
    }
    Value::Object(diff)
}

/// The items of the config that name `name`: in their `depends_on`, or as a value anywhere in
/// their `attributes`. As `[{"kind", "name", "via"}]`.
pub fn references(config: &Value, kind: &str, name: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let Some(object) = config.as_object() else { return found };
    for (other_kind, items) in object {
        for item in items.as_array().into_iter().flatten() {
            if other_kind == kind && name_of(kind, item) == Some(name) {
                continue;
            }
            let mut via = Vec::new();
            if item.get("depends_on").and_then(Value::as_array).is_some_and(|d| d.iter().any(|v| v == name)) {
                via.push("depends_on".to_string());
            }
            if let Some(attributes) = item.get("attributes") {
                strings_equal(attributes, name, "/attributes".into(), &mut via);
            }
            if !via.is_empty() {
                let named = name_of(other_kind, item).unwrap_or_default();
                found.push(json!({"kind": other_kind, "name": named, "via": via}));
            }
        }
    }
    found
}

fn strings_equal(value: &Value, name: &str, path: String, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s == name => out.push(path),
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, v)| strings_equal(v, name, format!("{path}/{i}"), out))
        }
        Value::Object(object) => object.iter().for_each(|(k, v)| strings_equal(v, name, format!("{path}/{k}"), out)),
        _ => {}
    }
}

/// What replacing a whole config would do, item by item: `{"added", "removed", "changed"}`, each
/// a list of `kind/name` for items of a list and of bare keys for other top-level keys (and for
/// a list that appears or goes away empty). An item without a name is `kind/#index`.
pub fn config_changes(current: &Value, proposed: &Value) -> Value {
    let empty = Map::new();
    let current = current.as_object().unwrap_or(&empty);
    let proposed = proposed.as_object().unwrap_or(&empty);
    let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    let keys = current.keys().chain(proposed.keys().filter(|k| !current.contains_key(*k)));
    for key in keys {
        let (was, now) = (current.get(key), proposed.get(key));
        let lists =
            (was.is_none() || was.is_some_and(Value::is_array)) && (now.is_none() || now.is_some_and(Value::is_array));
        if !lists {
            match (was, now) {
                (None, _) => added.push(key.clone()),
                (_, None) => removed.push(key.clone()),
                (Some(a), Some(b)) if !same_json(a, b) => changed.push(key.clone()),
                _ => {}
            }
            continue;
        }
        let named = |list: Option<&Value>| -> Vec<(String, Value)> {
            let items = list.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let name = name_of(key, item).map_or(format!("#{i}"), String::from);
                    (format!("{key}/{name}"), item.clone())
                })
                .collect()
        };
        let (before, after) = (named(was), named(now));
        let diff_before = added.len() + removed.len() + changed.len();
        for (name, item) in &after {
            match before.iter().find(|(n, _)| n == name) {
                None => added.push(name.clone()),
                Some((_, old)) if !same_json(old, item) => changed.push(name.clone()),
                _ => {}
            }
        }
        removed.extend(before.iter().filter(|(n, _)| !after.iter().any(|(m, _)| m == n)).map(|(n, _)| n.clone()));
        // An empty list that appears or goes away still shows.
        if added.len() + removed.len() + changed.len() == diff_before {
            match (was, now) {
                (None, Some(_)) => added.push(key.clone()),
                (Some(_), None) => removed.push(key.clone()),
                _ => {}
            }
        }
    }
    json!({"added": added, "removed": removed, "changed": changed})
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"{
  "components": [
    {"name": "left", "type": "motor", "model": "gpio", "attributes": {"pins": {"a": "11"}, "ticks": 12345678901234567890, "ratio": 1.0}},
    {"name": "base", "type": "base", "model": "wheeled", "attributes": {"left": ["left"]}, "depends_on": ["left"]}
  ],
  "network": {"port": 8080, "big": 123456789012345678901},
  "fragments": ["f1"]
}"#;

    fn config() -> Config {
        Config::parse(TEXT).unwrap()
    }

    fn update(name: &str, patch: Value) -> Change {
        Change::Update { name: name.into(), patch }
    }

    #[test]
    fn untouched_items_and_keys_stay_as_written() {
        let applied = apply(config(), "components", &update("base", json!({"attributes": {"width": 3}}))).unwrap();
        let text = applied.text.unwrap();
        // The first item and the other keys keep their text, numbers beyond 64 bits included.
        assert!(text.contains(r#"{"name": "left", "type": "motor", "model": "gpio", "attributes": {"pins": {"a": "11"}, "ticks": 12345678901234567890, "ratio": 1.0}}"#), "{text}");
        assert!(text.contains(r#""network":{"port": 8080, "big": 123456789012345678901}"#), "{text}");
        let keys: Vec<String> = Config::parse(&text).unwrap().0.into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["components", "network", "fragments"]);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["components"][1]["attributes"], json!({"left": ["left"], "width": 3}));
    }

    #[test]
    fn a_changed_item_keeps_its_exact_integers_and_floats() {
        let applied = apply(config(), "components", &update("left", json!({"attributes": {"pins": {"a": "12"}}})));
        let text = applied.unwrap().text.unwrap();
        assert!(text.contains("\"ticks\":12345678901234567890") && text.contains("\"ratio\":1.0"), "{text}");
        assert!(text.contains(r#""pins":{"a":"12"}"#), "{text}");
    }

    #[test]
    fn merge_patch_null_removes_a_key_and_renames_need_a_free_name() {
        let applied = apply(config(), "components", &update("left", json!({"attributes": {"ratio": null}}))).unwrap();
        assert_eq!(applied.after.unwrap()["attributes"].get("ratio"), None);
        let renamed = apply(config(), "components", &update("left", json!({"name": "left-wheel"}))).unwrap();
        assert_eq!(renamed.after.unwrap()["name"], json!("left-wheel"));
        let taken = apply(config(), "components", &update("left", json!({"name": "base"}))).unwrap_err();
        assert!(matches!(&taken, Refusal::Duplicate { existing, .. } if existing["model"] == json!("wheeled")));
    }

    #[test]
    fn a_patch_that_changes_nothing_is_a_no_op() {
        let same =
            apply(config(), "components", &update("left", json!({"attributes": {"pins": {"a": "11"}}}))).unwrap();
        assert!(same.text.is_none());
        // 1 and 1.0 are one value to the service.
        let same = apply(config(), "components", &update("left", json!({"attributes": {"ratio": 1}}))).unwrap();
        assert!(same.text.is_none());
    }

    #[test]
    fn adds_check_the_shape_and_refuse_duplicates_showing_the_existing_item() {
        let item = json!({"name": "cam", "api": "rdk:component:camera", "model": "webcam"});
        let added = apply(config(), "components", &Change::Add(item.clone())).unwrap();
        let parsed: Value = serde_json::from_str(&added.text.unwrap()).unwrap();
        assert_eq!(parsed["components"][2], item);
        let bad = apply(config(), "components", &Change::Add(json!({"name": "x"}))).unwrap_err();
        let Refusal::Invalid(message) = bad else { panic!("{bad:?}") };
        assert!(message.contains("api or type") && message.contains("model"), "{message}");
        let dup = apply(config(), "components", &Change::Add(json!({"name": "left", "type": "motor", "model": "m"})));
        let Err(Refusal::Duplicate { existing, .. }) = dup else { panic!("{dup:?}") };
        assert_eq!(existing["type"], json!("motor"));
        assert!(matches!(apply(config(), "fragments", &Change::Add(json!("f1"))), Err(Refusal::Duplicate { .. })));
        let module = apply(config(), "modules", &Change::Add(json!({"name": "m"}))).unwrap_err();
        assert!(matches!(module, Refusal::Invalid(m) if m.contains("module_id or executable_path")));
    }

    #[test]
    fn a_new_kind_is_created_and_a_fragment_is_its_id() {
        let added = apply(Config::parse("").unwrap(), "fragments", &Change::Add(json!("f2"))).unwrap();
        assert_eq!(added.text.unwrap(), r#"{"fragments":["f2"]}"#);
        let removed = apply(config(), "fragments", &Change::Remove { name: "f1".into() }).unwrap();
        let parsed: Value = serde_json::from_str(&removed.text.unwrap()).unwrap();
        assert_eq!(parsed["fragments"], json!([]));
        assert_eq!(removed.before, Some(json!("f1")));
    }

    #[test]
    fn missing_items_and_kinds_that_are_not_lists_are_refused() {
        let missing = apply(config(), "components", &Change::Remove { name: "arm".into() }).unwrap_err();
        assert!(matches!(&missing, Refusal::Missing(m) if m.contains("\"left\"") && m.contains("\"base\"")));
        let not_list = apply(config(), "network", &Change::Remove { name: "x".into() }).unwrap_err();
        assert!(matches!(&not_list, Refusal::Invalid(m) if m.contains("not a list")), "{not_list:?}");
        assert!(Config::parse("[1]").is_err());
        assert!(Config::parse(r#"{"a": 1, "a": 2}"#).is_err());
    }

    #[test]
    fn item_diffs_list_changed_paths_with_shown_values() {
        let before = json!({"name": "c", "attributes": {"pin": "11", "password": "old", "keep": 1}});
        let after = json!({"name": "c", "attributes": {"pin": "12", "password": "new", "keep": 1.0, "x": true}});
        assert_eq!(changed_paths(&before, &after), ["/attributes/password", "/attributes/pin", "/attributes/x"]);
        let mut shown_before = before.clone();
        let mut shown_after = after.clone();
        shown_before["attributes"]["password"] = json!("<redacted>");
        shown_after["attributes"]["password"] = json!("<redacted>");
        let diff = item_diff(&before, &after, &shown_before, &shown_after);
        assert_eq!(
            diff,
            json!({"/attributes/pin": {"from": "11", "to": "12"},
                   "/attributes/password": {"from": "<redacted>", "to": "<redacted>"},
                   "/attributes/x": {"to": true}})
        );
        // Inside a secret object replaced whole, the replacement shows.
        let (b, a) = (json!({"auth": {"user": "u"}}), json!({"auth": {"user": "v"}}));
        let shown = json!({"auth": "<redacted>"});
        assert_eq!(
            item_diff(&b, &a, &shown, &shown),
            json!({"/auth/user": {"from": "<redacted>", "to": "<redacted>"}})
        );
    }

    #[test]
    fn references_are_depends_on_and_attribute_values() {
        let config: Value = serde_json::from_str(TEXT).unwrap();
        let refs = references(&config, "components", "left");
        assert_eq!(refs, [json!({"kind": "components", "name": "base", "via": ["depends_on", "/attributes/left/0"]})]);
        assert!(references(&config, "components", "base").is_empty());
    }

    #[test]
    fn config_changes_name_items_by_kind_and_name() {
        let current = json!({"components": [{"name": "a", "n": 1}, {"name": "b"}], "fragments": ["f1"],
                             "network": {"port": 1}, "modules": []});
        let proposed = json!({"components": [{"name": "a", "n": 1.0}, {"name": "c"}], "fragments": ["f1", "f2"],
                              "network": {"port": 2}, "services": [], "debug": true});
        assert_eq!(
            config_changes(&current, &proposed),
            json!({"added": ["components/c", "fragments/f2", "debug", "services"],
                   "removed": ["components/b", "modules"], "changed": ["network"]})
        );
        let everything = config_changes(&current, &Value::Null);
        assert_eq!(
            everything["removed"],
            json!(["components/a", "components/b", "fragments/f1", "modules", "network"])
        );
        let renamed = config_changes(
            &json!({"components": [{"name": "a", "x": 1}]}),
            &json!({"components": [{"name": "a", "x": 2}]}),
        );
        assert_eq!(renamed["changed"], json!(["components/a"]));
    }

    #[test]
    fn a_saved_item_is_put_back_in_its_place_and_every_other_byte_stays() {
        let text = r#"{"remotes": [{"name": "a", "n": 1.0},{"name": "b"}], "network": {"x": 1}}"#;
        let config = || Config::parse(text).unwrap();
        let saved = find_raw(&config(), "remotes", "a").unwrap();
        let change = Change::Update { name: "a".into(), patch: json!({"n": 2}) };
        let changed = apply(config(), "remotes", &change).unwrap().text.unwrap();
        let restored = restore(Config::parse(&changed).unwrap(), "remotes", "a", &saved).unwrap().unwrap();
        assert_eq!(restored, Config::parse(text).unwrap().to_text());
        // A removed item goes back where it was; an added one goes away, and so does a list it created.
        let saved = find_raw(&config(), "remotes", "a").unwrap();
        let removed = apply(config(), "remotes", &Change::Remove { name: "a".into() }).unwrap().text.unwrap();
        let back = restore(Config::parse(&removed).unwrap(), "remotes", "a", &saved).unwrap().unwrap();
        assert_eq!(back, config().to_text());
        let none = find_raw(&config(), "fragments", "f").unwrap();
        assert_eq!(none, Saved { item: None, index: 0, kind_present: false });
        let added = apply(config(), "fragments", &Change::Add(json!("f"))).unwrap().text.unwrap();
        let gone = restore(Config::parse(&added).unwrap(), "fragments", "f", &none).unwrap().unwrap();
        assert_eq!(gone, config().to_text());
        assert_eq!(restore(config(), "fragments", "f", &none).unwrap(), None, "already so");
    }

    #[test]
    fn a_fragment_imported_by_its_id_takes_a_version() {
        let config = Config::parse(r#"{"fragments": ["f1", {"id": "f2", "version": "1"}]}"#).unwrap();
        let change = Change::Update { name: "f1".into(), patch: json!({"version": "3"}) };
        let applied = apply(config, "fragments", &change).unwrap();
        assert_eq!(applied.after, Some(json!({"id": "f1", "version": "3"})));
        assert_eq!(applied.text.unwrap(), r#"{"fragments":[{"id":"f1","version":"3"},{"id": "f2", "version": "1"}]}"#);
    }
}
