//! Machines (`Robot`), their parts, part secrets and part history.
use prost_types::{Struct, Timestamp};
use tonic::Status;

use super::{
    PartRecord, Pb, State, check_last_known_update, check_resource_name, config_from, config_json, config_refs, find,
    find_mut, index_of, new_id, new_secret, new_shared_secret, now, page, remove_secret, time_key,
};
use crate::proto::viam::app::v1::*;

/// Sets a part's name and the DNS names derived from it and its location.
pub fn set_part_name(part: &mut RobotPart, name: String) {
    let label = name.to_ascii_lowercase().replace('_', "-");
    part.fqdn = format!("{label}.{}.viam.cloud", part.location_id);
    part.local_fqdn = format!("{label}.{}.local.viam.cloud", part.location_id);
    part.dns_name = label;
    part.name = name;
}

/// Sets a part's config, keeping `robot_config_json` in step.
pub fn set_part_config(part: &mut RobotPart, config: Option<Struct>) {
    part.robot_config_json = Some(config_json(config.as_ref()));
    part.robot_config = config;
}

/// The deprecated single `secret` mirrors the first of `secrets`.
fn sync_part_secret(part: &mut RobotPart) {
    part.secret = part.secrets.first().map(|s| s.secret.clone()).unwrap_or_default();
}

/// A new part of `robot` with one fresh secret.
pub fn new_part(
    id: String,
    name: String,
    robot: &Robot,
    main_part: bool,
    created_on: Timestamp,
    secret: SharedSecret,
) -> RobotPart {
    let mut part = RobotPart {
        id,
        robot: robot.id.clone(),
        location_id: robot.location.clone(),
        main_part,
        created_on: Some(created_on),
        last_updated: Some(created_on),
        secrets: vec![secret],
        online_state: robot.online_state,
        seconds_since_online: robot.seconds_since_online,
        last_access: robot.last_access,
        ..Default::default()
    };
    set_part_name(&mut part, name);
    set_part_config(&mut part, Some(Struct::default()));
    sync_part_secret(&mut part);
    part
}

impl State {
    pub fn part(&self, id: &str) -> Result<&RobotPart, Status> {
        Ok(&find(&self.parts, id)?.part)
    }

