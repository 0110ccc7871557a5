//! Read-only lookups shared by confirmation previews and scope pinning.
use crate::call::App;
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;

/// The organization holding API key `id`, and the key with its authorizations: the requests that
/// act on a key name only the key, so every organization this server can see is searched.
pub async fn find_api_key(app: &App, id: &str) -> Result<Option<(String, app::ApiKeyWithAuthorizations)>, ToolError> {
    let organizations = app.read(app::ListOrganizationsRequest {}).await?.organizations;
    for organization in organizations {
        let request = app::ListKeysRequest { org_id: organization.id.clone() };
        // Seeing an organization does not mean being allowed to list its keys.
        let Ok(listed) = app.read(request).await else { continue };
        if let Some(found) = listed.api_keys.into_iter().find(|k| k.api_key.as_ref().is_some_and(|k| k.id == id)) {
            return Ok(Some((organization.id, found)));
        }
    }
    Ok(None)
}
