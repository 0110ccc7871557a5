//! The simulated viam-server of each part: what AppService shows of machines that fetch their config.
//!
//! **Check-ins.** A part that is online checks in every check-in period (`--sandbox-checkin-ms`, 2,000
//! by default), at the instants `start + phase + k × period` (k = 0, 1, …), where `start` is when the
//! sandbox started and `phase` (below one period) is a hash of the part id: the same schedule relative
//! to the start on every run. A part that is offline (seeded so) or awaiting setup never checks in.
//!
//! What AppService shows, at the time `now` of the call:
//! - An online part's `last_access` is its latest check-in at or before `now` (never earlier than the
//!   one it was seeded or loaded with), and its `seconds_since_online` is 0. That is in `RobotPart`
//!   (GetRobotPart, GetRobotParts, UpdateRobotPart's answer) and in `PartSummary` (`last_access`,
//!   `last_online`) of ListMachineSummaries.
//! - An offline part's `last_access` stays where it was; `seconds_since_online` is the whole seconds
//!   from it to `now`. A part awaiting setup has no `last_access` and `seconds_since_online` 0 (the
//!   field has no presence: Viam cannot say "never" there).
//! - A machine (`Robot`: GetRobot, ListRobots, ListRobotsForLocations) shows its main part's
//!   `online_state`, `last_access` and `seconds_since_online`.
//!
//! **Config changes.** A change to a part's config (UpdateRobotPart) or to a fragment it imports
//! (UpdateFragment) is applied by the part at its first check-in strictly after the change. Applying
//! checks the config, with the configs of the fragments it imports (at the imported `version`, if any):
//! - a module whose `module_id` is not a module in the sandbox's registry:
//!   `module "<id>" not found in the registry` (logger `rdk.modmanager`);
//! - a component or service whose `model` starts with `broken:`:
//!   `component "<name>": model "<model>" failed to build` (logger `rdk.resource_manager`);
//! - a fragment import whose id is no fragment, or whose `version` the fragment does not have:
//!   `fragment "<id>" not found` / `fragment "<id>" has no revision "<version>"` (logger `rdk.config`).
//!
//! Each problem is one log entry of level `error`, host the part name, time the check-in, visible to
//! GetRobotPartLogs and TailRobotPartLogs.
//! - A config with a broken module takes the part offline at the check-in that applies it: that
//!   check-in still sets `last_access` and logs the problems once; from then on `online_state` is
//!   offline and `last_access` stays. It keeps fetching its config unseen.
//! - Any other problem leaves the part online; it logs its problems again at every check-in (at most
//!   [`LOGGED_CHECKINS`] check-ins' worth per call, when many passed unseen).
//! - A fixed config (for instance a rollback) is applied at the next check-in like any other: the part
//!   comes back online (`last_access` is that check-in) and the error entries stop.
//!
//! The simulation is lazy: every AppService call first brings the parts with something pending (a
//! config not yet applied, or problems to log) up to its time, so the cost is that of those parts, not
//! of the fleet, and no task or timer runs per part. Simulated events reach the state file with the
//! next change that is saved.
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use prost_types::{Struct, Timestamp};
use serde::{Deserialize, Serialize};

use super::{PartRecord, Pb, State, stable_hash};
use crate::proto::viam::app::v1::{OnlineState, Robot, RobotPart};
use crate::proto::viam::common::v1::LogEntry;

/// When a broken part had many check-ins since it was last simulated, only the latest ones log.
pub const LOGGED_CHECKINS: i64 = 10;
const MICROS: i64 = 1_000_000;

fn micros(t: &Timestamp) -> i64 {
    t.seconds.saturating_mul(MICROS).saturating_add(i64::from(t.nanos) / 1000)
}

fn timestamp(us: i64) -> Timestamp {
    Timestamp { seconds: us.div_euclid(MICROS), nanos: (us.rem_euclid(MICROS) * 1000) as i32 }
}

/// When parts check in.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// The sandbox's start, in microseconds since the Unix epoch.
    origin: i64,
    /// In whole milliseconds, as microseconds.
    period: i64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::new(&Timestamp::default(), Duration::from_secs(2))
    }
}

