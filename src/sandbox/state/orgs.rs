//! Organizations, their members and invites, public namespaces.
use tonic::Status;

use super::{OrgRecord, Pb, State, find, find_mut, index_of, new_id, now, org_owner_grant, required};
use crate::proto::viam::app::v1::*;

const DEFAULT_REGION: &str = "us-east-1";

fn check_namespace(namespace: &str) -> Result<(), Status> {
    let valid = namespace.starts_with(|c: char| c.is_ascii_lowercase())
        && namespace.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(Status::invalid_argument(format!(
            "invalid public namespace {namespace:?}: use lowercase letters, digits and dashes, starting with a letter"
        )));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<(), Status> {
    required(email, "email")?;
    if !email.contains('@') {
        return Err(Status::invalid_argument(format!("invalid email {email:?}")));
    }
    Ok(())
}

fn invite_index(record: &OrgRecord, email: &str) -> Result<usize, Status> {
    record
        .invites
        .iter()
        .position(|i| i.email.eq_ignore_ascii_case(email))
        .ok_or_else(|| Status::not_found(format!("invite for {email:?} not found")))
}

impl State {
    pub fn org(&self, id: &str) -> Result<&Organization, Status> {
        Ok(&find(&self.organizations, id)?.org)
    }

    fn namespace_taken(&self, namespace: &str, except_org: &str) -> bool {
        self.organizations.iter().any(|r| r.org.id != except_org && r.org.public_namespace == namespace)
    }

    /// A member with this email, and the (first) organization they belong to.
    pub fn user_by_email(&self, email: &str) -> Result<(&OrgRecord, &OrganizationMember), Status> {
        check_email(email)?;
        self.organizations
            .iter()
            .find_map(|o| {
                let member = o.members.iter().find(|m| m.emails.iter().any(|e| e.eq_ignore_ascii_case(email)))?;
                Some((o, &member.0))
            })
            .ok_or_else(|| Status::not_found(format!("no user with email {email:?}")))
    }

    pub fn get_user_id_by_email(&self, r: GetUserIdByEmailRequest) -> Result<GetUserIdByEmailResponse, Status> {
        Ok(GetUserIdByEmailResponse { user_id: self.user_by_email(&r.email)?.1.user_id.clone() })
    }

    /// The calling key becomes the new organization's owner, or nobody could use it.
    pub fn create_organization(
        &mut self,
        r: CreateOrganizationRequest,
        caller: &str,
    ) -> Result<CreateOrganizationResponse, Status> {
        required(&r.name, "organization name")?;
        let org = Organization {
            id: new_id(),
            name: r.name,
            created_on: Some(now()),
            default_region: DEFAULT_REGION.into(),
            ..Default::default()
        };
        self.organizations.push(OrgRecord { org: Pb(org.clone()), ..Default::default() });
        self.authorizations.push(Pb(org_owner_grant(&org.id, caller)));
        Ok(CreateOrganizationResponse { organization: Some(org) })
    }

    /// The organizations the calling key holds any grant in.
    pub fn list_organizations(
        &self,
        _: ListOrganizationsRequest,
        caller: &str,
    ) -> Result<ListOrganizationsResponse, Status> {
        let organizations = self
            .organizations
            .iter()
            .filter(|r| self.has_grant_in(caller, &r.org.id))
            .map(|r| r.org.0.clone())
            .collect();
        Ok(ListOrganizationsResponse { organizations })
    }

    pub fn get_organizations_with_access_to_location(
        &self,
        r: GetOrganizationsWithAccessToLocationRequest,
    ) -> Result<GetOrganizationsWithAccessToLocationResponse, Status> {
        let location = find(&self.locations, &r.location_id)?;
        let organization_identities = location
            .organizations
            .iter()
            .filter_map(|lo| self.org(&lo.organization_id).ok())
            .map(|o| OrganizationIdentity { id: o.id.clone(), name: o.name.clone() })
            .collect();
        Ok(GetOrganizationsWithAccessToLocationResponse { organization_identities })
    }

    /// Limited, like `list_organizations`, to the organizations the calling key holds a grant in.
    pub fn list_organizations_by_user(
        &self,
        r: ListOrganizationsByUserRequest,
        caller: &str,
    ) -> Result<ListOrganizationsByUserResponse, Status> {
        required(&r.user_id, "user id")?;
        let orgs = self
            .organizations
            .iter()
            .filter(|o| o.members.iter().any(|m| m.user_id == r.user_id) && self.has_grant_in(caller, &o.org.id))
            .map(|o| OrgDetails {
                org_id: o.org.id.clone(),
                org_name: o.org.name.clone(),
                org_cid: o.org.cid.clone(),
                public_namespace: Some(o.org.public_namespace.clone()).filter(|n| !n.is_empty()),
                billing_tier: Some("free".into()),
            })
            .collect();
        Ok(ListOrganizationsByUserResponse { orgs })
    }

    pub fn get_organization(&self, r: GetOrganizationRequest) -> Result<GetOrganizationResponse, Status> {
        Ok(GetOrganizationResponse { organization: Some(self.org(&r.organization_id)?.clone()) })
    }

    pub fn get_organization_namespace_availability(
        &self,
        r: GetOrganizationNamespaceAvailabilityRequest,
    ) -> Result<GetOrganizationNamespaceAvailabilityResponse, Status> {
        check_namespace(&r.public_namespace)?;
        Ok(GetOrganizationNamespaceAvailabilityResponse {
            available: !self.namespace_taken(&r.public_namespace, &r.organization_id),
        })
    }

    pub fn update_organization(&mut self, r: UpdateOrganizationRequest) -> Result<UpdateOrganizationResponse, Status> {
        self.org(&r.organization_id)?;
        if let Some(name) = &r.name {
            required(name, "organization name")?;
        }
        if let Some(namespace) = &r.public_namespace {
            check_namespace(namespace)?;
            if self.namespace_taken(namespace, &r.organization_id) {
                return Err(Status::already_exists(format!("public namespace {namespace:?} is already taken")));
            }
        }
        for import in r.default_fragments.iter().flat_map(|l| &l.fragments) {
            find(&self.fragments, &import.fragment_id)?;
        }
        let org = &mut find_mut(&mut self.organizations, &r.organization_id)?.org;
        if let Some(name) = r.name {
            org.name = name;
        }
        if let Some(namespace) = r.public_namespace {
            org.public_namespace = namespace;
        }
        if let Some(region) = r.region {
            org.default_region = region;
        }
        if r.cid.is_some() {
            org.cid = r.cid;
        }
        if r.default_fragments.is_some() {
            org.default_fragments = r.default_fragments;
        }
        if r.allowed_login_methods.is_some() {
            org.allowed_login_methods = r.allowed_login_methods;
        }
        Ok(UpdateOrganizationResponse { organization: Some(org.0.clone()) })
    }

    /// Refused while locations remain (like Viam, which makes you empty an organization first); owned
    /// fragments, registry items and role grants go with it.
    pub fn delete_organization(&mut self, r: DeleteOrganizationRequest) -> Result<DeleteOrganizationResponse, Status> {
        let id = r.organization_id;
        let index = index_of(&self.organizations, &id)?;
        let owned = self.locations.iter().filter(|l| super::primary_org(l) == id).count();
        if owned > 0 {
            return Err(Status::failed_precondition(format!(
                "organization {id:?} still has {owned} location(s); delete them first"
            )));
        }
        self.organizations.remove(index);
        for location in &mut self.locations {
            location.organizations.retain(|lo| lo.organization_id != id);
        }
        self.fragments.retain(|f| f.fragment.organization_owner != id);
        let removed_items: Vec<String> =
            self.registry_items.iter().filter(|i| i.organization_id == id).map(|i| i.item_id.clone()).collect();
        self.registry_items.retain(|i| i.organization_id != id);
        self.module_files.retain(|f| !removed_items.contains(&f.module_id));
        self.authorizations.retain(|a| a.organization_id != id);
        self.drop_keys_without_authorizations();
        Ok(DeleteOrganizationResponse {})
    }

    pub fn list_organization_members(
        &self,
        r: ListOrganizationMembersRequest,
    ) -> Result<ListOrganizationMembersResponse, Status> {
        let record = find(&self.organizations, &r.organization_id)?;
        Ok(ListOrganizationMembersResponse {
            organization_id: r.organization_id,
            members: record.members.iter().map(|m| m.0.clone()).collect(),
            invites: record.invites.iter().map(|i| i.0.clone()).collect(),
        })
    }

    pub fn create_organization_invite(
        &mut self,
        r: CreateOrganizationInviteRequest,
    ) -> Result<CreateOrganizationInviteResponse, Status> {
        let record = find(&self.organizations, &r.organization_id)?;
        check_email(&r.email)?;
        let email_taken = record.members.iter().flat_map(|m| &m.emails).any(|e| e.eq_ignore_ascii_case(&r.email))
            || invite_index(record, &r.email).is_ok();
        if email_taken {
            return Err(Status::already_exists(format!(
                "{:?} is already a member of or invited to the organization",
                r.email
            )));
        }
        if r.authorizations.is_empty() {
            return Err(Status::invalid_argument("at least one authorization is required"));
        }
        for a in &r.authorizations {
            self.check_grant(a, &r.organization_id)?;
        }
        let invite = OrganizationInvite {
            organization_id: r.organization_id.clone(),
            email: r.email,
            created_on: Some(now()),
            authorizations: r.authorizations,
        };
        find_mut(&mut self.organizations, &r.organization_id)?.invites.push(Pb(invite.clone()));
        Ok(CreateOrganizationInviteResponse { invite: Some(invite) })
    }

    pub fn update_organization_invite_authorizations(
        &mut self,
        r: UpdateOrganizationInviteAuthorizationsRequest,
    ) -> Result<UpdateOrganizationInviteAuthorizationsResponse, Status> {
        let record = find(&self.organizations, &r.organization_id)?;
        let index = invite_index(record, &r.email)?;
        for a in &r.add_authorizations {
            self.check_grant(a, &r.organization_id)?;
        }
        let mut authorizations = record.invites[index].authorizations.clone();
        authorizations.retain(|a| !r.remove_authorizations.contains(a));
        for a in r.add_authorizations {
            if !authorizations.contains(&a) {
                authorizations.push(a);
            }
        }
        if authorizations.is_empty() {
            return Err(Status::invalid_argument("an invite needs at least one authorization"));
        }
        let invite = &mut find_mut(&mut self.organizations, &r.organization_id)?.invites[index];
        invite.authorizations = authorizations;
        Ok(UpdateOrganizationInviteAuthorizationsResponse { invite: Some(invite.0.clone()) })
    }

    pub fn delete_organization_member(
        &mut self,
        r: DeleteOrganizationMemberRequest,
    ) -> Result<DeleteOrganizationMemberResponse, Status> {
        let record = find_mut(&mut self.organizations, &r.organization_id)?;
        let index = record
            .members
            .iter()
            .position(|m| m.user_id == r.user_id)
            .ok_or_else(|| super::not_found("member", &r.user_id))?;
        record.members.remove(index);
        self.authorizations.retain(|a| !(a.organization_id == r.organization_id && a.identity_id == r.user_id));
        Ok(DeleteOrganizationMemberResponse {})
    }

    pub fn delete_organization_invite(
        &mut self,
        r: DeleteOrganizationInviteRequest,
    ) -> Result<DeleteOrganizationInviteResponse, Status> {
        let record = find_mut(&mut self.organizations, &r.organization_id)?;
        let index = invite_index(record, &r.email)?;
        record.invites.remove(index);
        Ok(DeleteOrganizationInviteResponse {})
    }

    pub fn resend_organization_invite(
        &self,
        r: ResendOrganizationInviteRequest,
    ) -> Result<ResendOrganizationInviteResponse, Status> {
        let record = find(&self.organizations, &r.organization_id)?;
        let invite = &record.invites[invite_index(record, &r.email)?];
        Ok(ResendOrganizationInviteResponse { invite: Some(invite.0.clone()) })
    }
}
