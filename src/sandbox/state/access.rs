//! Roles (authorizations of users and API keys) and API keys.
use tonic::Status;

use super::roles::{RESOURCE_TYPES, role_of};
use super::{Pb, State, find, find_mut, index_of, new_id, new_secret, now, required};
use crate::proto::viam::app::v1::*;

fn details(a: &Authorization) -> AuthorizationDetails {
    AuthorizationDetails {
        authorization_type: a.authorization_type.clone(),
        authorization_id: a.authorization_id.clone(),
        resource_type: a.resource_type.clone(),
        resource_id: a.resource_id.clone(),
        org_id: a.organization_id.clone(),
    }
}

impl State {
    /// The organizations a resource belongs to (a location can be shared with several).
    fn resource_orgs(&self, resource_type: &str, id: &str) -> Result<Vec<&str>, Status> {
        Ok(match resource_type {
            "organization" => vec![self.org(id)?.id.as_str()],
            "location" => find(&self.locations, id)?.organizations.iter().map(|o| o.organization_id.as_str()).collect(),
            _ => {
                find(&self.robots, id)?;
                self.robot_org(id).into_iter().collect()
            }
        })
    }

    /// A role grant must name an existing role, on an existing resource of organization `org_id`.
    pub fn check_grant(&self, a: &Authorization, org_id: &str) -> Result<(), Status> {
        if a.authorization_type != "role" {
            return Err(Status::invalid_argument(format!(
                "unsupported authorization type {:?}; only \"role\" exists",
                a.authorization_type
            )));
        }
        if !RESOURCE_TYPES.contains(&a.resource_type.as_str()) {
            return Err(Status::invalid_argument(format!(
                "unknown resource type {:?}; expected one of {RESOURCE_TYPES:?}",
                a.resource_type
            )));
        }
        if !matches!(role_of(a), Some("owner" | "operator")) {
            return Err(Status::invalid_argument(format!(
                "role {:?} does not apply to a {}; use {1}_owner or {1}_operator",
                a.authorization_id, a.resource_type
            )));
        }
        if !a.organization_id.is_empty() && a.organization_id != org_id {
            return Err(Status::invalid_argument("the authorization names a different organization"));
        }
        if !self.resource_orgs(&a.resource_type, &a.resource_id)?.contains(&org_id) {
            return Err(Status::invalid_argument(format!(
                "{} {:?} is not part of organization {org_id:?}",
                a.resource_type, a.resource_id
            )));
        }
        Ok(())
    }

