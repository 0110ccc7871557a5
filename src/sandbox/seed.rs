//! The seeded fleets: a deterministic demo fleet (fixed ids, times at fixed offsets from the sandbox's
//! start, no randomness), an empty one, and `fleet:N` at scale ([`fleet`]).
use prost_types::Timestamp;
use serde_json::{Value, json};

use super::Seed;
use super::state::{
    FragmentRecord, ModuleFile, OrgRecord, PartRecord, Pb, State, json_to_struct, new_part, new_shared_secret,
    org_owner_grant, set_fragment_config, set_part_config, sync_location_secret, synth_log,
};
use crate::proto::viam::app::mltraining::v1::{ModelFramework, ModelType};
use crate::proto::viam::app::packages::v1::PackageType;
use crate::proto::viam::app::v1::*;

pub mod fleet;
mod table;

pub use table::demo_table;

/// Fixed ids of the seeded fleet (UUIDs, like Viam's). `ORG` is seeded by every seed;
/// everything else only by `Seed::Demo`.
pub mod ids {
    /// Organization "Demo Robotics", public namespace `demo-robotics` ("Fleet Robotics" in `fleet:N`).
    pub const ORG: &str = "de300000-0001-4000-8000-000000000001";
    /// Location "Warehouse" (machines `rover-1`, `rover-2`).
    pub const LOCATION_WAREHOUSE: &str = "de300000-0002-4000-8000-000000000001";
    /// Location "Lab" (machines `arm-station`, `test-bench`).
    pub const LOCATION_LAB: &str = "de300000-0002-4000-8000-000000000002";
    /// Location "Loading Dock", nested under Warehouse, no machines.
    pub const LOCATION_LOADING_DOCK: &str = "de300000-0002-4000-8000-000000000003";
    /// Machine `rover-1` in Warehouse, online; API key `API_KEY_ROVER` operates it.
    pub const ROBOT_ROVER_1: &str = "de300000-0003-4000-8000-000000000001";
    /// Machine `rover-2` in Warehouse, offline.
    pub const ROBOT_ROVER_2: &str = "de300000-0003-4000-8000-000000000002";
    /// Machine `arm-station` in Lab, online.
    pub const ROBOT_ARM: &str = "de300000-0003-4000-8000-000000000003";
    /// Machine `test-bench` in Lab, awaiting setup.
    pub const ROBOT_BENCH: &str = "de300000-0003-4000-8000-000000000004";
    /// Part `rover-1-main` (main): uses `FRAGMENT` and `MODULE_ID`, 150 log entries, one history entry.
    pub const PART_ROVER_1_MAIN: &str = "de300000-0004-4000-8000-000000000001";
    /// Part `rover-1-lidar`.
    pub const PART_ROVER_1_LIDAR: &str = "de300000-0004-4000-8000-000000000002";
    /// Part `rover-2-main` (main): uses `FRAGMENT` and `MODULE_ID`.
    pub const PART_ROVER_2_MAIN: &str = "de300000-0004-4000-8000-000000000003";
    /// Part `rover-2-lidar`.
    pub const PART_ROVER_2_LIDAR: &str = "de300000-0004-4000-8000-000000000004";
    /// Part `arm-station-main` (main).
    pub const PART_ARM_MAIN: &str = "de300000-0004-4000-8000-000000000005";
    /// Part `arm-station-gripper`.
    pub const PART_ARM_GRIPPER: &str = "de300000-0004-4000-8000-000000000006";
    /// Part `test-bench-main` (main).
    pub const PART_BENCH_MAIN: &str = "de300000-0004-4000-8000-000000000007";
    /// Part `test-bench-sensors`.
    pub const PART_BENCH_SENSORS: &str = "de300000-0004-4000-8000-000000000008";
    /// Fragment "rover-base" (revision 2, one history entry), used by both rovers' main parts.
    pub const FRAGMENT: &str = "de300000-0005-4000-8000-000000000001";
    /// Public module, versions 0.1.0 and 0.2.0; loaded by both rovers' main parts.
    pub const MODULE_ID: &str = "demo-robotics:wheel-odometry";
    /// Private ML model registry item.
    pub const ML_MODEL_ID: &str = "demo-robotics:pallet-detector";
    /// API key "rover-1-operator": robot_operator on `ROBOT_ROVER_1`. (The organization owner key is
    /// the configured one, `DEMO_API_KEY_ID` by default.)
    pub const API_KEY_ROVER: &str = "de300000-0006-4000-8000-000000000002";
    /// Secret of `API_KEY_ROVER`.
    pub const API_KEY_ROVER_SECRET: &str = "rover1operatorkey000000000000002";
    /// Member alice (organization_owner).
    pub const USER_ALICE: &str = "de300000-0008-4000-8000-000000000001";
    pub const ALICE_EMAIL: &str = "alice@demo-robotics.example";
    /// Member bob (organization_operator).
    pub const USER_BOB: &str = "de300000-0008-4000-8000-000000000002";
    pub const BOB_EMAIL: &str = "bob@demo-robotics.example";
    /// The pending invite (organization_operator).
    pub const INVITE_EMAIL: &str = "carol@demo-robotics.example";
}