impl Schedule {
    /// `period` is rounded down to whole milliseconds, and is at least one.
    pub fn new(start: &Timestamp, period: Duration) -> Self {
        let ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX / MICROS).clamp(1, i64::MAX / MICROS);
        Schedule { origin: micros(start), period: ms * 1000 }
    }

    fn first(&self, part_id: &str) -> i64 {
        let ms = (self.period / 1000) as u64;
        self.origin + (stable_hash(part_id) % ms) as i64 * 1000
    }

    /// The part's latest check-in at or before `now`, if it had one since the start.
    fn latest(&self, part_id: &str, now: i64) -> Option<i64> {
        let first = self.first(part_id);
        (now >= first).then(|| first + (now - first) / self.period * self.period)
    }

    /// The part's first check-in strictly after `after`.
    fn next_after(&self, part_id: &str, after: i64) -> i64 {
        let first = self.first(part_id);
        if after < first { first } else { first + ((after - first) / self.period + 1) * self.period }
    }
}

/// The simulation's own bookkeeping, not saved: rebuilt by [`State::start_servers`].
#[derive(Clone, Debug, Default)]
pub struct Servers {
    schedule: Schedule,
    /// Ids of the parts with something pending.
    pending: BTreeSet<String>,
    /// A cache of where each part is in `State::parts`.
    positions: HashMap<String, usize>,
}

/// One thing wrong with a part's config, as the part logs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub logger: String,
    pub message: String,
    /// A failed module takes the whole part offline.
    #[serde(default)]
    pub takes_offline: bool,
}

/// The simulated server's own record of a part (kept in the state file; all empty for a healthy part).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerState {
    /// The earliest config change (the part's, or an imported fragment's) not yet applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<Pb<Timestamp>>,
    /// The problems of the config the part runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// Offline because of a problem that takes it offline; it still fetches its config.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub down: bool,
    /// The latest check-in simulated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated_to: Option<Pb<Timestamp>>,
}

impl ServerState {
    pub fn is_idle(&self) -> bool {
        *self == ServerState::default()
    }

    /// Whether a call must simulate this part's check-ins.
    fn pending(&self) -> bool {
        self.changed.is_some() || (!self.problems.is_empty() && !self.down)
    }
}

impl PartRecord {
    /// Whether this part's viam-server runs: it is online, or only its config keeps it offline.
    fn runs(&self) -> bool {
        self.part.online_state == OnlineState::Online as i32 || self.server.down
    }

    /// The error entries of the check-ins in `(from, to]`, when the part is online and has problems.
    fn log_checkins(&mut self, schedule: &Schedule, from: i64, to: i64) {
        if self.server.down || self.server.problems.is_empty() || to <= from {
            return;
        }
        let mut at = schedule.next_after(&self.part.id, from);
        let skipped = (to - at).div_euclid(schedule.period) + 1 - LOGGED_CHECKINS;
        if skipped > 0 {
            at += skipped * schedule.period;
        }
        while at <= to {
            self.log_problems(at);
            at += schedule.period;
        }
    }

    fn log_problems(&mut self, at: i64) {
        for problem in self.server.problems.clone() {
            self.push_log(LogEntry {
                host: self.part.name.clone(),
                level: "error".into(),
                time: Some(timestamp(at)),
                logger_name: problem.logger,
                message: problem.message,
                ..Default::default()
            });
        }
    }

    /// The check-in at `at` applies a config with these problems.
    fn apply(&mut self, problems: Vec<Problem>, at: i64) {
        let was_down = self.server.down;
        self.server.down = problems.iter().any(|p| p.takes_offline);
        self.server.problems = problems;
        self.server.changed = None;
        match (was_down, self.server.down) {
            (false, true) => {
                self.part.last_access = Some(timestamp(at));
                self.part.online_state = OnlineState::Offline as i32;
                self.log_problems(at);
            }
            (true, false) => {
                self.part.last_access = Some(timestamp(at));
                self.part.online_state = OnlineState::Online as i32;
            }
            _ => {}
        }
    }