    /// Checks the identity exists and returns its type. The SDK's add_role/remove_role/change_role
    /// leave the type empty, and the service infers it, so it is stored filled in.
    fn identity_type(&self, a: &Authorization) -> Result<&'static str, Status> {
        let is_member = || {
            find(&self.organizations, &a.organization_id).map(|r| r.members.iter().any(|m| m.user_id == a.identity_id))
        };
        let is_key = || find(&self.api_keys, &a.identity_id).is_ok();
        match a.identity_type.as_str() {
            "user" if is_member()? => Ok("user"),
            "user" => Err(Status::not_found(format!("user {:?} is not a member of the organization", a.identity_id))),
            "api-key" => find(&self.api_keys, &a.identity_id).map(|_| "api-key"),
            "" if is_member()? => Ok("user"),
            "" if is_key() => Ok("api-key"),
            "" => Err(Status::not_found(format!("no member or API key {:?} in the organization", a.identity_id))),
            other => Err(Status::invalid_argument(format!(
                "unknown identity type {other:?}; expected \"user\" or \"api-key\""
            ))),
        }
    }

    /// Validates a grant and returns it as stored: with its identity type filled in.
    fn new_authorization(&self, mut a: Authorization) -> Result<Authorization, Status> {
        required(&a.organization_id, "organization id")?;
        self.check_grant(&a, &a.organization_id)?;
        a.identity_type = self.identity_type(&a)?.to_string();
        if self.authorizations.iter().any(|existing| **existing == a) {
            return Err(Status::already_exists("the identity already has this authorization"));
        }
        Ok(a)
    }

    /// The stored grant `a` names; an empty identity type matches any, as the service infers it.
    fn authorization_index(&self, a: &Authorization) -> Result<usize, Status> {
        self.authorizations
            .iter()
            .position(|existing| {
                let same_type = a.identity_type.is_empty() || existing.identity_type == a.identity_type;
                same_type && **existing == Authorization { identity_type: existing.identity_type.clone(), ..a.clone() }
            })
            .ok_or_else(|| Status::not_found("authorization not found"))
    }

    pub fn key_with_authorizations(&self, key: &ApiKey) -> ApiKeyWithAuthorizations {
        let authorizations =
            self.authorizations.iter().filter(|a| a.identity_id == key.id).map(|a| details(a)).collect();
        ApiKeyWithAuthorizations { api_key: Some(key.clone()), authorizations }
    }

    /// A key whose grants all went away (with their organization) can do nothing any more.
    pub fn drop_keys_without_authorizations(&mut self) {
        let authorizations = &self.authorizations;
        self.api_keys.retain(|k| authorizations.iter().any(|a| a.identity_id == k.id));
    }

    fn add_key(&mut self, name: String, grants: Vec<Authorization>) -> (String, String) {
        let key = ApiKey { id: new_id(), key: new_secret(), name, created_on: Some(now()) };
        for grant in grants {
            self.authorizations.push(Pb(Authorization {
                identity_id: key.id.clone(),
                identity_type: "api-key".into(),
                ..grant
            }));
        }
        let ids = (key.id.clone(), key.key.clone());
        self.api_keys.push(Pb(key));
        ids
    }

    pub fn add_role(&mut self, r: AddRoleRequest) -> Result<AddRoleResponse, Status> {
        let a = r.authorization.ok_or_else(|| Status::invalid_argument("authorization is required"))?;
        let a = self.new_authorization(a)?;
        self.authorizations.push(Pb(a));
        Ok(AddRoleResponse {})
    }

    pub fn remove_role(&mut self, r: RemoveRoleRequest) -> Result<RemoveRoleResponse, Status> {
        let a = r.authorization.ok_or_else(|| Status::invalid_argument("authorization is required"))?;
        let index = self.authorization_index(&a)?;
        self.authorizations.remove(index);
        Ok(RemoveRoleResponse {})
    }

    pub fn change_role(&mut self, r: ChangeRoleRequest) -> Result<ChangeRoleResponse, Status> {
        let (Some(old), Some(new)) = (r.old_authorization, r.new_authorization) else {
            return Err(Status::invalid_argument("old_authorization and new_authorization are required"));
        };
        let index = self.authorization_index(&old)?;
        let new = self.new_authorization(new)?;
        self.authorizations[index] = Pb(new);
        Ok(ChangeRoleResponse {})
    }

    pub fn list_authorizations(&self, r: ListAuthorizationsRequest) -> Result<ListAuthorizationsResponse, Status> {
        self.org(&r.organization_id)?;
        let authorizations = self
            .authorizations
            .iter()
            .filter(|a| a.organization_id == r.organization_id)
            .filter(|a| r.resource_ids.is_empty() || r.resource_ids.contains(&a.resource_id))
            .map(|a| a.0.clone())
            .collect();
        Ok(ListAuthorizationsResponse { authorizations })
    }

    pub fn create_key(&mut self, r: CreateKeyRequest) -> Result<CreateKeyResponse, Status> {
        required(&r.name, "key name")?;
        if r.authorizations.is_empty() {
            return Err(Status::invalid_argument("at least one authorization is required"));
        }
        for a in &r.authorizations {
            required(&a.organization_id, "authorization organization id")?;
            self.check_grant(a, &a.organization_id)?;
        }
        let (id, key) = self.add_key(r.name, r.authorizations);
        Ok(CreateKeyResponse { key, id })
    }

    pub fn delete_key(&mut self, r: DeleteKeyRequest) -> Result<DeleteKeyResponse, Status> {
        let index = index_of(&self.api_keys, &r.id)?;
        self.api_keys.remove(index);
        self.authorizations.retain(|a| a.identity_id != r.id);
        Ok(DeleteKeyResponse {})
    }

    pub fn create_key_from_existing_key_authorizations(
        &mut self,
        r: CreateKeyFromExistingKeyAuthorizationsRequest,
    ) -> Result<CreateKeyFromExistingKeyAuthorizationsResponse, Status> {
        let name = format!("{} (copy)", find(&self.api_keys, &r.id)?.name);
        let grants = self.authorizations.iter().filter(|a| a.identity_id == r.id).map(|a| a.0.clone()).collect();
        let (id, key) = self.add_key(name, grants);
        Ok(CreateKeyFromExistingKeyAuthorizationsResponse { id, key })
    }

    /// Keys holding at least one grant in the organization.
    pub fn list_keys(&self, r: ListKeysRequest) -> Result<ListKeysResponse, Status> {
        self.org(&r.org_id)?;
        let api_keys = self
            .api_keys
            .iter()
            .filter(|k| self.authorizations.iter().any(|a| a.identity_id == k.id && a.organization_id == r.org_id))
            .map(|k| self.key_with_authorizations(k))
            .collect();
        Ok(ListKeysResponse { api_keys })
    }

    /// Keeps the key id and grants, replaces the secret.
    pub fn rotate_key(&mut self, r: RotateKeyRequest) -> Result<RotateKeyResponse, Status> {
        let key = find_mut(&mut self.api_keys, &r.id)?;
        key.key = new_secret();
        Ok(RotateKeyResponse { id: key.id.clone(), key: key.key.clone() })
    }

    /// Whether `key` is the current secret of API key `id`.
    pub fn key_matches(&self, id: &str, key: &str) -> bool {
        self.api_keys.iter().any(|k| k.id == id && k.key == key)
    }
}