const DAY: i64 = 86_400;
/// The seed's "now": seeded fleets are as they were [`NOW`] seconds after their epoch.
const NOW: i64 = 300 * DAY;

/// Every seeded time is an offset from an epoch [`NOW`] before the sandbox started, so a seeded
/// fleet is the same on every run relative to its start (machines online at the start, others
/// offline for a fixed time) and shares the one clock ([`super::state::now`]) with what comes later.
#[derive(Clone, Copy)]
struct Epoch(i64);

impl Epoch {
    fn before(start: &Timestamp) -> Epoch {
        Epoch(start.seconds - NOW)
    }

    fn at(self, offset: i64) -> Timestamp {
        Timestamp { seconds: self.0 + offset, nanos: 0 }
    }
}

fn config(value: Value) -> prost_types::Struct {
    json_to_struct(value).expect("seed configs are JSON objects")
}

/// The `n`th seeded secret of a kind, with an id in the seed's id scheme.
fn secret(kind: u8, n: u8, value: &str, created: Timestamp) -> SharedSecret {
    new_shared_secret(format!("de300000-00{kind:02x}-4000-8000-0000000000{n:02x}"), value.to_string(), created)
}

fn grant(
    role: &str,
    resource_type: &str,
    resource_id: &str,
    identity_id: &str,
    identity_type: &str,
) -> Pb<Authorization> {
    Pb(Authorization {
        authorization_type: "role".into(),
        authorization_id: role.into(),
        resource_type: resource_type.into(),
        resource_id: resource_id.into(),
        identity_id: identity_id.into(),
        organization_id: ids::ORG.into(),
        identity_type: identity_type.into(),
    })
}

fn organization(epoch: Epoch) -> Organization {
    Organization {
        id: ids::ORG.into(),
        name: "Demo Robotics".into(),
        created_on: Some(epoch.at(0)),
        public_namespace: "demo-robotics".into(),
        default_region: "us-east-1".into(),
        ..Default::default()
    }
}

/// The fleet named by `seed` as it is at `start`, with the server's own API key as organization owner.
pub fn build(seed: Seed, api_key_id: &str, api_key: &str, start: &Timestamp) -> State {
    let epoch = Epoch::before(start);
    let mut state = match seed {
        Seed::Empty => State {
            organizations: vec![OrgRecord { org: Pb(organization(epoch)), ..Default::default() }],
            ..Default::default()
        },
        Seed::Demo => demo(epoch),
        Seed::Fleet(n) => fleet::build(n, epoch),
    };
    state.api_keys.insert(
        0,
        Pb(ApiKey {
            id: api_key_id.into(),
            key: api_key.into(),
            name: "sandbox-admin".into(),
            created_on: Some(epoch.at(0)),
        }),
    );
    state.authorizations.push(Pb(org_owner_grant(ids::ORG, api_key_id)));
    state
}

