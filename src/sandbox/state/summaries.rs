//! The org-wide fleet view: machines of many locations at once, and machine summaries with part status.
use std::collections::HashMap;

use tonic::Status;

use super::{PartRecord, State, config_refs, find, now, stable_hash};
use crate::proto::viam::app::v1::*;

/// What a part reports about itself once viam-server has run on it. The sandbox has no machines to
/// ask, so it derives a stable answer from the part id (FNV-1a), the same on every run.
fn reported(part: &RobotPart, last_online: Option<prost_types::Timestamp>) -> PartSummary {
    let hash = stable_hash(&part.id);
    let arch = if hash.is_multiple_of(3) { "amd64" } else { "arm64" };
    PartSummary {
        last_online,
        viam_server_version: Some(ViamServerVersion { major: "0".into(), minor: (60 + hash % 6).to_string() }),
        viam_agent_version: Some(ViamAgentVersion { major: "0".into(), minor: (12 + (hash >> 8) % 4).to_string() }),
        os: Some("linux".into()),
        platform: Some(format!("linux/{arch}")),
        public_ip_address: Some(format!("203.0.113.{}", 1 + (hash >> 16) % 254)),
        ..Default::default()
    }
}

impl State {
    pub fn list_robots_for_locations(
        &self,
        r: ListRobotsForLocationsRequest,
    ) -> Result<ListRobotsForLocationsResponse, Status> {
        for id in &r.location_ids {
            find(&self.locations, id)?;
        }
        let (mains, now) = (self.main_parts(), now());
        let robots = self
            .robots
            .iter()
            .filter(|m| r.location_ids.contains(&m.location))
            .map(|m| self.live_robot(m, mains.get(m.id.as_str()).copied(), &now))
            .collect();
        Ok(ListRobotsForLocationsResponse { robots })
    }

    /// Locations by name, then machines by name; `limit` caps the number of machines. A machine
    /// matches `fragment_ids` when one of its parts uses one of them.
    pub fn list_machine_summaries(
        &self,
        r: ListMachineSummariesRequest,
    ) -> Result<ListMachineSummariesResponse, Status> {
        self.org(&r.organization_id)?;
        let mut left = match r.limit {
            Some(l) if l < 0 => return Err(Status::invalid_argument("limit must not be negative")),
            Some(l) if l > 0 => l as usize,
            _ => usize::MAX,
        };
        for id in &r.location_ids {
            find(&self.locations, id)?;
        }
        for id in &r.fragment_ids {
            find(&self.fragments, id)?;
        }
        let fragment_names: HashMap<&str, &str> =
            self.fragments.iter().map(|f| (f.fragment.id.as_str(), f.fragment.name.as_str())).collect();
        let mut parts_of: HashMap<&str, Vec<&PartRecord>> = HashMap::new();
        for record in &self.parts {
            parts_of.entry(record.part.robot.as_str()).or_default().push(record);
        }
        let now = now();
        let mut locations: Vec<&Location> = self
            .locations
            .iter()
            .map(|l| &l.0)
            .filter(|l| l.organizations.iter().any(|o| o.organization_id == r.organization_id))
            .filter(|l| r.location_ids.is_empty() || r.location_ids.contains(&l.id))
            .collect();
        locations.sort_by(|a, b| a.name.cmp(&b.name));
        let mut location_summaries = Vec::new();
        for location in locations {
            let mut robots: Vec<&Robot> =
                self.robots.iter().map(|m| &m.0).filter(|m| m.location == location.id).collect();
            robots.sort_by(|a, b| a.name.cmp(&b.name));
            let mut machine_summaries = Vec::new();
            for robot in robots {
                if left == 0 {
                    break;
                }
                let part_summaries: Vec<PartSummary> = parts_of
                    .get(robot.id.as_str())
                    .into_iter()
                    .flatten()
                    .map(|record| {
                        let part = &record.part;
                        let (online_state, last_access, seconds_since_online) = self.live_fields(record, &now);
                        let awaiting = online_state == OnlineState::AwaitingSetup as i32;
                        let fragments = config_refs(part.robot_config.as_ref(), "fragments", "id")
                            .into_iter()
                            .map(|id| FragmentSummary {
                                name: fragment_names.get(id.as_str()).unwrap_or(&"").to_string(),
                                id,
                            })
                            .collect();
                        PartSummary {
                            part_id: part.id.clone(),
                            part_name: part.name.clone(),
                            fragments,
                            dns_name: Some(part.dns_name.clone()),
                            is_main_part: part.main_part,
                            online_state,
                            seconds_since_online,
                            last_access,
                            ..if awaiting { PartSummary::default() } else { reported(part, last_access) }
                        }
                    })
                    .collect();
                let uses_fragment = |p: &PartSummary| p.fragments.iter().any(|f| r.fragment_ids.contains(&f.id));
                if !r.fragment_ids.is_empty() && !part_summaries.iter().any(uses_fragment) {
                    continue;
                }
                left -= 1;
                machine_summaries.push(MachineSummary {
                    machine_id: robot.id.clone(),
                    machine_name: robot.name.clone(),
                    part_summaries,
                });
            }
            if !machine_summaries.is_empty() {
                location_summaries.push(LocationSummary {
                    location_id: location.id.clone(),
                    location_name: location.name.clone(),
                    machine_summaries,
                });
            }
        }
        Ok(ListMachineSummariesResponse { location_summaries })
    }
}