    /// `online_state`, `last_access` and `seconds_since_online` as AppService shows them at `now`.
    fn live(&self, schedule: &Schedule, now: i64) -> (i32, Option<Timestamp>, i64) {
        let part = &self.part;
        let state = part.online_state;
        if state == OnlineState::Online as i32 {
            let checked_in = schedule.latest(&part.id, now);
            let last = match (part.last_access.as_ref().map(micros), checked_in) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            return (state, last.map(timestamp), 0);
        }
        if state == OnlineState::AwaitingSetup as i32 {
            return (state, None, 0);
        }
        let since = part.last_access.as_ref().map_or(0, |t| (now - micros(t)).max(0) / MICROS);
        (state, part.last_access, since)
    }
}

/// A config's fragment imports: plain ids, or objects with `id` and an optional `version`.
fn fragment_imports(config: &Struct) -> Vec<(String, Option<String>)> {
    use prost_types::value::Kind;
    let Some(Kind::ListValue(items)) = config.fields.get("fragments").and_then(|v| v.kind.as_ref()) else {
        return Vec::new();
    };
    let text = |entry: &Struct, field: &str| match entry.fields.get(field).and_then(|v| v.kind.as_ref()) {
        Some(Kind::StringValue(s)) => Some(s.clone()),
        _ => None,
    };
    items
        .values
        .iter()
        .filter_map(|v| match v.kind.as_ref()? {
            Kind::StringValue(id) => Some((id.clone(), None)),
            Kind::StructValue(entry) => Some((text(entry, "id")?, text(entry, "version").filter(|v| !v.is_empty()))),
            _ => None,
        })
        .collect()
}

