//! The one call pipeline every tool passes, whatever its op, in this order:
//! parse → file check → scope → confirmation gate → audit intent → run → redact → budget → audit
//! outcome.
//! Nothing that changes state is sent before the gate, and nothing after a cancellation.
use crate::call::{App, BoxFuture, CallContext, Interaction, ProgressSink, Risk, ToolResult};
use crate::error::ToolError;
use crate::safety::audit::Entry;
use crate::safety::budget::Fitted;
use crate::safety::confirm::{self, GateCall};
use crate::safety::{Policy, budget, files, redact};
use crate::tools::{ToolRow, names};
use rmcp::model::{InputRequiredResult, JsonObject};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// The server's connection and its safety settings: what every call shares.
pub struct Fleet {
    pub app: Arc<App>,
    pub policy: Policy,
}

/// One call as it arrives from a client.
pub struct Call {
    pub arguments: JsonObject,
    pub cancel: CancellationToken,
    pub progress: Option<ProgressSink>,
    pub interaction: Interaction,
}

impl Call {
    /// A call with nobody to ask and nothing to report to (the command-line `call`).
    pub fn plain(arguments: JsonObject) -> Self {
        Self { arguments, cancel: CancellationToken::new(), progress: None, interaction: Interaction::default() }
    }
}

/// What a call comes to, with every secret and the server's own key already removed.
#[derive(Debug)]
pub enum Reply {
    Done(Fitted),
    /// The error object the model sees: `{"error": CODE, "message": …, …}`.
    Failed(Value),
    /// Not a failure: the client must ask its user and call again (MRTR, 2026-07-28).
    InputRequired(Box<InputRequiredResult>),
}

impl Fleet {
    pub async fn call(&self, row: &ToolRow, call: Call) -> Reply {
        let started = Instant::now();
        let Call { mut arguments, cancel, progress, interaction } = call;
        // The page asked for is the server's business: `limit` and `cursor` never reach the op.
        let admitted = budget::take_page(row.name, &row.policy, &mut arguments)
            .and_then(|page| Ok((page, take_confirm(row.risk, &mut arguments)?)));
        if self.policy.log_payloads {
            let mut shown = redact::redact_arguments(&Value::Object(arguments.clone()));
            self.hide_own_key(&mut shown);
            tracing::info!(tool = row.name, arguments = %shown, "tool call");
        }
        let mut audit = self.policy.audit.as_ref().filter(|_| row.risk != Risk::Read).map(|log| {
            let mut shown = redact::redact_arguments(&Value::Object(arguments.clone()));
            self.hide_own_key(&mut shown);
            (log, Entry::new(row.name, row.risk, shown))
        });
        let result = match admitted {
            Ok((page, confirmed)) => {
                let recent = page.as_ref().and_then(|page| self.policy.listings.recent(page));
                let result = match recent {
                    // A later page of a listing fetched moments ago: only reads page.
                    Some(listing) => Ok(listing),
                    None => {
                        let stages = Stages { fleet: self, row, confirmed, cancel, progress, interaction };
                        let result = stages.run(arguments, audit.as_mut().map(|(log, entry)| (*log, entry))).await;
                        let protected = result.and_then(|value| self.protect_secrets(row, value));
                        if let (Ok(listing), Some(page)) = (&protected, &page) {
                            self.policy.listings.keep(page, row.policy.pages, listing, self.policy.budget);
                        }
                        protected
                    }
                };
                // Measured after redaction, on the text the client will get.
                result.and_then(|value| budget::fit(&row.policy, page, value, self.policy.budget))
            }
            Err(e) => Err(e),
        };
        if let Some((log, entry)) = &audit {
            let status = match &result {
                Ok(_) => "OK".to_string(),
                Err(e) => e.code(),
            };
            if let Err(e) = log.outcome(entry, &status, started.elapsed()).await {
                tracing::error!(tool = row.name, "audit log write failed: {e}");
            }
        }
        let reply = match result {
            Ok(value) => Reply::Done(value),
            Err(ToolError::InputRequired(round)) => Reply::InputRequired(round),
            Err(error) => {
                tracing::info!(tool = row.name, error = %error.code(), "tool call failed");
                let mut shown = error.to_json();
                if row.policy.configs && !self.policy.show_secrets {
                    redact::redact_config_items(&mut shown).note(&mut shown);
                }
                self.hide_own_key(&mut shown);
                Reply::Failed(shown)
            }
        };
        if self.policy.log_payloads {
            tracing::info!(tool = row.name, reply = %self.loggable(row, &reply), "tool call result");
        }
        reply
    }

