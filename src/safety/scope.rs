//! Scope pinning: `--org` / `--location` confine every call that changes something.
//!
//! Every non-read tool's row declares its targets ([`ScopeArg`]s) in its (already validated)
//! arguments. Each target is resolved through read calls to the location and organization it
//! lives in, and the call is refused unless every target is inside the scope. The dispatch runs
//! this before the confirm gate and the RPC, so a refused call sends nothing that changes state;
//! a target that can't be resolved refuses the call too (fail closed).
//!
//! What "inside" means:
//! - Reads are not restricted: pinning bounds what a call may change, and reads are what finds
//!   ids and resolves targets in the first place.
//! - A target in a location (the location, a machine, a part, a role or key on one of them) must
//!   be in a `--location` when any is given, else its location's organization must be in `--org`.
//!   Matching is exact: a location nested under a pinned one is not inside it. A shared location
//!   counts as its primary organization's.
//! - An organization-level target (the organization, its members, invites, fragments, registry
//!   items and modules, roles and keys on the organization) must be in `--org`; with only
//!   `--location` it is refused. A new organization is never inside a scope.
//! - With both flags each target is judged by its kind: `--location` bounds machines and
//!   locations, `--org` allows organization-level changes in those organizations.
//! - Where a call names the organization of a target (roles, keys, invites, a new location's
//!   parent), the target must really be in it, so a mismatched id can't lead outside the scope.
//! - share_location / unshare_location: the organization the location is shared with is an
//!   organization-level target too, since sharing changes what that organization can reach. So
//!   they need that organization in `--org`.
//! - API keys (delete, rotate, copy): the key's organization is the one whose ListKeys holds it;
//!   its targets are the resources its authorizations name.
use crate::call::{App, ScopeArg as Arg};
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;
use rmcp::model::JsonObject;
use serde_json::Value;

#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub orgs: Vec<String>,
    pub locations: Vec<String>,
}

impl Scope {
    pub fn is_unrestricted(&self) -> bool {
        self.orgs.is_empty() && self.locations.is_empty()
    }

    /// Refuses a call whose targets, as its row declares them in `rule`, resolve (through read
    /// calls) outside the pinned scope. A tool that declares none is refused.
    pub async fn check(&self, app: &App, tool: &str, rule: &[Arg], arguments: &JsonObject) -> Result<(), ToolError> {
        if rule.is_empty() {
            return Err(ToolError::OutOfScope {
                message: format!(
                    "{tool} has no scope rule, so it is refused while a scope is pinned ({})",
                    self.describe()
                ),
            });
        }
        for claim in claims(rule, arguments, |given| app.location_or_default(given))? {
            for resolved in resolve(app, claim).await? {
                if !self.contains(&resolved) {
                    return Err(self.refuse(&resolved));
                }
            }
        }
        Ok(())
    }

    /// Refuses a part whose location (of organization `org_id`) is outside the scope.
    pub fn check_part(&self, part_id: &str, location_id: &str, org_id: &str) -> Result<(), ToolError> {
        let part = Resolved {
            what: format!("part {part_id:?}"),
            location: Some(location_id.to_string()),
            org: Some(org_id.to_string()),
        };
        if self.is_unrestricted() || self.contains(&part) { Ok(()) } else { Err(self.refuse(&part)) }
    }

    fn contains(&self, target: &Resolved) -> bool {
        match (&target.location, &target.org) {
            (Some(location), _) if !self.locations.is_empty() => self.locations.contains(location),
            (_, Some(org)) => self.orgs.contains(org),
            (_, None) => false,
        }
    }

    /// `--org O1, O2; --location L1`
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.orgs.is_empty() {
            parts.push(format!("--org {}", self.orgs.join(", ")));
        }
        if !self.locations.is_empty() {
            parts.push(format!("--location {}", self.locations.join(", ")));
        }
        parts.join("; ")
    }

    fn refuse(&self, target: &Resolved) -> ToolError {
        let org_level = target.location.is_none() && self.orgs.is_empty();
        let hint = if org_level { "; organization-level changes need the organization in --org" } else { "" };
        ToolError::OutOfScope {
            message: format!(
                "{}, outside the allowed scope ({}){hint}. Nothing was changed",
                target.describe(),
                self.describe()
            ),
        }
    }
}

/// What a call acts on, before resolution.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    NewOrganization,
    Org(String),
    Location(String),
    Robot(String),
    Part(String),
    Fragment(String),
    RegistryItem(String),
    Module(String),
    /// An API key: it stands for the resources its authorizations name.
    Key(String),
}

