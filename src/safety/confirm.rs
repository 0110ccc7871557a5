//! Confirmation of destructive calls. In `flag` mode `confirm: true` suffices; without it a person
//! is asked when the client can elicit. In `human` mode a person must accept: by
//! `elicitation/create` on 2025-06-18 / 2025-11-25 sessions, or by an MRTR input request on
//! 2026-07-28 sessions, whose `requestState` is sealed (HMAC), bound to the tool and its
//! canonical arguments, expires, and is accepted once. In every case the target is read again
//! just before executing, and the call is refused if it changed since the preview. Cancelling
//! the call ends the wait for a person and withdraws the question.
use super::ConfirmMode;
use crate::call::{BoxFuture, Interaction};
use crate::error::ToolError;
use rmcp::model::{
    ClientResult, ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, InputRequest,
    InputRequiredResult, RequestStateCodec, SealOptions, ServerRequest,
};
use rmcp::service::{PeerRequestOptions, RequestContext};
use rmcp::{RoleServer, elicit_safe};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long a person has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(300);
const INPUT_KEY: &str = "confirm";

/// The form a person fills in.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ConfirmForm {
    /// Tick to carry out this destructive change.
    pub confirm: bool,
}
elicit_safe!(ConfirmForm);

/// Sealed into `requestState`: the preview the person was shown, and a nonce for single use.
#[derive(Serialize, Deserialize)]
struct PendingConfirmation {
    preview: Value,
    nonce: u64,
}

/// The key that seals `requestState`, and the nonces this process already redeemed, each kept
/// until its state would have expired anyway.
pub struct Confirmations {
    codec: RequestStateCodec,
    redeemed: Mutex<HashMap<u64, Instant>>,
}

impl Confirmations {
    /// Seals with `key` (at least 32 bytes), so that replicas sharing it accept each other's states.
    pub fn with_key(key: Vec<u8>) -> Result<Self, String> {
        let codec = RequestStateCodec::try_new(key).map_err(|e| format!("the state key is not usable: {e}"))?;
        Ok(Self { codec, redeemed: Mutex::default() })
    }

    /// Marks `nonce` used; false when it already was. Expired entries are dropped on the way.
    fn redeem(&self, nonce: u64) -> bool {
        let now = Instant::now();
        let mut redeemed = self.redeemed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        redeemed.retain(|_, expires| *expires > now);
        redeemed.insert(nonce, now + ANSWER_WITHIN).is_none()
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.redeemed.lock().map(|r| r.len()).unwrap_or_default()
    }
}

impl Default for Confirmations {
    /// A random per-process key: a state is accepted only by the process that sealed it.
    fn default() -> Self {
        Self::with_key(rand::random::<[u8; 32]>().to_vec()).expect("a 32-byte key is long enough")
    }
}

/// Reads what the call would affect; called for the preview and again just before executing.
pub type PreviewFn<'a> = &'a (dyn Fn() -> BoxFuture<Result<Value, ToolError>> + Send + Sync);

/// The destructive call being decided.
pub struct GateCall<'a> {
    pub tool: &'static str,
    /// The tool's title, which the question a person reads starts with ("Delete machine").
    pub title: &'a str,
    /// The arguments without `confirm`.
    pub arguments: &'a Value,
    /// The model passed `confirm: true`.
    pub confirmed: bool,
    pub interaction: &'a Interaction,
    pub cancel: &'a CancellationToken,
}

/// The gate's decision, and how it was reached for the audit log.
pub struct Gate {
    /// `{"method": …, "outcome": …}`; none when nothing was decided (a bad state, a failed read).
    pub record: Option<Value>,
    /// `Ok` means: execute now.
    pub result: Result<(), ToolError>,
}

fn decided(method: &str, outcome: &str, result: Result<(), ToolError>) -> Gate {
    Gate { record: Some(json!({"method": method, "outcome": outcome})), result }
}

fn undecided(error: ToolError) -> Gate {
    Gate { record: None, result: Err(error) }
}

