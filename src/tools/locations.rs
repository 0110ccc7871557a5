//! Locations: the folders machines live in, their sharing between organizations and their
//! secrets.
use super::args::{DefaultLocationArgs, Id, LocationArgs, OrgArgs};
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
        row!(create_location, Additive, unary(create_location)).scope(&[NewLocation]).verify("list_locations"),
        row!(get_location, Read, unary(get_location)),
        row!(update_location, Mutating, unary(update_location))
            .scope(&[Location("location_id"), MaybeLocation("parent_location_id")])
            .verify("get_location"),
        row!(delete_location, Destructive, unary_with_preview(delete_location, delete_location_preview))
            .scope(&[Location("location_id")])
            .verify("get_location"),
        row!(list_locations, Read, unary(list_locations)).pages(&["locations"]),
        row!(share_location, Mutating, unary(share_location))
            .scope(&[Location("location_id"), Org("organization_id")])
            .verify("get_organizations_with_access_to_location"),
        row!(unshare_location, Destructive, unary_with_preview(unshare_location, unshare_location_preview))
            .scope(&[Location("location_id"), Org("organization_id")])
            .verify("get_organizations_with_access_to_location"),
        row!(location_auth, Read, unary(location_auth))
            .title("Get location secrets")
            .hands_out(HandsOut::All(SecretOwner::Location)),
        row!(create_location_secret, Additive, unary(create_location_secret))
            .scope(&[DefaultLocation])
            .verify("location_auth")
            .hands_out(HandsOut::Created(SecretOwner::Location)),
        row!(
            delete_location_secret,
            Destructive,
            unary_with_preview(delete_location_secret, delete_location_secret_preview)
        )
        .scope(&[DefaultLocation])
        .verify("location_auth"),
    ]
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateLocationArgs {
    org_id: Id,
    name: String,
    /// Omitted = top level.
    #[serde(default)]
    parent_location_id: Option<String>,
}

fn create_location(a: CreateLocationArgs, _: &App) -> Result<app::CreateLocationRequest, ToolError> {
    Ok(app::CreateLocationRequest {
        organization_id: a.org_id.into(),
        name: a.name,
        parent_location_id: a.parent_location_id,
    })
}

fn get_location(a: DefaultLocationArgs, app: &App) -> Result<app::GetLocationRequest, ToolError> {
    Ok(app::GetLocationRequest { location_id: app.location_or_default(a.location_id)? })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateLocationArgs {
    location_id: Id,
    #[serde(default)]
    name: Option<String>,
    /// `""` = top level.
    #[serde(default)]
    parent_location_id: Option<String>,
}

fn update_location(a: UpdateLocationArgs, _: &App) -> Result<app::UpdateLocationRequest, ToolError> {
    Ok(app::UpdateLocationRequest {
        location_id: a.location_id.into(),
        name: a.name,
        parent_location_id: a.parent_location_id,
        region: None,
    })
}

fn delete_location(a: LocationArgs, _: &App) -> Result<app::DeleteLocationRequest, ToolError> {
    Ok(app::DeleteLocationRequest { location_id: a.location_id.into() })
}

/// The location's name and the machines that would go with it.
fn delete_location_preview(app: Arc<App>, a: LocationArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let location_id = String::from(a.location_id);
        let (location, robots) = tokio::try_join!(
            app.read(app::GetLocationRequest { location_id: location_id.clone() }),
            app.read(app::ListRobotsRequest { location_id: location_id.clone() }),
        )?;
        let location = location.location.unwrap_or_default();
        let robots: Vec<_> = robots.robots.iter().map(|r| json!({"id": r.id, "name": r.name})).collect();
        Ok(json!({
            "location": {"id": location_id, "name": location.name, "parent_location_id": location.parent_location_id},
            "robots": robots,
        }))
    })
}

