//! `completion/complete`: organizations, locations, machines, parts and fragments by a prefix or a
//! substring of their name, from listings read through the exposed list tools. A listing is kept
//! for a few seconds, so typing sends one listing, not one per keystroke; each is bounded in pages
//! and organizations.
use super::Surface;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// How long a listing answers completions before it is read again.
const KEPT_FOR: Duration = Duration::from_secs(10);
/// The organizations searched when the argument names none.
const MAX_ORGS: usize = 20;
/// The pages read of one listing.
const MAX_PAGES: usize = 50;
/// The most values one completion offers (the spec's limit).
pub const MAX_VALUES: usize = 100;

/// What an argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Organization,
    Location,
    Machine,
    Part,
    Fragment,
}

/// One thing a completion can offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub id: String,
    pub name: String,
}

impl Named {
    /// As a prompt argument offers it: the name a person picks by, and the id it stands for.
    pub fn labelled(&self) -> String {
        format!("{} ({})", self.name, self.id)
    }
}

/// One listing, read by the first completion that needs it; the others wait for it.
type Listing = Arc<OnceCell<Arc<Vec<Named>>>>;

/// What a listing lists: a kind, in one organization or (`None`) in every one.
type Listed = (Kind, Option<String>);

/// The listings read lately, with when each was asked for.
#[derive(Default)]
pub struct Names(Mutex<HashMap<Listed, (Instant, Listing)>>);

impl Surface {
    /// Whether this kind can be completed: the tools that list it are exposed.
    pub fn completes(&self, kind: Kind) -> bool {
        let tools: &[&str] = match kind {
            Kind::Organization => &["list_organizations"],
            Kind::Location => &["list_organizations", "list_locations"],
            Kind::Machine => &["list_organizations", "list_locations", "list_robots_for_locations"],
            // A part's name is in its machine's summary row.
            Kind::Part => &["list_organizations", "list_machine_summaries"],
            Kind::Fragment => &["list_organizations", "list_fragments"],
        };
        tools.iter().all(|tool| self.exposes(tool))
    }

    /// Everything of `kind` in `org` (or in the first organizations this server sees), read once
    /// per [`KEPT_FOR`] however many ask at once.
    pub async fn names(&self, kind: Kind, org: Option<&str>) -> Arc<Vec<Named>> {
        let listing = {
            let mut kept = self.names.0.lock().unwrap_or_else(|e| e.into_inner());
            kept.retain(|_, (read, _)| read.elapsed() < KEPT_FOR);
            let key = (kind, org.map(str::to_string));
            kept.entry(key).or_insert_with(|| (Instant::now(), Listing::default())).1.clone()
        };
        listing.get_or_init(|| async { Arc::new(Box::pin(self.look_up(kind, org)).await) }).await.clone()
    }

    async fn look_up(&self, kind: Kind, org: Option<&str>) -> Vec<Named> {
        if !self.completes(kind) {
            return Vec::new();
        }
        if kind == Kind::Organization {
            return named(&self.listing("list_organizations", json!({}), "organizations").await, "id");
        }
        let orgs = match org {
            Some(org) => vec![org.to_string()],
            None => self.names(Kind::Organization, None).await.iter().take(MAX_ORGS).map(|o| o.id.clone()).collect(),
        };
        let mut found = Vec::new();
        for org in orgs {
            let in_org = json!({"org_id": org});
            found.extend(match kind {
                Kind::Location => named(&self.listing("list_locations", in_org, "locations").await, "id"),
                Kind::Machine => {
                    let locations: Vec<String> =
                        self.names(Kind::Location, Some(&org)).await.iter().map(|l| l.id.clone()).collect();
                    let robots = json!({"location_ids": locations});
                    named(&self.listing("list_robots_for_locations", robots, "robots").await, "id")
                }
                Kind::Part => {
                    // The summaries' own page size is small by default.
                    let summaries = json!({"org_id": org, "limit": 500});
                    let machines = self.listing("list_machine_summaries", summaries, "machines").await;
                    let parts: Vec<Value> =
                        machines.iter().filter_map(|m| m["parts"].as_array()).flatten().cloned().collect();
                    named(&parts, "part_id")
                }
                Kind::Fragment => named(&self.listing("list_fragments", in_org, "fragments").await, "id"),
                Kind::Organization => Vec::new(),
            });
        }
        found
    }