/// A target, and the organization the call says it is in, where it names one.
#[derive(Debug, Clone, PartialEq)]
struct Claim {
    target: Target,
    org: Option<String>,
}

/// A non-empty string argument at `path`.
fn text<'a>(arguments: &'a JsonObject, path: &str) -> Option<&'a str> {
    let mut parts = path.split('.');
    let mut value = arguments.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    value.as_str().filter(|s| !s.is_empty())
}

fn required(arguments: &JsonObject, path: &str) -> Result<String, ToolError> {
    text(arguments, path).map(String::from).ok_or_else(|| ToolError::invalid(format!("{path}: missing")))
}

/// The target a role or authorization names by resource type and id.
fn resource(resource_type: &str, resource_id: &str) -> Result<Target, ToolError> {
    let id = resource_id.to_string();
    match resource_type.to_ascii_lowercase().as_str() {
        "organization" => Ok(Target::Org(id)),
        "location" => Ok(Target::Location(id)),
        "robot" => Ok(Target::Robot(id)),
        other => Err(ToolError::OutOfScope {
            message: format!(
                "resource type {other:?} of resource {id:?} is unknown, so it can't be checked against the scope"
            ),
        }),
    }
}

/// The claims a rule makes for one call.
/// `location_or_default` maps an omitted `location_id` to the configured default location.
fn claims(
    rule: &[Arg],
    arguments: &JsonObject,
    location_or_default: impl Fn(Option<&str>) -> Result<String, ToolError>,
) -> Result<Vec<Claim>, ToolError> {
    let plain = |target| Claim { target, org: None };
    let mut out = Vec::new();
    for arg in rule {
        match arg {
            Arg::NewOrganization => out.push(plain(Target::NewOrganization)),
            // The op checks each target itself, with `Scope::check_part`.
            Arg::Targets => {}
            Arg::Org(name) => out.push(plain(Target::Org(required(arguments, name)?))),
            Arg::Location(name) => out.push(plain(Target::Location(required(arguments, name)?))),
            Arg::MaybeLocation(name) => {
                out.extend(text(arguments, name).map(|id| plain(Target::Location(id.into()))));
            }
            Arg::DefaultLocation => {
                out.push(plain(Target::Location(location_or_default(text(arguments, "location_id"))?)));
            }
            Arg::NewLocation => {
                let org = required(arguments, "org_id")?;
                out.push(match text(arguments, "parent_location_id") {
                    Some(parent) => Claim { target: Target::Location(parent.into()), org: Some(org) },
                    None => plain(Target::Org(org)),
                });
            }
            Arg::Robot(name) => out.push(plain(Target::Robot(required(arguments, name)?))),
            Arg::Part(name) => out.push(plain(Target::Part(required(arguments, name)?))),
            Arg::Fragment(name) => out.push(plain(Target::Fragment(required(arguments, name)?))),
            Arg::PartOrFragment => {
                let target = match (text(arguments, "robot_part_id"), text(arguments, "fragment_id")) {
                    (Some(part), None) => Target::Part(part.into()),
                    (None, Some(fragment)) => Target::Fragment(fragment.into()),
                    _ => return Err(ToolError::invalid("robot_part_id, fragment_id: give exactly one of them")),
                };
                out.push(plain(target));
            }
            Arg::RegistryItem(name) => out.push(plain(Target::RegistryItem(required(arguments, name)?))),
            Arg::Module(name) => out.push(plain(Target::Module(required(arguments, name)?))),
            Arg::Key(name) => out.push(plain(Target::Key(required(arguments, name)?))),
            &Arg::Role { org, prefix } => {
                let kind = required(arguments, &format!("{prefix}resource_type"))?;
                let id = required(arguments, &format!("{prefix}resource_id"))?;
                out.push(Claim { target: resource(&kind, &id)?, org: Some(required(arguments, org)?) });
            }
            &Arg::Authorizations { org, lists } => {
                let org = required(arguments, org)?;
                let items: Vec<&Value> =
                    lists.iter().filter_map(|list| arguments.get(*list)?.as_array()).flatten().collect();
                if items.is_empty() {
                    out.push(plain(Target::Org(org.clone())));
                }
                for item in items {
                    let field = |name| item.get(name).and_then(Value::as_str).unwrap_or_default();
                    let target = resource(field("resource_type"), field("resource_id"))?;
                    // An invite's authorization may name its own organization; it must agree too.
                    let own = field("organization_id");
                    if !own.is_empty() && own != org {
                        out.push(Claim { target: target.clone(), org: Some(own.into()) });
                    }
                    out.push(Claim { target, org: Some(org.clone()) });
                }
            }
        }
    }
    Ok(out)
}

