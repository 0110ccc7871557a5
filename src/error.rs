//! The one error path: every failure a tool can meet becomes a `ToolError`, which the server
//! turns into an `isError` result the model can read (never a protocol error, never a panic).
use serde_json::{Value, json};
use std::fmt;

#[derive(Debug, Clone)]
pub enum ToolError {
    /// The arguments do not fit the tool's schema; nothing was sent.
    InvalidArguments { message: String },
    /// A destructive tool was called without `confirm: true`; nothing was sent.
    ConfirmationRequired { preview: Value },
    /// `--confirm=human` and the client cannot ask a person; nothing was sent.
    HumanConfirmationUnavailable { preview: Value },
    /// The person declined or cancelled the confirmation; nothing was sent.
    Declined { cancelled: bool },
    /// The target changed between the preview and the go-ahead; nothing was sent.
    TargetChanged { was: Value, now: Value },
    /// A `requestState` that was tampered with, expired, or already used.
    InvalidRequestState { message: String },
    /// Not a failure: the client must ask its user and call again (MRTR, 2026-07-28).
    InputRequired(Box<rmcp::model::InputRequiredResult>),
    /// The target resolves outside the pinned `--org` / `--location` scope; nothing was sent.
    OutOfScope { message: String },
    /// Refused because of what the target holds now (`conflict`, `already_exists`); `detail`
    /// shows it, so the model can redo the call in one step. Nothing was changed.
    Refused { code: &'static str, message: String, detail: serde_json::Map<String, Value> },
    /// No API key is configured.
    NotConfigured { message: String },
    /// The client cancelled the call before anything was sent.
    Cancelled,
    /// A write failed after its request may have reached the service: it may or may not have
    /// taken effect. `verify` names the read that tells.
    OutcomeUnknown { message: String, verify: Option<&'static str> },
    /// The service answered with a gRPC status.
    Grpc { code: tonic::Code, message: String, hint: Option<String> },
    /// A local failure (file I/O, a malformed response).
    Local { message: String },
}

impl ToolError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArguments { message: message.into() }
    }

    pub fn local(message: impl Into<String>) -> Self {
        Self::Local { message: message.into() }
    }

    /// A stable, machine-readable code for the error class.
    pub fn code(&self) -> String {
        match self {
            Self::InvalidArguments { .. } => "invalid_arguments".into(),
            Self::ConfirmationRequired { .. } => "confirmation_required".into(),
            Self::HumanConfirmationUnavailable { .. } => "human_confirmation_unavailable".into(),
            Self::Declined { cancelled: false } => "confirmation_declined".into(),
            Self::Declined { cancelled: true } => "confirmation_cancelled".into(),
            Self::TargetChanged { .. } => "target_changed".into(),
            Self::InvalidRequestState { .. } => "invalid_request_state".into(),
            Self::InputRequired(_) => "input_required".into(),
            Self::OutOfScope { .. } => "out_of_scope".into(),
            Self::Refused { code, .. } => (*code).into(),
            Self::NotConfigured { .. } => "not_configured".into(),
            Self::Cancelled => "cancelled".into(),
            Self::OutcomeUnknown { .. } => "outcome_unknown".into(),
            Self::Grpc { code, .. } => grpc_code_name(*code).into(),
            Self::Local { .. } => "local_error".into(),
        }
    }

    /// The JSON the model sees as `structuredContent` of an `isError` result.
    pub fn to_json(&self) -> Value {
        let mut out = json!({"error": self.code(), "message": self.to_string()});
        match self {
            Self::ConfirmationRequired { preview } | Self::HumanConfirmationUnavailable { preview } => {
                out["preview"] = preview.clone()
            }
            Self::TargetChanged { was, now } => {
                out["previewed"] = was.clone();
                out["now"] = now.clone();
            }
            Self::Grpc { hint: Some(hint), .. } => out["hint"] = json!(hint),
            Self::OutcomeUnknown { verify, .. } => {
                let read = verify.map_or("a read of the target".to_string(), String::from);
                out["hint"] = json!(format!(
                    "The request may have reached the service and been applied. Check with {read} before \
                     calling it again; it was not retried."
                ));
                if let Some(tool) = verify {
                    out["verify_with"] = json!(tool);
                }
            }
            Self::Refused { detail, .. } => {
                if let Value::Object(out) = &mut out {
                    out.extend(detail.clone());
                }
            }
            _ => {}
        }
        out
    }