/// Decides whether a destructive call may go ahead.
pub async fn gate(
    confirmations: &Confirmations,
    mode: ConfirmMode,
    call: GateCall<'_>,
    preview: PreviewFn<'_>,
) -> Gate {
    if mode == ConfirmMode::Flag && call.confirmed {
        return decided("flag", "accepted", Ok(()));
    }
    let binding = binding(call.tool, call.arguments);
    if let Some(state) = &call.interaction.request_state {
        return redeem(confirmations, &call, state, &binding, preview).await;
    }
    let shown = match preview().await {
        Ok(shown) => shown,
        Err(e) => return undecided(e),
    };
    let Some(context) = call.interaction.context.as_ref().filter(|c| can_elicit(c)) else {
        return undecided(refusal(mode, shown));
    };
    let message = message(call.tool, call.title, &shown);
    if modern(context) {
        return ask_by_input_request(confirmations, shown, message, &binding);
    }
    match ask_by_elicitation(context, message, call.cancel).await {
        Answer::Accepted => match unchanged(&shown, preview).await {
            Ok(()) => decided("elicitation", "accepted", Ok(())),
            Err(e) => decided("recheck", "target_changed", Err(e)),
        },
        Answer::Declined => decided("elicitation", "declined", Err(ToolError::Declined { cancelled: false })),
        Answer::Cancelled => decided("elicitation", "cancelled", Err(ToolError::Declined { cancelled: true })),
        Answer::Withdrawn => decided("elicitation", "withdrawn", Err(ToolError::Cancelled)),
        Answer::Failed(e) => {
            tracing::warn!(tool = call.tool, "elicitation failed: {e}");
            decided("elicitation", "failed", Err(refusal(mode, shown)))
        }
    }
}

/// A 2026-07-28 session: answer with an input request and a sealed state to come back with.
fn ask_by_input_request(confirmations: &Confirmations, shown: Value, message: String, binding: &[u8]) -> Gate {
    let pending = PendingConfirmation { preview: shown, nonce: rand::random() };
    let options = SealOptions::new().associated_data(binding).ttl(ANSWER_WITHIN);
    let state = match confirmations.codec.seal_json_with(&pending, &options) {
        Ok(state) => state,
        Err(e) => return undecided(ToolError::local(format!("cannot seal the confirmation state: {e}"))),
    };
    let request = match form_request(message) {
        Ok(request) => request,
        Err(e) => return undecided(ToolError::local(e)),
    };
    let requests = [(INPUT_KEY.to_string(), InputRequest::Elicitation(request))].into();
    decided(
        "mrtr",
        "requested",
        Err(ToolError::InputRequired(Box::new(InputRequiredResult::new(Some(requests), Some(state))))),
    )
}

enum Answer {
    Accepted,
    Declined,
    Cancelled,
    /// The tool call was cancelled while the person was being asked; the question was withdrawn.
    Withdrawn,
    Failed(String),
}

/// Asks a person by `elicitation/create` and waits for the answer, the deadline, or the call's
/// cancellation, whichever comes first. On cancellation the question is withdrawn with
/// `notifications/cancelled`, so a late "accept" answers nothing.
async fn ask_by_elicitation(
    context: &RequestContext<RoleServer>,
    message: String,
    cancel: &CancellationToken,
) -> Answer {
    let request = match form_request(message) {
        Ok(request) => ServerRequest::ElicitRequest(request),
        Err(e) => return Answer::Failed(e),
    };
    let options = PeerRequestOptions::with_timeout(ANSWER_WITHIN);
    let mut pending = match context.peer.send_cancellable_request(request, options).await {
        Ok(pending) => pending,
        Err(e) => return Answer::Failed(e.to_string()),
    };
    let answer = tokio::select! {
        biased;
        _ = cancel.cancelled() => {
            if let Err(e) = pending.cancel(Some("the tool call was cancelled".into())).await {
                tracing::debug!("could not withdraw the confirmation request: {e}");
            }
            return Answer::Withdrawn;
        }
        _ = tokio::time::sleep(ANSWER_WITHIN) => {
            let _ = pending.cancel(Some("no answer in time".into())).await;
            return Answer::Failed("no answer in time".into());
        }
        answer = &mut pending.rx => answer,
    };
    match answer {
        Ok(Ok(ClientResult::ElicitResult(result))) => match result.action {
            ElicitationAction::Accept if accepts(&result) => Answer::Accepted,
            ElicitationAction::Cancel => Answer::Cancelled,
            _ => Answer::Declined,
        },
        Ok(Ok(other)) => Answer::Failed(format!("unexpected answer {other:?}")),
        Ok(Err(e)) => Answer::Failed(e.to_string()),
        Err(_) => Answer::Failed("the client connection closed".into()),
    }
}