    /// Redacts incidental secrets (a tool that hands one out keeps that one), hides the server's
    /// own API key, and with `--secrets-dir` moves a handed-out secret into a file there.
    fn protect_secrets(&self, row: &ToolRow, mut value: Value) -> ToolResult {
        if !self.policy.show_secrets {
            let mut redacted = redact::redact_result(row.op.response(), row.policy.hands_out, &mut value);
            if row.policy.configs {
                redacted |= redact::redact_config_items(&mut value);
            }
            redacted.note(&mut value);
        }
        self.hide_own_key(&mut value);
        match (&self.policy.secrets_dir, row.policy.hands_out) {
            (Some(dir), Some(_)) => redact::store_secret(dir, row.name, row.op.response(), value),
            _ => Ok(value),
        }
    }

    /// A reply as `--log-payloads` writes it: redacted even under `--show-secrets`.
    fn loggable(&self, row: &ToolRow, reply: &Reply) -> String {
        match reply {
            Reply::Done(Fitted { value, .. }) => {
                let mut shown = value.clone();
                redact::redact_result(row.op.response(), None, &mut shown);
                shown.to_string()
            }
            Reply::Failed(error) => error.to_string(),
            Reply::InputRequired(_) => json!({"input_required": true}).to_string(),
        }
    }

    fn hide_own_key(&self, value: &mut Value) {
        if let Some(own) = self.app.conn.api_key() {
            redact::hide_own_key(value, &own.key);
        }
    }
}

/// The stages between parsing and the result, for one call.
struct Stages<'a> {
    fleet: &'a Fleet,
    row: &'a ToolRow,
    confirmed: bool,
    cancel: CancellationToken,
    progress: Option<ProgressSink>,
    interaction: Interaction,
}