fn demo(epoch: Epoch) -> State {
    let mut state = State {
        organizations: vec![members(OrgRecord { org: Pb(organization(epoch)), ..Default::default() }, epoch)],
        ..Default::default()
    };
    for (n, (id, name, parent)) in [
        (ids::LOCATION_WAREHOUSE, "Warehouse", ""),
        (ids::LOCATION_LAB, "Lab", ""),
        (ids::LOCATION_LOADING_DOCK, "Loading Dock", ids::LOCATION_WAREHOUSE),
    ]
    .into_iter()
    .enumerate()
    {
        let created = epoch.at(DAY + n as i64 * 3600);
        let value = format!("demo-location-secret-{}", name.to_lowercase().replace(' ', "-"));
        let mut auth = LocationAuth {
            location_id: id.into(),
            secrets: vec![secret(7, n as u8 + 1, &value, created)],
            ..Default::default()
        };
        sync_location_secret(&mut auth);
        state.locations.push(Pb(Location {
            id: id.into(),
            name: name.into(),
            created_on: Some(created),
            parent_location_id: parent.into(),
            auth: Some(auth),
            organizations: vec![LocationOrganization { organization_id: ids::ORG.into(), primary: true }],
            robot_count: 0,
            config: Some(StorageConfig { region: "us-east-1".into() }),
            primary_org_identity: Some(OrganizationIdentity { id: ids::ORG.into(), name: "Demo Robotics".into() }),
        }));
    }
    machines(&mut state, epoch);
    fragment(&mut state, epoch);
    registry(&mut state, epoch);
    state.api_keys.push(Pb(ApiKey {
        id: ids::API_KEY_ROVER.into(),
        key: ids::API_KEY_ROVER_SECRET.into(),
        name: "rover-1-operator".into(),
        created_on: Some(epoch.at(5 * DAY)),
    }));
    state.authorizations.extend([
        grant("organization_owner", "organization", ids::ORG, ids::USER_ALICE, "user"),
        grant("organization_operator", "organization", ids::ORG, ids::USER_BOB, "user"),
        grant("robot_operator", "robot", ids::ROBOT_ROVER_1, ids::API_KEY_ROVER, "api-key"),
    ]);
    state
}

fn members(mut record: OrgRecord, epoch: Epoch) -> OrgRecord {
    for (user_id, email, added) in [(ids::USER_ALICE, ids::ALICE_EMAIL, 0), (ids::USER_BOB, ids::BOB_EMAIL, 2 * DAY)] {
        record.members.push(Pb(OrganizationMember {
            user_id: user_id.into(),
            emails: vec![email.into()],
            date_added: Some(epoch.at(added)),
            last_login: Some(epoch.at(added + 30 * DAY)),
            last_access: Some(epoch.at(added + 31 * DAY)),
        }));
    }
    let operator = grant("organization_operator", "organization", ids::ORG, "", "user");
    record.invites.push(Pb(OrganizationInvite {
        organization_id: ids::ORG.into(),
        email: ids::INVITE_EMAIL.into(),
        created_on: Some(epoch.at(20 * DAY)),
        authorizations: vec![operator.0],
    }));
    record
}

fn rover_main_config() -> Value {
    json!({
        "components": [
            {"name": "left-wheel", "type": "motor", "model": "gpio",
             "attributes": {"board": "local", "pins": {"a": "11", "b": "13", "pwm": "15"}}},
            {"name": "right-wheel", "type": "motor", "model": "gpio",
             "attributes": {"board": "local", "pins": {"a": "16", "b": "18", "pwm": "22"}}},
            {"name": "base", "type": "base", "model": "wheeled",
             "attributes": {"left": ["left-wheel"], "right": ["right-wheel"],
                            "wheel_circumference_mm": 217, "width_mm": 260}}
        ],
        "modules": [{"type": "registry", "name": "demo-robotics_wheel-odometry",
                     "module_id": ids::MODULE_ID, "version": "0.2.0"}],
        "fragments": [ids::FRAGMENT]
    })
}

fn component(name: &str, kind: &str, model: &str) -> Value {
    json!({"components": [{"name": name, "type": kind, "model": model, "attributes": {}}]})
}