/// The question a person is asked: the message and the [`ConfirmForm`].
fn form_request(message: String) -> Result<ElicitRequest, String> {
    let schema = ElicitationSchema::from_type::<ConfirmForm>().map_err(|e| format!("confirmation form: {e}"))?;
    Ok(ElicitRequest::new(ElicitRequestParams::FormElicitationParams { meta: None, message, requested_schema: schema }))
}

fn accepts(result: &ElicitResult) -> bool {
    result.content.as_ref().and_then(|content| content.get("confirm")) == Some(&json!(true))
}

/// The second round of an MRTR confirmation: verify the sealed state, then read the answer.
async fn redeem(
    confirmations: &Confirmations,
    call: &GateCall<'_>,
    state: &str,
    binding: &[u8],
    preview: PreviewFn<'_>,
) -> Gate {
    let pending: PendingConfirmation = match confirmations.codec.open_json_with(state, binding) {
        Ok(pending) => pending,
        Err(e) => {
            return undecided(ToolError::InvalidRequestState {
                message: format!("the requestState was rejected ({e}); call the tool again without it"),
            });
        }
    };
    let answer = call
        .interaction
        .input_responses
        .as_ref()
        .and_then(|responses| responses.get(INPUT_KEY))
        .and_then(|value| serde_json::from_value::<ElicitResult>(value.clone()).ok());
    let accepted = match answer {
        Some(result) if result.action == ElicitationAction::Cancel => {
            return decided("mrtr", "cancelled", Err(ToolError::Declined { cancelled: true }));
        }
        Some(result) => result.action == ElicitationAction::Accept && accepts(&result),
        None => false,
    };
    if !confirmations.redeem(pending.nonce) {
        return undecided(ToolError::InvalidRequestState {
            message: "this confirmation was already used; call the tool again for a new one".into(),
        });
    }
    if !accepted {
        return decided("mrtr", "declined", Err(ToolError::Declined { cancelled: false }));
    }
    match unchanged(&pending.preview, preview).await {
        Ok(()) => decided("mrtr", "accepted", Ok(())),
        Err(e) => decided("recheck", "target_changed", Err(e)),
    }
}

/// Reads the target again; refuses if it is no longer what the person saw. A target that is gone
/// has changed too: that is how a confirmation replayed after its call ran is refused, on any
/// replica.
async fn unchanged(shown: &Value, preview: PreviewFn<'_>) -> Result<(), ToolError> {
    let now = match preview().await {
        Ok(now) => now,
        Err(ToolError::Grpc { code: tonic::Code::NotFound, message, .. }) => json!({"gone": message}),
        Err(e) => return Err(e),
    };
    if &now == shown { Ok(()) } else { Err(ToolError::TargetChanged { was: shown.clone(), now }) }
}

fn refusal(mode: ConfirmMode, preview: Value) -> ToolError {
    match mode {
        ConfirmMode::Flag => ToolError::ConfirmationRequired { preview },
        ConfirmMode::Human => ToolError::HumanConfirmationUnavailable { preview },
    }
}

/// The tool and its canonical arguments (keys sorted), which a sealed state is bound to.
fn binding(tool: &str, arguments: &Value) -> Vec<u8> {
    format!("{tool}\n{arguments}").into_bytes()
}

/// The question a person reads, derived from the preview for any tool, names over ids: the tool's
/// title, what it acts on and where that is, then what else the preview lists, e.g. "Delete machine
/// rover-1 in location Warehouse (2 parts: rover-1-main, rover-1-lidar)?". The preview is already
/// redacted; the structured preview stays where it is (a refusal's `preview`, the audit log).
fn message(tool: &str, title: &str, preview: &Value) -> String {
    let title = title.to_string();
    let Value::Object(members) = preview else { return format!("{title}?") };
    let labelled = |key: &str| members.get(key).filter(|v| label(v).is_some()).map(|_| key.to_string());
    // The thing acted on: the member the tool is named after (its last such word), else any named one.
    let subject = tool.rsplit('_').find_map(labelled).or_else(|| members.keys().find_map(|k| labelled(k)));
    let mut sentence = title;
    if let Some(subject) = &subject {
        let target = &members[subject.as_str()];
        sentence = format!("{sentence} {}", label(target).unwrap_or_default());
        // Where it is: the named objects it holds (a machine's location).
        if let Value::Object(inner) = target {
            for (key, place) in inner.iter().filter_map(|(k, v)| Some((k, label(v)?))) {
                sentence = format!("{sentence} in {} {place}", words(key));
            }
        }
    }
    let shown = subject.as_ref().map(|s| label(&members[s.as_str()]).unwrap_or_default());
    let rest: Vec<String> = members
        .iter()
        .filter(|(key, _)| Some(*key) != subject.as_ref() && key.as_str() != crate::safety::redact::NOTE)
        .filter(|(_, value)| value.as_str().is_none() || value.as_str() != shown.as_deref())
        .filter_map(|(key, value)| describe(key, value))
        .collect();
    if !rest.is_empty() {
        sentence = format!("{sentence} ({})", rest.join("; "));
    }
    // A name is the user's to choose: the question stays a sentence, whatever it holds.
    if sentence.chars().count() > MESSAGE_CHARS {
        sentence = sentence.chars().take(MESSAGE_CHARS).collect::<String>() + "…";
    }
    sentence + "?"
}

