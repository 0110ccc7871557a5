//! The MCP server: lists the catalogue's tools and dispatches calls to their rows.
use crate::tools::{App, ProgressSink, catalogue};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ErrorData, Implementation, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler};
use std::sync::Arc;

const INSTRUCTIONS: &str = "Manage a Viam robot fleet: organizations, locations, machines (robots) and \
their parts, logs, fragments, roles, registry items, modules and API keys. Start with \
list_organizations, then list_locations and list_robots to find ids. Destructive tools (deletes, key \
rotation, config replacement, restarts) change nothing unless called with confirm: true; call them \
without it first to see a preview of what would be affected.";

#[derive(Clone)]
pub struct FleetServer {
    app: Arc<App>,
}

impl FleetServer {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
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
        Ok(ListToolsResult::with_all_items(catalogue().tools.clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        catalogue().tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(row) = catalogue().get(&request.name) else {
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
        let arguments = request.arguments.unwrap_or_default();
        let result = row.call(self.app.clone(), arguments, context.ct.clone(), progress).await;
        Ok(match result {
            Ok(value) => CallToolResult::structured(value),
            Err(error) => {
                tracing::info!(tool = row.name, error = %error.code(), "tool call failed");
                CallToolResult::structured_error(error.to_json())
            }
        }
        .into())
    }
}