fn machines(state: &mut State, epoch: Epoch) {
    let machines = [
        (
            ids::ROBOT_ROVER_1,
            "rover-1",
            ids::LOCATION_WAREHOUSE,
            OnlineState::Online,
            0,
            [
                (ids::PART_ROVER_1_MAIN, "main", rover_main_config(), 150),
                (ids::PART_ROVER_1_LIDAR, "lidar", component("lidar", "camera", "viam:lidar:rplidar"), 12),
            ],
        ),
        (
            ids::ROBOT_ROVER_2,
            "rover-2",
            ids::LOCATION_WAREHOUSE,
            OnlineState::Offline,
            3 * DAY,
            [
                (ids::PART_ROVER_2_MAIN, "main", rover_main_config(), 12),
                (ids::PART_ROVER_2_LIDAR, "lidar", component("lidar", "camera", "viam:lidar:rplidar"), 12),
            ],
        ),
        (
            ids::ROBOT_ARM,
            "arm-station",
            ids::LOCATION_LAB,
            OnlineState::Online,
            0,
            [
                (ids::PART_ARM_MAIN, "main", component("arm", "arm", "viam:universal-robots:ur5e"), 12),
                (ids::PART_ARM_GRIPPER, "gripper", component("gripper", "gripper", "fake"), 12),
            ],
        ),
        (
            ids::ROBOT_BENCH,
            "test-bench",
            ids::LOCATION_LAB,
            OnlineState::AwaitingSetup,
            0,
            [
                (ids::PART_BENCH_MAIN, "main", component("board", "board", "pi"), 12),
                (ids::PART_BENCH_SENSORS, "sensors", component("temp", "sensor", "fake"), 12),
            ],
        ),
    ];
    for (m, (id, name, location, online_state, offline_for, parts)) in machines.into_iter().enumerate() {
        let created = epoch.at(3 * DAY + m as i64 * 3600);
        let robot = Robot {
            id: id.into(),
            name: name.into(),
            location: location.into(),
            // A machine awaiting setup has never been online.
            last_access: (online_state != OnlineState::AwaitingSetup).then(|| epoch.at(NOW - offline_for)),
            created_on: Some(created),
            online_state: online_state as i32,
            seconds_since_online: offline_for,
        };
        for (p, (part_id, suffix, part_config, log_count)) in parts.into_iter().enumerate() {
            let index = m * 2 + p;
            let part_name = format!("{name}-{suffix}");
            let part_secret = secret(9, index as u8 + 1, &format!("demo-part-secret-{part_name}"), created);
            let mut part = new_part(part_id.into(), part_name.clone(), &robot, p == 0, created, part_secret);
            set_part_config(&mut part, Some(config(part_config)));
            part.last_updated = Some(epoch.at(10 * DAY + index as i64 * 60));
            let logs = (0..log_count)
                .map(|n| Pb(synth_log(&part_name, n, epoch.at(200 * DAY + index as i64 * DAY + n as i64 * 30))))
                .collect();
            state.parts.push(PartRecord { part: Pb(part), logs, ..Default::default() });
        }
        state.robots.push(Pb(robot));
    }
    // rover-1-main was edited once: before, it did not load the odometry module.
    let record = &mut state.parts[0];
    let mut old = record.part.0.clone();
    let mut old_config = rover_main_config();
    old_config.as_object_mut().expect("an object").remove("modules");
    set_part_config(&mut old, Some(config(old_config)));
    old.last_updated = Some(epoch.at(3 * DAY));
    record.history.push(Pb(RobotPartHistoryEntry {
        part: ids::PART_ROVER_1_MAIN.into(),
        robot: ids::ROBOT_ROVER_1.into(),
        when: record.part.last_updated,
        old: Some(old),
        edited_by: Some(AuthenticatorInfo {
            r#type: AuthenticationType::WebOauth as i32,
            value: ids::ALICE_EMAIL.into(),
            is_deactivated: false,
        }),
    }));
}

