//! Catalogue-wide checks, and helpers the domain files' unit tests share.
use super::*;
use crate::connection::{Connection, ConnectionConfig};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// An `App` that never dials anything, for tests that only build requests.
pub(super) fn offline_app() -> App {
    let config = ConnectionConfig { url: "http://127.0.0.1:1".into(), api_key: None, timeout: Duration::from_secs(1) };
    App {
        conn: Connection::new(config).expect("a loopback URL is valid"),
        default_location: None,
        journal: Default::default(),
    }
}

/// A context for calling a custom operation's handler directly.
pub(super) fn offline_context(risk: Risk, cancel: CancellationToken) -> Arc<CallContext> {
    Arc::new(CallContext { app: Arc::new(offline_app()), risk, cancel, progress: None, files: HashMap::new() })
}

/// The SDK's request bytes for one case of `tests/golden/sdk_requests.json` (which says how they
/// were produced), in hex.
pub(super) fn golden(case: &str) -> &'static str {
    static CASES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
        let file: Value =
            serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/sdk_requests.json")))
                .expect("the golden file is JSON");
        serde_json::from_value(file["cases"].clone()).expect("cases map names to hex")
    });
    CASES.get(case).map(String::as_str).unwrap_or_else(|| panic!("no golden case {case:?}"))
}

/// Hex of an encoded message, to compare with a golden case.
pub(super) fn hex<M: prost::Message>(message: &M) -> String {
    message.encode_to_vec().iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a tool's arguments from JSON, as a call would.
pub(super) fn args<A: serde::de::DeserializeOwned>(value: Value) -> A {
    serde_json::from_value(value).expect("arguments parse")
}

#[test]
fn every_tool_has_a_description_file_and_every_file_a_tool() {
    let tools: BTreeSet<String> = catalogue().rows.iter().map(|r| r.name.to_string()).collect();
    let files: BTreeSet<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tool-descriptions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".md").to_string())
        .collect();
    assert_eq!(tools, files);
}

#[test]
fn names_agree_with_risk() {
    for row in &catalogue().rows {
        if row.name.starts_with("get_") || row.name.starts_with("list_") {
            assert_eq!(row.risk, Risk::Read, "{}", row.name);
        }
        if row.name.starts_with("delete_") {
            assert_eq!(row.risk, Risk::Destructive, "{}", row.name);
        }
    }
}

#[test]
fn annotations_and_confirm_follow_the_risk_class() {
    for (row, tool) in catalogue().rows.iter().zip(&catalogue().tools) {
        // Every hint is sent: clients and directories read them literally, not with the spec's defaults.
        let hints = tool.annotations.clone().unwrap_or_else(|| panic!("{} has no annotations", row.name));
        let hint = |name: &str, hint: Option<bool>| hint.unwrap_or_else(|| panic!("{}: no {name}", row.name));
        assert_eq!(hint("readOnlyHint", hints.read_only_hint), row.risk == Risk::Read, "{}", row.name);
        assert_eq!(hint("destructiveHint", hints.destructive_hint), row.risk == Risk::Destructive, "{}", row.name);
        let idempotent = matches!(row.risk, Risk::Read | Risk::Mutating);
        assert_eq!(hint("idempotentHint", hints.idempotent_hint), idempotent, "{}", row.name);
        assert!(hint("openWorldHint", hints.open_world_hint), "{}", row.name);
        let title = tool.title.as_deref().unwrap_or_else(|| panic!("{} has no title", row.name));
        assert_eq!(hints.title.as_deref(), Some(title), "{}: the annotations' title is the tool's", row.name);
        assert!(
            title.len() <= 40 && title.starts_with(|c: char| c.is_ascii_uppercase()) && !title.contains('_'),
            "{}: {title:?} is not a short human title",
            row.name
        );
        let has_confirm = tool.input_schema.get("properties").and_then(|p| p.get("confirm")).is_some();
        assert_eq!(has_confirm, row.risk == Risk::Destructive, "{}", row.name);
    }
}

#[test]
fn names_are_unique_and_descriptions_short() {
    let names: BTreeSet<&str> = catalogue().rows.iter().map(|r| r.name).collect();
    assert_eq!(names.len(), catalogue().rows.len());
    for row in &catalogue().rows {
        assert!(!row.description.trim().is_empty() && row.description.len() <= 800, "{}", row.name);
    }
}