/// The longest question, in characters.
const MESSAGE_CHARS: usize = 600;
/// The most names listed of one list.
const LISTED: usize = 5;

/// What a person calls a thing: its name, else its email, role, item or id.
fn label(value: &Value) -> Option<String> {
    let object = value.as_object()?;
    let named = ["name", "email", "authorization_id", "item_id", "id"]
        .iter()
        .find_map(|key| object.get(*key)?.as_str().filter(|s| !s.is_empty()));
    let emailed = || object.get("emails")?.as_array()?.first()?.as_str();
    named.or_else(emailed).map(String::from)
}

/// One member as words: `2 parts: a, b`, `name: old → new`, `used by 3 machines`; nothing for ids,
/// times, flags and empty lists.
fn describe(key: &str, value: &Value) -> Option<String> {
    let noun = words(key);
    match value {
        _ if key == "id" || key.ends_with("_id") => None,
        Value::String(text) if text.is_empty() || chrono::DateTime::parse_from_rfc3339(text).is_ok() => None,
        Value::String(text) => Some(format!("{noun}: {text}")),
        Value::Number(n) => Some(match key.strip_suffix("_count") {
            Some(counted) => counted_noun(n.as_u64(), &format!("{}s", words(counted)), n),
            None if key.ends_with('s') => counted_noun(n.as_u64(), &noun, n),
            None => format!("{noun}: {n}"),
        }),
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => {
            let names: Vec<String> =
                items.iter().filter_map(|item| label(item).or(item.as_str().map(String::from))).collect();
            let mut listed = names.iter().take(LISTED).cloned().collect::<Vec<_>>().join(", ");
            if names.len() > LISTED {
                listed = format!("{listed} and {} more", names.len() - LISTED);
            }
            Some(if items.iter().all(Value::is_object) {
                format!("{} {}: {listed}", items.len(), singular(&noun, items.len()))
            } else {
                format!("{noun}: {listed}")
            })
        }
        Value::Object(object) => {
            match (object.get("from").and_then(Value::as_str), object.get("to").and_then(Value::as_str)) {
                (Some(from), Some(to)) => Some(format!("{noun}: {from} → {to}")),
                _ => match label(value) {
                    Some(name) => Some(format!("{noun} {name}")),
                    None => {
                        let inner: Vec<String> = object.iter().filter_map(|(k, v)| describe(k, v)).collect();
                        (!inner.is_empty()).then(|| format!("{noun} {}", inner.join(", ")))
                    }
                },
            }
        }
        _ => None,
    }
}

/// `3 machines`, `1 organization`.
fn counted_noun(count: Option<u64>, plural: &str, shown: &serde_json::Number) -> String {
    format!("{shown} {}", singular(plural, count.unwrap_or(0) as usize))
}