fn list_locations(a: OrgArgs, _: &App) -> Result<app::ListLocationsRequest, ToolError> {
    Ok(app::ListLocationsRequest { organization_id: a.org_id.into() })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ShareArgs {
    /// The other organization.
    organization_id: Id,
    location_id: Id,
}

fn share_location(a: ShareArgs, _: &App) -> Result<app::ShareLocationRequest, ToolError> {
    Ok(app::ShareLocationRequest { location_id: a.location_id.into(), organization_id: a.organization_id.into() })
}

fn unshare_location(a: ShareArgs, _: &App) -> Result<app::UnshareLocationRequest, ToolError> {
    Ok(app::UnshareLocationRequest { location_id: a.location_id.into(), organization_id: a.organization_id.into() })
}

/// The location, the organizations that have access to it now, and whether the one named does.
fn unshare_location_preview(app: Arc<App>, a: ShareArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let location_id = String::from(a.location_id);
        let (location, access) = tokio::try_join!(
            app.read(app::GetLocationRequest { location_id: location_id.clone() }),
            app.read(app::GetOrganizationsWithAccessToLocationRequest { location_id: location_id.clone() }),
        )?;
        // Only the name: a Location also carries the location's secrets.
        let name = location.location.unwrap_or_default().name;
        let organizations = &access.organization_identities;
        Ok(json!({
            "location": {"id": location_id, "name": name},
            "organization_id": a.organization_id.0,
            "has_access": organizations.iter().any(|o| o.id == a.organization_id.0),
            "organizations_with_access": organizations.iter().map(|o| json!({"id": o.id, "name": o.name})).collect::<Vec<_>>(),
        }))
    })
}

fn location_auth(a: DefaultLocationArgs, app: &App) -> Result<app::LocationAuthRequest, ToolError> {
    Ok(app::LocationAuthRequest { location_id: app.location_or_default(a.location_id)? })
}

fn create_location_secret(a: DefaultLocationArgs, app: &App) -> Result<app::CreateLocationSecretRequest, ToolError> {
    Ok(app::CreateLocationSecretRequest { location_id: app.location_or_default(a.location_id)? })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DeleteSecretArgs {
    /// location_auth shows them.
    secret_id: Id,
    #[serde(default)]
    location_id: Option<Id>,
}

fn delete_location_secret(a: DeleteSecretArgs, app: &App) -> Result<app::DeleteLocationSecretRequest, ToolError> {
    Ok(app::DeleteLocationSecretRequest {
        location_id: app.location_or_default(a.location_id)?,
        secret_id: a.secret_id.into(),
    })
}

/// The secret's id, creation time and state, never its value.
fn delete_location_secret_preview(app: Arc<App>, a: DeleteSecretArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let location_id = app.location_or_default(a.location_id)?;
        let request = app::LocationAuthRequest { location_id: location_id.clone() };
        let auth = app.read(request).await?.auth.unwrap_or_default();
        Ok(json!({"location_id": location_id, "secret": secret_preview(&auth.secrets, &a.secret_id.0)}))
    })
}

