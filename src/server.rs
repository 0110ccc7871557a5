//! The MCP server: lists the catalogue's tools and dispatches calls to their rows; prompts,
//! resources and completion come from `surface`, read through the same rows.
use crate::call::{Interaction, ProgressSink};
use crate::json_text::compact;
use crate::pipeline::{Call, Fleet, Reply};
use crate::safety::budget::Fitted;
use crate::safety::filter::{self, Selection};
use crate::surface::Surface;
use crate::surface::completion::{Kind, matching};
use crate::surface::prompts::PROMPTS;
use crate::tools::{ToolRow, catalogue};
use rmcp::model::{
    CallToolRequestMethod, CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestMethod,
    CompleteRequestParams, CompleteResult, CompletionInfo, ConstString, ContentBlock, CustomRequest, CustomResult,
    ErrorCode, ErrorData, GetPromptRequestMethod, GetPromptRequestParams, GetPromptResponse, Implementation,
    InitializeResultMethod, ListPromptsRequestMethod, ListPromptsResult, ListResourceTemplatesRequestMethod,
    ListResourceTemplatesResult, ListResourcesRequestMethod, ListResourcesResult, ListToolsRequestMethod,
    ListToolsResult, PaginatedRequestParams, PingRequestMethod, ProgressNotificationParam, PromptsCapability,
    ReadResourceRequestMethod, ReadResourceRequestParams, ReadResourceResponse, Reference, ResourcesCapability,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// What applies to many tools is said once here rather than in each description.
const INSTRUCTIONS: &str = "Manage a Viam robot fleet: organizations, locations, machines (robots) \
and parts, logs, fragments, roles, registry items, modules and API keys.
Ids: start with list_organizations, then list_locations, list_robots (or list_machine_summaries for a \
whole organization) and get_robot_parts; list_fragments and list_keys give fragment and key ids.
An omitted location_id means the server's configured default location (--location-id / \
VIAM_LOCATION_ID); the result then names it as location_id.
Destructive tools (deletes, key rotation, whole-config replacement, restarts) change nothing unless \
confirmed. Without confirm, a client that shows forms asks the user, and it runs if they accept; \
otherwise it returns a preview: show it to the user, then call again with confirm: true.
List results are paged: pass next_cursor back as cursor, with the same other arguments, until it is \
null. A result too large is shortened; its truncated field says what was left out and how to get it.
Unknown arguments are refused. A filter list omitted or [] matches all. An omitted update_* argument leaves its field unchanged, unless its \
description says otherwise. The *_config_item tools take exactly one of robot_part_id or fragment_id \
and fail with conflict, showing the item as it is now, if the config changed meanwhile.
Results of location_auth, create_location_secret, create_robot_part_secret, create_key, \
create_key_from_existing_key_authorizations and rotate_key hold a secret credential: do not echo it \
unless the user asks. Other secrets read <redacted>; a result's redacted note says how to get one.
dest and file_path must lie inside an --allow-dir directory or an MCP root; a relative path is \
relative to the server's working directory; an existing dest is replaced only with overwrite: true. \
With dest the result is {path, bytes, count}.
Toolsets: organizations, locations, machines, logs, fragments, access, registry, keys, changes. A client \
with a tool limit (Cursor: 40) should start the server with --toolsets (e.g. machines,logs) or --read-only.";

#[derive(Clone)]
pub struct FleetServer {
    /// The fleet and the tools the filters expose.
    surface: Arc<Surface>,
    /// The tool filters, checked, with the catalogue indices they expose.
    selection: Arc<Selection>,
    /// The exposed tools' definitions, built once.
    tools: Arc<Vec<Tool>>,
    /// Prompts and resources are declared only when the filters leave some to serve.
    capabilities: ServerCapabilities,
}

impl FleetServer {
    /// `output_schemas`: declare each tool's output schema, for clients that validate results.
    pub fn new(fleet: Arc<Fleet>, selection: Selection, output_schemas: bool) -> Self {
        let tools = selection
            .exposed
            .iter()
            .map(|&i| {
                let mut tool = catalogue().tools[i].clone();
                if output_schemas {
                    tool.output_schema = Some(Arc::new(catalogue().rows[i].output_schema()));
                }
                tool
            })
            .collect();
        let surface = Surface::new(fleet, selection.exposed.clone());
        let mut capabilities = ServerCapabilities::builder().enable_tools().build();
        let (prompts, templates) = (!surface.prompts().is_empty(), !surface.templates().is_empty());
        capabilities.prompts = prompts.then(PromptsCapability::default);
        capabilities.resources = templates.then(ResourcesCapability::default);
        capabilities.completions = (prompts || templates).then(Default::default);
        Self { surface: Arc::new(surface), selection: Arc::new(selection), tools: Arc::new(tools), capabilities }
    }

    /// The exposed row named `name`; for any other name, why there is none: the filter that hides
    /// it, or the exposed name it may be a misspelling of.
    fn row(&self, name: &str) -> Result<&'static ToolRow, String> {
        if let Some(row) = self.surface.row(name) {
            return Ok(row);
        }
        if let Some(hidden) = catalogue().listed().iter().find(|t| t.name == name) {
            let flag = self.selection.hidden_by(hidden).unwrap_or_default();
            return Err(format!("tool {name:?} is filtered out by {flag}, so this server does not expose it"));
        }
        let rows = &catalogue().rows;
        let exposed: Vec<&str> = self.selection.exposed.iter().map(|&i| rows[i].name).collect();
        Err(match filter::closest(name, &exposed) {
            Some(near) => format!("unknown tool {name:?}; did you mean {near:?}?"),
            None => format!(
                "unknown tool {name:?}; tools/list (or `viam-fleet-mcp tools`) names the {} exposed",
                exposed.len()
            ),
        })
    }

    /// One call of the tool named `name`: the dispatch of MCP `tools/call` and of the command
    /// line's `call` alike, so both see the same tools. A name that is not exposed is an error.
    pub async fn dispatch(&self, name: &str, call: Call) -> Result<Reply, String> {
        let row = self.row(name)?;
        let _in_flight = InFlight::new();
        // Boxed: rmcp spawns each request as a task, and tokio moves a task's future several times
        // on the way (into its cell, through its stages); the pipeline's state machine is kilobytes,
        // a pointer to it is not.
        Ok(Box::pin(self.surface.fleet.call(row, call)).await)
    }

    /// What a completion argument names: a listed prompt's argument or a served template's
    /// variable; with the organization the prompt's `org` argument resolved to, if any.
    async fn completing(&self, request: &CompleteRequestParams) -> Option<(Kind, bool, Option<String>)> {
        let argument = request.argument.name.as_str();
        match &request.r#ref {
            Reference::Prompt(prompt) => {
                let prompt = self.surface.prompts().into_iter().find(|p| p.name == prompt.name)?;
                let kind = prompt.arguments.iter().find(|a| a.name == argument)?.names?;
                let org = match request.context.as_ref().and_then(|c| c.get_argument("org")) {
                    Some(org) if kind != Kind::Organization => {
                        self.surface.resolve(Kind::Organization, org, None).await.map(|o| o.id)
                    }
                    _ => None,
                };
                Some((kind, true, org))
            }
            Reference::Resource(template) => {
                let template = self.surface.templates().into_iter().find(|t| t.uri_template == template.uri)?;
                (template.variable == argument).then_some((template.names, false, None))
            }
            _ => None,
        }
    }
}

