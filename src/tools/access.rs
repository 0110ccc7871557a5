//! Roles (authorizations) and permission checks.
use super::args::{Id, ResourceType, Role, role_authorization};
use super::{App, Row, row, unary};
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;
use schemars::JsonSchema;
use serde::Deserialize;

pub(super) fn rows() -> Vec<Row> {
    vec![
        row!(add_role, Additive, unary(add_role)),
        row!(remove_role, Destructive, unary(remove_role)),
        row!(change_role, Destructive, unary(change_role)),
        row!(list_authorizations, Read, unary(list_authorizations)),
        row!(check_permissions, Read, unary(check_permissions)),
    ]
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RoleArgs {
    /// The organization's id (list_organizations shows them).
    org_id: Id,
    /// A user id (get_user_id_by_email finds it) or an API key id.
    identity_id: Id,
    /// `owner` or `operator`.
    role: Role,
    /// `organization`, `location` or `robot`.
    resource_type: ResourceType,
    /// The id of the organization, location or machine.
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
    /// The organization's id (list_organizations shows them).
    organization_id: Id,
    /// The identity of the authorization to replace.
    old_identity_id: Id,
    /// `owner` or `operator`.
    old_role: Role,
    /// `organization`, `location` or `robot`.
    old_resource_type: ResourceType,
    old_resource_id: Id,
    /// The identity of the new authorization: a user id or an API key id.
    new_identity_id: Id,
    /// `owner` or `operator`.
    new_role: Role,
    /// `organization`, `location` or `robot`.
    new_resource_type: ResourceType,
    new_resource_id: Id,
}

fn change_role(a: ChangeRoleArgs, _: &App) -> Result<app::ChangeRoleRequest, ToolError> {
    let org = &a.organization_id.0;
    Ok(app::ChangeRoleRequest {
        old_authorization: Some(role_authorization(
            org,
            &a.old_identity_id.0,
            "",
            a.old_role,
            a.old_resource_type,
            &a.old_resource_id.0,
        )),
        new_authorization: Some(role_authorization(
            org,
            &a.new_identity_id.0,
            "",
            a.new_role,
            a.new_resource_type,
            &a.new_resource_id.0,
        )),
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListAuthorizationsArgs {
    /// The organization's id (list_organizations shows them).
    org_id: Id,
    /// Only authorizations on these organization, location or machine ids; omitted = all.
    #[serde(default)]
    resource_ids: Option<Vec<String>>,
}

fn list_authorizations(a: ListAuthorizationsArgs, _: &App) -> Result<app::ListAuthorizationsRequest, ToolError> {
    Ok(app::ListAuthorizationsRequest {
        organization_id: a.org_id.into(),
        resource_ids: a.resource_ids.unwrap_or_default(),
    })
}

/// The `AuthorizedPermissions` proto message.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AuthorizedPermissions {
    /// `organization`, `location` or `robot`.
    resource_type: String,
    resource_id: String,
    /// Permission names, e.g. `read_robot_config`, `control_robot`.
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CheckPermissionsArgs {
    /// The permissions to check, per resource.
    permissions: Vec<AuthorizedPermissions>,
}

fn check_permissions(a: CheckPermissionsArgs, _: &App) -> Result<app::CheckPermissionsRequest, ToolError> {
    Ok(app::CheckPermissionsRequest {
        permissions: a
            .permissions
            .into_iter()
            .map(|p| app::AuthorizedPermissions {
                resource_type: p.resource_type,
                resource_id: p.resource_id,
                permissions: p.permissions,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::tests::{args, hex, offline_app};
    use serde_json::json;

    #[tokio::test]
    async fn add_role_builds_the_authorization_like_the_sdk() {
        let a = args(json!({
            "org_id": "org1", "identity_id": "u1", "role": "owner", "resource_type": "location", "resource_id": "loc1",
        }));
        assert_eq!(
            hex(&add_role(a, &offline_app()).unwrap()),
            "0a300a04726f6c65120e6c6f636174696f6e5f6f776e65721a086c6f636174696f6e22046c6f63312a02753132046f726731"
        );
    }

    #[tokio::test]
    async fn remove_role_builds_the_authorization_like_the_sdk() {
        let a = args(json!({
            "org_id": "org1", "identity_id": "u1", "role": "operator", "resource_type": "robot", "resource_id": "r1",
        }));
        assert_eq!(
            hex(&remove_role(a, &offline_app()).unwrap()),
            "0a2b0a04726f6c65120e726f626f745f6f70657261746f721a05726f626f74220272312a02753132046f726731"
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
            "0a380a04726f6c6512126f7267616e697a6174696f6e5f6f776e65721a0c6f7267616e697a6174696f6e22046f7267312a027531\
             32046f72673112330a04726f6c6512116c6f636174696f6e5f6f70657261746f721a086c6f636174696f6e22046c6f63312a0275\
             3132046f726731"
        );
    }

    #[tokio::test]
    async fn list_authorizations_sends_resource_ids() {
        let app = offline_app();
        let a = args(json!({"org_id": "org1"}));
        assert_eq!(hex(&list_authorizations(a, &app).unwrap()), "0a046f726731");
        let a = args(json!({"org_id": "org1", "resource_ids": ["r1", "loc1"]}));
        assert_eq!(hex(&list_authorizations(a, &app).unwrap()), "0a046f7267311202723112046c6f6331");
    }

    #[tokio::test]
    async fn check_permissions_passes_the_messages_through() {
        let a = args(json!({"permissions": [
            {"resource_type": "robot", "resource_id": "r1", "permissions": ["control_robot", "read_robot_config"]},
        ]}));
        assert_eq!(
            hex(&check_permissions(a, &offline_app()).unwrap()),
            "0a2d0a05726f626f74120272311a0d636f6e74726f6c5f726f626f741a11726561645f726f626f745f636f6e666967"
        );
    }

    #[test]
    fn roles_and_resource_types_are_checked() {
        let bad =
            json!({"org_id": "o", "identity_id": "u", "role": "admin", "resource_type": "robot", "resource_id": "r"});
        assert!(serde_json::from_value::<RoleArgs>(bad).is_err());
    }
}