/// A target with the location and organization it lives in.
#[derive(Debug, Clone, PartialEq)]
struct Resolved {
    /// How messages name it, e.g. `robot "r1"`.
    what: String,
    /// None for organization-level targets.
    location: Option<String>,
    /// None only for an organization that does not exist yet (or a location without one).
    org: Option<String>,
}

impl Resolved {
    /// `robot "r1" is in location "L2" of organization "O1"`.
    fn describe(&self) -> String {
        let org = self.org.as_deref().map_or("no organization".into(), |o| format!("organization {o:?}"));
        match &self.location {
            Some(location) if self.what == format!("location {location:?}") => format!("{} is in {org}", self.what),
            Some(location) => format!("{} is in location {location:?} of {org}", self.what),
            None if self.org.is_none() => self.what.clone(),
            None if self.what == org => format!("{} is an organization-level target", self.what),
            None => format!("{} belongs to {org}", self.what),
        }
    }
}

/// Resolves a claim through read calls; an API key stands for several targets.
async fn resolve(app: &App, claim: Claim) -> Result<Vec<Resolved>, ToolError> {
    let Target::Key(id) = &claim.target else { return Ok(vec![resolve_one(app, claim).await?]) };
    let (org, authorizations) = find_key(app, id).await?;
    let claims = if authorizations.is_empty() {
        vec![Claim { target: Target::Org(org), org: None }]
    } else {
        authorizations
            .iter()
            .map(|a| Ok(Claim { target: resource(&a.resource_type, &a.resource_id)?, org: Some(org.clone()) }))
            .collect::<Result<_, ToolError>>()?
    };
    let mut resolved = Vec::new();
    for claim in claims {
        resolved.push(resolve_one(app, claim).await?);
    }
    Ok(resolved)
}

async fn resolve_one(app: &App, claim: Claim) -> Result<Resolved, ToolError> {
    let org_level = |what: String, org: String| Resolved { what, location: None, org: Some(org) };
    let resolved = match claim.target {
        Target::NewOrganization => Resolved { what: "a new organization".into(), location: None, org: None },
        Target::Org(id) => org_level(format!("organization {id:?}"), id),
        Target::Location(id) => in_location(app, format!("location {id:?}"), id).await?,
        Target::Robot(id) => {
            let location = robot_location(app, &id).await?;
            in_location(app, format!("robot {id:?}"), location).await?
        }
        Target::Part(id) => {
            let part = app.read(app::GetRobotPartRequest { id: id.clone() }).await?.part.unwrap_or_default();
            let location = robot_location(app, &part.robot).await?;
            in_location(app, format!("part {id:?} of robot {:?}", part.robot), location).await?
        }
        Target::Fragment(id) => {
            let request = app::GetFragmentRequest { id: id.clone(), ..Default::default() };
            let fragment = app.read(request).await?.fragment.unwrap_or_default();
            org_level(format!("fragment {id:?}"), fragment.organization_owner)
        }
        Target::RegistryItem(id) => {
            let request = app::GetRegistryItemRequest { item_id: id.clone(), include_markdown_documentation: None };
            let item = app.read(request).await?.item.unwrap_or_default();
            org_level(format!("registry item {id:?}"), item.organization_id)
        }
        Target::Module(id) => {
            let request = app::GetModuleRequest { module_id: id.clone(), include_markdown_documentation: None };
            let module = app.read(request).await?.module.unwrap_or_default();
            org_level(format!("module {id:?}"), module.organization_id)
        }
        Target::Key(id) => return Err(ToolError::local(format!("API key {id:?} was not expanded"))),
    };
    match claim.org {
        Some(named) if resolved.org.as_ref() != Some(&named) => Err(ToolError::OutOfScope {
            message: format!(
                "{}, not in organization {named:?} that the call names; refused under the pinned scope. \
                 Nothing was changed",
                resolved.describe()
            ),
        }),
        _ => Ok(resolved),
    }
}

async fn robot_location(app: &App, robot_id: &str) -> Result<String, ToolError> {
    let robot = app.read(app::GetRobotRequest { id: robot_id.into() }).await?.robot.unwrap_or_default();
    Ok(robot.location)
}