    /// Names the read that tells whether a write whose outcome is unknown took effect.
    pub fn with_verify(self, verify: Option<&'static str>) -> Self {
        match self {
            Self::OutcomeUnknown { message, verify: None } => Self::OutcomeUnknown { message, verify },
            other => other,
        }
    }

    /// Adds a hint to a gRPC error that names the ids the call was about.
    pub fn with_ids(self, ids: &[(String, String)]) -> Self {
        match self {
            Self::Grpc { code: tonic::Code::NotFound, message, hint: None } if !ids.is_empty() => {
                let named: Vec<String> = ids.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                Self::Grpc {
                    code: tonic::Code::NotFound,
                    message,
                    hint: Some(format!(
                        "Nothing exists with {}. Check the id with a list_ or get_ tool.",
                        named.join(", ")
                    )),
                }
            }
            other => other,
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidArguments { message } => write!(f, "invalid arguments: {message}"),
            Self::ConfirmationRequired { .. } => f.write_str(
                "this tool is destructive: nothing was changed. Review the preview, then call it \
                 again with \"confirm\": true to go ahead",
            ),
            Self::HumanConfirmationUnavailable { .. } => f.write_str(
                "the server runs with --confirm=human: a person must accept this destructive call, but this \
                 client cannot ask one (it supports no form elicitation). Nothing was changed",
            ),
            Self::Declined { cancelled: false } => f.write_str("the person declined the change; nothing was changed"),
            Self::Declined { cancelled: true } => f.write_str("the confirmation was cancelled; nothing was changed"),
            Self::TargetChanged { .. } => f.write_str(
                "the target changed after the preview was shown, so the call was refused and nothing was \
                 changed; call the tool again to see the new preview",
            ),
            Self::InputRequired(_) => f.write_str("a person must confirm this call"),
            Self::Cancelled => f.write_str("the call was cancelled before anything was sent; nothing was changed"),
            Self::OutcomeUnknown { message, .. } => {
                write!(f, "the outcome of this write is unknown: {message}")
            }
            Self::NotConfigured { message }
            | Self::Local { message }
            | Self::InvalidRequestState { message }
            | Self::OutOfScope { message }
            | Self::Refused { message, .. } => f.write_str(message),
            Self::Grpc { code, message, .. } => write!(f, "{}: {message}", grpc_code_name(*code)),
        }
    }
}

impl std::error::Error for ToolError {}

impl From<tonic::Status> for ToolError {
    fn from(status: tonic::Status) -> Self {
        let code = status.code();
        let hint = match code {
            tonic::Code::PermissionDenied => Some(
                "The API key lacks a role on this resource. Use a key with owner or operator \
                 access to it (check_permissions tells what this key may do; any key can call it).",
            ),
            tonic::Code::Unavailable => Some(
                "The Viam app service can't be reached. Check the network and --app-url / \
                 VIAM_APP_URL; the call can be retried.",
            ),
            tonic::Code::Unauthenticated => Some(
                "Authentication failed. Check VIAM_API_KEY and VIAM_API_KEY_ID (an organization, \
                 location or machine API key and its id).",
            ),
            tonic::Code::DeadlineExceeded => {
                Some("The call took longer than the deadline; raise it with --timeout SECONDS.")
            }
            _ => None,
        };
        Self::Grpc { code, message: status.message().to_string(), hint: hint.map(String::from) }
    }
}

/// The canonical upper-snake name of a gRPC status code, e.g. `NOT_FOUND`.
pub fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_the_ids_and_keeps_the_code() {
        let err = ToolError::from(tonic::Status::not_found("robot \"r9\" not found"))
            .with_ids(&[("robot_id".into(), "r9".into())]);
        let v = err.to_json();
        assert_eq!(v["error"], "NOT_FOUND");
        assert!(v["message"].as_str().unwrap().contains("r9"));
        assert!(v["hint"].as_str().unwrap().contains("robot_id=\"r9\""));
    }

    #[test]
    fn permission_denied_explains_the_missing_role() {
        let v = ToolError::from(tonic::Status::permission_denied("no")).to_json();
        assert_eq!(v["error"], "PERMISSION_DENIED");
        assert!(v["hint"].as_str().unwrap().contains("lacks a role"));
        // A key without a role here cannot list the roles either.
        assert!(!v["hint"].as_str().unwrap().contains("list_authorizations"));
    }
}