/// `(name, model)` of each component and service.
fn resources(config: &Struct) -> impl Iterator<Item = (&'static str, String, String)> + '_ {
    use prost_types::value::Kind;
    [("components", "component"), ("services", "service")].into_iter().flat_map(move |(list, what)| {
        let items = match config.fields.get(list).and_then(|v| v.kind.as_ref()) {
            Some(Kind::ListValue(items)) => items.values.as_slice(),
            _ => &[],
        };
        items.iter().filter_map(move |item| {
            let Some(Kind::StructValue(item)) = item.kind.as_ref() else { return None };
            let field = |f: &str| match item.fields.get(f).and_then(|v| v.kind.as_ref()) {
                Some(Kind::StringValue(s)) => s.clone(),
                _ => String::new(),
            };
            Some((what, field("name"), field("model")))
        })
    })
}

impl State {
    /// Starts the parts' servers on `schedule`, picking up what a loaded state left pending.
    pub fn start_servers(&mut self, schedule: Schedule) {
        self.servers.schedule = schedule;
        self.servers.pending =
            self.parts.iter().filter(|r| r.runs() && r.server.pending()).map(|r| r.part.id.clone()).collect();
    }

    /// The part at `index` got a new config at `when` (its own, or an imported fragment's).
    pub fn config_changed(&mut self, index: usize, when: &Timestamp) {
        let record = &mut self.parts[index];
        if !record.runs() {
            return;
        }
        record.server.changed.get_or_insert(Pb(*when));
        self.servers.pending.insert(record.part.id.clone());
    }

    /// Simulates every check-in up to `now` of the parts with something pending.
    pub fn advance(&mut self, now: &Timestamp) {
        let now = micros(now);
        let mut pending = std::mem::take(&mut self.servers.pending);
        pending.retain(|id| self.position(id).is_some_and(|index| self.advance_part(index, now)));
        self.servers.pending = pending;
    }

    /// Where part `id` is in `parts`, through a cache that is rebuilt when parts have moved.
    fn position(&mut self, id: &str) -> Option<usize> {
        let cached =
            self.servers.positions.get(id).copied().filter(|&i| self.parts.get(i).is_some_and(|r| r.part.id == id));
        if cached.is_some() {
            return cached;
        }
        self.servers.positions = self.parts.iter().enumerate().map(|(i, r)| (r.part.id.clone(), i)).collect();
        self.servers.positions.get(id).copied()
    }

    /// Returns whether the part still has something pending.
    fn advance_part(&mut self, index: usize, now: i64) -> bool {
        let schedule = self.servers.schedule;
        let record = &self.parts[index];
        if !record.runs() {
            return false;
        }
        let Some(last) = schedule.latest(&record.part.id, now) else { return true };
        let mut from = record.server.simulated_to.as_ref().map_or(i64::MIN, |t| micros(t));
        if last <= from {
            return true;
        }
        if let Some(changed) = &record.server.changed {
            let apply_at = schedule.next_after(&record.part.id, micros(changed));
            if apply_at <= last {
                let problems = record.part.robot_config.as_ref().map(|c| self.config_problems(c)).unwrap_or_default();
                let record = &mut self.parts[index];
                record.log_checkins(&schedule, from, apply_at - 1);
                record.apply(problems, apply_at);
                // The check-in that applied the config logs as the new config does.
                from = apply_at - 1;
            }
        }
        let record = &mut self.parts[index];
        record.log_checkins(&schedule, from, last);
        record.server.simulated_to = Some(Pb(timestamp(last)));
        record.server.pending()
    }

    /// What the simulated viam-server finds wrong with `config` and the fragments it imports.
    pub fn config_problems(&self, config: &Struct) -> Vec<Problem> {
        let mut problems = self.resource_problems(config);
        for (id, version) in fragment_imports(config) {
            match self.fragment_config(&id, version.as_deref()) {
                Ok(Some(fragment)) => problems.extend(self.resource_problems(fragment)),
                Ok(None) => {}
                Err(message) => problems.push(Problem { logger: "rdk.config".into(), message, takes_offline: false }),
            }
        }
        problems
    }

    fn resource_problems(&self, config: &Struct) -> Vec<Problem> {
        let modules = super::config_refs(Some(config), "modules", "module_id").into_iter();
        let missing = modules.filter(|id| self.module_item(id).is_err()).map(|id| Problem {
            logger: "rdk.modmanager".into(),
            message: format!("module {id:?} not found in the registry"),
            takes_offline: true,
        });
        let broken =
            resources(config).filter(|(_, _, model)| model.starts_with("broken:")).map(|(what, name, model)| Problem {
                logger: "rdk.resource_manager".into(),
                message: format!("{what} {name:?}: model {model:?} failed to build"),
                takes_offline: false,
            });
        missing.chain(broken).collect()
    }

    /// The config of fragment `id` at `version` (the current one when absent or `latest`).
    fn fragment_config(&self, id: &str, version: Option<&str>) -> Result<Option<&Struct>, String> {
        let record = self.fragments.iter().find(|f| f.fragment.id == id).ok_or(format!("fragment {id:?} not found"))?;
        let current = &record.fragment;
        match version.filter(|v| *v != "latest" && *v != current.revision) {
            None => Ok(current.fragment.as_ref()),
            Some(v) => record
                .history
                .iter()
                .find(|e| e.revision == v)
                .map(|e| e.config.as_ref())
                .ok_or(format!("fragment {id:?} has no revision {v:?}")),
        }
    }

    /// A part as AppService shows it now.
    pub fn live_part(&self, record: &PartRecord, now: &Timestamp) -> RobotPart {
        let (online_state, last_access, seconds_since_online) = record.live(&self.servers.schedule, micros(now));
        RobotPart { online_state, last_access, seconds_since_online, ..record.part.0.clone() }
    }

    /// A machine as AppService shows it now: with its main part's state.
    pub fn live_robot(&self, robot: &Robot, main: Option<&PartRecord>, now: &Timestamp) -> Robot {
        let Some(main) = main else { return robot.clone() };
        let (online_state, last_access, seconds_since_online) = main.live(&self.servers.schedule, micros(now));
        Robot { online_state, last_access, seconds_since_online, ..robot.clone() }
    }

    /// `online_state`, `last_access` and `seconds_since_online` of a part summary.
    pub fn live_fields(&self, record: &PartRecord, now: &Timestamp) -> (i32, Option<Timestamp>, i64) {
        record.live(&self.servers.schedule, micros(now))
    }

    /// The main part of each machine that has one.
    pub fn main_parts(&self) -> HashMap<&str, &PartRecord> {
        self.parts.iter().filter(|r| r.part.main_part).map(|r| (r.part.robot.as_str(), r)).collect()
    }

    /// Writes what AppService shows now into every part and machine, for the state file and snapshots.
    pub fn settle(&mut self, now: &Timestamp) {
        let now = micros(now);
        let schedule = self.servers.schedule;
        let mains: HashMap<String, (i32, Option<Timestamp>, i64)> = self
            .parts
            .iter()
            .filter(|r| r.part.main_part)
            .map(|r| (r.part.robot.clone(), r.live(&schedule, now)))
            .collect();
        for record in &mut self.parts {
            let live = record.live(&schedule, now);
            let part = &mut record.part;
            (part.online_state, part.last_access, part.seconds_since_online) = live;
        }
        for robot in &mut self.robots {
            if let Some(&live) = mains.get(&robot.id) {
                (robot.online_state, robot.last_access, robot.seconds_since_online) = live;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::state::{set_part_config, struct_to_json};
    use crate::sandbox::{DEMO_API_KEY, DEMO_API_KEY_ID, Seed, ids, seed};
    use serde_json::json;

    const PERIOD: i64 = 1_000_000;
    const START: i64 = 1_800_000_000 * MICROS;

    fn demo() -> State {
        let start = timestamp(START);
        let mut state = seed::build(Seed::Demo, DEMO_API_KEY_ID, DEMO_API_KEY, &start);
        state.start_servers(Schedule::new(&start, Duration::from_micros(PERIOD as u64)));
        state
    }

    fn index(state: &State, part_id: &str) -> usize {
        state.parts.iter().position(|r| r.part.id == part_id).unwrap()
    }

    /// Gives the part a new config at `at`, as UpdateRobotPart does.
    fn write(state: &mut State, part_id: &str, config: serde_json::Value, at: i64) {
        let i = index(state, part_id);
        state.advance(&timestamp(at));
        set_part_config(&mut state.parts[i].part, Some(crate::sandbox::state::json_to_struct(config).unwrap()));
        state.config_changed(i, &timestamp(at));
    }

    /// `(online_state, last_access in µs, error entries)` of a part at `at`.
    fn seen(state: &mut State, part_id: &str, at: i64) -> (i32, Option<i64>, Vec<(i64, String)>) {
        state.advance(&timestamp(at));
        let record = &state.parts[index(state, part_id)];
        let part = state.live_part(record, &timestamp(at));
        let errors = record
            .logs
            .iter()
            .filter(|e| e.level == "error" && e.logger_name != "rdk.components.camera")
            .map(|e| (micros(e.time.as_ref().unwrap()), e.message.clone()))
            .collect();
        (part.online_state, part.last_access.as_ref().map(micros), errors)
    }

    fn first_checkin(state: &State, part_id: &str) -> i64 {
        state.servers.schedule.next_after(part_id, START - 1)
    }

    const ONLINE: i32 = OnlineState::Online as i32;
    const OFFLINE: i32 = OnlineState::Offline as i32;

    #[test]
    fn an_online_part_checks_in_every_period_and_an_offline_one_never() {
        let mut state = demo();
        let first = first_checkin(&state, ids::PART_ROVER_1_MAIN);
        assert!((START..START + PERIOD).contains(&first));
        let (_, before, _) = seen(&mut state, ids::PART_ROVER_1_MAIN, first - 1);
        assert_eq!(before, Some(START), "seeded as online at the start");
        for k in 0..3 {
            let (online, last, _) = seen(&mut state, ids::PART_ROVER_1_MAIN, first + k * PERIOD + PERIOD / 2);
            assert_eq!((online, last), (ONLINE, Some(first + k * PERIOD)));
        }
        let offline = seen(&mut state, ids::PART_ROVER_2_MAIN, START).1;
        assert!(offline.is_some_and(|t| t < START - DAY_US));
        assert_eq!(seen(&mut state, ids::PART_ROVER_2_MAIN, START + 50 * PERIOD).1, offline);
        let robot = state.robots.iter().find(|r| r.id == ids::ROBOT_ROVER_2).unwrap().0.clone();
        let main = state.parts.iter().find(|r| r.part.id == ids::PART_ROVER_2_MAIN);
        let live = state.live_robot(&robot, main, &timestamp(START + 50 * PERIOD));
        assert_eq!(live.seconds_since_online, 3 * 86_400 + 50);
        // Awaiting setup: never online.
        let bench = state.parts.iter().find(|r| r.part.id == ids::PART_BENCH_MAIN).unwrap();
        let part = state.live_part(bench, &timestamp(START + 50 * PERIOD));
        assert_eq!((part.last_access, part.seconds_since_online), (None, 0));
    }

    const DAY_US: i64 = 86_400 * MICROS;

    #[test]
    fn a_missing_module_logs_and_takes_the_part_offline_at_the_next_checkin_until_fixed() {
        let mut state = demo();
        let part = ids::PART_ROVER_1_MAIN;
        let first = first_checkin(&state, part);
        let written = first + PERIOD / 2;
        let good = struct_to_json(state.parts[0].part.robot_config.as_ref().unwrap());
        let mut bad = good.clone();
        bad["modules"][0]["module_id"] = json!("acme:nope");
        write(&mut state, part, bad, written);
        // Until the next check-in it runs the old config.
        let (online, last, errors) = seen(&mut state, part, first + PERIOD - 1);
        assert_eq!((online, last, errors.len()), (ONLINE, Some(first), 0));
        let applied = first + PERIOD;
        let message = r#"module "acme:nope" not found in the registry"#.to_string();
        assert_eq!(seen(&mut state, part, applied), (OFFLINE, Some(applied), vec![(applied, message.clone())]));
        // Offline: no check-ins seen, no more entries.
        assert_eq!(seen(&mut state, part, applied + 20 * PERIOD), (OFFLINE, Some(applied), vec![(applied, message)]));
        let robot = state.robots.iter().find(|r| r.id == ids::ROBOT_ROVER_1).unwrap().0.clone();
        let live = state.live_robot(&robot, Some(&state.parts[0]), &timestamp(applied + 20 * PERIOD));
        assert_eq!((live.online_state, live.seconds_since_online), (OFFLINE, 20));
        // Fixed: back online at the check-in after the fix, and nothing more is logged.
        let fixed = applied + 20 * PERIOD + PERIOD / 3;
        write(&mut state, part, good, fixed);
        let back = applied + 21 * PERIOD;
        let (online, last, errors) = seen(&mut state, part, back + 5 * PERIOD);
        assert_eq!((online, last, errors.len()), (ONLINE, Some(back + 5 * PERIOD), 1));
        assert!(state.servers.pending.is_empty(), "a healthy part costs nothing");
    }

    #[test]
    fn a_broken_model_logs_at_every_checkin_and_stays_online() {
        let mut state = demo();
        let part = ids::PART_ARM_MAIN;
        let first = first_checkin(&state, part);
        write(&mut state, part, json!({"components": [{"name": "arm", "model": "broken:ur5e"}]}), first);
        let message = r#"component "arm": model "broken:ur5e" failed to build"#.to_string();
        let (online, last, errors) = seen(&mut state, part, first + 3 * PERIOD);
        assert_eq!((online, last), (ONLINE, Some(first + 3 * PERIOD)));
        let expected: Vec<(i64, String)> = (1..=3).map(|k| (first + k * PERIOD, message.clone())).collect();
        assert_eq!(errors, expected);
        // Many check-ins unseen: only the latest ones log.
        let (_, _, errors) = seen(&mut state, part, first + 1000 * PERIOD);
        assert_eq!(errors.len() as i64, 3 + LOGGED_CHECKINS);
        assert_eq!(errors.last().unwrap().0, first + 1000 * PERIOD);
        // Fixed: the entries stop.
        write(&mut state, part, json!({"components": [{"name": "arm", "model": "fake"}]}), first + 1000 * PERIOD + 1);
        let (_, _, after) = seen(&mut state, part, first + 1010 * PERIOD);
        assert_eq!(after.len() as i64, 3 + LOGGED_CHECKINS);
    }

    #[test]
    fn a_missing_fragment_or_revision_logs_errors_and_fragment_changes_are_applied_too() {
        let mut state = demo();
        let part = ids::PART_ARM_GRIPPER;
        let first = first_checkin(&state, part);
        let imports = json!({"fragments": ["nope", {"id": ids::FRAGMENT, "version": "9"}, {"id": ids::FRAGMENT, "version": "1"}]});
        write(&mut state, part, imports, first);
        let (online, _, errors) = seen(&mut state, part, first + PERIOD);
        assert_eq!(online, ONLINE);
        let messages: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(
            messages,
            [r#"fragment "nope" not found"#, &format!("fragment {:?} has no revision \"9\"", ids::FRAGMENT)]
        );
        // A fragment that goes bad reaches the parts importing it at their next check-in.
        let rover = ids::PART_ROVER_1_MAIN;
        let at = first_checkin(&state, rover) + PERIOD / 2;
        state.advance(&timestamp(at));
        let fragment = state.fragments.iter_mut().find(|f| f.fragment.id == ids::FRAGMENT).unwrap();
        let config = json!({"components": [{"name": "imu", "model": "broken:imu"}]});
        crate::sandbox::state::set_fragment_config(
            &mut fragment.fragment,
            crate::sandbox::state::json_to_struct(config).unwrap(),
        );
        state.config_changed(index(&state, rover), &timestamp(at));
        let (_, _, errors) = seen(&mut state, rover, at + PERIOD);
        assert_eq!(
            errors.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>(),
            [r#"component "imu": model "broken:imu" failed to build"#]
        );
    }

    #[test]
    fn a_saved_state_keeps_what_is_pending_and_broken() {
        let mut state = demo();
        let (changed, broken) = (ids::PART_ROVER_1_MAIN, ids::PART_ARM_MAIN);
        write(&mut state, broken, json!({"components": [{"name": "arm", "model": "broken:x"}]}), START);
        seen(&mut state, broken, START + 2 * PERIOD);
        write(&mut state, changed, json!({"modules": [{"module_id": "acme:nope"}]}), START + 2 * PERIOD);
        let saved = serde_json::to_string(&state).unwrap();
        let mut loaded: State = serde_json::from_str(&saved).unwrap();
        let later = START + 100 * PERIOD;
        loaded.start_servers(Schedule::new(&timestamp(later), Duration::from_micros(PERIOD as u64)));
        assert_eq!(loaded.servers.pending, [changed.to_string(), broken.to_string()].into());
        let next = loaded.servers.schedule.next_after(changed, later - 1);
        assert_eq!(seen(&mut loaded, changed, next).0, OFFLINE, "the change made before the restart is applied");
        let (online, _, errors) = seen(&mut loaded, broken, next + PERIOD);
        assert_eq!((online, errors.last().unwrap().0 > later), (ONLINE, true), "still broken, still logging");
    }

    #[test]
    fn a_tail_shows_the_errors_of_broken_checkins() {
        let start = crate::sandbox::state::now();
        let mut state = seed::build(Seed::Demo, DEMO_API_KEY_ID, DEMO_API_KEY, &start);
        state.start_servers(Schedule::new(&start, Duration::from_millis(1)));
        let request = crate::proto::viam::app::v1::TailRobotPartLogsRequest {
            id: ids::PART_ARM_MAIN.into(),
            errors_only: true,
            filter: Some("broken:".into()),
        };
        let mut tail = state.tail_robot_part_logs(request).unwrap();
        write(
            &mut state,
            ids::PART_ARM_MAIN,
            json!({"components": [{"name": "arm", "model": "broken:x"}]}),
            micros(&start),
        );
        let mut seen = Vec::new();
        for _ in 0..500 {
            std::thread::sleep(Duration::from_millis(2));
            seen.extend(state.tail_step(&mut tail, 1).unwrap());
            if seen.len() >= 3 {
                break;
            }
        }
        assert!(seen.len() >= 3, "{seen:?}");
        assert!(seen.iter().all(|e| e.message == r#"component "arm": model "broken:x" failed to build"#), "{seen:?}");
        let times: Vec<i64> = seen.iter().map(|e| micros(e.time.as_ref().unwrap())).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "each check-in once, in order: {times:?}");
    }

    #[test]
    fn the_schedule_is_the_same_relative_to_the_start_on_every_run() {
        let offsets = |start: i64| {
            let schedule = Schedule::new(&timestamp(start), Duration::from_millis(2000));
            let state = demo();
            state.parts.iter().map(|r| schedule.next_after(&r.part.id, start - 1) - start).collect::<Vec<_>>()
        };
        let (a, b) = (offsets(START), offsets(START + 12_345_678));
        assert_eq!(a, b);
        assert!(a.iter().all(|&o| (0..2_000_000).contains(&o)));
        assert!(a.windows(2).any(|w| w[0] != w[1]), "parts check in at different phases: {a:?}");
    }
}
