//! Locations (nested through `parent_location_id`, shared between organizations) and their secrets.
use tonic::Status;

use super::{Pb, State, find, find_mut, index_of, new_id, new_secret, new_shared_secret, now, remove_secret, required};
use crate::proto::viam::app::v1::*;

/// The organization that owns a location (as opposed to ones it is shared with).
pub fn primary_org(location: &Location) -> &str {
    location.organizations.iter().find(|o| o.primary).map_or("", |o| &o.organization_id)
}

/// The deprecated single `secret` mirrors the first of `secrets`.
#[allow(deprecated)]
pub fn sync_location_secret(auth: &mut LocationAuth) {
    auth.secret = auth.secrets.first().map(|s| s.secret.clone()).unwrap_or_default();
}

impl State {
    fn location_view(&self, location: &Location) -> Location {
        let robot_count = self.robots.iter().filter(|r| r.location == location.id).count();
        Location { robot_count: robot_count as i32, ..location.clone() }
    }

    fn location_auth_of(&self, location_id: &str) -> Result<LocationAuth, Status> {
        Ok(find(&self.locations, location_id)?.auth.clone().unwrap_or_default())
    }

    fn check_location_name(&self, org_id: &str, name: &str, except_id: &str) -> Result<(), Status> {
        required(name, "location name")?;
        let taken = self.locations.iter().any(|l| l.id != except_id && l.name == name && primary_org(l) == org_id);
        if taken {
            return Err(Status::already_exists(format!(
                "a location named {name:?} already exists in the organization"
            )));
        }
        Ok(())
    }

    /// `parent` must be in the same organization, and moving `moving` under it must not create a cycle.
    fn check_parent(&self, org_id: &str, parent: &str, moving: &str) -> Result<(), Status> {
        let mut current = find(&self.locations, parent)?;
        if primary_org(current) != org_id {
            return Err(Status::invalid_argument(format!(
                "parent location {parent:?} belongs to another organization"
            )));
        }
        loop {
            if current.id == moving {
                return Err(Status::invalid_argument("a location cannot be moved under itself"));
            }
            if current.parent_location_id.is_empty() {
                return Ok(());
            }
            current = find(&self.locations, &current.parent_location_id)?;
        }
    }

    pub fn create_location(&mut self, r: CreateLocationRequest) -> Result<CreateLocationResponse, Status> {
        let org = self.org(&r.organization_id)?.clone();
        self.check_location_name(&org.id, &r.name, "")?;
        let parent = r.parent_location_id.unwrap_or_default();
        if !parent.is_empty() {
            self.check_parent(&org.id, &parent, "")?;
        }
        let id = new_id();
        let mut auth = LocationAuth {
            location_id: id.clone(),
            secrets: vec![new_shared_secret(new_id(), new_secret(), now())],
            ..Default::default()
        };
        sync_location_secret(&mut auth);
        let location = Location {
            id,
            name: r.name,
            created_on: Some(now()),
            parent_location_id: parent,
            auth: Some(auth),
            organizations: vec![LocationOrganization { organization_id: org.id.clone(), primary: true }],
            robot_count: 0,
            config: Some(StorageConfig { region: org.default_region }),
            primary_org_identity: Some(OrganizationIdentity { id: org.id, name: org.name }),
        };
        self.locations.push(Pb(location.clone()));
        Ok(CreateLocationResponse { location: Some(location) })
    }

    pub fn get_location(&self, r: GetLocationRequest) -> Result<GetLocationResponse, Status> {
        let location = find(&self.locations, &r.location_id)?;
        Ok(GetLocationResponse { location: Some(self.location_view(location)) })
    }