/// A target in `location_id`, with that location's primary organization.
async fn in_location(app: &App, what: String, location_id: String) -> Result<Resolved, ToolError> {
    let location =
        app.read(app::GetLocationRequest { location_id: location_id.clone() }).await?.location.unwrap_or_default();
    let org = location.primary_org_identity.map(|o| o.id).filter(|id| !id.is_empty()).or_else(|| {
        let primary = location.organizations.iter().find(|o| o.primary).or(location.organizations.first());
        primary.map(|o| o.organization_id.clone())
    });
    Ok(Resolved { what, location: Some(location_id), org })
}

/// The organization whose ListKeys holds API key `id`, and the key's authorizations.
async fn find_key(app: &App, id: &str) -> Result<(String, Vec<app::AuthorizationDetails>), ToolError> {
    match crate::lookup::find_api_key(app, id).await? {
        Some((organization_id, found)) => Ok((organization_id, found.authorizations)),
        None => Err(ToolError::OutOfScope {
            message: format!(
                "API key {id:?} is in no organization this server's API key can list, so it can't be checked \
                 against the pinned scope. Nothing was changed"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope(orgs: &[&str], locations: &[&str]) -> Scope {
        Scope {
            orgs: orgs.iter().map(|s| s.to_string()).collect(),
            locations: locations.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn locations_bound_machines_and_orgs_bound_organization_level_targets() {
        let robot = Resolved { what: "robot \"r\"".into(), location: Some("L1".into()), org: Some("O1".into()) };
        let org = Resolved { what: "organization \"O1\"".into(), location: None, org: Some("O1".into()) };
        let new = Resolved { what: "a new organization".into(), location: None, org: None };
        assert!(scope(&[], &["L1"]).contains(&robot));
        assert!(!scope(&[], &["L2"]).contains(&robot));
        assert!(!scope(&["O1"], &["L2"]).contains(&robot), "--location narrows --org for machines");
        assert!(scope(&["O1"], &[]).contains(&robot));
        assert!(!scope(&[], &["L1"]).contains(&org), "organization-level targets need --org");
        assert!(scope(&["O1"], &["L2"]).contains(&org));
        assert!(!scope(&["O1"], &["L1"]).contains(&new));
    }

    #[test]
    fn messages_name_the_target_and_the_scope() {
        let robot = Resolved { what: "robot \"abc\"".into(), location: Some("L2".into()), org: Some("O1".into()) };
        let e = scope(&["O9"], &["L1"]).refuse(&robot);
        assert_eq!(e.code(), "out_of_scope");
        assert!(
            e.to_string().starts_with(
                "robot \"abc\" is in location \"L2\" of organization \"O1\", outside the allowed scope (--org O9; \
                 --location L1)"
            ),
            "{e}"
        );
        let org = Resolved { what: "organization \"O1\"".into(), location: None, org: Some("O1".into()) };
        assert_eq!(org.describe(), "organization \"O1\" is an organization-level target");
        let e = scope(&[], &["L1"]).refuse(&org);
        assert!(e.to_string().contains("need the organization in --org"), "{e}");
    }

    #[test]
    fn claims_follow_the_arguments() {
        let default = |given: Option<&str>| Ok(given.map_or("Ldef".into(), String::from));
        let claims_of = |rule: &[Arg], v: Value| claims(rule, v.as_object().unwrap(), default).unwrap();
        let plain = |target| Claim { target, org: None };
        let authorizations = [Arg::Authorizations { org: "org_id", lists: &["authorizations"] }];
        assert_eq!(
            claims_of(&[Arg::Robot("robot_id"), Arg::DefaultLocation], json!({"robot_id": "r", "name": "n"})),
            [plain(Target::Robot("r".into())), plain(Target::Location("Ldef".into()))]
        );
        assert_eq!(
            claims_of(&[Arg::NewLocation], json!({"org_id": "O", "name": "n", "parent_location_id": "P"})),
            [Claim { target: Target::Location("P".into()), org: Some("O".into()) }]
        );
        assert_eq!(
            claims_of(&authorizations, json!({"org_id": "O", "authorizations": []})),
            [plain(Target::Org("O".into()))]
        );
        let upload = json!({"module_file_info": {"module_id": "ns:m", "version": "1", "platform": "p"}});
        let module = [Arg::Module("module_file_info.module_id")];
        assert_eq!(claims_of(&module, upload), [plain(Target::Module("ns:m".into()))]);
        let role =
            json!({"org_id": "O", "identity_id": "u", "role": "owner", "resource_type": "ROBOT", "resource_id": "r"});
        let rule = [Arg::Role { org: "org_id", prefix: "" }];
        assert_eq!(claims_of(&rule, role), [Claim { target: Target::Robot("r".into()), org: Some("O".into()) }]);
    }
}