impl ServerHandler for FleetServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(self.capabilities.clone())
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

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        served(self.capabilities.prompts.is_some(), ErrorData::method_not_found::<ListPromptsRequestMethod>)?;
        Ok(ListPromptsResult::with_all_items(self.surface.prompts().iter().map(|p| p.listed()).collect()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        served(self.capabilities.prompts.is_some(), ErrorData::method_not_found::<GetPromptRequestMethod>)?;
        let Some(prompt) = self.surface.prompts().into_iter().find(|p| p.name == request.name) else {
            let known = PROMPTS.iter().any(|p| p.name == request.name);
            let why = if known { "needs tools this server's filters hide" } else { "is not a prompt of this server" };
            return Err(ErrorData::invalid_params(format!("{:?} {why}", request.name), None));
        };
        Ok(self.surface.render(prompt, &request.arguments.unwrap_or_default()).await?.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        served(self.capabilities.resources.is_some(), ErrorData::method_not_found::<ListResourcesRequestMethod>)?;
        Ok(ListResourcesResult::with_all_items(self.surface.resources().await?))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let not_served = ErrorData::method_not_found::<ListResourceTemplatesRequestMethod>;
        served(self.capabilities.resources.is_some(), not_served)?;
        Ok(ListResourceTemplatesResult::with_all_items(self.surface.templates().iter().map(|t| t.listed()).collect()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        served(self.capabilities.resources.is_some(), ErrorData::method_not_found::<ReadResourceRequestMethod>)?;
        Ok(Box::pin(self.surface.read_resource(&request.uri)).await?.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        served(self.capabilities.completions.is_some(), ErrorData::method_not_found::<CompleteRequestMethod>)?;
        let Some((kind, labelled, org)) = self.completing(&request).await else {
            return Ok(CompleteResult::default());
        };
        let names = self.surface.names(kind, org.as_deref()).await;
        let (found, total) = matching(&names, &request.argument.value);
        // A prompt argument offers the name to pick by with its id; a URI variable takes the id.
        let values = found.iter().map(|n| if labelled { n.labelled() } else { n.id.clone() }).collect();
        let has_more = total > found.len();
        let completion = CompletionInfo::with_pagination(values, u32::try_from(total).ok(), has_more)
            .map_err(|e| ErrorData::internal_error(e, None))?;
        Ok(CompleteResult::new(completion))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    /// rmcp reads a request of a method it knows as a custom one when its params do not fit that
    /// method: Invalid params, then, and Method not found only for a method it does not know.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        let method = request.method.as_str();
        if method == CallToolRequestMethod::VALUE {
            let why = match request.params_as::<CallToolRequestParams>() {
                Err(e) => e.to_string(),
                Ok(_) => "params are missing".to_string(),
            };
            let message = format!("tools/call needs params {{\"name\": …, \"arguments\": {{…}}}}: {why}");
            return Err(ErrorData::invalid_params(message, None));
        }
        let known = [PingRequestMethod::VALUE, InitializeResultMethod::VALUE, ListToolsRequestMethod::VALUE];
        if known.contains(&method) {
            return Err(ErrorData::invalid_params(format!("the params of {method} cannot be read"), None));
        }
        Err(ErrorData::new(ErrorCode::METHOD_NOT_FOUND, request.method, None))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
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
        let reply = self.dispatch(&request.name, call).await.map_err(|e| ErrorData::invalid_params(e, None))?;
        Ok(match reply {
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

/// A method of an undeclared capability is not found, as rmcp answers it by default.
fn served(declared: bool, not_found: fn() -> ErrorData) -> Result<(), ErrorData> {
    if declared { Ok(()) } else { Err(not_found()) }
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

/// The allocator keeps pages that a burst of calls, a big result or a big line freed (mimalloc
/// purges them a second later, and only when it next runs); once calls pause, they are given back
/// to the system (`benches/calls.rs`: 18–19 MB of RSS after a 5 MB result that peaked at 70 MB, and
/// 18–19 MB after 40,901 calls). One for the process, as the allocator is.
struct HeapReturn {
    in_flight: AtomicUsize,
    /// Calls ended so far: a call that came and went while waiting means the server was not idle.
    ended: AtomicU64,
    waiting: AtomicBool,
}

static MEMORY: HeapReturn =
    HeapReturn { in_flight: AtomicUsize::new(0), ended: AtomicU64::new(0), waiting: AtomicBool::new(false) };

/// One call in flight, counted until it ends, however it ends (done, cancelled or panicked).
struct InFlight;

impl InFlight {
    fn new() -> Self {
        MEMORY.in_flight.fetch_add(1, Ordering::Relaxed);
        Self
    }
}

/// After a big buffer was freed outside a call (a line refused or too long): the heap is returned
/// once the server is idle, as after a call.
pub(crate) fn return_heap_when_idle() {
    drop(InFlight::new());
}

impl Drop for InFlight {
    fn drop(&mut self) {
        MEMORY.ended.fetch_add(1, Ordering::Relaxed);
        if MEMORY.in_flight.fetch_sub(1, Ordering::Relaxed) != 1 {
            return;
        }
        // A call dropped while the runtime shuts down (or without one) has no one to wait for.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if MEMORY.waiting.swap(true, Ordering::Relaxed) {
            return;
        }
        runtime.spawn(async {
            loop {
                let seen = MEMORY.ended.load(Ordering::Relaxed);
                tokio::time::sleep(IDLE).await;
                if MEMORY.in_flight.load(Ordering::Relaxed) == 0 && MEMORY.ended.load(Ordering::Relaxed) == seen {
                    break;
                }
            }
            MEMORY.waiting.store(false, Ordering::Relaxed);
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
