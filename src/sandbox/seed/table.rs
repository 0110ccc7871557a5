//! The README's table of the demo fleet, generated from the seed itself so it cannot drift.
use super::super::{DEMO_API_KEY, DEMO_API_KEY_ID, Seed};
use super::build;
use crate::proto::viam::app::packages::v1::PackageType;
use crate::proto::viam::app::v1::OnlineState;

/// `| what | id |` rows naming every seeded thing a README example may use.
pub fn demo_table() -> String {
    let state = build(Seed::Demo, DEMO_API_KEY_ID, DEMO_API_KEY, &crate::sandbox::state::now());
    let mut rows = vec![format!("| API key id / key | `{DEMO_API_KEY_ID}` / `{DEMO_API_KEY}` |")];
    for record in &state.organizations {
        let org = &record.org;
        rows.push(format!("| organization \"{}\" (namespace `{}`) | `{}` |", org.name, org.public_namespace, org.id));
    }
    let location_name = |id: &str| state.locations.iter().find(|l| l.id == id).map(|l| l.name.clone());
    for location in &state.locations {
        let parent = location_name(&location.parent_location_id).map(|p| format!(", in {p}")).unwrap_or_default();
        rows.push(format!("| location {}{parent} | `{}` |", location.name, location.id));
    }
    for robot in &state.robots {
        let online = OnlineState::try_from(robot.online_state).unwrap_or_default();
        let state_name = online.as_str_name().trim_start_matches("ONLINE_STATE_").to_lowercase().replace('_', " ");
        let location = location_name(&robot.location).unwrap_or_default();
        rows.push(format!("| machine `{}` ({location}, {state_name}) | `{}` |", robot.name, robot.id));
        let parts: Vec<String> = state
            .parts
            .iter()
            .filter(|p| p.part.robot == robot.id)
            .map(|p| format!("`{}`{} `{}`", p.part.name, if p.part.main_part { " (main)" } else { "" }, p.part.id))
            .collect();
        rows.push(format!("| its parts | {} |", parts.join(", ")));
    }
    for record in &state.fragments {
        rows.push(format!("| fragment {} | `{}` |", record.fragment.name, record.fragment.id));
    }
    for item in &state.registry_items {
        let kind = if item.r#type == PackageType::Module as i32 { "module" } else { "ML model" };
        rows.push(format!("| {kind} registry item {} | `{}` |", item.name, item.item_id));
    }
    for key in state.api_keys.iter().filter(|k| k.id != DEMO_API_KEY_ID) {
        rows.push(format!("| API key {} id / key | `{}` / `{}` |", key.name, key.id, key.key));
    }
    for record in &state.organizations {
        let emails: Vec<String> = record.members.iter().flat_map(|m| &m.emails).map(|e| format!("`{e}`")).collect();
        rows.push(format!("| members | {} |", emails.join(", ")));
        let invites: Vec<String> = record.invites.iter().map(|i| format!("`{}`", i.email)).collect();
        rows.push(format!("| pending invites | {} |", invites.join(", ")));
    }
    format!("| what | id |\n|---|---|\n{}\n", rows.join("\n"))
}