/// One of `secrets` for a preview: selected fields only, so the secret value never shows. The
/// read succeeds for an unknown id, so that is said rather than failed.
pub(super) fn secret_preview(secrets: &[app::SharedSecret], secret_id: &str) -> Value {
    match secrets.iter().find(|s| s.id == secret_id) {
        Some(s) => json!({
            "id": s.id,
            "created_on": s.created_on.map(|t| to_json(&t)),
            "state": app::shared_secret::State::try_from(s.state).map_or(json!(s.state), |state| json!(state.as_str_name())),
        }),
        None => json!({"id": secret_id, "note": "no secret with this id"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::tests::{args, golden, hex, offline_app};

    /// An app whose configured default location is `loc1`.
    fn app_in_loc1() -> App {
        App { default_location: Some("loc1".into()), ..offline_app() }
    }

    #[tokio::test]
    async fn create_location_sends_the_parent_only_when_given() {
        let app = offline_app();
        assert_eq!(
            hex(&create_location(args(json!({"org_id": "org1", "name": "loc"})), &app).unwrap()),
            golden("locations::create_location_sends_the_parent_only_when_given")
        );
        let a = json!({"org_id": "org1", "name": "loc", "parent_location_id": "p1"});
        assert_eq!(
            hex(&create_location(args(a), &app).unwrap()),
            golden("locations::create_location_sends_the_parent_only_when_given#2")
        );
    }

    #[tokio::test]
    async fn location_defaults_come_from_the_configuration() {
        let given = json!({"location_id": "loc1"});
        assert_eq!(
            hex(&get_location(args(given.clone()), &offline_app()).unwrap()),
            golden("locations::location_defaults_come_from_the_configuration")
        );
        assert_eq!(
            hex(&location_auth(args(given), &offline_app()).unwrap()),
            golden("locations::location_defaults_come_from_the_configuration#2")
        );
        let app = app_in_loc1();
        assert_eq!(
            hex(&get_location(args(json!({})), &app).unwrap()),
            golden("locations::location_defaults_come_from_the_configuration#3")
        );
        assert_eq!(
            hex(&create_location_secret(args(json!({})), &app).unwrap()),
            golden("locations::location_defaults_come_from_the_configuration#4")
        );
        let err = get_location(args(json!({})), &offline_app()).unwrap_err();
        assert_eq!(err.code(), "invalid_arguments");
        assert!(err.to_string().contains("location_id"), "{err}");
    }

    #[tokio::test]
    async fn update_location_sends_an_empty_parent_as_present() {
        let app = offline_app();
        assert_eq!(
            hex(&update_location(args(json!({"location_id": "loc1"})), &app).unwrap()),
            golden("locations::update_location_sends_an_empty_parent_as_present")
        );
        let a = json!({"location_id": "loc1", "name": "n", "parent_location_id": ""});
        assert_eq!(
            hex(&update_location(args(a), &app).unwrap()),
            golden("locations::update_location_sends_an_empty_parent_as_present#2")
        );
    }

    #[tokio::test]
    async fn delete_and_list_locations() {
        let app = offline_app();
        assert_eq!(
            hex(&delete_location(args(json!({"location_id": "loc1"})), &app).unwrap()),
            golden("locations::delete_and_list_locations")
        );
        assert_eq!(
            hex(&list_locations(args(json!({"org_id": "org1"})), &app).unwrap()),
            golden("locations::delete_and_list_locations#2")
        );
    }

    #[tokio::test]
    async fn sharing_puts_the_location_first_on_the_wire() {
        let app = offline_app();
        let a = json!({"organization_id": "org2", "location_id": "loc1"});
        assert_eq!(
            hex(&share_location(args(a.clone()), &app).unwrap()),
            golden("locations::sharing_puts_the_location_first_on_the_wire")
        );
        assert_eq!(
            hex(&unshare_location(args(a), &app).unwrap()),
            golden("locations::sharing_puts_the_location_first_on_the_wire#2")
        );
    }

    #[tokio::test]
    async fn delete_location_secret_uses_the_default_location() {
        let r = delete_location_secret(args(json!({"secret_id": "s1"})), &app_in_loc1()).unwrap();
        assert_eq!(hex(&r), golden("locations::delete_location_secret_uses_the_default_location"));
        let r = delete_location_secret(args(json!({"secret_id": "s1", "location_id": "l2"})), &offline_app()).unwrap();
        assert_eq!(hex(&r), golden("locations::delete_location_secret_uses_the_default_location#2"));
    }

    #[test]
    fn secret_previews_never_show_the_value() {
        let secrets = [app::SharedSecret {
            id: "s1".into(),
            secret: "v3ry-s3cr3t".into(),
            created_on: Some(prost_types::Timestamp { seconds: 1_704_164_645, nanos: 0 }),
            state: app::shared_secret::State::Enabled as i32,
        }];
        let shown = secret_preview(&secrets, "s1");
        assert_eq!(shown, json!({"id": "s1", "created_on": "2024-01-02T03:04:05Z", "state": "STATE_ENABLED"}));
        assert!(!secret_preview(&secrets, "s2").to_string().contains("v3ry-s3cr3t"));
        assert_eq!(secret_preview(&secrets, "s2")["id"], "s2");
    }
}
