//! Role checks, like Viam's app: every request names the resources it acts on, and the calling API key needs
//! a role covering each of them. An organization covers its locations, a location its sub-locations and
//! machines, a machine its parts; the organization also covers its fragments, registry items, members and
//! keys. Unknown ids answer NOT_FOUND before any role is checked (the app has to find a resource to learn
//! who may use it); existing resources the key cannot use answer PERMISSION_DENIED.
use std::fmt;

use tonic::Status;

use super::{State, find};
use crate::proto::viam::app::v1::*;

pub const RESOURCE_TYPES: [&str; 3] = ["organization", "location", "robot"];

/// A resource roles are granted on; `kind` is one of `RESOURCE_TYPES`, as in an authorization.
#[derive(Clone, Debug)]
pub struct Resource {
    kind: &'static str,
    id: String,
}

impl Resource {
    fn new(kind: &'static str, id: &str) -> Self {
        Resource { kind, id: id.to_string() }
    }

    fn granted_by(&self, a: &Authorization) -> bool {
        self.kind == a.resource_type && self.id == a.resource_id
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind, self.id)
    }
}

/// Reading makes do with an operator role; anything else takes an owner.
#[derive(Clone, Copy, PartialEq)]
enum Need {
    Read,
    Own,
}

impl Need {
    fn of_method(method: &str) -> Need {
        let read = ["Get", "List", "Tail"].iter().any(|prefix| method.starts_with(prefix))
            || matches!(method, "LocationAuth" | "CheckPermissions");
        if read { Need::Read } else { Need::Own }
    }

    /// Permission names like `read_robot_logs` or `control_robot` are what operators hold.
    fn of_permission(permission: &str) -> Need {
        if permission.starts_with("read_") || permission.starts_with("control_") { Need::Read } else { Need::Own }
    }

    fn met_by(self, role: &str) -> bool {
        role == "owner" || (self == Need::Read && role == "operator")
    }

    fn roles(self) -> &'static str {
        match self {
            Need::Read => "owner or operator",
            Need::Own => "owner",
        }
    }
}

/// `owner` or `operator` for a well-formed `<resource_type>_<role>` authorization id.
pub fn role_of(a: &Authorization) -> Option<&str> {
    a.authorization_id.strip_prefix(&a.resource_type)?.strip_prefix('_')
}

/// The grant that makes an API key the owner of an organization.
pub fn org_owner_grant(org_id: &str, key_id: &str) -> Authorization {
    Authorization {
        authorization_type: "role".into(),
        authorization_id: "organization_owner".into(),
        resource_type: "organization".into(),
        resource_id: org_id.into(),
        identity_id: key_id.into(),
        identity_type: "api-key".into(),
        organization_id: org_id.into(),
    }
}

impl State {
    /// An existing resource of a type roles can be granted on.
    fn resource(&self, resource_type: &str, id: &str) -> Result<Resource, Status> {
        match resource_type {
            "organization" => self.org(id).map(|_| Resource::new("organization", id)),
            "location" => find(&self.locations, id).map(|_| Resource::new("location", id)),
            "robot" => find(&self.robots, id).map(|_| Resource::new("robot", id)),
            other => Err(Status::invalid_argument(format!(
                "unknown resource type {other:?}; expected one of {RESOURCE_TYPES:?}"
            ))),
        }
    }

    fn org_of(&self, org_id: &str) -> Result<Resource, Status> {
        self.resource("organization", org_id)
    }

    /// Parts are covered by their machine.
    fn robot_of_part(&self, part_id: &str) -> Result<Resource, Status> {
        Ok(Resource::new("robot", &self.part(part_id)?.robot))
    }

    fn org_of_fragment(&self, fragment_id: &str) -> Result<Resource, Status> {
        Ok(Resource::new("organization", &find(&self.fragments, fragment_id)?.fragment.organization_owner))
    }

    fn org_of_item(&self, item_id: &str) -> Result<Resource, Status> {
        Ok(Resource::new("organization", &find(&self.registry_items, item_id)?.organization_id))
    }

    fn org_of_module(&self, module_id: &str) -> Result<Resource, Status> {
        Ok(Resource::new("organization", &self.module_item(module_id)?.organization_id))
    }

