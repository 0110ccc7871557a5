//! What the server offers besides tools: prompts, resources and the completion of names. All of
//! it reads the fleet only by calling exposed tools' rows through `Fleet::call`, so scope,
//! redaction, the result budget and audit apply as they do to a tool call, and a tool hidden by a
//! filter hides whatever needs it.
pub mod completion;
pub mod prompts;
pub mod resources;

use crate::pipeline::{Call, Fleet, Reply};
use crate::safety::budget::Fitted;
use crate::tools::{ToolRow, catalogue};
use rmcp::model::ErrorData;
use serde_json::{Value, json};
use std::sync::Arc;

/// The fleet as the exposed tools show it.
pub struct Surface {
    pub fleet: Arc<Fleet>,
    /// The catalogue indices this server exposes, after the tool filters.
    exposed: Vec<usize>,
    names: completion::Names,
}

impl Surface {
    pub fn new(fleet: Arc<Fleet>, exposed: Vec<usize>) -> Self {
        Self { fleet, exposed, names: Default::default() }
    }

    /// The exposed tool of that name.
    pub fn row(&self, name: &str) -> Option<&'static ToolRow> {
        self.exposed.iter().map(|&i| &catalogue().rows[i]).find(|row| row.name == name)
    }

    pub fn exposes(&self, name: &str) -> bool {
        self.row(name).is_some()
    }

    /// Calls an exposed tool, as a client's `tools/call` would; a failure is its error object, as
    /// redacted as the model would see it.
    pub async fn read(&self, tool: &str, arguments: Value) -> Result<Fitted, Value> {
        let Some(row) = self.row(tool) else {
            return Err(
                json!({"error": "not_exposed", "message": format!("{tool} is hidden by this server's filters")}),
            );
        };
        let arguments = arguments.as_object().cloned().unwrap_or_default();
        match Box::pin(self.fleet.call(row, Call::plain(arguments))).await {
            Reply::Done(fitted) => Ok(fitted),
            Reply::Failed(error) => Err(error),
            Reply::InputRequired(_) => {
                Err(json!({"error": "input_required", "message": format!("{tool} asks for input")}))
            }
        }
    }
}

/// A failed read as a JSON-RPC error: its message and, as data, the error object.
fn rpc_error(error: Value) -> ErrorData {
    let message = error["message"].as_str().unwrap_or("the read failed").to_string();
    match error["error"].as_str() {
        Some("not_found") => ErrorData::resource_not_found(message, Some(error)),
        Some("invalid_arguments") => ErrorData::invalid_params(message, Some(error)),
        _ => ErrorData::internal_error(message, Some(error)),
    }
}