    fn parts_of<'a>(&'a self, robot_id: &'a str) -> impl Iterator<Item = &'a RobotPart> + 'a {
        self.parts.iter().map(|p| &p.part.0).filter(move |p| p.robot == robot_id)
    }

    fn check_robot_name(&self, location: &str, name: &str, except_id: &str) -> Result<(), Status> {
        check_resource_name(name, "machine name")?;
        if self.robots.iter().any(|r| r.id != except_id && r.location == location && r.name == name) {
            return Err(Status::already_exists(format!(
                "a machine named {name:?} already exists in location {location:?}"
            )));
        }
        Ok(())
    }

    fn check_part_name(&self, robot_id: &str, name: &str, except_id: &str) -> Result<(), Status> {
        check_resource_name(name, "part name")?;
        if self.parts_of(robot_id).any(|p| p.id != except_id && p.name == name) {
            return Err(Status::already_exists(format!("a part named {name:?} already exists in the machine")));
        }
        Ok(())
    }

    fn add_part(&mut self, robot: &Robot, name: String, main_part: bool) -> String {
        let id = new_id();
        let secret = new_shared_secret(new_id(), new_secret(), now());
        let part = new_part(id.clone(), name, robot, main_part, now(), secret);
        self.parts.push(PartRecord { part: Pb(part), ..Default::default() });
        id
    }

    pub fn get_robot(&self, r: GetRobotRequest) -> Result<GetRobotResponse, Status> {
        let robot = find(&self.robots, &r.id)?;
        let main = self.parts.iter().find(|p| p.part.robot == r.id && p.part.main_part);
        Ok(GetRobotResponse { robot: Some(self.live_robot(robot, main, &now())) })
    }

    /// The sandbox rents out no rovers; the organization must still exist.
    pub fn get_rover_rental_robots(
        &self,
        r: GetRoverRentalRobotsRequest,
    ) -> Result<GetRoverRentalRobotsResponse, Status> {
        self.org(&r.org_id)?;
        Ok(GetRoverRentalRobotsResponse { robots: Vec::new() })
    }

    pub fn get_robot_parts(&self, r: GetRobotPartsRequest) -> Result<GetRobotPartsResponse, Status> {
        find(&self.robots, &r.robot_id)?;
        let now = now();
        let parts = self.parts.iter().filter(|p| p.part.robot == r.robot_id).map(|p| self.live_part(p, &now)).collect();
        Ok(GetRobotPartsResponse { parts })
    }

    pub fn get_robot_part(&self, r: GetRobotPartRequest) -> Result<GetRobotPartResponse, Status> {
        let record = find(&self.parts, &r.id)?;
        let part = &record.part;
        // The text kept in step by `set_part_config`, so a read under the state lock only clones.
        let config_json = part.robot_config_json.clone().unwrap_or_else(|| config_json(part.robot_config.as_ref()));
        Ok(GetRobotPartResponse { config_json, part: Some(self.live_part(record, &now())) })
    }

    /// Newest first, optionally limited to edits between `start` and `end`.
    pub fn get_robot_part_history(&self, r: GetRobotPartHistoryRequest) -> Result<GetRobotPartHistoryResponse, Status> {
        let record = find(&self.parts, &r.id)?;
        let in_range = |e: &RobotPartHistoryEntry| {
            let when = e.when.as_ref().map(time_key);
            r.start.as_ref().is_none_or(|s| when >= Some(time_key(s)))
                && r.end.as_ref().is_none_or(|e| when <= Some(time_key(e)))
        };
        let entries: Vec<RobotPartHistoryEntry> =
            record.history.iter().rev().map(|e| e.0.clone()).filter(in_range).collect();
        let (history, next_page_token) = page(&entries, r.page_token.as_deref(), r.page_limit, 100)?;
        Ok(GetRobotPartHistoryResponse { history, next_page_token })
    }

    /// Records the part as it was in its history before applying the change.
    pub fn update_robot_part(
        &mut self,
        r: UpdateRobotPartRequest,
        caller: &str,
    ) -> Result<UpdateRobotPartResponse, Status> {
        let current = self.part(&r.id)?.clone();
        self.check_part_name(&current.robot, &r.name, &r.id)?;
        check_last_known_update(r.last_known_update.as_ref(), current.last_updated.as_ref(), "robot part")?;
        let config = config_from(r.robot_config_json.as_deref(), r.robot_config)?;
        for fragment_id in config_refs(config.as_ref(), "fragments", "id") {
            find(&self.fragments, &fragment_id)?;
        }
        let index = index_of(&self.parts, &r.id)?;
        let record = &mut self.parts[index];
        let when = now();
        record.history.push(Pb(RobotPartHistoryEntry {
            part: current.id.clone(),
            robot: current.robot.clone(),
            when: Some(when),
            old: Some(current),
            edited_by: Some(AuthenticatorInfo {
                r#type: AuthenticationType::ApiKey as i32,
                value: caller.to_string(),
                is_deactivated: false,
            }),
        }));
        let part = &mut record.part;
        set_part_name(part, r.name);
        // An update without any config keeps the current one (the Python SDK sends none for `{}`).
        if config.is_some() {
            set_part_config(part, config);
        }
        part.last_updated = Some(when);
        self.config_changed(index, &when);
        Ok(UpdateRobotPartResponse { part: Some(self.live_part(&self.parts[index], &when)) })
    }

    pub fn new_robot_part(&mut self, r: NewRobotPartRequest) -> Result<NewRobotPartResponse, Status> {
        let robot = find(&self.robots, &r.robot_id)?.0.clone();
        self.check_part_name(&robot.id, &r.part_name, "")?;
        let main_part = self.parts_of(&robot.id).next().is_none();
        Ok(NewRobotPartResponse { part_id: self.add_part(&robot, r.part_name, main_part) })
    }

    /// A machine always keeps exactly one main part.
    pub fn delete_robot_part(&mut self, r: DeleteRobotPartRequest) -> Result<DeleteRobotPartResponse, Status> {
        let index = index_of(&self.parts, &r.part_id)?;
        let part = &self.parts[index].part;
        if part.main_part {
            let others = self.parts_of(&part.robot).count() - 1;
            let reason = if others > 0 {
                "cannot delete the main part while other parts remain; mark another part as main first"
            } else {
                "cannot delete the only part of a machine; delete the machine instead"
            };
            return Err(Status::failed_precondition(reason));
        }
        self.parts.remove(index);
        Ok(DeleteRobotPartResponse {})
    }

    pub fn get_robot_api_keys(&self, r: GetRobotApiKeysRequest) -> Result<GetRobotApiKeysResponse, Status> {
        find(&self.robots, &r.robot_id)?;
        let api_keys = self
            .api_keys
            .iter()
            .filter(|k| {
                self.authorizations
                    .iter()
                    .any(|a| a.identity_id == k.id && a.resource_type == "robot" && a.resource_id == r.robot_id)
            })
            .map(|k| self.key_with_authorizations(k))
            .collect();
        Ok(GetRobotApiKeysResponse { api_keys })
    }

    pub fn mark_part_as_main(&mut self, r: MarkPartAsMainRequest) -> Result<MarkPartAsMainResponse, Status> {
        let robot = self.part(&r.part_id)?.robot.clone();
        for record in self.parts.iter_mut().filter(|p| p.part.robot == robot) {
            record.part.main_part = record.part.id == r.part_id;
        }
        Ok(MarkPartAsMainResponse {})
    }

    /// The sandbox has no viam-server to restart; the request shows up in the part's logs instead.
    pub fn mark_part_for_restart(
        &mut self,
        r: MarkPartForRestartRequest,
    ) -> Result<MarkPartForRestartResponse, Status> {
        let record = find_mut(&mut self.parts, &r.part_id)?;
        let entry = crate::proto::viam::common::v1::LogEntry {
            host: record.part.name.clone(),
            level: "info".into(),
            time: Some(now()),
            logger_name: "rdk.restart".into(),
            message: "part marked for restart; restarting viam-server".into(),
            ..Default::default()
        };
        record.push_log(entry);
        Ok(MarkPartForRestartResponse {})
    }

    pub fn create_robot_part_secret(
        &mut self,
        r: CreateRobotPartSecretRequest,
    ) -> Result<CreateRobotPartSecretResponse, Status> {
        let index = index_of(&self.parts, &r.part_id)?;
        let part = &mut self.parts[index].part;
        part.secrets.push(new_shared_secret(new_id(), new_secret(), now()));
        sync_part_secret(part);
        Ok(CreateRobotPartSecretResponse { part: Some(self.live_part(&self.parts[index], &now())) })
    }

    pub fn delete_robot_part_secret(
        &mut self,
        r: DeleteRobotPartSecretRequest,
    ) -> Result<DeleteRobotPartSecretResponse, Status> {
        let part = &mut find_mut(&mut self.parts, &r.part_id)?.part;
        remove_secret(&mut part.secrets, &r.secret_id)?;
        sync_part_secret(part);
        Ok(DeleteRobotPartSecretResponse {})
    }

    pub fn list_robots(&self, r: ListRobotsRequest) -> Result<ListRobotsResponse, Status> {
        find(&self.locations, &r.location_id)?;
        let (mains, now) = (self.main_parts(), now());
        let robots = self
            .robots
            .iter()
            .filter(|m| m.location == r.location_id)
            .map(|m| self.live_robot(m, mains.get(m.id.as_str()).copied(), &now))
            .collect();
        Ok(ListRobotsResponse { robots })
    }

    /// Creates the machine together with its main part `<name>-main`.
    pub fn new_robot(&mut self, r: NewRobotRequest) -> Result<NewRobotResponse, Status> {
        find(&self.locations, &r.location)?;
        self.check_robot_name(&r.location, &r.name, "")?;
        let robot = Robot {
            id: new_id(),
            name: r.name,
            location: r.location,
            created_on: Some(now()),
            online_state: OnlineState::AwaitingSetup as i32,
            ..Default::default()
        };
        self.robots.push(Pb(robot.clone()));
        self.add_part(&robot, format!("{}-main", robot.name), true);
        Ok(NewRobotResponse { id: robot.id })
    }

    /// An empty `location` keeps the machine where it is; a new one moves its parts along.
    pub fn update_robot(&mut self, r: UpdateRobotRequest) -> Result<UpdateRobotResponse, Status> {
        let current = find(&self.robots, &r.id)?;
        let location = if r.location.is_empty() { current.location.clone() } else { r.location };
        find(&self.locations, &location)?;
        self.check_robot_name(&location, &r.name, &r.id)?;
        let robot = find_mut(&mut self.robots, &r.id)?;
        robot.name = r.name;
        robot.location = location.clone();
        let robot = robot.0.clone();
        for record in self.parts.iter_mut().filter(|p| p.part.robot == r.id) {
            let part = &mut record.part;
            part.location_id = location.clone();
            let name = std::mem::take(&mut part.name);
            set_part_name(part, name);
        }
        let main = self.parts.iter().find(|p| p.part.robot == r.id && p.part.main_part);
        Ok(UpdateRobotResponse { robot: Some(self.live_robot(&robot, main, &now())) })
    }

    pub fn delete_robot(&mut self, r: DeleteRobotRequest) -> Result<DeleteRobotResponse, Status> {
        let index = index_of(&self.robots, &r.id)?;
        self.robots.remove(index);
        self.parts.retain(|p| p.part.robot != r.id);
        self.authorizations.retain(|a| a.resource_id != r.id);
        Ok(DeleteRobotResponse {})
    }
}
