//! API keys: creating, listing, rotating and deleting them.
use super::args::{Id, OrgArgs, ResourceType, RobotArgs, Role, role_authorization};
use super::{App, BoxFuture, Row, ToolResult, row, unary, unary_with_preview};
use crate::call::ScopeArg::*;
use crate::call::{HandsOut, SecretOwner};
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;
use crate::proto_json::to_json;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) fn rows() -> Vec<Row> {
    vec![
        row!(create_key, Additive, unary(create_key))
            .title("Create API key")
            .scope(&[Authorizations { org: "org_id", lists: &["authorizations"] }])
            .verify("list_keys")
            .hands_out(HandsOut::All(SecretOwner::ApiKey)),
        row!(delete_key, Destructive, unary_with_preview(delete_key, key_preview))
            .title("Delete API key")
            .scope(&[Key("id")])
            .verify("list_keys"),
        row!(create_key_from_existing_key_authorizations, Additive, unary(create_key_from_existing_key_authorizations))
            .title("Create API key like another")
            .scope(&[Key("id")])
            .verify("list_keys")
            .hands_out(HandsOut::All(SecretOwner::ApiKey)),
        row!(list_keys, Read, unary(list_keys)).title("List API keys").pages(&["api_keys"]),
        row!(rotate_key, Destructive, unary_with_preview(rotate_key, key_preview))
            .title("Rotate API key")
            .scope(&[Key("id")])
            .verify("list_keys")
            .hands_out(HandsOut::All(SecretOwner::ApiKey)),
        row!(get_robot_api_keys, Read, unary(get_robot_api_keys)).pages(&["api_keys"]),
    ]
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ApiKeyAuthorization {
    /// `owner` or `operator`.
    role: Role,
    /// `organization`, `location` or `robot`.
    resource_type: ResourceType,
    resource_id: Id,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateKeyArgs {
    org_id: Id,
    authorizations: Vec<ApiKeyAuthorization>,
    /// Omitted = the current local time.
    #[serde(default)]
    name: Option<String>,
}

fn create_key(a: CreateKeyArgs, _: &App) -> Result<app::CreateKeyRequest, ToolError> {
    let org = &a.org_id.0;
    Ok(app::CreateKeyRequest {
        // identity_id stays empty: the service refuses a key authorization that names one.
        authorizations: a
            .authorizations
            .iter()
            .map(|x| role_authorization(org, "", "api-key", x.role, x.resource_type, &x.resource_id.0))
            .collect(),
        name: a.name.unwrap_or_else(|| python_str(chrono::Local::now().naive_local())),
    })
}

/// A time as Python's `str(datetime)` writes it: microseconds only when they are not zero.
fn python_str(time: chrono::NaiveDateTime) -> String {
    use chrono::Timelike;
    let format = if time.nanosecond() / 1000 == 0 { "%Y-%m-%d %H:%M:%S" } else { "%Y-%m-%d %H:%M:%S%.6f" };
    time.format(format).to_string()
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct KeyArgs {
    /// The API key's id.
    id: Id,
}

fn delete_key(a: KeyArgs, _: &App) -> Result<app::DeleteKeyRequest, ToolError> {
    Ok(app::DeleteKeyRequest { id: a.id.into() })
}

fn create_key_from_existing_key_authorizations(
    a: KeyArgs,
    _: &App,
) -> Result<app::CreateKeyFromExistingKeyAuthorizationsRequest, ToolError> {
    Ok(app::CreateKeyFromExistingKeyAuthorizationsRequest { id: a.id.into() })
}

fn rotate_key(a: KeyArgs, _: &App) -> Result<app::RotateKeyRequest, ToolError> {
    Ok(app::RotateKeyRequest { id: a.id.into() })
}

fn list_keys(a: OrgArgs, _: &App) -> Result<app::ListKeysRequest, ToolError> {
    Ok(app::ListKeysRequest { org_id: a.org_id.into() })
}

fn get_robot_api_keys(a: RobotArgs, _: &App) -> Result<app::GetRobotApiKeysRequest, ToolError> {
    Ok(app::GetRobotApiKeysRequest { robot_id: a.robot_id.into() })
}

/// The key and its authorizations, without its secret. The request names only the key id, so
/// the key is looked up in every organization this server's API key can see.
fn key_preview(app: Arc<App>, a: KeyArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        Ok(match crate::lookup::find_api_key(&app, &a.id.0).await? {
            Some((organization_id, found)) => found_key(&organization_id, &found),
            None => json!({"key": null, "note": "key not found in any organization this API key can see"}),
        })
    })
}

fn found_key(organization_id: &str, found: &app::ApiKeyWithAuthorizations) -> Value {
    let key = to_json(&found.api_key.clone().unwrap_or_default());
    json!({
        "key": {"id": key["id"], "name": key["name"], "created_on": key["created_on"]},
        "organization_id": organization_id,
        "authorizations": found.authorizations.iter().map(to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::tests::{args, golden, hex, offline_app};

    #[tokio::test]
    async fn create_key_puts_the_org_in_each_api_key_authorization() {
        let a = json!({
            "org_id": "org1", "name": "k",
            "authorizations": [{"role": "owner", "resource_type": "organization", "resource_id": "org1"}],
        });
        assert_eq!(
            hex(&create_key(args(a), &offline_app()).unwrap()),
            golden("keys::create_key_puts_the_org_in_each_api_key_authorization")
        );
    }

    #[tokio::test]
    async fn create_key_names_the_key_after_the_time_like_python() {
        let a = json!({"org_id": "org1", "authorizations": [{"role": "operator", "resource_type": "robot", "resource_id": "r1"}]});
        let r = create_key(args(a), &offline_app()).unwrap();
        assert!(chrono::NaiveDateTime::parse_from_str(&r.name, "%Y-%m-%d %H:%M:%S%.f").is_ok(), "{}", r.name);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert_eq!(python_str(day.and_hms_micro_opt(16, 48, 0, 63_540).unwrap()), "2026-11-28 16:48:00.063540");
        assert_eq!(python_str(day.and_hms_opt(16, 48, 0).unwrap()), "2026-11-28 16:48:00");
    }

    #[tokio::test]
    async fn key_ops_send_the_id() {
        let app = offline_app();
        assert_eq!(hex(&delete_key(args(json!({"id": "k1"})), &app).unwrap()), golden("keys::key_ops_send_the_id"));
        assert_eq!(hex(&rotate_key(args(json!({"id": "k1"})), &app).unwrap()), golden("keys::key_ops_send_the_id#2"));
        let r = create_key_from_existing_key_authorizations(args(json!({"id": "k1"})), &app).unwrap();
        assert_eq!(hex(&r), golden("keys::key_ops_send_the_id#3"));
        assert_eq!(
            hex(&list_keys(args(json!({"org_id": "org1"})), &app).unwrap()),
            golden("keys::key_ops_send_the_id#4")
        );
        assert_eq!(
            hex(&get_robot_api_keys(args(json!({"robot_id": "r1"})), &app).unwrap()),
            golden("keys::key_ops_send_the_id#5")
        );
    }

    #[test]
    fn key_previews_never_show_the_secret() {
        let found = app::ApiKeyWithAuthorizations {
            api_key: Some(app::ApiKey { id: "k1".into(), key: "s3cr3t".into(), name: "ci".into(), created_on: None }),
            authorizations: vec![app::AuthorizationDetails { resource_id: "org1".into(), ..Default::default() }],
        };
        let preview = found_key("org1", &found);
        assert_eq!(preview["key"]["name"], "ci");
        assert_eq!(preview["authorizations"][0]["resource_id"], "org1");
        assert!(!preview.to_string().contains("s3cr3t"));
    }
}