    pub fn update_location(&mut self, r: UpdateLocationRequest) -> Result<UpdateLocationResponse, Status> {
        let org_id = primary_org(find(&self.locations, &r.location_id)?).to_string();
        if let Some(name) = &r.name {
            self.check_location_name(&org_id, name, &r.location_id)?;
        }
        // An empty parent moves the location to the top level.
        if let Some(parent) = r.parent_location_id.as_deref().filter(|p| !p.is_empty()) {
            self.check_parent(&org_id, parent, &r.location_id)?;
        }
        let location = find_mut(&mut self.locations, &r.location_id)?;
        if let Some(name) = r.name {
            location.name = name;
        }
        if let Some(parent) = r.parent_location_id {
            location.parent_location_id = parent;
        }
        if let Some(region) = r.region {
            location.config = Some(StorageConfig { region });
        }
        let location = location.0.clone();
        Ok(UpdateLocationResponse { location: Some(self.location_view(&location)) })
    }

    pub fn delete_location(&mut self, r: DeleteLocationRequest) -> Result<DeleteLocationResponse, Status> {
        let index = index_of(&self.locations, &r.location_id)?;
        let machines = self.robots.iter().filter(|m| m.location == r.location_id).count();
        if machines > 0 {
            return Err(Status::failed_precondition(format!(
                "location {:?} still has {machines} machine(s); delete or move them first",
                r.location_id
            )));
        }
        if self.locations.iter().any(|l| l.parent_location_id == r.location_id) {
            return Err(Status::failed_precondition(format!(
                "location {:?} has child locations; delete or move them first",
                r.location_id
            )));
        }
        self.locations.remove(index);
        self.authorizations.retain(|a| a.resource_id != r.location_id);
        Ok(DeleteLocationResponse {})
    }

    pub fn list_locations(&self, r: ListLocationsRequest) -> Result<ListLocationsResponse, Status> {
        self.org(&r.organization_id)?;
        let locations = self
            .locations
            .iter()
            .filter(|l| l.organizations.iter().any(|o| o.organization_id == r.organization_id))
            .map(|l| self.location_view(l))
            .collect();
        Ok(ListLocationsResponse { locations })
    }

    pub fn share_location(&mut self, r: ShareLocationRequest) -> Result<ShareLocationResponse, Status> {
        self.org(&r.organization_id)?;
        let location = find_mut(&mut self.locations, &r.location_id)?;
        if location.organizations.iter().any(|o| o.organization_id == r.organization_id) {
            return Err(Status::already_exists("the location is already shared with that organization"));
        }
        location.organizations.push(LocationOrganization { organization_id: r.organization_id, primary: false });
        Ok(ShareLocationResponse {})
    }

    pub fn unshare_location(&mut self, r: UnshareLocationRequest) -> Result<UnshareLocationResponse, Status> {
        let location = find_mut(&mut self.locations, &r.location_id)?;
        let index = location
            .organizations
            .iter()
            .position(|o| o.organization_id == r.organization_id)
            .ok_or_else(|| Status::not_found("the location is not shared with that organization"))?;
        if location.organizations[index].primary {
            return Err(Status::failed_precondition("cannot unshare a location from the organization that owns it"));
        }
        location.organizations.remove(index);
        Ok(UnshareLocationResponse {})
    }

    pub fn location_auth(&self, r: LocationAuthRequest) -> Result<LocationAuthResponse, Status> {
        Ok(LocationAuthResponse { auth: Some(self.location_auth_of(&r.location_id)?) })
    }

    pub fn create_location_secret(
        &mut self,
        r: CreateLocationSecretRequest,
    ) -> Result<CreateLocationSecretResponse, Status> {
        let location = find_mut(&mut self.locations, &r.location_id)?;
        let auth = location.auth.get_or_insert_with(Default::default);
        auth.secrets.push(new_shared_secret(new_id(), new_secret(), now()));
        sync_location_secret(auth);
        Ok(CreateLocationSecretResponse { auth: Some(auth.clone()) })
    }

    pub fn delete_location_secret(
        &mut self,
        r: DeleteLocationSecretRequest,
    ) -> Result<DeleteLocationSecretResponse, Status> {
        let location = find_mut(&mut self.locations, &r.location_id)?;
        let auth = location.auth.get_or_insert_with(Default::default);
        remove_secret(&mut auth.secrets, &r.secret_id)?;
        sync_location_secret(auth);
        Ok(DeleteLocationSecretResponse {})
    }
}