/// The noun for `count` of them: its first plural word loses the `s` for one.
fn singular(plural: &str, count: usize) -> String {
    if count != 1 {
        return plural.to_string();
    }
    let mut done = false;
    plural
        .split(' ')
        .map(|word| match word.strip_suffix('s') {
            Some(one) if !done => {
                done = true;
                one
            }
            _ => word,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A preview's key in a person's words: Viam's app calls robots machines.
fn words(key: &str) -> String {
    key.split('_')
        .map(|word| match word {
            "robot" => "machine",
            "robots" => "machines",
            word => word,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn modern(context: &RequestContext<RoleServer>) -> bool {
    context.protocol_version().is_some_and(|v| !v.has_initialize())
}

fn can_elicit(context: &RequestContext<RoleServer>) -> bool {
    context.client_capabilities().is_some_and(|c| c.elicitation.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redeemed_nonces_are_single_use_and_forgotten_after_expiry() {
        let confirmations = Confirmations::default();
        assert!(confirmations.redeem(7));
        assert!(!confirmations.redeem(7), "a nonce is accepted once");
        // Age the entry past its expiry: the next redemption prunes it.
        if let Ok(mut redeemed) = confirmations.redeemed.lock() {
            redeemed.insert(7, Instant::now() - Duration::from_secs(1));
        }
        assert!(confirmations.redeem(8));
        assert_eq!(confirmations.remembered(), 1, "the expired nonce was pruned");
    }

    /// Previews as the tools make them (from the seeded fleet), and the questions they come to.
    #[test]
    fn questions_are_sentences_that_name_what_goes() {
        let cases = [
            (
                "delete_robot",
                json!({"parts": [{"id": "p1", "main_part": true, "name": "rover-1-main"}, {"id": "p2", "main_part": false, "name": "rover-1-lidar"}],
                       "robot": {"id": "r1", "location": {"id": "l1", "name": "Warehouse"}, "name": "rover-1"}}),
                "Delete machine rover-1 in location Warehouse (2 parts: rover-1-main, rover-1-lidar)?",
            ),
            (
                "delete_robot_part",
                json!({"other_parts": [{"id": "p1", "main_part": true, "name": "rover-1-main"}],
                       "part": {"id": "p2", "main_part": false, "name": "rover-1-lidar"}, "robot_id": "r1"}),
                "Delete machine part rover-1-lidar (1 other part: rover-1-main)?",
            ),
            (
                "delete_fragment",
                json!({"used_by": {"machines": 2, "organizations": 1, "robot_part_count": 2},
                       "would_delete": {"id": "f1", "name": "rover-base"}}),
                "Delete fragment rover-base (used by 2 machines, 1 organization, 2 machine parts)?",
            ),
            (
                "update_robot_part",
                json!({"config": {"added": [], "changed": [], "removed": ["components/base"]},
                       "name": {"from": "rover-1-main", "to": "main"},
                       "part": {"id": "p1", "last_updated": "2026-01-11T00:00:00Z", "name": "rover-1-main"}}),
                "Update machine part rover-1-main (config removed: components/base; name: rover-1-main → main)?",
            ),
            (
                "delete_organization_member",
                json!({"authorizations": [{"authorization_id": "organization_operator", "identity_id": "u2"}],
                       "member": {"emails": ["bob@example.com"], "user_id": "u2"}}),
                "Delete organization member bob@example.com (1 authorization: organization_operator)?",
            ),
            (
                "remove_config_item",
                json!({"item": {"name": "base", "type": "base", "attributes": {"password": "<redacted>"}},
                       "kind": "components", "last_updated": "2026-01-11T00:00:00Z", "name": "base",
                       "referenced_by": [], "robot_part_id": "p1", "redacted": "…"}),
                "Remove config item base (kind: components)?",
            ),
            (
                "delete_organization",
                json!({"location_count": 1, "organization": {"id": "o1", "name": "Demo"}}),
                "Delete organization Demo (1 location)?",
            ),
        ];
        for (tool, preview, question) in cases {
            // The titles the catalogue gives these tools.
            let title = match tool {
                "delete_robot" => "Delete machine",
                "delete_robot_part" => "Delete machine part",
                "update_robot_part" => "Update machine part",
                "delete_fragment" => "Delete fragment",
                "delete_organization_member" => "Delete organization member",
                "remove_config_item" => "Remove config item",
                _ => "Delete organization",
            };
            assert_eq!(message(tool, title, &preview), question, "{tool}");
        }
        let many: Vec<Value> = (0..40).map(|i| json!({"id": format!("r{i}"), "name": format!("robot-{i}")})).collect();
        let location = json!({"location": {"id": "l1", "name": "Lab"}, "robots": many});
        assert_eq!(
            message("delete_location", "Delete location", &location),
            "Delete location Lab (40 machines: robot-0, robot-1, robot-2, robot-3, robot-4 and 35 more)?"
        );
        let long = json!({"robot": {"id": "r1", "name": "x".repeat(5000)}});
        assert!(message("delete_robot", "Delete machine", &long).chars().count() <= MESSAGE_CHARS + 2);
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(Confirmations::with_key(vec![1; 8]).is_err());
        assert!(Confirmations::with_key(vec![1; 32]).is_ok());
    }
}