/// The policy each row must declare: a tool cannot change anything without scope targets and a
/// read that verifies a lost write, be destructive without a preview, hand out a secret without
/// saying so, or touch a file it does not declare.
#[test]
fn every_row_declares_its_policy() {
    const SECRET_ISSUING: [&str; 6] = [
        "viam.app.v1.LocationAuthResponse",
        "viam.app.v1.CreateLocationSecretResponse",
        "viam.app.v1.CreateRobotPartSecretResponse",
        "viam.app.v1.CreateKeyResponse",
        "viam.app.v1.CreateKeyFromExistingKeyAuthorizationsResponse",
        "viam.app.v1.RotateKeyResponse",
    ];
    for (row, tool) in catalogue().rows.iter().zip(&catalogue().tools) {
        let properties = tool.input_schema.get("properties").and_then(Value::as_object).unwrap();
        let policy = &row.policy;
        if row.risk == Risk::Read {
            assert!(policy.scope.is_empty() && policy.verify.is_none(), "{}: a read declares no scope", row.name);
        } else {
            assert!(!policy.scope.is_empty(), "{} changes something but declares no scope targets", row.name);
            let verify = policy.verify.and_then(|name| catalogue().get(name));
            assert!(verify.is_some_and(|v| v.risk == Risk::Read), "{}: verify must name a read tool", row.name);
        }
        for name in policy.scope.iter().flat_map(|arg| arg.argument_names()) {
            assert!(properties.contains_key(&name), "{}: the scope reads {name:?}, not in its schema", row.name);
        }
        if row.risk == Risk::Destructive {
            assert!(row.op.has_preview, "{} is destructive but has no preview", row.name);
        }
        let issues_secret = SECRET_ISSUING.contains(&row.op.response().full_name());
        assert_eq!(policy.hands_out.is_some(), issues_secret, "{}: hands_out does not match its response", row.name);
        let declared: Vec<&str> = policy.files.iter().map(|f| f.argument()).collect();
        for file_like in ["dest", "file_path"] {
            assert_eq!(properties.contains_key(file_like), declared.contains(&file_like), "{}: {file_like}", row.name);
        }
    }
}

/// A read whose answer is a list pages it: the fields it names are the response's repeated
/// fields, and `limit` / `cursor` are the server's, never an argument the request is built from.
#[test]
fn every_list_tool_pages_its_lists() {
    // Lists these tools do not page: a tail is bounded by its own count, a summary pages itself,
    // a fragment's revisions and tags belong to the one fragment, and a permission check answers
    // for the permissions asked.
    const NOT_PAGED: [&str; 4] =
        ["tail_robot_part_logs", "list_machine_summaries", "get_fragment", "check_permissions"];
    let mut unpaged = Vec::new();
    for row in &catalogue().rows {
        let own = row.op.input_schema().get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        assert!(!own.contains_key("limit") || row.policy.pages.is_empty(), "{}: limit is the server's", row.name);
        assert!(!own.contains_key("cursor") || row.policy.pages.is_empty(), "{}: cursor is the server's", row.name);
        for list in row.policy.pages {
            let field = row.op.response().get_field_by_name(list);
            assert!(field.is_some_and(|f| f.is_list()), "{}: {list} is not a repeated field", row.name);
        }
        let lists =
            row.op.response().fields().any(|f| f.is_list() && matches!(f.kind(), prost_reflect::Kind::Message(_)));
        if row.risk == Risk::Read && lists && !NOT_PAGED.contains(&row.name) && row.policy.pages.is_empty() {
            unpaged.push(row.name);
        }
    }
    assert!(unpaged.is_empty(), "{unpaged:?} answer with a list they do not page");
}

/// Every client pays for `tools/list` in context on every session: keep it under a budget, so a
/// regression (a long description, a repeated schema) fails here rather than in users' bills.
#[test]
fn tools_list_stays_within_its_size_budget() {
    // Issue 7 asked for 48 KB (it was 96 KB); issue 19 added every hint and a title to every tool and
    // allows 52 KB, room for issue 22's columns, counts and filters and the tools other issues add.
    const BUDGET_BYTES: usize = 52_000;
    let size = serde_json::to_vec(&catalogue().tools).unwrap().len();
    assert!(
        size <= BUDGET_BYTES,
        "tools/list grew to {size} bytes (budget {BUDGET_BYTES}): say what many tools share once in the \
         server instructions, keep descriptions to what the schema does not say"
    );
}

/// `tools/list` serves the reviewed definitions `build.rs` compiles in (startup derives no schema),
/// so each must be what the code makes: its description file, its argument type's schema, its
/// response's schema, its risk class. Regenerate with `UPDATE_SNAPSHOTS=1 cargo test --lib
/// compiled_definitions`, review the diff, and build again.
#[test]
fn compiled_definitions_are_what_the_code_makes() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/tools");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    if update {
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut changed = Vec::new();
    for (row, listed) in catalogue().rows.iter().zip(&catalogue().tools) {
        let made = row.definition();
        let rendered = serde_json::to_string_pretty(&made).unwrap() + "\n";
        let path = format!("{dir}/{}.json", row.name);
        if update {
            std::fs::write(&path, &rendered).unwrap();
        }
        // What `tools/list` serves is the compiled-in definition.
        let served = serde_json::to_value(listed).unwrap();
        if std::fs::read_to_string(&path).ok().as_deref() != Some(rendered.as_str())
            || served != serde_json::to_value(&made).unwrap()
        {
            changed.push(row.name);
        }
    }
    let files = std::fs::read_dir(dir).unwrap().count();
    assert!(
        changed.is_empty(),
        "these tools changed; run with UPDATE_SNAPSHOTS=1, review, and build again: {changed:?}"
    );
    assert_eq!(
        files,
        catalogue().rows.len(),
        "a definition of a tool that no longer exists; run with UPDATE_SNAPSHOTS=1"
    );
}
