//! `group_by`: the machines counted per value, biggest group first, each with a few examples; one
//! result however large the fleet.
use super::{GroupBy, Machine, RESULT_BYTES, name_of};
use crate::json_text::compact;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Example machines per group.
const EXAMPLES: usize = 5;

/// One value machines share, as the result shows it.
struct Group {
    value: Option<String>,
    /// Of the location or fragment the value is the id of.
    name: Option<String>,
    count: usize,
    examples: Vec<Value>,
}

/// The groups of `machines` (in listing order, so the examples are the first of each), at most
/// `limit` of them and as many as fit the result; the rest are counted in `other_groups`.
pub(super) fn count(machines: &[Machine], by: GroupBy, limit: usize) -> Value {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Option<String>, usize> = HashMap::new();
    for machine in machines {
        for (value, name) in values(machine, by) {
            let at = *index.entry(value.clone()).or_insert_with(|| {
                groups.push(Group { value, name, count: 0, examples: Vec::new() });
                groups.len() - 1
            });
            let group = &mut groups[at];
            group.count += 1;
            if group.examples.len() < EXAMPLES {
                group.examples.push(machine.example());
            }
        }
    }
    // Biggest first; among equals by value, the unreported last.
    groups.sort_by(|x, y| {
        y.count.cmp(&x.count).then_with(|| (x.value.is_none(), &x.value).cmp(&(y.value.is_none(), &y.value)))
    });
    let mut result = json!({"group_by": name_of(by), "groups": [], "count": 0, "total": machines.len()});
    let other = json!({"other_groups": {"groups": groups.len(), "count": machines.len() * groups.len().max(1)}});
    // Room for `other_groups` at its largest, whether it comes or not.
    let mut bytes = compact(&result).len() + compact(&other).len();
    let mut shown = Vec::new();
    let mut left_out = (0, 0);
    for group in groups {
        let mut shown_group = json!({"value": group.value, "count": group.count, "examples": group.examples});
        if let Some(name) = group.name {
            shown_group["name"] = json!(name);
        }
        let size = compact(&shown_group).len() + 1;
        if shown.len() == limit || bytes + size > RESULT_BYTES {
            left_out = (left_out.0 + 1, left_out.1 + group.count);
            continue;
        }
        bytes += size;
        shown.push(shown_group);
    }
    result["count"] = json!(shown.len());
    result["groups"] = Value::Array(shown);
    if left_out.0 > 0 {
        result["other_groups"] = json!({"groups": left_out.0, "count": left_out.1});
    }
    result
}

/// The values a machine is counted under: one, except with `fragment` (each fragment its parts use,
/// or none).
fn values(machine: &Machine, by: GroupBy) -> Vec<(Option<String>, Option<String>)> {
    let main = machine.main;
    let value = match by {
        GroupBy::OnlineState => Some(name_of(machine.state)),
        GroupBy::ViamServerVersion => machine.server_version(),
        GroupBy::ViamAgentVersion => machine.agent_version(),
        GroupBy::Platform => main.and_then(|p| p.platform.clone()),
        GroupBy::Location => {
            let location = machine.location;
            return vec![(Some(location.location_id.clone()), Some(location.location_name.clone()))];
        }
        GroupBy::Fragment => {
            let fragments = machine.fragments();
            if fragments.is_empty() {
                return vec![(None, None)];
            }
            return fragments.into_iter().map(|(id, name)| (Some(id.to_string()), Some(name.to_string()))).collect();
        }
    };
    vec![(value, None)]
}
