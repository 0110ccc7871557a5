//! `--seed fleet:N`: a fleet at scale, to see what results and paging look like on a real fleet. Every
//! id, name, state and config is a function of N and an index, and every time a fixed offset from the
//! sandbox's start (no randomness), so two runs with the same N hold the same fleet.
//!
//! One organization ([`ids::ORG`], "Fleet Robotics") with N/100 locations, the first of which holds 20%
//! of the machines; N machines (8 in 10 online, 1 in 10 offline, 1 in 10 awaiting setup) of 1–3 parts
//! with ~2 KB configs; N/50 fragments, each kind's base fragment used by every main part of that kind;
//! N/13 members, N/30 API keys with authorizations, N/100 modules and a few ML models. Machine
//! `noisy` (the first machine, online, in the first location) has a main part with 10,000 log
//! entries and 50 history entries.
use serde_json::{Value, json};

use super::{DAY, Epoch, NOW, config, grant, ids};
use crate::proto::viam::app::mltraining::v1::{ModelFramework, ModelType};
use crate::proto::viam::app::packages::v1::PackageType;
use crate::proto::viam::app::v1::*;
use crate::proto_json::to_struct;
use crate::sandbox::state::{
    FragmentRecord, ModuleFile, OrgRecord, PartRecord, Pb, State, new_part, new_shared_secret, set_fragment_config,
    sync_location_secret, synth_log,
};

/// The largest N `fleet:N` accepts, so a typo cannot make startup take minutes.
pub const MAX_MACHINES: u32 = 20_000;
/// The machine whose main part is full of logs and history.
pub const NOISY: &str = "noisy";
const NOISY_LOGS: u64 = 10_000;
const NOISY_HISTORY: usize = 50;
/// Log entries of every other main part.
const MAIN_PART_LOGS: u64 = 5;

const NAMESPACE: &str = "fleet-robotics";

const SITES: [&str; 20] = [
    "Austin Depot",
    "Berlin Lab",
    "Chicago Plant",
    "Denver Yard",
    "Eindhoven Fab",
    "Fresno Farm",
    "Gdansk Port",
    "Houston Hub",
    "Irvine Test Center",
    "Jakarta Warehouse",
    "Kyoto Lab",
    "Lyon Plant",
    "Madrid Depot",
    "Nagoya Line",
    "Oslo Dock",
    "Porto Yard",
    "Quebec Site",
    "Reno Warehouse",
    "Seoul Lab",
    "Toronto Plant",
];

