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
    let message = message(call.tool, &shown);
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

fn message(tool: &str, preview: &Value) -> String {
    let shown = serde_json::to_string_pretty(preview).unwrap_or_default();
    format!("An assistant wants to run the destructive tool {tool}. It would affect:\n{shown}\nAllow it?")
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

    #[test]
    fn a_short_key_is_refused() {
        assert!(Confirmations::with_key(vec![1; 8]).is_err());
        assert!(Confirmations::with_key(vec![1; 32]).is_ok());
    }
}
