//! Confirmation of destructive calls. In `flag` mode `confirm: true` suffices; without it a person
//! is asked when the client can elicit. In `human` mode a person must accept: by
//! `elicitation/create` on 2025-06-18 / 2025-11-25 sessions, or by an MRTR input request on
//! 2026-07-28 sessions, whose `requestState` is sealed (HMAC), bound to the tool and its
//! canonical arguments, expires, and is accepted once. In every case the target is read again
//! just before executing, and the call is refused if it changed since the preview.
use super::ConfirmMode;
use crate::error::ToolError;
use crate::tools::{BoxFuture, CallContext};
use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, InputRequest,
    InputRequiredResult, InputResponses, RequestStateCodec, SealOptions,
};
use rmcp::service::{ElicitationError, RequestContext};
use rmcp::{RoleServer, elicit_safe};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

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

/// What the client can do for this call, and its answer to an earlier MRTR round.
#[derive(Default)]
pub struct Interaction {
    /// The MCP request; absent for the command-line `call`.
    pub context: Option<RequestContext<RoleServer>>,
    pub input_responses: Option<InputResponses>,
    pub request_state: Option<String>,
}

/// Sealed into `requestState`: the preview the person was shown, and a nonce for single use.
#[derive(Serialize, Deserialize)]
struct PendingConfirmation {
    preview: Value,
    nonce: u64,
}

/// The per-process key that seals `requestState`, and the nonces already redeemed.
static CODEC: LazyLock<RequestStateCodec> = LazyLock::new(|| {
    RequestStateCodec::try_new(rand::random::<[u8; 32]>().to_vec()).expect("a 32-byte key is long enough")
});
static REDEEMED: LazyLock<Mutex<HashSet<u64>>> = LazyLock::new(Default::default);

/// Reads what the call would affect; called for the preview and again just before executing.
pub type PreviewFn<'a> = &'a (dyn Fn() -> BoxFuture<Result<Value, ToolError>> + Send + Sync);

/// Decides whether a destructive call may go ahead. `Ok` means: execute now.
pub async fn gate(cx: &CallContext, arguments: &Value, preview: PreviewFn<'_>) -> Result<(), ToolError> {
    let mode = cx.app.policy.confirm;
    if mode == ConfirmMode::Flag && cx.confirmed {
        return record(cx, "flag", "accepted", Ok(()));
    }
    let binding = binding(cx.tool, arguments);
    if let Some(state) = &cx.interaction.request_state {
        return redeem(cx, state, &binding, preview).await;
    }
    let shown = preview().await?;
    let Some(context) = &cx.interaction.context else {
        return refuse(mode, shown);
    };
    if !can_elicit(context) {
        return refuse(mode, shown);
    }
    let message = message(cx.tool, &shown);
    if modern(context) {
        let nonce = rand::random();
        let pending = PendingConfirmation { preview: shown, nonce };
        let options = SealOptions::new().associated_data(&binding).ttl(ANSWER_WITHIN);
        let state = CODEC
            .seal_json_with(&pending, &options)
            .map_err(|e| ToolError::local(format!("cannot seal the confirmation state: {e}")))?;
        let schema = ElicitationSchema::from_type::<ConfirmForm>()
            .map_err(|e| ToolError::local(format!("confirmation form: {e}")))?;
        let request = ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
            meta: None,
            message,
            requested_schema: schema,
        });
        let requests = [(INPUT_KEY.to_string(), InputRequest::Elicitation(request))].into();
        record(cx, "mrtr", "requested", Ok(()))?;
        return Err(ToolError::InputRequired(Box::new(InputRequiredResult::new(Some(requests), Some(state)))));
    }
    let answer = context.peer.elicit_with_timeout::<ConfirmForm>(message, Some(ANSWER_WITHIN)).await;
    match answer {
        Ok(Some(ConfirmForm { confirm: true })) => {
            unchanged(cx, &shown, preview).await?;
            record(cx, "elicitation", "accepted", Ok(()))
        }
        Ok(_) | Err(ElicitationError::UserDeclined) => {
            record(cx, "elicitation", "declined", Err(ToolError::Declined { cancelled: false }))
        }
        Err(ElicitationError::UserCancelled) => {
            record(cx, "elicitation", "cancelled", Err(ToolError::Declined { cancelled: true }))
        }
        Err(e) => {
            tracing::warn!(tool = cx.tool, "elicitation failed: {e}");
            record(cx, "elicitation", "failed", refuse(mode, shown))
        }
    }
}

/// The second round of an MRTR confirmation: verify the sealed state, then read the answer.
async fn redeem(cx: &CallContext, state: &str, binding: &[u8], preview: PreviewFn<'_>) -> Result<(), ToolError> {
    let pending: PendingConfirmation =
        CODEC.open_json_with(state, binding).map_err(|e| ToolError::InvalidRequestState {
            message: format!("the requestState was rejected ({e}); call the tool again without it"),
        })?;
    let answer = cx
        .interaction
        .input_responses
        .as_ref()
        .and_then(|responses| responses.get(INPUT_KEY))
        .and_then(|value| serde_json::from_value::<ElicitResult>(value.clone()).ok());
    let accepted = match answer {
        Some(ElicitResult { action: ElicitationAction::Accept, content: Some(content), .. }) => {
            content.get("confirm") == Some(&json!(true))
        }
        Some(ElicitResult { action: ElicitationAction::Cancel, .. }) => {
            return record(cx, "mrtr", "cancelled", Err(ToolError::Declined { cancelled: true }));
        }
        _ => false,
    };
    if !REDEEMED.lock().map(|mut used| used.insert(pending.nonce)).unwrap_or(false) {
        return Err(ToolError::InvalidRequestState {
            message: "this confirmation was already used; call the tool again for a new one".into(),
        });
    }
    if !accepted {
        return record(cx, "mrtr", "declined", Err(ToolError::Declined { cancelled: false }));
    }
    unchanged(cx, &pending.preview, preview).await?;
    record(cx, "mrtr", "accepted", Ok(()))
}

/// Reads the target again; refuses if it is no longer what the person saw.
async fn unchanged(cx: &CallContext, shown: &Value, preview: PreviewFn<'_>) -> Result<(), ToolError> {
    let now = preview().await?;
    if &now == shown {
        return Ok(());
    }
    record(cx, "recheck", "target_changed", Err(ToolError::TargetChanged { was: shown.clone(), now }))
}

fn refuse(mode: ConfirmMode, preview: Value) -> Result<(), ToolError> {
    Err(match mode {
        ConfirmMode::Flag => ToolError::ConfirmationRequired { preview },
        ConfirmMode::Human => ToolError::HumanConfirmationUnavailable { preview },
    })
}

fn record(cx: &CallContext, method: &str, outcome: &str, result: Result<(), ToolError>) -> Result<(), ToolError> {
    if let Ok(mut slot) = cx.confirmation.lock() {
        *slot = Some(json!({"method": method, "outcome": outcome}));
    }
    result
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