/// A kind of machine: its name prefix, the names of its extra parts and the modules it loads.
struct Kind {
    name: &'static str,
    parts: [&'static str; 2],
    components: [(&'static str, &'static str, &'static str); 4],
}

const KINDS: [Kind; 5] = [
    Kind {
        name: "rover",
        parts: ["lidar", "camera"],
        components: [
            ("left-wheel", "motor", "gpio"),
            ("right-wheel", "motor", "gpio"),
            ("base", "base", "wheeled"),
            ("imu", "movement_sensor", "viam:imu:wit"),
        ],
    },
    Kind {
        name: "arm",
        parts: ["gripper", "vision"],
        components: [
            ("arm", "arm", "viam:universal-robots:ur5e"),
            ("gripper", "gripper", "viam:robotiq:2f85"),
            ("wrist-cam", "camera", "webcam"),
            ("force", "sensor", "viam:ati:nano25"),
        ],
    },
    Kind {
        name: "conveyor",
        parts: ["sensors", "plc"],
        components: [
            ("belt", "motor", "gpio"),
            ("entry-eye", "sensor", "ultrasonic"),
            ("exit-eye", "sensor", "ultrasonic"),
            ("board", "board", "pi"),
        ],
    },
    Kind {
        name: "inspector",
        parts: ["camera", "lights"],
        components: [
            ("top-cam", "camera", "webcam"),
            ("side-cam", "camera", "webcam"),
            ("ring-light", "generic", "viam:lights:neopixel"),
            ("turntable", "motor", "gpio"),
        ],
    },
    Kind {
        name: "forklift",
        parts: ["mast", "safety"],
        components: [
            ("drive", "motor", "gpio"),
            ("mast", "motor", "gpio"),
            ("fork-cam", "camera", "webcam"),
            ("bumper", "sensor", "viam:bumper:contact"),
        ],
    },
];

/// Module names; past the list, names repeat with a number.
const MODULES: [&str; 10] = [
    "wheel-odometry",
    "lidar-slam",
    "gripper-control",
    "conveyor-plc",
    "vision-inspect",
    "forklift-safety",
    "battery-monitor",
    "thermal-cam",
    "imu-fusion",
    "path-planner",
];

/// An id in the fleet's scheme: `f1ee0000-<kind>-4000-8000-<index>`, kinds numbered as in [`ids`].
fn id(kind: u16, index: usize) -> String {
    format!("f1ee0000-{kind:04x}-4000-8000-{index:012x}")
}

/// The id of the `index`th location; location 0 holds a fifth of the machines.
pub fn location_id(index: usize) -> String {
    id(2, index)
}

/// The id of the `index`th machine; machine 0 is [`NOISY`].
pub fn robot_id(index: usize) -> String {
    id(3, index)
}

/// The main part of the `index`th machine.
pub fn main_part_id(machine: usize) -> String {
    id(4, machine * 3)
}

fn site(index: usize) -> String {
    match index / SITES.len() {
        0 => SITES[index].to_string(),
        round => format!("{} {}", SITES[index % SITES.len()], round + 1),
    }
}

fn module_name(index: usize) -> String {
    match index / MODULES.len() {
        0 => MODULES[index].to_string(),
        round => format!("{}-{}", MODULES[index % MODULES.len()], round + 1),
    }
}

/// The sizes of a fleet of `n` machines.
struct Sizes {
    machines: usize,
    locations: usize,
    fragments: usize,
    members: usize,
    keys: usize,
    modules: usize,
}

impl Sizes {
    fn of(n: u32) -> Self {
        let n = n as usize;
        Sizes {
            machines: n,
            locations: (n / 100).max(1),
            // At least one base fragment per kind.
            fragments: (n / 50).max(KINDS.len()),
            members: (n / 13).max(1),
            keys: (n / 30).max(1),
            modules: (n / 100).max(1),
        }
    }

    /// The first fifth of the machines is in location 0, the rest spread over the others.
    fn location_of(&self, machine: usize) -> usize {
        if machine < self.machines / 5 || self.locations == 1 { 0 } else { 1 + machine % (self.locations - 1) }
    }
}

pub(super) fn build(n: u32, epoch: Epoch) -> State {
    let sizes = Sizes::of(n);
    let mut state = State {
        organizations: vec![members(&sizes, epoch)],
        fragments: fragments(&sizes, epoch),
        ..Default::default()
    };
    locations(&mut state, &sizes, epoch);
    machines(&mut state, &sizes, epoch);
    registry(&mut state, &sizes, epoch);
    keys(&mut state, &sizes, epoch);
    state
}

fn organization(epoch: Epoch) -> Organization {
    Organization {
        id: ids::ORG.into(),
        name: "Fleet Robotics".into(),
        created_on: Some(epoch.at(0)),
        public_namespace: NAMESPACE.into(),
        default_region: "us-east-1".into(),
        ..Default::default()
    }
}

fn members(sizes: &Sizes, epoch: Epoch) -> OrgRecord {
    let mut record = OrgRecord { org: Pb(organization(epoch)), ..Default::default() };
    for k in 0..sizes.members {
        let added = (k % 200) as i64 * DAY / 2;
        record.members.push(Pb(OrganizationMember {
            user_id: id(8, k),
            emails: vec![format!("user{k:04}@{NAMESPACE}.example")],
            date_added: Some(epoch.at(added)),
            last_login: Some(epoch.at(added + (k % 90) as i64 * DAY)),
            last_access: Some(epoch.at(added + (k % 90) as i64 * DAY + 3600)),
        }));
    }
    for k in 0..3 {
        let operator = grant("organization_operator", "organization", ids::ORG, "", "user");
        record.invites.push(Pb(OrganizationInvite {
            organization_id: ids::ORG.into(),
            email: format!("invitee{k}@{NAMESPACE}.example"),
            created_on: Some(epoch.at((250 + k) * DAY)),
            authorizations: vec![operator.0],
        }));
    }
    record
}

fn locations(state: &mut State, sizes: &Sizes, epoch: Epoch) {
    for l in 0..sizes.locations {
        let created = epoch.at(DAY + l as i64 * 3600);
        let mut auth = LocationAuth {
            location_id: location_id(l),
            secrets: vec![new_shared_secret(id(7, l), format!("fleet-location-secret-{l:06}"), created)],
            ..Default::default()
        };
        sync_location_secret(&mut auth);
        state.locations.push(Pb(Location {
            id: location_id(l),
            name: site(l),
            created_on: Some(created),
            auth: Some(auth),
            organizations: vec![LocationOrganization { organization_id: ids::ORG.into(), primary: true }],
            config: Some(StorageConfig { region: "us-east-1".into() }),
            primary_org_identity: Some(OrganizationIdentity { id: ids::ORG.into(), name: "Fleet Robotics".into() }),
            ..Default::default()
        }));
    }
    // Members get their roles: every tenth owns the organization, every third operates one location.
    for k in 0..sizes.members {
        let user = id(8, k);
        state.authorizations.push(match k {
            k if k % 10 == 0 => grant("organization_owner", "organization", ids::ORG, &user, "user"),
            k if k % 3 == 1 => grant("location_operator", "location", &location_id(k % sizes.locations), &user, "user"),
            _ => grant("organization_operator", "organization", ids::ORG, &user, "user"),
        });
    }
}

/// Fragment `f`: the first ones are the base of each kind of machine, the others sensor packs that
/// second and third parts use.
fn fragment_name(f: usize) -> String {
    match KINDS.get(f) {
        Some(kind) => format!("{}-base", kind.name),
        None => format!("sensor-pack-{:02}", f - KINDS.len() + 1),
    }
}

fn fragments(sizes: &Sizes, epoch: Epoch) -> Vec<FragmentRecord> {
    (0..sizes.fragments)
        .map(|f| {
            let mut fragment = Fragment {
                id: id(5, f),
                name: fragment_name(f),
                organization_owner: ids::ORG.into(),
                created_on: Some(epoch.at(2 * DAY + f as i64 * 60)),
                visibility: FragmentVisibility::Private as i32,
                last_updated: Some(epoch.at(20 * DAY + f as i64 * 60)),
                revision: "1".into(),
                ..Default::default()
            };
            let components: Vec<Value> = (0..3)
                .map(|c| {
                    json!({"name": format!("pack-sensor-{c}"), "type": "sensor", "model": "viam:sensors:env",
                           "attributes": {"i2c_bus": format!("{}", 1 + c), "address": 0x40 + c + f % 8,
                                          "poll_ms": 500 + 100 * c}})
                })
                .collect();
            set_fragment_config(&mut fragment, config(json!({"components": components})));
            FragmentRecord { fragment: Pb(fragment), history: Vec::new() }
        })
        .collect()
}

fn online_state(machine: usize) -> (OnlineState, i64) {
    match machine % 20 {
        0..16 => (OnlineState::Online, 0),
        16..18 => (OnlineState::Offline, (1 + machine as i64 % 30) * DAY + machine as i64 % 3600),
        _ => (OnlineState::AwaitingSetup, 0),
    }
}

/// A part's config: its kind's components (the main part's) or a few of its own, services, the
/// modules it loads and the fragments it uses; about 2 KB of JSON.
fn part_config(machine: usize, part: usize, sizes: &Sizes) -> Value {
    let kind = &KINDS[machine % KINDS.len()];
    let board = format!("{}-board", kind.name);
    let mut components = vec![json!({"name": board, "type": "board", "model": "pi",
                                     "attributes": {"i2cs": [{"name": "bus1", "bus": "1"}]}})];
    components.extend(kind.components.iter().enumerate().map(|(c, (name, api, model))| {
        let name = if part == 0 { name.to_string() } else { format!("{}-{name}", kind.parts[part - 1]) };
        json!({"name": name, "type": api, "model": model,
               "attributes": {"board": board, "pins": {"a": format!("{}", 11 + 2 * c), "b": format!("{}", 12 + 2 * c),
                                                       "pwm": format!("{}", 32 + c)},
                              "max_rpm": 100 + (machine + c) % 200, "serial": format!("SN-{machine:05}-{part}-{c}")},
               "frame": {"parent": "world", "translation": {"x": c * 10, "y": 0, "z": 25}}})
    }));
    let module = |m: usize| {
        json!({"type": "registry", "name": format!("{NAMESPACE}_{}", module_name(m)),
               "module_id": format!("{NAMESPACE}:{}", module_name(m)), "version": format!("0.{}.0", 1 + m % 3)})
    };
    let main_module = (machine % KINDS.len()) % sizes.modules;
    let mut modules = vec![module(main_module)];
    let mut fragments = vec![];
    if part == 0 {
        fragments.push(id(5, machine % KINDS.len()));
    } else {
        modules.push(module((machine + part) % sizes.modules));
        let packs = sizes.fragments - KINDS.len();
        if packs > 0 {
            fragments.push(id(5, KINDS.len() + (machine + part) % packs));
        }
    }
    json!({
        "components": components,
        "services": [
            {"name": "data-manager", "type": "data_manager", "model": "builtin",
             "attributes": {"capture_dir": "/root/.viam/capture", "sync_interval_mins": 5 + machine % 10,
                            "tags": [kind.name, site(sizes.location_of(machine))]}},
            {"name": "vision", "type": "vision", "model": "mlmodel", "attributes": {"mlmodel_name": "detector"}}
        ],
        "modules": modules,
        "fragments": fragments,
        "network": {"bind_address": ":8080"}
    })
}

/// What `set_part_config` stores, without its round trip through a `Struct` (thousands of those take
/// seconds in a debug build): the `Struct`, and its JSON (the seed's numbers are integers, which the
/// round trip keeps).
fn set_config(part: &mut RobotPart, config: Value) {
    let fields = config.as_object().cloned().unwrap_or_default();
    part.robot_config_json = Some(serde_json::to_string_pretty(&config).expect("JSON values always serialize"));
    part.robot_config = Some(to_struct(&fields));
}

fn machines(state: &mut State, sizes: &Sizes, epoch: Epoch) {
    for m in 0..sizes.machines {
        let kind = &KINDS[m % KINDS.len()];
        let (online_state, offline_for) = online_state(m);
        let name = if m == 0 { NOISY.to_string() } else { format!("{}-{m:04}", kind.name) };
        let created = epoch.at(3 * DAY + m as i64 * 60);
        let robot = Robot {
            id: robot_id(m),
            name: name.clone(),
            location: location_id(sizes.location_of(m)),
            last_access: (online_state != OnlineState::AwaitingSetup).then(|| epoch.at(NOW - offline_for)),
            created_on: Some(created),
            online_state: online_state as i32,
            seconds_since_online: offline_for,
        };
        for p in 0..1 + m % 3 {
            let part_id = id(4, m * 3 + p);
            let suffix = if p == 0 { "main" } else { kind.parts[p - 1] };
            let part_name = format!("{name}-{suffix}");
            let secret = new_shared_secret(id(9, m * 3 + p), format!("fleet-part-secret-{:08}", m * 3 + p), created);
            let mut part = new_part(part_id, part_name.clone(), &robot, p == 0, created, secret);
            set_config(&mut part, part_config(m, p, sizes));
            part.last_updated = Some(epoch.at(10 * DAY + m as i64 * 60 + p as i64));
            let log_count = match (m, p) {
                (0, 0) => NOISY_LOGS,
                (_, 0) => MAIN_PART_LOGS,
                _ => 0,
            };
            let logs = (0..log_count)
                .map(|n| Pb(synth_log(&part_name, n, epoch.at(200 * DAY + n as i64 * 6 + m as i64))))
                .collect();
            let history = if m == 0 && p == 0 { history(&part, epoch) } else { Vec::new() };
            state.parts.push(PartRecord { part: Pb(part), history, logs, ..Default::default() });
        }
        state.robots.push(Pb(robot));
    }
}

/// The noisy main part's earlier versions, oldest first: each had an older data sync interval.
fn history(part: &RobotPart, epoch: Epoch) -> Vec<Pb<RobotPartHistoryEntry>> {
    (0..NOISY_HISTORY)
        .map(|h| {
            let mut old = part.clone();
            let mut value =
                old.robot_config_json.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or(json!({}));
            value["services"][0]["attributes"]["sync_interval_mins"] = json!(60 - h);
            set_config(&mut old, value);
            old.last_updated = Some(epoch.at(4 * DAY + h as i64 * 3600));
            Pb(RobotPartHistoryEntry {
                part: part.id.clone(),
                robot: part.robot.clone(),
                when: Some(epoch.at(4 * DAY + (h + 1) as i64 * 3600)),
                old: Some(old),
                edited_by: Some(AuthenticatorInfo {
                    r#type: AuthenticationType::WebOauth as i32,
                    value: format!("user{:04}@{NAMESPACE}.example", h % 10 * 10),
                    is_deactivated: false,
                }),
            })
        })
        .collect()
}

fn registry(state: &mut State, sizes: &Sizes, epoch: Epoch) {
    for m in 0..sizes.modules {
        let name = module_name(m);
        let item_id = format!("{NAMESPACE}:{name}");
        let model = Model {
            api: "rdk:component:sensor".into(),
            model: format!("{item_id}:{name}"),
            description: Some(format!("The {name} model")),
            ..Default::default()
        };
        state.registry_items.push(Pb(RegistryItem {
            item_id: item_id.clone(),
            organization_id: ids::ORG.into(),
            public_namespace: NAMESPACE.into(),
            name: name.clone(),
            r#type: PackageType::Module as i32,
            visibility: if m % 4 == 0 { Visibility::Public } else { Visibility::Private } as i32,
            url: format!("https://github.com/{NAMESPACE}/{name}"),
            description: format!("{name} module for the fleet"),
            metadata: Some(registry_item::Metadata::ModuleMetadata(ModuleMetadata {
                models: vec![model],
                entrypoint: format!("bin/{name}"),
                markdown_description: Some(format!("# {name}\nBuilt for the Fleet Robotics machines.")),
                ..Default::default()
            })),
            created_at: Some(epoch.at((6 + m as i64) * DAY)),
            updated_at: Some(epoch.at((40 + m as i64) * DAY)),
            ..Default::default()
        }));
        for v in 0..3 {
            for (platform, size) in [("linux/amd64", 5_242_880), ("linux/arm64", 5_111_808)] {
                state.module_files.push(ModuleFile {
                    module_id: item_id.clone(),
                    version: format!("0.{}.0", v + 1),
                    platform: platform.into(),
                    platform_tags: Vec::new(),
                    size: size + (m * 4096 + v * 1024) as u64,
                    uploaded_at: Pb(epoch.at((7 + m as i64 + 10 * v as i64) * DAY)),
                });
            }
        }
    }
    for k in 0..(sizes.machines / 500).max(1) {
        let name = format!("detector-{}", k + 1);
        state.registry_items.push(Pb(RegistryItem {
            item_id: format!("{NAMESPACE}:{name}"),
            organization_id: ids::ORG.into(),
            public_namespace: NAMESPACE.into(),
            name,
            r#type: PackageType::MlModel as i32,
            visibility: Visibility::Private as i32,
            description: "Detects parts and pallets in camera frames".into(),
            metadata: Some(registry_item::Metadata::MlModelMetadata(MlModelMetadata {
                model_type: ModelType::ObjectDetection as i32,
                model_framework: ModelFramework::Tflite as i32,
                detailed_versions: vec![MlModelVersion {
                    version: "2026-02-01T00-00-00".into(),
                    created_on: Some(epoch.at(31 * DAY)),
                }],
                ..Default::default()
            })),
            created_at: Some(epoch.at(31 * DAY)),
            updated_at: Some(epoch.at(59 * DAY)),
            ..Default::default()
        }));
    }
}

/// Each key owns a location; every other one also operates a machine, every fifth the organization.
fn keys(state: &mut State, sizes: &Sizes, epoch: Epoch) {
    for k in 0..sizes.keys {
        let key_id = id(6, k);
        let location = k % sizes.locations;
        state.api_keys.push(Pb(ApiKey {
            id: key_id.clone(),
            key: format!("fleetkey{k:024}"),
            name: format!("{}-ops-{k}", site(location).to_lowercase().replace(' ', "-")),
            created_on: Some(epoch.at((5 + k as i64 % 100) * DAY)),
        }));
        state.authorizations.push(grant("location_owner", "location", &location_id(location), &key_id, "api-key"));
        if k % 2 == 0 {
            let robot = robot_id(k * 7 % sizes.machines);
            state.authorizations.push(grant("robot_operator", "robot", &robot, &key_id, "api-key"));
        }
        if k % 5 == 0 {
            state.authorizations.push(grant("organization_operator", "organization", ids::ORG, &key_id, "api-key"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::state::set_part_config;

    #[test]
    fn configs_are_stored_as_set_part_config_stores_them() {
        let sizes = Sizes::of(2000);
        for (m, p) in [(0, 0), (7, 1), (1999, 2)] {
            let (mut fast, mut slow) = (RobotPart::default(), RobotPart::default());
            set_config(&mut fast, part_config(m, p, &sizes));
            set_part_config(&mut slow, Some(config(part_config(m, p, &sizes))));
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn a_fleet_has_the_documented_shape_and_is_the_same_every_time() {
        let fleet = build(2000, Epoch(0));
        assert_eq!(fleet.robots.len(), 2000);
        assert_eq!(fleet.locations.len(), 20);
        let in_first = fleet.robots.iter().filter(|r| r.location == location_id(0)).count();
        assert_eq!(in_first, 400);
        let offline = fleet.robots.iter().filter(|r| r.online_state == OnlineState::Offline as i32).count();
        let awaiting = fleet.robots.iter().filter(|r| r.online_state == OnlineState::AwaitingSetup as i32).count();
        assert_eq!((offline, awaiting), (200, 200));
        assert_eq!(fleet.parts.len(), 3999);
        let sizes: Vec<usize> = fleet.parts.iter().map(|p| p.part.robot_config_json.as_ref().unwrap().len()).collect();
        assert!(sizes.iter().all(|&s| (1500..=4000).contains(&s)), "{:?}", (sizes.iter().min(), sizes.iter().max()));
        let noisy = &fleet.parts[0];
        assert_eq!((noisy.part.name.as_str(), noisy.logs.len(), noisy.history.len()), ("noisy-main", 10_000, 50));
        assert_eq!(fleet.organizations[0].members.len(), 153);
        assert_eq!(fleet.api_keys.len(), 66);
        let again = build(2000, Epoch(0));
        assert_eq!(fleet.robots, again.robots);
        assert!(fleet.parts.iter().zip(&again.parts).all(|(a, b)| a.part == b.part && a.logs == b.logs));
    }
}
