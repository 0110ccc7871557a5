//! The MCP server: lists the catalogue's tools and dispatches calls to their rows.
use crate::call::{Interaction, ProgressSink};
use crate::json_text::compact;
use crate::pipeline::{Call, Fleet, Reply};
use crate::safety::budget::Fitted;
use crate::tools::{ToolRow, catalogue};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData, Implementation, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// What applies to many tools is said once here rather than in each description.
const INSTRUCTIONS: &str = "Manage a Viam robot fleet: organizations, locations, machines (robots) \
and their parts, logs, fragments, roles, registry items, modules and API keys.
Ids: start with list_organizations, then list_locations, list_robots (or list_machine_summaries for a \
whole organization) and get_robot_parts; list_fragments and list_keys give fragment and key ids.
An omitted location_id means the server's configured default location (--location-id / \
VIAM_LOCATION_ID); the result then names it as location_id.
Destructive tools (deletes, key rotation, whole-config replacement, restarts) change nothing unless \
called with confirm: true; call them without it first to see a preview of what would be affected.
List results are paged: pass next_cursor back as cursor, with the same other arguments, until it is \
null. A result too large is shortened; its truncated field says what was left out and how to get it.
Unknown arguments are refused. A filter list omitted or [] matches all. An omitted update_* argument leaves its field unchanged, unless its \
description says otherwise. The *_config_item tools take exactly one of robot_part_id or fragment_id, \
redact secret values, and fail with conflict, showing the item as it is now, if the config changed meanwhile.
Results of location_auth, create_location_secret, create_robot_part_secret, create_key, \
create_key_from_existing_key_authorizations and rotate_key hold a secret credential: do not echo it \
unless the user asks.
dest and file_path must lie inside an --allow-dir directory or an MCP root; a relative path is \
resolved against the server's working directory; an existing dest is replaced only with overwrite: true. \
With dest the payload goes to the file and the result is {path, bytes, count}.
Toolsets: organizations, locations, machines, logs, fragments, access, registry, keys, changes. A client with a \
tool limit (Cursor sends only the first 40 tools) should start the server with --toolsets (e.g. \
--toolsets machines,logs) or --read-only, which also make this catalogue smaller.";

#[derive(Clone)]
pub struct FleetServer {
    fleet: Arc<Fleet>,
    /// The catalogue indices this server exposes, after the tool filters.
    exposed: Arc<Vec<usize>>,
    /// Their definitions, built once.
    tools: Arc<Vec<Tool>>,
    memory: Arc<HeapReturn>,
}

impl FleetServer {
    pub fn new(fleet: Arc<Fleet>, exposed: Vec<usize>) -> Self {
        let tools = exposed.iter().map(|&i| catalogue().tools[i].clone()).collect();
        Self { fleet, exposed: Arc::new(exposed), tools: Arc::new(tools), memory: Arc::default() }
    }

    fn row(&self, name: &str) -> Option<&'static ToolRow> {
        self.exposed.iter().map(|&i| &catalogue().rows[i]).find(|row| row.name == name)
    }
}

impl ServerHandler for FleetServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("viam-fleet-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(row) = self.row(&request.name) else {
            return Err(ErrorData::invalid_params(format!("unknown tool {:?}", request.name), None));
        };
        let progress = context.meta.get_progress_token().map(|token| {
            let peer = context.peer.clone();
            let sink: ProgressSink = Arc::new(move |done, total, message| {
                let peer = peer.clone();
                let token = token.clone();
                Box::pin(async move {
                    let mut param = ProgressNotificationParam::new(token, done).with_message(message);
                    param.total = total;
                    if let Err(e) = peer.notify_progress(param).await {
                        tracing::debug!("progress notification not sent: {e}");
                    }
                })
            });
            sink
        });
        let _in_flight = InFlight::new(&self.memory);
        let call = Call {
            arguments: request.arguments.unwrap_or_default(),
            cancel: context.ct.clone(),
            progress,
            interaction: Interaction {
                input_responses: request.input_responses,
                request_state: request.request_state,
                context: Some(context),
            },
        };
        // Boxed: rmcp spawns each request as a task, and tokio moves a task's future several times
        // on the way (into its cell, through its stages); the pipeline's state machine is kilobytes,
        // a pointer to it is not.
        Ok(match Box::pin(self.fleet.call(row, call)).await {
            Reply::Done(Fitted { value, text }) => structured(value, text, false),
            Reply::Failed(error) => {
                let text = compact(&error);
                structured(error, text, true)
            }
            Reply::InputRequired(round) => return Ok((*round).into()),
        }
        .into())
    }
}

/// The value as `structuredContent` and, for clients that read only content, as one text block
/// (its text, written once). Over stdio the frame takes that text for the structured copy too
/// (`stdio::Frames::queue`); over HTTP rmcp serializes the value.
fn structured(value: Value, text: String, is_error: bool) -> CallToolResult {
    let content = vec![ContentBlock::text(text)];
    let mut result = if is_error { CallToolResult::error(content) } else { CallToolResult::success(content) };
    result.structured_content = Some(value);
    result
}

/// How long the server must have had no call in flight before it returns freed heap.
const IDLE: Duration = Duration::from_millis(100);

/// The allocator keeps pages that a burst of calls or a big result freed (mimalloc purges them a
/// second later, and only when it next runs); once calls pause, they are given back to the system
/// (`benches/calls.rs`: 18–19 MB of RSS after a 5 MB result that peaked at 70 MB, and 18–19 MB after
/// 40,901 calls).
#[derive(Default)]
struct HeapReturn {
    in_flight: AtomicUsize,
    /// Calls ended so far: a call that came and went while waiting means the server was not idle.
    ended: AtomicU64,
    waiting: AtomicBool,
}

/// One call in flight, counted until it ends, however it ends (done, cancelled or panicked).
struct InFlight(Arc<HeapReturn>);

impl InFlight {
    fn new(memory: &Arc<HeapReturn>) -> Self {
        memory.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(memory.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let memory = &self.0;
        memory.ended.fetch_add(1, Ordering::Relaxed);
        if memory.in_flight.fetch_sub(1, Ordering::Relaxed) != 1 || memory.waiting.swap(true, Ordering::Relaxed) {
            return;
        }
        // A call dropped while the runtime shuts down has no one to wait for.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let memory = memory.clone();
        runtime.spawn(async move {
            loop {
                let seen = memory.ended.load(Ordering::Relaxed);
                tokio::time::sleep(IDLE).await;
                if memory.in_flight.load(Ordering::Relaxed) == 0 && memory.ended.load(Ordering::Relaxed) == seen {
                    break;
                }
            }
            memory.waiting.store(false, Ordering::Relaxed);
            // SAFETY: mi_collect only returns pages that hold no live allocation.
            unsafe { libmimalloc_sys::mi_collect(true) };
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instructions are sent once per session, and name what descriptions no longer repeat: the
    /// toolsets, and every tool whose result holds a secret.
    #[test]
    fn instructions_are_short_and_name_the_toolsets_and_secret_tools() {
        let instructions = INSTRUCTIONS;
        assert!(instructions.len() <= 2048, "the instructions grew to {} bytes (at most 2048)", instructions.len());
        for row in &catalogue().rows {
            let toolset = serde_json::to_value(row.toolset).unwrap();
            assert!(instructions.contains(toolset.as_str().unwrap()), "{toolset} is not named");
            if row.policy.hands_out.is_some() {
                assert!(
                    instructions.contains(row.name),
                    "{} hands out a secret; the instructions do not say so",
                    row.name
                );
            }
        }
    }
}
