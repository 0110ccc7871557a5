//! Roles (authorizations) and permission checks.
use super::args::{Id, Named, ResourceType, Role, role_authorization};
use super::{App, BoxFuture, Row, ToolResult, row, unary, unary_with_preview};
use crate::call::ScopeArg;
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;
use crate::proto_json::to_json;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) fn rows() -> Vec<Row> {
    vec![
        row!(add_role, Additive, unary(add_role))
            .scope(&[ScopeArg::Role { org: "org_id", prefix: "" }])
            .verify("list_authorizations"),
        row!(remove_role, Destructive, unary_with_preview(remove_role, remove_role_preview))
            .scope(&[ScopeArg::Role { org: "org_id", prefix: "" }])
            .verify("list_authorizations"),
        row!(change_role, Destructive, unary_with_preview(change_role, change_role_preview))
            .scope(&[
                ScopeArg::Role { org: "organization_id", prefix: "old_" },
                ScopeArg::Role { org: "organization_id", prefix: "new_" },
            ])
            .verify("list_authorizations"),
        row!(list_authorizations, Read, unary(list_authorizations)).pages(&["authorizations"]),
        row!(check_permissions, Read, unary(check_permissions)),
    ]
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RoleArgs {
    org_id: Id,
    /// A user id (get_user_id_by_email) or an API key id.
    identity_id: Id,
    /// `owner` or `operator`.
    role: Role,
    /// `organization`, `location` or `robot`.
    resource_type: ResourceType,
    resource_id: Id,
}

impl RoleArgs {
    fn authorization(&self) -> app::Authorization {
        // The SDK leaves identity_type empty for roles.
        role_authorization(&self.org_id.0, &self.identity_id.0, "", self.role, self.resource_type, &self.resource_id.0)
    }
}

fn add_role(a: RoleArgs, _: &App) -> Result<app::AddRoleRequest, ToolError> {
    Ok(app::AddRoleRequest { authorization: Some(a.authorization()) })
}

fn remove_role(a: RoleArgs, _: &App) -> Result<app::RemoveRoleRequest, ToolError> {
    Ok(app::RemoveRoleRequest { authorization: Some(a.authorization()) })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ChangeRoleArgs {
    organization_id: Id,
    old_identity_id: Id,
    /// `owner` or `operator`.
    old_role: Role,
    /// `organization`, `location` or `robot`.
    old_resource_type: ResourceType,
    old_resource_id: Id,
    /// A user id or an API key id.
    new_identity_id: Id,
    /// `owner` or `operator`.
    new_role: Role,
    /// `organization`, `location` or `robot`.
    new_resource_type: ResourceType,
    new_resource_id: Id,
}

impl ChangeRoleArgs {
    /// The authorization to replace, and its replacement.
    fn authorizations(&self) -> (app::Authorization, app::Authorization) {
        let org = &self.organization_id.0;
        let old = &self.old_identity_id.0;
        let new = &self.new_identity_id.0;
        (
            role_authorization(org, old, "", self.old_role, self.old_resource_type, &self.old_resource_id.0),
            role_authorization(org, new, "", self.new_role, self.new_resource_type, &self.new_resource_id.0),
        )
    }
}

fn change_role(a: ChangeRoleArgs, _: &App) -> Result<app::ChangeRoleRequest, ToolError> {
    let (old, new) = a.authorizations();
    Ok(app::ChangeRoleRequest { old_authorization: Some(old), new_authorization: Some(new) })
}

/// The authorization and whether it exists now.
fn remove_role_preview(app: Arc<App>, a: RoleArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let authorization = a.authorization();
        let existing = authorizations_on(&app, &authorization.organization_id, &[&authorization]).await?;
        Ok(role_status(&authorization, &existing))
    })
}

/// Both authorizations and whether each exists now.
fn change_role_preview(app: Arc<App>, a: ChangeRoleArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let (old, new) = a.authorizations();
        let existing = authorizations_on(&app, &old.organization_id, &[&old, &new]).await?;
        Ok(json!({"old": role_status(&old, &existing), "new": role_status(&new, &existing)}))
    })
}

/// The organization's authorizations on the resources the given ones name.
async fn authorizations_on(
    app: &App,
    organization_id: &str,
    on: &[&app::Authorization],
) -> Result<Vec<app::Authorization>, ToolError> {
    let request = app::ListAuthorizationsRequest {
        organization_id: organization_id.into(),
        resource_ids: on.iter().map(|a| a.resource_id.clone()).collect(),
    };
    Ok(app.read(request).await?.authorizations)
}

fn role_status(authorization: &app::Authorization, existing: &[app::Authorization]) -> Value {
    json!({"authorization": to_json(authorization), "exists": existing.iter().any(|e| same_role(authorization, e))})
}