    /// A listing's items, page after page, at most [`MAX_PAGES`]; a failed page ends it.
    async fn listing(&self, tool: &str, mut arguments: Value, list: &str) -> Vec<Value> {
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let Ok(page) = self.read(tool, arguments.clone()).await else { break };
            let mut page = page.value;
            if let Some(Value::Array(listed)) = page.get_mut(list) {
                items.append(listed);
            }
            match page.get("next_cursor").and_then(Value::as_str) {
                Some(cursor) => arguments["cursor"] = json!(cursor),
                None => break,
            }
        }
        items
    }

    /// What `typed` stands for: an id, `name (id)` as completion offers it, or a name that only
    /// one thing has.
    pub async fn resolve(&self, kind: Kind, typed: &str, org: Option<&str>) -> Option<Named> {
        let typed = typed.trim();
        let id = typed.rsplit_once(" (").and_then(|(_, id)| id.strip_suffix(')')).unwrap_or(typed);
        let names = self.names(kind, org).await;
        if let Some(found) = names.iter().find(|n| n.id == id) {
            return Some(found.clone());
        }
        let mut same_name = names.iter().filter(|n| n.name.eq_ignore_ascii_case(typed));
        match (same_name.next(), same_name.next()) {
            (Some(only), None) => Some(only.clone()),
            _ => None,
        }
    }
}

/// The items' ids (in field `id`) and names.
fn named(items: &[Value], id: &str) -> Vec<Named> {
    let one =
        |item: &Value| Some(Named { id: item[id].as_str()?.to_string(), name: item["name"].as_str()?.to_string() });
    items.iter().filter_map(one).collect()
}

/// The names that match `typed`, best first: a name starting with it, then a name containing it,
/// then an id starting with it (case-insensitive), each in name order; at most [`MAX_VALUES`],
/// with how many matched in all.
pub fn matching<'a>(names: &'a [Named], typed: &str) -> (Vec<&'a Named>, usize) {
    let typed = typed.trim().to_lowercase();
    let rank = |n: &Named| {
        let name = n.name.to_lowercase();
        if name.starts_with(&typed) {
            Some(0)
        } else if name.contains(&typed) {
            Some(1)
        } else if n.id.to_lowercase().starts_with(&typed) {
            Some(2)
        } else {
            None
        }
    };
    let mut found: Vec<(u8, &Named)> = names.iter().filter_map(|n| rank(n).map(|r| (r, n))).collect();
    found.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.name.cmp(&y.name)).then_with(|| x.id.cmp(&y.id)));
    found.dedup_by(|(_, x), (_, y)| x.id == y.id);
    let total = found.len();
    (found.into_iter().take(MAX_VALUES).map(|(_, n)| n).collect(), total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str, id: &str) -> Named {
        Named { id: id.into(), name: name.into() }
    }

    #[test]
    fn prefixes_come_before_substrings_and_ids_last() {
        let names =
            [named("arm-station", "a1"), named("big-rover", "b1"), named("rover-2", "r2"), named("rover-1", "r1")];
        let (found, total) = matching(&names, "ROV");
        let found: Vec<&str> = found.iter().map(|n| n.name.as_str()).collect();
        assert_eq!((found, total), (vec!["rover-1", "rover-2", "big-rover"], 3));
        let (by_id, _) = matching(&names, "a1");
        assert_eq!(by_id, [&names[0]]);
    }

    #[test]
    fn at_most_a_hundred_values_and_how_many_matched() {
        let names: Vec<Named> = (0..250).map(|i| named(&format!("m-{i:03}"), &format!("id-{i}"))).collect();
        let (found, total) = matching(&names, "m-");
        assert_eq!((found.len(), total), (MAX_VALUES, 250));
        assert_eq!(found[0].name, "m-000");
    }
}