    /// The organizations a key holds grants in.
    fn orgs_of_key(&self, key_id: &str) -> Result<Vec<Resource>, Status> {
        find(&self.api_keys, key_id)?;
        let mut orgs: Vec<&str> = self
            .authorizations
            .iter()
            .filter(|a| a.identity_id == key_id)
            .map(|a| a.organization_id.as_str())
            .collect();
        orgs.sort_unstable();
        orgs.dedup();
        Ok(orgs.into_iter().map(|org| Resource::new("organization", org)).collect())
    }

    /// Granting or revoking a role is the business of whoever owns the resource and its organization.
    fn grant_scope(&self, a: &Authorization) -> Result<Vec<Resource>, Status> {
        Ok(vec![self.resource(&a.resource_type, &a.resource_id)?, self.org_of(&a.organization_id)?])
    }

    /// The resource and everything above it: a machine's location, that location's ancestors, and the
    /// organizations they belong to.
    fn scopes(&self, resource: &Resource) -> Vec<Resource> {
        let first_location = match resource.kind {
            "robot" => find(&self.robots, &resource.id).ok().and_then(|r| find(&self.locations, &r.location).ok()),
            "location" => find(&self.locations, &resource.id).ok(),
            _ => None,
        };
        // check_parent keeps the chain acyclic; the bound guards against a hand-edited state file.
        let chain = std::iter::successors(first_location, |l| find(&self.locations, &l.parent_location_id).ok())
            .take(self.locations.len());
        let mut scopes = vec![resource.clone()];
        for location in chain {
            scopes.push(Resource::new("location", &location.id));
            scopes.extend(location.organizations.iter().map(|o| Resource::new("organization", &o.organization_id)));
        }
        scopes
    }

    fn holds(&self, key_id: &str, resource: &Resource, need: Need) -> bool {
        let scopes = self.scopes(resource);
        self.authorizations
            .iter()
            .filter(|a| a.identity_id == key_id)
            .any(|a| scopes.iter().any(|s| s.granted_by(a)) && role_of(a).is_some_and(|role| need.met_by(role)))
    }

    /// Whether the key holds any grant in the organization (on it, or on something inside it).
    pub fn has_grant_in(&self, key_id: &str, org_id: &str) -> bool {
        self.authorizations.iter().any(|a| a.identity_id == key_id && a.organization_id == org_id)
    }

    /// Refuses `method` unless API key `key_id` holds a role covering every resource `request` targets.
    pub fn authorize(&self, key_id: &str, method: &str, request: &impl Target) -> Result<(), Status> {
        let need = Need::of_method(method);
        match request.targets(self)?.into_iter().find(|resource| !self.holds(key_id, resource, need)) {
            Some(resource) => {
                Err(Status::permission_denied(format!("API key {key_id:?} has no {} role on {resource}", need.roles())))
            }
            None => Ok(()),
        }
    }

    /// The asked-for permissions the key holds, on resources it has a role on.
    pub fn check_permissions(
        &self,
        r: CheckPermissionsRequest,
        key_id: &str,
    ) -> Result<CheckPermissionsResponse, Status> {
        let authorized_permissions = r
            .permissions
            .into_iter()
            .filter_map(|mut p| {
                let resource = self.resource(&p.resource_type, &p.resource_id).ok()?;
                p.permissions.retain(|name| self.holds(key_id, &resource, Need::of_permission(name)));
                self.holds(key_id, &resource, Need::Read).then_some(p)
            })
            .collect();
        Ok(CheckPermissionsResponse { authorized_permissions })
    }
}

/// The resources a request acts on. None means any valid key may call it (the answer itself may depend on
/// the key's roles).
pub trait Target {
    fn targets(&self, state: &State) -> Result<Vec<Resource>, Status>;
}

macro_rules! targets {
    ($($($request:ty),+ => |$r:pat_param, $s:pat_param| $targets:expr;)*) => {$($(
        impl Target for $request {
            fn targets(&self, $s: &State) -> Result<Vec<Resource>, Status> {
                let $r = self;
                Ok($targets)
            }
        }
    )+)*};
}