fn fragment(state: &mut State, epoch: Epoch) {
    let mut old = Fragment {
        id: ids::FRAGMENT.into(),
        name: "rover-base".into(),
        organization_owner: ids::ORG.into(),
        created_on: Some(epoch.at(2 * DAY)),
        visibility: FragmentVisibility::Private as i32,
        last_updated: Some(epoch.at(2 * DAY)),
        revision: "1".into(),
        ..Default::default()
    };
    set_fragment_config(
        &mut old,
        config(json!({"components": [{"name": "imu", "type": "movement_sensor", "model": "imu-wit"}]})),
    );
    let mut current = Fragment { last_updated: Some(epoch.at(4 * DAY)), revision: "2".into(), ..old.clone() };
    set_fragment_config(
        &mut current,
        config(json!({"components": [{"name": "imu", "type": "movement_sensor", "model": "imu-wit",
                                      "attributes": {"serial_path": "/dev/ttyUSB0", "serial_baud_rate": 115200}}]})),
    );
    let history = vec![Pb(FragmentHistoryEntry {
        fragment: ids::FRAGMENT.into(),
        edited_on: current.last_updated,
        revision: old.revision.clone(),
        config: old.fragment.clone(),
        edited_by: Some(AuthenticatorInfo {
            r#type: AuthenticationType::WebOauth as i32,
            value: ids::ALICE_EMAIL.into(),
            is_deactivated: false,
        }),
        old: Some(old),
    })];
    state.fragments.push(FragmentRecord { fragment: Pb(current), history });
}

fn registry(state: &mut State, epoch: Epoch) {
    let model = Model {
        api: "rdk:component:movement_sensor".into(),
        model: "demo-robotics:wheel-odometry:odometry".into(),
        description: Some("Estimates position from wheel encoder ticks".into()),
        ..Default::default()
    };
    state.registry_items.push(Pb(RegistryItem {
        item_id: ids::MODULE_ID.into(),
        organization_id: ids::ORG.into(),
        public_namespace: "demo-robotics".into(),
        name: "wheel-odometry".into(),
        r#type: PackageType::Module as i32,
        visibility: Visibility::Public as i32,
        url: "https://github.com/demo-robotics/wheel-odometry".into(),
        description: "Wheel odometry movement sensor for differential-drive rovers".into(),
        metadata: Some(registry_item::Metadata::ModuleMetadata(ModuleMetadata {
            models: vec![model],
            entrypoint: "bin/wheel-odometry".into(),
            markdown_description: Some("# wheel-odometry\nTurns encoder ticks into pose estimates.".into()),
            ..Default::default()
        })),
        created_at: Some(epoch.at(6 * DAY)),
        updated_at: Some(epoch.at(40 * DAY)),
        ..Default::default()
    }));
    for (version, platform, size, day) in [
        ("0.1.0", "linux/amd64", 5_242_880, 7),
        ("0.1.0", "linux/arm64", 5_111_808, 7),
        ("0.2.0", "linux/amd64", 5_373_952, 40),
        ("0.2.0", "linux/arm64", 5_242_880, 40),
    ] {
        state.module_files.push(ModuleFile {
            module_id: ids::MODULE_ID.into(),
            version: version.into(),
            platform: platform.into(),
            platform_tags: Vec::new(),
            size,
            uploaded_at: Pb(epoch.at(day * DAY)),
        });
    }
    state.registry_items.push(Pb(RegistryItem {
        item_id: ids::ML_MODEL_ID.into(),
        organization_id: ids::ORG.into(),
        public_namespace: "demo-robotics".into(),
        name: "pallet-detector".into(),
        r#type: PackageType::MlModel as i32,
        visibility: Visibility::Private as i32,
        description: "Detects pallets in warehouse camera frames".into(),
        metadata: Some(registry_item::Metadata::MlModelMetadata(MlModelMetadata {
            model_type: ModelType::ObjectDetection as i32,
            model_framework: ModelFramework::Tflite as i32,
            detailed_versions: vec![
                MlModelVersion { version: "2026-02-01T00-00-00".into(), created_on: Some(epoch.at(31 * DAY)) },
                MlModelVersion { version: "2026-03-01T00-00-00".into(), created_on: Some(epoch.at(59 * DAY)) },
            ],
            ..Default::default()
        })),
        created_at: Some(epoch.at(31 * DAY)),
        updated_at: Some(epoch.at(59 * DAY)),
        ..Default::default()
    }));
}