impl Stages<'_> {
    async fn run(
        self,
        arguments: JsonObject,
        mut audit: Option<(&crate::safety::audit::AuditLog, &mut Entry)>,
    ) -> ToolResult {
        let (fleet, row) = (self.fleet, self.row);
        let policy = &fleet.policy;
        let ids = ids_in(&arguments);
        let prepared = row.op.prepare(arguments.clone(), &fleet.app, row.pipeline_arguments())?;
        let roots = match self.interaction.context.as_ref() {
            Some(context) if files::names_any(row.policy.files, &arguments) => files::client_roots(context).await,
            _ => Vec::new(),
        };
        let checked_files = policy.files.check(row.policy.files, &arguments, &roots)?;
        if row.risk != Risk::Read && !policy.scope.is_unrestricted() {
            policy.scope.check(&fleet.app, row.name, row.policy.scope, &arguments).await?;
        }
        let dry_run = row.policy.dry_run && arguments.get("dry_run") == Some(&Value::Bool(true));
        if row.risk == Risk::Destructive && !dry_run {
            let app = fleet.app.clone();
            let preview = || -> BoxFuture<ToolResult> {
                let Some(read) = prepared.preview(app.clone()) else {
                    let name = row.name;
                    return Box::pin(async move { Err(ToolError::local(format!("{name} has no preview"))) });
                };
                let own_key = app.conn.api_key().map(|k| k.key.clone());
                let configs = row.policy.configs;
                Box::pin(async move {
                    let mut shown = read.await?;
                    // A preview never shows a secret, whatever --show-secrets says.
                    if configs {
                        redact::redact_config_items(&mut shown).note(&mut shown);
                    }
                    if let Some(key) = own_key {
                        redact::hide_own_key(&mut shown, &key);
                    }
                    Ok(shown)
                })
            };
            let title = row.title();
            let call = GateCall {
                tool: row.name,
                title: &title,
                arguments: &Value::Object(arguments.clone()),
                confirmed: self.confirmed,
                interaction: &self.interaction,
                cancel: &self.cancel,
            };
            let gate = confirm::gate(&policy.confirmations, policy.confirm, call, &preview).await;
            if let Some((_, entry)) = audit.as_mut() {
                entry.confirmation = gate.record;
            }
            gate.result?;
        }
        // A cancelled call runs nothing, whatever answer arrived meanwhile.
        if self.cancel.is_cancelled() {
            return Err(ToolError::Cancelled);
        }
        if let Some((log, entry)) = audit.as_mut() {
            log.intent(entry).await.map_err(|e| {
                ToolError::local(format!(
                    "the audit log could not record this call, so it was not sent (nothing was changed): {e}"
                ))
            })?;
        }
        let cx = Arc::new(CallContext {
            app: fleet.app.clone(),
            risk: row.risk,
            cancel: self.cancel,
            progress: self.progress,
            files: checked_files,
        });
        match prepared.run(cx).await {
            // An id that is really a name gets the matching ids, found with bounded reads.
            Err(e) => Err(names::explain(&fleet.app, e, &ids).await.with_ids(&ids).with_verify(row.policy.verify)),
            done => done,
        }
    }
}

/// Takes `confirm` out of a destructive tool's arguments, so argument types never see it.
fn take_confirm(risk: Risk, arguments: &mut JsonObject) -> Result<bool, ToolError> {
    if risk != Risk::Destructive {
        // Any other tool has no `confirm`: it stays, and parsing names it as unknown.
        return Ok(false);
    }
    match arguments.remove("confirm") {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(other) => Err(ToolError::invalid(format!("confirm: expected a boolean, got {other}"))),
    }
}

/// The id-like arguments of a call, to name them when the service says NOT_FOUND.
fn ids_in(arguments: &JsonObject) -> Vec<(String, String)> {
    arguments
        .iter()
        .filter(|(k, _)| *k == "id" || k.ends_with("_id"))
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Connection, ConnectionConfig};
    use crate::tools::catalogue;
    use std::time::Duration;

    #[tokio::test]
    async fn bad_arguments_name_the_argument_and_send_nothing() {
        let config =
            ConnectionConfig { url: "http://127.0.0.1:1".into(), api_key: None, timeout: Duration::from_secs(1) };
        let app = App { conn: Connection::new(config).unwrap(), default_location: None, journal: Default::default() };
        let fleet = Fleet { app: Arc::new(app), policy: Policy::default() };
        let row = catalogue().get("get_organization").unwrap();
        let call = |args: Value| fleet.call(row, Call::plain(args.as_object().unwrap().clone()));
        let message = |reply: Reply| match reply {
            // Each is refused locally: an RPC would have failed with not_configured instead.
            Reply::Failed(error) if error["error"] == "invalid_arguments" => error["message"].to_string(),
            other => panic!("expected invalid_arguments, got {other:?}"),
        };
        let missing = message(call(json!({})).await);
        assert!(missing.contains("org_id"), "{missing}");
        let wrong_type = message(call(json!({"org_id": 5})).await);
        assert!(wrong_type.contains("org_id") && wrong_type.contains("string"), "{wrong_type}");
        let unknown = message(call(json!({"org_id": "o", "extra": 1})).await);
        assert!(unknown.contains("extra"), "{unknown}");
    }
}