targets! {
    CreateOrganizationRequest, ListOrganizationsRequest, ListOrganizationsByUserRequest, CheckPermissionsRequest
        => |_, _| Vec::new();
    GetUserIdByEmailRequest => |r, s| vec![Resource::new("organization", &s.user_by_email(&r.email)?.0.org.id)];
    GetOrganizationRequest, UpdateOrganizationRequest, DeleteOrganizationRequest, ListOrganizationMembersRequest,
    CreateOrganizationInviteRequest, UpdateOrganizationInviteAuthorizationsRequest, DeleteOrganizationMemberRequest,
    DeleteOrganizationInviteRequest, ResendOrganizationInviteRequest, CreateLocationRequest, ListLocationsRequest,
    ListFragmentsRequest, CreateFragmentRequest, ListAuthorizationsRequest, CreateRegistryItemRequest,
    CreateModuleRequest
        => |r, s| vec![s.org_of(&r.organization_id)?];
    GetRoverRentalRobotsRequest, ListKeysRequest => |r, s| vec![s.org_of(&r.org_id)?];
    // Without an organization the question is about the namespace alone.
    GetOrganizationNamespaceAvailabilityRequest
        => |r, s| if r.organization_id.is_empty() { Vec::new() } else { vec![s.org_of(&r.organization_id)?] };
    // Without an organization only public items are listed.
    ListRegistryItemsRequest, ListModulesRequest
        => |r, s| r.organization_id.iter().map(|id| s.org_of(id)).collect::<Result<_, _>>()?;
    GetOrganizationsWithAccessToLocationRequest, GetLocationRequest, DeleteLocationRequest, UnshareLocationRequest,
    LocationAuthRequest, CreateLocationSecretRequest, DeleteLocationSecretRequest, ListRobotsRequest
        => |r, s| vec![s.resource("location", &r.location_id)?];
    // Moving a location takes an owner of its new parent too.
    UpdateLocationRequest => |r, s| {
        let parent = r.parent_location_id.iter().filter(|p| !p.is_empty());
        parent.chain([&r.location_id]).map(|id| s.resource("location", id)).collect::<Result<_, _>>()?
    };
    ShareLocationRequest => |r, s| vec![s.resource("location", &r.location_id)?, s.org_of(&r.organization_id)?];
    NewRobotRequest => |r, s| vec![s.resource("location", &r.location)?];
    ListRobotsForLocationsRequest
        => |r, s| r.location_ids.iter().map(|id| s.resource("location", id)).collect::<Result<_, _>>()?;
    ListMachineSummariesRequest => |r, s| vec![s.org_of(&r.organization_id)?];
    GetRobotRequest, DeleteRobotRequest => |r, s| vec![s.resource("robot", &r.id)?];
    // Moving a machine takes an owner of its new location too.
    UpdateRobotRequest => |r, s| {
        let mut targets = vec![s.resource("robot", &r.id)?];
        if !r.location.is_empty() {
            targets.push(s.resource("location", &r.location)?);
        }
        targets
    };
    GetRobotPartsRequest, GetRobotApiKeysRequest, NewRobotPartRequest => |r, s| vec![s.resource("robot", &r.robot_id)?];
    GetRobotPartRequest, GetRobotPartLogsRequest, GetRobotPartHistoryRequest, UpdateRobotPartRequest,
    TailRobotPartLogsRequest
        => |r, s| vec![s.robot_of_part(&r.id)?];
    DeleteRobotPartRequest, MarkPartAsMainRequest, MarkPartForRestartRequest, CreateRobotPartSecretRequest,
    DeleteRobotPartSecretRequest
        => |r, s| vec![s.robot_of_part(&r.part_id)?];
    GetFragmentRequest, UpdateFragmentRequest, DeleteFragmentRequest, GetFragmentHistoryRequest
        => |r, s| vec![s.org_of_fragment(&r.id)?];
    GetRegistryItemRequest, UpdateRegistryItemRequest, DeleteRegistryItemRequest
        => |r, s| vec![s.org_of_item(&r.item_id)?];
    GetModuleRequest, UpdateModuleRequest, ModuleFileInfo => |r, s| vec![s.org_of_module(&r.module_id)?];
    // A missing authorization is the RPC's own invalid argument.
    AddRoleRequest, RemoveRoleRequest => |r, s| match &r.authorization {
        Some(a) => s.grant_scope(a)?,
        None => Vec::new(),
    };
    ChangeRoleRequest => |r, s| {
        let grants = r.old_authorization.iter().chain(&r.new_authorization);
        grants.map(|a| s.grant_scope(a)).collect::<Result<Vec<_>, _>>()?.concat()
    };
    CreateKeyRequest => |r, s| {
        r.authorizations.iter().map(|a| s.grant_scope(a)).collect::<Result<Vec<_>, _>>()?.concat()
    };
    DeleteKeyRequest, RotateKeyRequest, CreateKeyFromExistingKeyAuthorizationsRequest
        => |r, s| s.orgs_of_key(&r.id)?;
}