/// Whether `existing` is the authorization `wanted` names. The SDK sends roles without an
/// identity type, and the service infers it, so an empty one matches any.
fn same_role(wanted: &app::Authorization, existing: &app::Authorization) -> bool {
    let identity_type = if wanted.identity_type.is_empty() { &existing.identity_type } else { &wanted.identity_type };
    *existing == app::Authorization { identity_type: identity_type.clone(), ..wanted.clone() }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListAuthorizationsArgs {
    org_id: Id,
    /// Organization, location or machine ids; omitted = all.
    #[serde(default)]
    resource_ids: Option<Vec<String>>,
}

fn list_authorizations(a: ListAuthorizationsArgs, _: &App) -> Result<app::ListAuthorizationsRequest, ToolError> {
    Ok(app::ListAuthorizationsRequest {
        organization_id: a.org_id.into(),
        resource_ids: a.resource_ids.unwrap_or_default(),
    })
}

// The `AuthorizedPermissions` proto message.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AuthorizedPermissions {
    /// `organization`, `location` or `robot`.
    resource_type: ResourceType,
    resource_id: String,
    /// e.g. `read_robot_config`.
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CheckPermissionsArgs {
    permissions: Vec<AuthorizedPermissions>,
}

fn check_permissions(a: CheckPermissionsArgs, _: &App) -> Result<app::CheckPermissionsRequest, ToolError> {
    Ok(app::CheckPermissionsRequest {
        permissions: a
            .permissions
            .into_iter()
            .map(|p| app::AuthorizedPermissions {
                resource_type: p.resource_type.as_str().into(),
                resource_id: p.resource_id,
                permissions: p.permissions,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::tests::{args, golden, hex, offline_app};
    use serde_json::json;

    #[tokio::test]
    async fn add_role_builds_the_authorization_like_the_sdk() {
        let a = args(json!({
            "org_id": "org1", "identity_id": "u1", "role": "owner", "resource_type": "location", "resource_id": "loc1",
        }));
        assert_eq!(
            hex(&add_role(a, &offline_app()).unwrap()),
            golden("access::add_role_builds_the_authorization_like_the_sdk")
        );
    }

    #[tokio::test]
    async fn remove_role_builds_the_authorization_like_the_sdk() {
        let a = args(json!({
            "org_id": "org1", "identity_id": "u1", "role": "operator", "resource_type": "robot", "resource_id": "r1",
        }));
        assert_eq!(
            hex(&remove_role(a, &offline_app()).unwrap()),
            golden("access::remove_role_builds_the_authorization_like_the_sdk")
        );
    }

    #[tokio::test]
    async fn change_role_builds_both_authorizations() {
        let a = args(json!({
            "organization_id": "org1",
            "old_identity_id": "u1", "old_role": "owner", "old_resource_type": "organization", "old_resource_id": "org1",
            "new_identity_id": "u1", "new_role": "operator", "new_resource_type": "location", "new_resource_id": "loc1",
        }));
        assert_eq!(
            hex(&change_role(a, &offline_app()).unwrap()),
            golden("access::change_role_builds_both_authorizations")
        );
    }

    #[tokio::test]
    async fn list_authorizations_sends_resource_ids() {
        let app = offline_app();
        let a = args(json!({"org_id": "org1"}));
        assert_eq!(
            hex(&list_authorizations(a, &app).unwrap()),
            golden("access::list_authorizations_sends_resource_ids")
        );
        let a = args(json!({"org_id": "org1", "resource_ids": ["r1", "loc1"]}));
        assert_eq!(
            hex(&list_authorizations(a, &app).unwrap()),
            golden("access::list_authorizations_sends_resource_ids#2")
        );
    }

    #[tokio::test]
    async fn check_permissions_passes_the_messages_through() {
        let a = args(json!({"permissions": [
            {"resource_type": "robot", "resource_id": "r1", "permissions": ["control_robot", "read_robot_config"]},
        ]}));
        assert_eq!(
            hex(&check_permissions(a, &offline_app()).unwrap()),
            golden("access::check_permissions_passes_the_messages_through")
        );
    }

    #[test]
    fn roles_and_resource_types_are_checked() {
        let bad =
            json!({"org_id": "o", "identity_id": "u", "role": "admin", "resource_type": "robot", "resource_id": "r"});
        assert!(serde_json::from_value::<RoleArgs>(bad).is_err());
    }

    #[test]
    fn a_role_without_an_identity_type_matches_the_stored_one() {
        let a = args::<RoleArgs>(json!({
            "org_id": "org1", "identity_id": "u1", "role": "operator", "resource_type": "robot", "resource_id": "r1",
        }));
        let wanted = a.authorization();
        let stored = app::Authorization { identity_type: "user".into(), ..wanted.clone() };
        assert_eq!(role_status(&wanted, std::slice::from_ref(&stored))["exists"], json!(true));
        let other_role = app::Authorization { authorization_id: "robot_owner".into(), ..stored.clone() };
        assert_eq!(role_status(&wanted, &[other_role])["exists"], json!(false));
        let typed = app::Authorization { identity_type: "api-key".into(), ..wanted };
        assert!(!same_role(&typed, &stored));
    }
}
