//! The sandbox through its gRPC surface only: the generated clients against a running server.
use std::time::{Duration, Instant};

use prost::Message;
use tokio::net::TcpListener;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use viam_fleet_mcp::proto::rpc::v1::auth_service_client::AuthServiceClient;
use viam_fleet_mcp::proto::rpc::v1::{AuthenticateRequest, Credentials};
use viam_fleet_mcp::proto::viam::app::v1::app_service_client::AppServiceClient;
use viam_fleet_mcp::proto::viam::app::v1::upload_module_file_request::ModuleFile;
use viam_fleet_mcp::proto::viam::app::v1::*;
use viam_fleet_mcp::sandbox::{self, DEMO_API_KEY, DEMO_API_KEY_ID, RunningSandbox, SandboxConfig, Seed, ids};

#[derive(Clone)]
pub(crate) struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub(crate) type Client = AppServiceClient<InterceptedService<Channel, Bearer>>;

async fn start(config: SandboxConfig) -> RunningSandbox {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    sandbox::start(config, listener).await.unwrap()
}

async fn channel(url: String) -> Channel {
    Channel::from_shared(url).unwrap().connect().await.unwrap()
}

async fn authenticate(url: String, id: &str, key: &str) -> Result<String, Status> {
    let request = AuthenticateRequest {
        entity: id.into(),
        credentials: Some(Credentials { r#type: "api-key".into(), payload: key.into() }),
    };
    let mut auth = AuthServiceClient::new(channel(url).await);
    Ok(auth.authenticate(request).await?.into_inner().access_token)
}

async fn client_with_token(url: String, token: &str) -> Client {
    let header = format!("Bearer {token}").parse().unwrap();
    AppServiceClient::with_interceptor(channel(url).await, Bearer(header))
}

pub(crate) async fn client(sandbox: &RunningSandbox) -> Client {
    client_as(sandbox, DEMO_API_KEY_ID, DEMO_API_KEY).await
}

async fn client_as(sandbox: &RunningSandbox, id: &str, key: &str) -> Client {
    let token = authenticate(sandbox.url(), id, key).await.unwrap();
    client_with_token(sandbox.url(), &token).await
}

async fn rover_client(sandbox: &RunningSandbox) -> Client {
    client_as(sandbox, ids::API_KEY_ROVER, ids::API_KEY_ROVER_SECRET).await
}

async fn demo() -> (RunningSandbox, Client) {
    let sandbox = start(SandboxConfig::default()).await;
    let client = client(&sandbox).await;
    (sandbox, client)
}

#[track_caller]
fn assert_status<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, message: &str) {
    let status = result.expect_err("the call should fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(message), "{:?} does not contain {message:?}", status.message());
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

async fn parts(client: &mut Client, robot_id: &str) -> Vec<RobotPart> {
    client.get_robot_parts(GetRobotPartsRequest { robot_id: robot_id.into() }).await.unwrap().into_inner().parts
}

async fn part(client: &mut Client, id: &str) -> GetRobotPartResponse {
    client.get_robot_part(GetRobotPartRequest { id: id.into() }).await.unwrap().into_inner()
}

#[tokio::test]
async fn seed_has_the_demo_fleet_and_the_journal_records_requests() {
    let (sandbox, mut client) = demo().await;

    let orgs = client.list_organizations(ListOrganizationsRequest {}).await.unwrap().into_inner().organizations;
    assert_eq!(orgs.len(), 1);
    assert_eq!((orgs[0].id.as_str(), orgs[0].name.as_str()), (ids::ORG, "Demo Robotics"));
    assert_eq!(orgs[0].public_namespace, "demo-robotics");

    let request = ListLocationsRequest { organization_id: ids::ORG.into() };
    let locations = client.list_locations(request.clone()).await.unwrap().into_inner().locations;
    let summary: Vec<(&str, i32, &str)> =
        locations.iter().map(|l| (l.name.as_str(), l.robot_count, l.parent_location_id.as_str())).collect();
    assert_eq!(summary, [("Warehouse", 2, ""), ("Lab", 2, ""), ("Loading Dock", 0, ids::LOCATION_WAREHOUSE)]);

    let robots = client
        .list_robots(ListRobotsRequest { location_id: ids::LOCATION_WAREHOUSE.into() })
        .await
        .unwrap()
        .into_inner()
        .robots;
    let names: Vec<&str> = robots.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["rover-1", "rover-2"]);

    let rover_parts = parts(&mut client, ids::ROBOT_ROVER_1).await;
    assert_eq!(rover_parts.len(), 2);
    assert_eq!(rover_parts.iter().filter(|p| p.main_part).count(), 1);
    let main = part(&mut client, ids::PART_ROVER_1_MAIN).await;
    assert_eq!(main.part.as_ref().unwrap().name, "rover-1-main");
    assert_eq!(json(&main.config_json)["fragments"][0], ids::FRAGMENT);
    assert_eq!(json(&main.config_json)["components"][0]["name"], "left-wheel");

    let keys = client.list_keys(ListKeysRequest { org_id: ids::ORG.into() }).await.unwrap().into_inner().api_keys;
    assert_eq!(keys.len(), 2);
    let robot_keys = client
        .get_robot_api_keys(GetRobotApiKeysRequest { robot_id: ids::ROBOT_ROVER_1.into() })
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert_eq!(robot_keys.len(), 1);
    assert_eq!(robot_keys[0].api_key.as_ref().unwrap().id, ids::API_KEY_ROVER);

    let (members, invites) = {
        let r = client
            .list_organization_members(ListOrganizationMembersRequest { organization_id: ids::ORG.into() })
            .await
            .unwrap()
            .into_inner();
        (r.members, r.invites)
    };
    assert_eq!((members.len(), invites.len()), (2, 1));

    let journal = sandbox.journal();
    assert_eq!(journal[0], ("ListOrganizations".to_string(), Vec::new()));
    assert_eq!(journal[1], ("ListLocations".to_string(), request.encode_to_vec()));
    assert_eq!(journal.len(), 8);
    sandbox.clear_journal();
    assert!(sandbox.journal().is_empty());
}

#[tokio::test]
async fn unknown_ids_are_not_found_and_still_journaled() {
    let (sandbox, mut client) = demo().await;
    let result = client.get_robot(GetRobotRequest { id: "abc".into() }).await;
    assert_status(result, Code::NotFound, r#"robot "abc" not found"#);
    let result = client.get_fragment(GetFragmentRequest { id: "nope".into(), ..Default::default() }).await;
    assert_status(result, Code::NotFound, r#"fragment "nope" not found"#);
    let expected = GetRobotRequest { id: "abc".into() }.encode_to_vec();
    assert_eq!(sandbox.journal()[0], ("GetRobot".to_string(), expected));
}

#[tokio::test]
async fn empty_names_and_bad_values_are_invalid_arguments() {
    let (_sandbox, mut client) = demo().await;
    let result = client.new_robot(NewRobotRequest { name: String::new(), location: ids::LOCATION_LAB.into() }).await;
    assert_status(result, Code::InvalidArgument, "machine name is required");
    let request = CreateLocationRequest { organization_id: ids::ORG.into(), ..Default::default() };
    assert_status(client.create_location(request).await, Code::InvalidArgument, "location name is required");
    let request = UpdateRobotPartRequest {
        id: ids::PART_ARM_GRIPPER.into(),
        name: "arm-station-gripper".into(),
        robot_config_json: Some("{not json".into()),
        ..Default::default()
    };
    assert_status(client.update_robot_part(request).await, Code::InvalidArgument, "invalid config JSON");
}

#[tokio::test]
async fn duplicates_and_taken_namespaces_already_exist() {
    let (_sandbox, mut client) = demo().await;
    let request = NewRobotRequest { name: "rover-1".into(), location: ids::LOCATION_WAREHOUSE.into() };
    assert_status(client.new_robot(request).await, Code::AlreadyExists, "rover-1");
    let request = NewRobotPartRequest { robot_id: ids::ROBOT_ROVER_1.into(), part_name: "rover-1-lidar".into() };
    assert_status(client.new_robot_part(request).await, Code::AlreadyExists, "rover-1-lidar");
    let request = CreateLocationRequest { organization_id: ids::ORG.into(), name: "Lab".into(), ..Default::default() };
    assert_status(client.create_location(request).await, Code::AlreadyExists, "Lab");

    let other = client
        .create_organization(CreateOrganizationRequest { name: "Other".into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    let request = UpdateOrganizationRequest {
        organization_id: other.id,
        public_namespace: Some("demo-robotics".into()),
        ..Default::default()
    };
    assert_status(client.update_organization(request).await, Code::AlreadyExists, "already taken");
    let request =
        GetOrganizationNamespaceAvailabilityRequest { public_namespace: "demo-robotics".into(), ..Default::default() };
    assert!(!client.get_organization_namespace_availability(request).await.unwrap().into_inner().available);
}

#[tokio::test]
async fn refused_changes_are_failed_preconditions() {
    let (_sandbox, mut client) = demo().await;
    let request = DeleteLocationRequest { location_id: ids::LOCATION_WAREHOUSE.into() };
    assert_status(client.delete_location(request).await, Code::FailedPrecondition, "still has 2 machine(s)");
    let request = DeleteRobotPartRequest { part_id: ids::PART_ROVER_1_MAIN.into() };
    assert_status(client.delete_robot_part(request).await, Code::FailedPrecondition, "main part");
    let request = DeleteOrganizationRequest { organization_id: ids::ORG.into() };
    assert_status(client.delete_organization(request).await, Code::FailedPrecondition, "location(s)");
    let request = DeleteFragmentRequest { id: ids::FRAGMENT.into() };
    assert_status(client.delete_fragment(request).await, Code::FailedPrecondition, "used by 2 robot part(s)");
}

#[tokio::test]
async fn app_calls_need_a_bearer_token() {
    let sandbox = start(SandboxConfig::default()).await;
    let mut bare = AppServiceClient::new(channel(sandbox.url()).await);
    let result = bare.list_organizations(ListOrganizationsRequest {}).await;
    assert_status(result, Code::Unauthenticated, "expected authorization header with prefix: Bearer ");
    let mut forged = client_with_token(sandbox.url(), "made-up").await;
    assert_status(forged.list_organizations(ListOrganizationsRequest {}).await, Code::Unauthenticated, "");
    assert!(sandbox.journal().is_empty(), "rejected calls are not journaled");
}

#[tokio::test]
async fn authenticate_rejects_wrong_keys_missing_credentials_and_reauthentication() {
    let sandbox = start(SandboxConfig::default()).await;
    let result = authenticate(sandbox.url(), DEMO_API_KEY_ID, "wrong").await;
    assert_status(result, Code::PermissionDenied, "failed to authenticate: ");

    let mut auth = AuthServiceClient::new(channel(sandbox.url()).await);
    let missing = AuthenticateRequest { entity: DEMO_API_KEY_ID.into(), credentials: None };
    assert_status(auth.authenticate(missing).await, Code::InvalidArgument, "credentials required");

    let mut request = Request::new(AuthenticateRequest {
        entity: DEMO_API_KEY_ID.into(),
        credentials: Some(Credentials { r#type: "api-key".into(), payload: DEMO_API_KEY.into() }),
    });
    request.metadata_mut().insert("authorization", "Bearer whatever".parse().unwrap());
    let result = auth.authenticate(request).await;
    assert_status(result, Code::InvalidArgument, "already authenticated; cannot re-authenticate");
}

#[tokio::test]
async fn tokens_expire() {
    let sandbox = start(SandboxConfig { token_ttl: Duration::from_millis(300), ..Default::default() }).await;
    let mut client = client(&sandbox).await;
    client.list_organizations(ListOrganizationsRequest {}).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_status(client.list_organizations(ListOrganizationsRequest {}).await, Code::Unauthenticated, "token expired");
}

#[tokio::test]
async fn location_machine_part_round_trip() {
    let (_sandbox, mut client) = demo().await;
    let location = client
        .create_location(CreateLocationRequest {
            organization_id: ids::ORG.into(),
            name: "Greenhouse".into(),
            parent_location_id: Some(ids::LOCATION_LAB.into()),
        })
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap();
    assert_eq!(location.parent_location_id, ids::LOCATION_LAB);
    assert_eq!(location.auth.as_ref().unwrap().secrets.len(), 1);

    let robot_id = client
        .new_robot(NewRobotRequest { name: "sprayer".into(), location: location.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .id;
    let main = parts(&mut client, &robot_id).await;
    assert_eq!(main.len(), 1);
    assert_eq!((main[0].name.as_str(), main[0].main_part), ("sprayer-main", true));
    let pump_id = client
        .new_robot_part(NewRobotPartRequest { robot_id: robot_id.clone(), part_name: "pump".into() })
        .await
        .unwrap()
        .into_inner()
        .part_id;
    assert_eq!(parts(&mut client, &robot_id).await.len(), 2);

    client.mark_part_for_restart(MarkPartForRestartRequest { part_id: pump_id.clone() }).await.unwrap();
    let logs = client
        .get_robot_part_logs(GetRobotPartLogsRequest { id: pump_id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .logs;
    assert_eq!(logs.len(), 1);
    assert!(logs[0].message.contains("restart"));

    client.mark_part_as_main(MarkPartAsMainRequest { part_id: pump_id.clone() }).await.unwrap();
    client.delete_robot_part(DeleteRobotPartRequest { part_id: main[0].id.clone() }).await.unwrap();
    let remaining = parts(&mut client, &robot_id).await;
    assert_eq!((remaining.len(), remaining[0].main_part), (1, true));

    let get_location = GetLocationRequest { location_id: location.id.clone() };
    let counted = client.get_location(get_location.clone()).await.unwrap().into_inner().location.unwrap();
    assert_eq!(counted.robot_count, 1);
    client.delete_robot(DeleteRobotRequest { id: robot_id.clone() }).await.unwrap();
    let result = client.get_robot(GetRobotRequest { id: robot_id }).await;
    assert_status(result, Code::NotFound, "robot");
    let result = client.get_robot_part(GetRobotPartRequest { id: pump_id }).await;
    assert_status(result, Code::NotFound, "robot part");
    client.delete_location(DeleteLocationRequest { location_id: location.id.clone() }).await.unwrap();
    assert_status(client.get_location(get_location).await, Code::NotFound, &location.id);
}

#[tokio::test]
async fn update_robot_part_keeps_history_and_checks_last_known_update() {
    let (_sandbox, mut client) = demo().await;
    let before = part(&mut client, ids::PART_ROVER_1_LIDAR).await.part.unwrap();
    let config =
        format!(r#"{{"components": [{{"name": "lidar", "type": "camera"}}], "fragments": ["{}"]}}"#, ids::FRAGMENT);
    let updated = client
        .update_robot_part(UpdateRobotPartRequest {
            id: before.id.clone(),
            name: "rover-1-lidar".into(),
            robot_config_json: Some(config),
            last_known_update: before.last_updated,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap();
    assert_eq!(json(updated.robot_config_json.as_deref().unwrap())["fragments"][0], ids::FRAGMENT);
    assert_ne!(updated.last_updated, before.last_updated);

    let history = client
        .get_robot_part_history(GetRobotPartHistoryRequest { id: before.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .history;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].old.as_ref().unwrap().robot_config_json, before.robot_config_json);
    assert_eq!(history[0].edited_by.as_ref().unwrap().value, DEMO_API_KEY_ID);

    let fragment = client
        .get_fragment(GetFragmentRequest { id: ids::FRAGMENT.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fragment.fragment.unwrap().robot_part_count, 3);
    assert_eq!(fragment.fragment_usage.unwrap().machines, 2);

    let stale = UpdateRobotPartRequest {
        id: before.id.clone(),
        name: "renamed".into(),
        last_known_update: before.last_updated,
        ..Default::default()
    };
    assert_status(client.update_robot_part(stale).await, Code::FailedPrecondition, "last_known_update");
    assert_eq!(part(&mut client, &before.id).await.part.unwrap().name, "rover-1-lidar");
}

#[tokio::test]
async fn fragment_updates_page_through_history() {
    let (_sandbox, mut client) = demo().await;
    for n in 0..3 {
        let config = format!(r#"{{"components": [], "n": {n}}}"#);
        let request = UpdateFragmentRequest {
            id: ids::FRAGMENT.into(),
            name: "rover-base".into(),
            fragment_config_json: Some(config),
            ..Default::default()
        };
        let fragment = client.update_fragment(request).await.unwrap().into_inner().fragment.unwrap();
        assert_eq!(fragment.revision, (n + 3).to_string());
    }
    let mut request =
        GetFragmentHistoryRequest { id: ids::FRAGMENT.into(), page_token: Some(String::new()), page_limit: Some(3) };
    let first = client.get_fragment_history(request.clone()).await.unwrap().into_inner();
    let revisions: Vec<&str> = first.history.iter().map(|e| e.revision.as_str()).collect();
    assert_eq!(revisions, ["4", "3", "2"]);
    request.page_token = Some(first.next_page_token);
    let second = client.get_fragment_history(request).await.unwrap().into_inner();
    assert_eq!(second.history.len(), 1);
    assert_eq!(second.history[0].revision, "1");
    assert!(second.next_page_token.is_empty());
}

#[tokio::test]
async fn logs_page_newest_first_with_filter_and_levels() {
    let (_sandbox, mut client) = demo().await;
    let request = GetRobotPartLogsRequest { id: ids::PART_ROVER_1_MAIN.into(), ..Default::default() };
    let first = client.get_robot_part_logs(request.clone()).await.unwrap().into_inner();
    assert_eq!(first.logs.len(), 100);
    assert!(!first.next_page_token.is_empty());
    let times: Vec<i64> = first.logs.iter().map(|l| l.time.unwrap().seconds).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first");
    let second = client
        .get_robot_part_logs(GetRobotPartLogsRequest { page_token: Some(first.next_page_token), ..request.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.logs.len(), 50);
    assert!(second.next_page_token.is_empty());
    assert!(second.logs[0].time.unwrap().seconds < *times.last().unwrap());

    let levels = ["debug", "info", "warn", "error"];
    assert!(levels.iter().all(|level| first.logs.iter().any(|l| l.level == *level)));
    let errors = client
        .get_robot_part_logs(GetRobotPartLogsRequest { levels: vec!["error".into()], ..request.clone() })
        .await
        .unwrap()
        .into_inner()
        .logs;
    assert!(!errors.is_empty() && errors.iter().all(|l| l.level == "error"));
    let wifi = client
        .get_robot_part_logs(GetRobotPartLogsRequest { filter: Some("WIFI".into()), ..request.clone() })
        .await
        .unwrap()
        .into_inner()
        .logs;
    assert!(!wifi.is_empty() && wifi.iter().all(|l| l.message.contains("wifi")));

    let ascending = GetRobotPartLogsRequest { order: Some(LogOrder::Ascending as i32), limit: Some(10), ..request };
    let oldest = client.get_robot_part_logs(ascending.clone()).await.unwrap().into_inner();
    assert_eq!(oldest.logs.len(), 10);
    assert!(oldest.logs.windows(2).all(|w| w[0].time.unwrap().seconds < w[1].time.unwrap().seconds));
    assert_eq!(oldest.next_page_token, "10");

    let (start, end) = (oldest.logs[2].time, oldest.logs[5].time);
    let window = GetRobotPartLogsRequest { start, end, order: Some(LogOrder::Ascending as i32), ..ascending.clone() };
    let window = client.get_robot_part_logs(window).await.unwrap().into_inner();
    assert_eq!(window.logs, oldest.logs[2..=5]);
    assert!(window.next_page_token.is_empty());
}

#[tokio::test]
async fn tail_streams_new_entries_and_appends_them() {
    let sandbox = start(SandboxConfig { tail_interval: Duration::from_millis(10), ..Default::default() }).await;
    let mut client = client(&sandbox).await;
    let request = TailRobotPartLogsRequest { id: ids::PART_ARM_MAIN.into(), ..Default::default() };
    let mut stream = client.tail_robot_part_logs(request).await.unwrap().into_inner();
    for _ in 0..2 {
        let batch = stream.message().await.unwrap().unwrap();
        assert!(!batch.logs.is_empty());
    }
    drop(stream);

    let request = TailRobotPartLogsRequest { id: ids::PART_ARM_MAIN.into(), errors_only: true, filter: None };
    let mut errors = client.tail_robot_part_logs(request).await.unwrap().into_inner();
    let batch = errors.message().await.unwrap().unwrap();
    assert!(batch.logs.iter().all(|l| l.level == "error"));
    drop(errors);

    let logs = client
        .get_robot_part_logs(GetRobotPartLogsRequest { id: ids::PART_ARM_MAIN.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .logs;
    assert!(logs.len() > 12 + 6, "tailed entries are appended, got {}", logs.len());

    // An open tail does not keep the server from shutting down.
    let request = TailRobotPartLogsRequest { id: ids::PART_ARM_MAIN.into(), ..Default::default() };
    let mut open = client.tail_robot_part_logs(request).await.unwrap().into_inner();
    open.message().await.unwrap().unwrap();
    let started = Instant::now();
    sandbox.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn module_files_upload_in_chunks() {
    let (sandbox, mut client) = demo().await;
    let created = client
        .create_module(CreateModuleRequest { organization_id: ids::ORG.into(), name: "lidar-driver".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.module_id, "demo-robotics:lidar-driver");
    sandbox.clear_journal();

    let info = ModuleFileInfo {
        module_id: created.module_id.clone(),
        version: "1.0.0".into(),
        platform: "linux/arm64".into(),
        platform_tags: Vec::new(),
    };
    let mut messages = vec![UploadModuleFileRequest { module_file: Some(ModuleFile::ModuleFileInfo(info)) }];
    for chunk in [vec![1u8; 1000], vec![2; 1000], vec![3; 500]] {
        messages.push(UploadModuleFileRequest { module_file: Some(ModuleFile::File(chunk)) });
    }
    let response = client.upload_module_file(tokio_stream::iter(messages.clone())).await.unwrap().into_inner();
    assert!(response.url.contains("lidar-driver"));

    let journal = sandbox.journal();
    assert_eq!(journal.len(), 4);
    for (entry, message) in journal.iter().zip(&messages) {
        assert_eq!(entry, &("UploadModuleFile".to_string(), message.encode_to_vec()));
    }
    let module = client
        .get_module(GetModuleRequest { module_id: created.module_id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .module
        .unwrap();
    assert_eq!(module.versions.len(), 1);
    assert_eq!(module.versions[0].files[0].platform, "linux/arm64");
    let files = sandbox.snapshot()["module_files"].clone();
    let uploaded = files.as_array().unwrap().iter().find(|f| f["module_id"] == created.module_id.as_str()).unwrap();
    assert_eq!(uploaded["size"], 2500);

    let again = vec![messages[0].clone(), messages[1].clone()];
    assert_status(client.upload_module_file(tokio_stream::iter(again)).await, Code::AlreadyExists, "1.0.0");
}

#[tokio::test]
async fn api_keys_authenticate_rotate_and_go_away() {
    let (sandbox, mut client) = demo().await;
    let grant = role_grant("location_operator", "location", ids::LOCATION_LAB, ids::ORG);
    let created = client
        .create_key(CreateKeyRequest { authorizations: vec![grant], name: "lab-key".into() })
        .await
        .unwrap()
        .into_inner();
    authenticate(sandbox.url(), &created.id, &created.key).await.unwrap();
    let keys = client.list_keys(ListKeysRequest { org_id: ids::ORG.into() }).await.unwrap().into_inner().api_keys;
    assert_eq!(keys.len(), 3);

    let rotated = client.rotate_key(RotateKeyRequest { id: created.id.clone() }).await.unwrap().into_inner();
    assert_eq!(rotated.id, created.id);
    assert_status(authenticate(sandbox.url(), &created.id, &created.key).await, Code::PermissionDenied, "");
    authenticate(sandbox.url(), &created.id, &rotated.key).await.unwrap();

    client.delete_key(DeleteKeyRequest { id: created.id.clone() }).await.unwrap();
    assert_status(authenticate(sandbox.url(), &created.id, &rotated.key).await, Code::PermissionDenied, "");
}

#[tokio::test]
async fn secrets_are_created_and_deleted() {
    let (_sandbox, mut client) = demo().await;
    let auth = client
        .create_location_secret(CreateLocationSecretRequest { location_id: ids::LOCATION_LAB.into() })
        .await
        .unwrap()
        .into_inner()
        .auth
        .unwrap();
    assert_eq!(auth.secrets.len(), 2);
    let request =
        DeleteLocationSecretRequest { location_id: ids::LOCATION_LAB.into(), secret_id: auth.secrets[1].id.clone() };
    client.delete_location_secret(request).await.unwrap();
    let request =
        DeleteLocationSecretRequest { location_id: ids::LOCATION_LAB.into(), secret_id: auth.secrets[0].id.clone() };
    assert_status(client.delete_location_secret(request).await, Code::FailedPrecondition, "last secret");

    let part = client
        .create_robot_part_secret(CreateRobotPartSecretRequest { part_id: ids::PART_ARM_MAIN.into() })
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap();
    assert_eq!(part.secrets.len(), 2);
    let request = DeleteRobotPartSecretRequest { part_id: part.id.clone(), secret_id: part.secrets[0].id.clone() };
    client.delete_robot_part_secret(request).await.unwrap();
    let secrets = self::part(&mut client, &part.id).await.part.unwrap().secrets;
    assert_eq!(secrets, part.secrets[1..]);
}

#[tokio::test]
async fn empty_seed_has_one_bare_organization() {
    let sandbox = start(SandboxConfig { seed: Seed::Empty, ..Default::default() }).await;
    let mut client = client(&sandbox).await;
    let orgs = client.list_organizations(ListOrganizationsRequest {}).await.unwrap().into_inner().organizations;
    assert_eq!(orgs.len(), 1);
    let locations = client
        .list_locations(ListLocationsRequest { organization_id: orgs[0].id.clone() })
        .await
        .unwrap()
        .into_inner()
        .locations;
    assert!(locations.is_empty());
    let keys = client.list_keys(ListKeysRequest { org_id: orgs[0].id.clone() }).await.unwrap().into_inner().api_keys;
    assert_eq!(keys.len(), 1);
    assert_eq!("empty".parse::<Seed>(), Ok(Seed::Empty));
}

#[tokio::test]
async fn faults_add_latency_and_unavailability() {
    let slow = start(SandboxConfig { latency: Duration::from_millis(100), ..Default::default() }).await;
    let mut client = client(&slow).await;
    let started = Instant::now();
    client.list_organizations(ListOrganizationsRequest {}).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(100));

    let failing = start(SandboxConfig { failure_rate: 1.0, ..Default::default() }).await;
    let mut client = self::client(&failing).await;
    assert_status(client.list_organizations(ListOrganizationsRequest {}).await, Code::Unavailable, "injected");
}

/// With `SANDBOX_CHILD_STATE` set (by `acknowledged_writes_survive_sigkill`), serves a sandbox on that state
/// file, prints its address and blocks until killed; otherwise does nothing.
#[test]
fn persistence_child_server() {
    let Ok(state_file) = std::env::var("SANDBOX_CHILD_STATE") else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = SandboxConfig { state_file: Some(state_file.into()), ..Default::default() };
        let sandbox = start(config).await;
        println!("SANDBOX_ADDR={}", sandbox.addr);
        std::future::pending::<()>().await;
    });
}

/// Kills the child server even when the test fails half-way.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill(); // SIGKILL
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.json");
    let mut child = KillOnDrop(
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sandbox::persistence_child_server", "--nocapture", "--test-threads=1"])
            .env("SANDBOX_CHILD_STATE", &state_file)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let addr = stdout
        .lines()
        .map(Result::unwrap)
        // The harness prints "test persistence_child_server ... " on the same line first.
        .find_map(|line| line.split_once("SANDBOX_ADDR=").map(|(_, addr)| addr.to_string()))
        .expect("the child prints its address");
    let url = format!("http://{addr}");
    let token = authenticate(url.clone(), DEMO_API_KEY_ID, DEMO_API_KEY).await.unwrap();
    let mut client = client_with_token(url, &token).await;
    let location = client
        .create_location(CreateLocationRequest {
            organization_id: ids::ORG.into(),
            name: "Rooftop".into(),
            parent_location_id: None,
        })
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap();
    let robot_id = client
        .new_robot(NewRobotRequest { name: "drone".into(), location: location.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .id;
    drop(child); // SIGKILL: no chance to flush anything after the acknowledged writes

    let restarted = start(SandboxConfig { state_file: Some(state_file.clone()), ..Default::default() }).await;
    let mut client = self::client(&restarted).await;
    let robots =
        client.list_robots(ListRobotsRequest { location_id: location.id.clone() }).await.unwrap().into_inner().robots;
    assert_eq!(robots.len(), 1);
    assert_eq!((robots[0].id.as_str(), robots[0].name.as_str()), (robot_id.as_str(), "drone"));
    assert_eq!(parts(&mut client, &robot_id).await[0].name, "drone-main");

    let on_disk: serde_json::Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert_eq!(on_disk, restarted.snapshot());
    restarted.shutdown().await;
}

#[tokio::test]
async fn a_robot_operator_key_reads_its_machine_and_nothing_else() {
    let (sandbox, mut admin) = demo().await;
    let mut rover = rover_client(&sandbox).await;
    let robot = rover.get_robot(GetRobotRequest { id: ids::ROBOT_ROVER_1.into() }).await.unwrap().into_inner();
    assert_eq!(robot.robot.unwrap().name, "rover-1");
    assert_eq!(parts(&mut rover, ids::ROBOT_ROVER_1).await.len(), 2);
    let logs = GetRobotPartLogsRequest { id: ids::PART_ROVER_1_MAIN.into(), ..Default::default() };
    assert_eq!(rover.get_robot_part_logs(logs).await.unwrap().into_inner().logs.len(), 100);
    let tail = TailRobotPartLogsRequest { id: ids::PART_ROVER_1_LIDAR.into(), ..Default::default() };
    rover.tail_robot_part_logs(tail).await.unwrap();

    let owner_only = format!(r#"API key "{}" has no owner role on robot "{}""#, ids::API_KEY_ROVER, ids::ROBOT_ROVER_1);
    let result = rover.delete_robot(DeleteRobotRequest { id: ids::ROBOT_ROVER_1.into() }).await;
    assert_status(result, Code::PermissionDenied, &owner_only);
    let result =
        rover.mark_part_for_restart(MarkPartForRestartRequest { part_id: ids::PART_ROVER_1_MAIN.into() }).await;
    assert_status(result, Code::PermissionDenied, &owner_only);
    assert_eq!(parts(&mut admin, ids::ROBOT_ROVER_1).await.len(), 2, "nothing was deleted");

    let arm = format!(r#"has no owner or operator role on robot "{}""#, ids::ROBOT_ARM);
    assert_status(rover.get_robot(GetRobotRequest { id: ids::ROBOT_ARM.into() }).await, Code::PermissionDenied, &arm);
    let result = rover.get_robot_part(GetRobotPartRequest { id: ids::PART_ARM_MAIN.into() }).await;
    assert_status(result, Code::PermissionDenied, &arm);
    let result = rover.list_robots(ListRobotsRequest { location_id: ids::LOCATION_WAREHOUSE.into() }).await;
    assert_status(result, Code::PermissionDenied, ids::LOCATION_WAREHOUSE);
    let result = rover.get_fragment(GetFragmentRequest { id: ids::FRAGMENT.into(), ..Default::default() }).await;
    assert_status(result, Code::PermissionDenied, &format!(r#"organization "{}""#, ids::ORG));

    let org_write = format!(r#"has no owner role on organization "{}""#, ids::ORG);
    let request =
        CreateLocationRequest { organization_id: ids::ORG.into(), name: "Attic".into(), ..Default::default() };
    assert_status(rover.create_location(request).await, Code::PermissionDenied, &org_write);
    let request =
        UpdateOrganizationRequest { organization_id: ids::ORG.into(), name: Some("Mine".into()), ..Default::default() };
    assert_status(rover.update_organization(request).await, Code::PermissionDenied, &org_write);
    assert_status(
        rover.rotate_key(RotateKeyRequest { id: DEMO_API_KEY_ID.into() }).await,
        Code::PermissionDenied,
        &org_write,
    );
    let grant = Authorization {
        identity_id: ids::API_KEY_ROVER.into(),
        identity_type: "api-key".into(),
        ..role_grant("robot_owner", "robot", ids::ROBOT_ROVER_1, ids::ORG)
    };
    let request = AddRoleRequest { authorization: Some(grant) };
    assert_status(rover.add_role(request).await, Code::PermissionDenied, &owner_only);

    // Unknown ids are still not found, and no denial gives a secret away.
    assert_status(rover.get_robot(GetRobotRequest { id: "abc".into() }).await, Code::NotFound, r#"robot "abc""#);
    let status = rover.delete_robot(DeleteRobotRequest { id: ids::ROBOT_ROVER_1.into() }).await.unwrap_err();
    assert!(!status.message().contains(ids::API_KEY_ROVER_SECRET));

    let request = CheckPermissionsRequest {
        permissions: vec![
            AuthorizedPermissions {
                resource_type: "robot".into(),
                resource_id: ids::ROBOT_ROVER_1.into(),
                permissions: vec!["read_robot".into(), "control_robot".into(), "delete_robot".into()],
            },
            AuthorizedPermissions {
                resource_type: "robot".into(),
                resource_id: ids::ROBOT_ARM.into(),
                permissions: vec!["read_robot".into()],
            },
            AuthorizedPermissions {
                resource_type: "organization".into(),
                resource_id: ids::ORG.into(),
                permissions: vec!["read_organization".into()],
            },
        ],
    };
    let granted = rover.check_permissions(request.clone()).await.unwrap().into_inner().authorized_permissions;
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].resource_id, ids::ROBOT_ROVER_1);
    assert_eq!(granted[0].permissions, ["read_robot", "control_robot"]);
    let everything = admin.check_permissions(request.clone()).await.unwrap().into_inner().authorized_permissions;
    assert_eq!(everything, request.permissions);
}

#[tokio::test]
async fn a_location_owner_key_creates_machines_only_under_its_location() {
    let (sandbox, mut admin) = demo().await;
    let grant = role_grant("location_owner", "location", ids::LOCATION_WAREHOUSE, ids::ORG);
    let request = CreateKeyRequest { authorizations: vec![grant], name: "warehouse-key".into() };
    let created = admin.create_key(request.clone()).await.unwrap().into_inner();
    let mut warehouse = client_as(&sandbox, &created.id, &created.key).await;

    let new_robot = |name: &str, location: &str| NewRobotRequest { name: name.into(), location: location.into() };
    let forklift = warehouse.new_robot(new_robot("forklift", ids::LOCATION_WAREHOUSE)).await.unwrap().into_inner().id;
    // Sub-locations are covered too.
    warehouse.new_robot(new_robot("dock-cam", ids::LOCATION_LOADING_DOCK)).await.unwrap();
    let robots = ListRobotsRequest { location_id: ids::LOCATION_WAREHOUSE.into() };
    assert_eq!(warehouse.list_robots(robots).await.unwrap().into_inner().robots.len(), 3);
    assert_eq!(parts(&mut warehouse, ids::ROBOT_ROVER_1).await.len(), 2);

    let lab = format!(r#"API key "{}" has no owner role on location "{}""#, created.id, ids::LOCATION_LAB);
    assert_status(warehouse.new_robot(new_robot("intruder", ids::LOCATION_LAB)).await, Code::PermissionDenied, &lab);
    let moved = UpdateRobotRequest { id: forklift, name: "forklift".into(), location: ids::LOCATION_LAB.into() };
    assert_status(warehouse.update_robot(moved).await, Code::PermissionDenied, &lab);
    let lab_robots = ListRobotsRequest { location_id: ids::LOCATION_LAB.into() };
    assert_eq!(admin.list_robots(lab_robots).await.unwrap().into_inner().robots.len(), 2);
    // Handing out keys is for organization owners.
    let result = warehouse.create_key(request).await;
    assert_status(result, Code::PermissionDenied, &format!(r#"has no owner role on organization "{}""#, ids::ORG));
}

#[tokio::test]
async fn list_organizations_shows_the_organizations_a_key_has_roles_in() {
    let (sandbox, mut admin) = demo().await;
    let list = async |client: &mut Client| -> Vec<String> {
        let orgs = client.list_organizations(ListOrganizationsRequest {}).await.unwrap().into_inner().organizations;
        orgs.into_iter().map(|o| o.id).collect()
    };
    let other = admin
        .create_organization(CreateOrganizationRequest { name: "Other".into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    assert_eq!(list(&mut admin).await, [ids::ORG, other.as_str()]);
    let mut rover = rover_client(&sandbox).await;
    assert_eq!(list(&mut rover).await, [ids::ORG], "a grant on a machine shows its organization");

    let grant = role_grant("organization_operator", "organization", &other, &other);
    let created =
        admin.create_key(CreateKeyRequest { authorizations: vec![grant], name: "other".into() }).await.unwrap();
    let created = created.into_inner();
    let mut operator = client_as(&sandbox, &created.id, &created.key).await;
    assert_eq!(list(&mut operator).await, [other.as_str()]);
    let result = operator.get_organization(GetOrganizationRequest { organization_id: ids::ORG.into() }).await;
    assert_status(result, Code::PermissionDenied, ids::ORG);

    // Any key may create an organization, and owns it.
    let own = rover
        .create_organization(CreateOrganizationRequest { name: "Rover's".into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    assert_eq!(list(&mut rover).await, [ids::ORG, own.as_str()]);
    let request = CreateLocationRequest { organization_id: own, name: "Garage".into(), ..Default::default() };
    rover.create_location(request).await.unwrap();
}

/// A role grant as the SDK builds one; identity fields are left for the caller to fill in.
fn role_grant(authorization_id: &str, resource_type: &str, resource_id: &str, organization_id: &str) -> Authorization {
    Authorization {
        authorization_type: "role".into(),
        authorization_id: authorization_id.into(),
        resource_type: resource_type.into(),
        resource_id: resource_id.into(),
        organization_id: organization_id.into(),
        ..Default::default()
    }
}
