//! A name where an id belongs: when a call fails because an id argument names nothing, and its value
//! is the name of a thing of that kind, the error says which ids carry that name. The lookup only
//! reads, and is bounded: one listing per organization, for at most `MAX_ORGS` organizations, and
//! only for values that are not shaped like ids.
use super::App;
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;

const MAX_ORGS: usize = 10;

#[derive(Clone, Copy)]
enum Kind {
    Organization,
    Location,
    Robot,
    Part,
    Fragment,
}

impl Kind {
    fn of_argument(argument: &str) -> Option<Kind> {
        match argument {
            "org_id" | "organization_id" => Some(Kind::Organization),
            "location_id" | "parent_location_id" => Some(Kind::Location),
            "robot_id" => Some(Kind::Robot),
            "robot_part_id" | "part_id" => Some(Kind::Part),
            "fragment_id" => Some(Kind::Fragment),
            _ => None,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Organization => "organization",
            Kind::Location => "location",
            Kind::Robot => "robot",
            Kind::Part => "robot part",
            Kind::Fragment => "fragment",
        }
    }
}

/// Viam ids are UUIDs; a value of that shape is a wrong id, not a name.
fn looks_like_id(value: &str) -> bool {
    value.len() == 36
        && value
            .char_indices()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// `error` with the ids of the things named like a not-found id argument, when there are any.
pub async fn explain(app: &App, error: ToolError, ids: &[(String, String)]) -> ToolError {
    let ToolError::Grpc { code: code @ (tonic::Code::NotFound | tonic::Code::InvalidArgument), message, hint } = error
    else {
        return error;
    };
    let mut found = Vec::new();
    for (argument, value) in ids.iter().filter(|(_, v)| !looks_like_id(v)) {
        let Some(kind) = Kind::of_argument(argument) else { continue };
        // A failed lookup leaves the original error as it was.
        let matches = named(app, kind, value).await.unwrap_or_default();
        if !matches.is_empty() {
            found.push((argument, value, kind, matches));
        }
    }
    if found.is_empty() {
        return ToolError::Grpc { code, message, hint };
    }
    let mut notes = Vec::new();
    let mut retry = Vec::new();
    for (argument, value, kind, matches) in found {
        let noun = kind.noun();
        let listed: Vec<String> = matches.iter().map(|(id, place)| format!("{id}{place}")).collect();
        let which = if matches.len() == 1 {
            format!("the {noun} named {value:?} is {}", listed[0])
        } else {
            format!("the {noun}s named {value:?} are {}", listed.join(", "))
        };
        notes.push(format!("no {noun} has id {value:?}; {which}"));
        retry.push(format!("{argument} {:?}", matches[0].0));
    }
    ToolError::Grpc {
        code,
        message: format!("{} ({message})", notes.join("; ")),
        hint: Some(format!("Pass the id, not the name: call again with {}.", retry.join(", "))),
    }
}

/// The ids of things of `kind` named `name`, each with where it is (" in location X") when that helps.
async fn named(app: &App, kind: Kind, name: &str) -> Result<Vec<(String, String)>, ToolError> {
    let orgs = app.read(app::ListOrganizationsRequest {}).await?.organizations;
    let mut found = Vec::new();
    if let Kind::Organization = kind {
        return Ok(orgs.into_iter().filter(|o| o.name == name).map(|o| (o.id, String::new())).collect());
    }
    for org in orgs.into_iter().take(MAX_ORGS) {
        let organization_id = org.id;
        match kind {
            Kind::Location => {
                let locations = app.read(app::ListLocationsRequest { organization_id }).await?.locations;
                found.extend(locations.into_iter().filter(|l| l.name == name).map(|l| (l.id, String::new())));
            }
            Kind::Fragment => {
                let request = app::ListFragmentsRequest { organization_id, ..Default::default() };
                let fragments = app.read(request).await?.fragments;
                found.extend(fragments.into_iter().filter(|f| f.name == name).map(|f| (f.id, String::new())));
            }
            Kind::Robot | Kind::Part => {
                let request = app::ListMachineSummariesRequest { organization_id, ..Default::default() };
                let summaries = app.read(request).await?.location_summaries;
                for location in summaries {
                    let place = format!(" (in location {:?})", location.location_name);
                    for machine in location.machine_summaries {
                        if let Kind::Robot = kind {
                            if machine.machine_name == name {
                                found.push((machine.machine_id, place.clone()));
                            }
                            continue;
                        }
                        let place = format!(" (of machine {:?})", machine.machine_name);
                        let parts = machine.part_summaries.into_iter().filter(|p| p.part_name == name);
                        found.extend(parts.map(|p| (p.part_id, place.clone())));
                    }
                }
            }
            Kind::Organization => {}
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_values_not_shaped_like_ids_are_looked_up() {
        assert!(looks_like_id("de300000-0003-4000-8000-000000000001"));
        assert!(!looks_like_id("rover-1"));
        assert!(!looks_like_id("de300000-0003-4000-8000-00000000000g"));
    }
}
