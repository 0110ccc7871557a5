//! Organizations, their members and invites.
use super::args::{Authorization, Id, LocationArgs, OrgArgs};
use super::{App, BoxFuture, Row, ToolResult, row, unary, unary_with_preview};
use crate::call::ScopeArg::*;
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;
use crate::proto_json::to_json;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub(super) fn rows() -> Vec<Row> {
    vec![
        row!(get_user_id_by_email, Read, unary(|a: EmailArgs, _| Ok(app::GetUserIdByEmailRequest { email: a.email }))),
        row!(
            create_organization,
            Additive,
            unary(|a: NameArgs, _| Ok(app::CreateOrganizationRequest { name: a.name }))
        )
        .scope(&[NewOrganization])
        .verify("list_organizations"),
        row!(list_organizations, Read, unary(|_: NoArgs, _| Ok(app::ListOrganizationsRequest {})))
            .pages(&["organizations"]),
        row!(
            get_organizations_with_access_to_location,
            Read,
            unary(|a: LocationArgs, _| Ok(app::GetOrganizationsWithAccessToLocationRequest {
                location_id: a.location_id.into()
            }))
        )
        .title("List organizations sharing a location")
        .pages(&["organization_identities"]),
        row!(
            list_organizations_by_user,
            Read,
            unary(|a: UserArgs, _| Ok(app::ListOrganizationsByUserRequest { user_id: a.user_id.into() }))
        )
        .pages(&["orgs"]),
        row!(
            get_organization,
            Read,
            unary(|a: OrgArgs, _| Ok(app::GetOrganizationRequest { organization_id: a.org_id.into() }))
        ),
        row!(
            get_organization_namespace_availability,
            Read,
            unary(|a: NamespaceArgs, _| Ok(app::GetOrganizationNamespaceAvailabilityRequest {
                public_namespace: a.public_namespace,
                organization_id: String::new(),
            }))
        )
        .title("Check namespace availability"),
        row!(update_organization, Mutating, unary(update_organization))
            .scope(&[Org("org_id")])
            .verify("get_organization"),
        row!(
            delete_organization,
            Destructive,
            unary_with_preview(
                |a: OrgArgs, _| Ok(app::DeleteOrganizationRequest { organization_id: a.org_id.into() }),
                delete_organization_preview
            )
        )
        .scope(&[Org("org_id")])
        .verify("get_organization"),
        row!(
            list_organization_members,
            Read,
            unary(|a: OrgArgs, _| Ok(app::ListOrganizationMembersRequest { organization_id: a.org_id.into() }))
        )
        .pages(&["members", "invites"]),
        row!(
            create_organization_invite,
            Additive,
            unary(|a: CreateInviteArgs, _| Ok(app::CreateOrganizationInviteRequest {
                organization_id: a.org_id.into(),
                email: a.email,
                authorizations: a.authorizations.iter().map(Authorization::to_proto).collect(),
                send_email_invite: Some(a.send_email_invite),
            }))
        )
        .scope(&[Authorizations { org: "org_id", lists: &["authorizations"] }])
        .verify("list_organization_members"),
        row!(
            update_organization_invite_authorizations,
            Mutating,
            unary(|a: UpdateInviteArgs, _| Ok(app::UpdateOrganizationInviteAuthorizationsRequest {
                organization_id: a.org_id.into(),
                email: a.email,
                add_authorizations: a.add_authorizations.iter().map(Authorization::to_proto).collect(),
                remove_authorizations: a.remove_authorizations.iter().map(Authorization::to_proto).collect(),
            }))
        )
        .title("Change invite permissions")
        .scope(&[Authorizations { org: "org_id", lists: &["add_authorizations", "remove_authorizations"] }])
        .verify("list_organization_members"),
        row!(
            delete_organization_member,
            Destructive,
            unary_with_preview(
                |a: MemberArgs, _| Ok(app::DeleteOrganizationMemberRequest {
                    organization_id: a.org_id.into(),
                    user_id: a.user_id.into(),
                }),
                delete_organization_member_preview
            )
        )
        .scope(&[Org("org_id")])
        .verify("list_organization_members"),
        row!(
            delete_organization_invite,
            Destructive,
            unary_with_preview(
                |a: InviteArgs, _| Ok(app::DeleteOrganizationInviteRequest {
                    organization_id: a.org_id.into(),
                    email: a.email
                }),
                delete_organization_invite_preview
            )
        )
        .scope(&[Org("org_id")])
        .verify("list_organization_members"),
        row!(
            resend_organization_invite,
            Additive,
            unary(|a: InviteArgs, _| Ok(app::ResendOrganizationInviteRequest {
                organization_id: a.org_id.into(),
                email: a.email,
                send_email_invite: None,
            }))
        )
        .scope(&[Org("org_id")])
        .verify("list_organization_members"),
    ]
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NoArgs {}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EmailArgs {
    email: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NameArgs {
    name: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UserArgs {
    /// get_user_id_by_email finds it.
    user_id: Id,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NamespaceArgs {
    /// e.g. `my-company`.
    public_namespace: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FragmentImport {
    fragment_id: String,
    /// e.g. `latest`.
    #[serde(default)]
    version: String,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    fragment_variables: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateOrganizationArgs {
    org_id: Id,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    public_namespace: Option<String>,
    #[serde(default)]
    region: Option<String>,
    /// CRM id.
    #[serde(default)]
    cid: Option<String>,
    /// Fragments every new machine gets; [] clears them.
    #[serde(default)]
    default_fragments: Option<Vec<FragmentImport>>,
}

fn update_organization(a: UpdateOrganizationArgs, _: &super::App) -> Result<app::UpdateOrganizationRequest, ToolError> {
    Ok(app::UpdateOrganizationRequest {
        organization_id: a.org_id.into(),
        name: a.name,
        public_namespace: a.public_namespace,
        region: a.region,
        cid: a.cid,
        default_fragments: a.default_fragments.map(|fragments| app::FragmentImportList {
            fragments: fragments
                .into_iter()
                .map(|f| app::FragmentImport {
                    fragment_id: f.fragment_id,
                    version: f.version,
                    prefix: f.prefix,
                    variables: Default::default(),
                    fragment_variables: f.fragment_variables.as_ref().map(super::args::to_struct),
                })
                .collect(),
        }),
        allowed_login_methods: None,
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateInviteArgs {
    org_id: Id,
    email: String,
    #[serde(default)]
    authorizations: Vec<Authorization>,
    #[serde(default = "yes")]
    send_email_invite: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateInviteArgs {
    org_id: Id,
    email: String,
    #[serde(default)]
    add_authorizations: Vec<Authorization>,
    #[serde(default)]
    remove_authorizations: Vec<Authorization>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MemberArgs {
    org_id: Id,
    /// list_organization_members shows it.
    user_id: Id,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct InviteArgs {
    org_id: Id,
    email: String,
}

/// The organization's name and namespace, and how many locations would go with it.
fn delete_organization_preview(app: Arc<App>, a: OrgArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let organization_id = String::from(a.org_id);
        let (organization, locations) = tokio::try_join!(
            app.read(app::GetOrganizationRequest { organization_id: organization_id.clone() }),
            app.read(app::ListLocationsRequest { organization_id: organization_id.clone() }),
        )?;
        let organization = organization.organization.unwrap_or_default();
        Ok(json!({
            "organization": {
                "id": organization_id, "name": organization.name, "public_namespace": organization.public_namespace,
            },
            "location_count": locations.locations.len(),
        }))
    })
}

/// The member's emails and the roles they hold in the organization.
fn delete_organization_member_preview(app: Arc<App>, a: MemberArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let organization_id = String::from(a.org_id);
        let user_id = String::from(a.user_id);
        let list = app::ListAuthorizationsRequest { organization_id: organization_id.clone(), resource_ids: vec![] };
        let (listed, authorizations) = tokio::try_join!(members(&app, &organization_id), app.read(list))?;
        // Emails only: last_login and last_access move on their own and would fail the recheck.
        let emails = listed.members.into_iter().find(|m| m.user_id == user_id).map(|m| m.emails);
        let roles: Vec<_> =
            authorizations.authorizations.iter().filter(|r| r.identity_id == user_id).map(to_json).collect();
        Ok(match emails {
            Some(emails) => json!({"member": {"user_id": user_id, "emails": emails}, "authorizations": roles}),
            None => json!({"member": null, "note": "no member with this user id in the organization"}),
        })
    })
}

/// The invite's email and the roles it would grant.
fn delete_organization_invite_preview(app: Arc<App>, a: InviteArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let listed = members(&app, &a.org_id.0).await?;
        Ok(match listed.invites.iter().find(|i| i.email == a.email) {
            Some(invite) => json!({
                "invite": {"email": invite.email, "authorizations": invite.authorizations.iter().map(to_json).collect::<Vec<_>>()},
            }),
            None => json!({"invite": null, "note": "no pending invite for this email in the organization"}),
        })
    })
}

/// The organization's members and pending invites.
async fn members(app: &App, organization_id: &str) -> Result<app::ListOrganizationMembersResponse, ToolError> {
    let request = app::ListOrganizationMembersRequest { organization_id: organization_id.into() };
    app.read(request).await
}
