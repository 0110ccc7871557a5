//! Confirmation modes through the real binary: a person asked by elicitation (accept, decline,
//! cancel), `--confirm=human`, the 2026-07-28 MRTR round with a sealed requestState (tampered,
//! replayed), and the re-read of the target just before executing.
use crate::common;

use common::{Harness, assert_error_code};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, ErrorData, Implementation,
};
use rmcp::service::RequestContext;
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use viam_fleet_mcp::proto::rpc::v1::{AuthenticateRequest, Credentials, auth_service_client::AuthServiceClient};
use viam_fleet_mcp::proto::viam::app::v1::{UpdateRobotRequest, app_service_client::AppServiceClient};
use viam_fleet_mcp::sandbox::{DEMO_API_KEY, DEMO_API_KEY_ID, SandboxConfig, ids};

common::over_both_transports!(
    flag_mode_asks_a_person_when_the_model_did_not_confirm,
    declined_and_cancelled_confirmations_change_nothing,
    human_mode_ignores_the_flag_and_refuses_clients_that_cannot_ask,
    a_target_changed_while_the_person_decided_is_refused,
    mrtr_confirmation_is_sealed_bound_and_single_use,
);

/// A client whose person answers every confirmation with `action`; it can also change the fleet
/// behind the server's back while the person is being asked.
#[derive(Clone)]
pub(crate) struct Person {
    action: ElicitationAction,
    /// The questions asked, in order.
    pub(crate) asked: Arc<Mutex<Vec<String>>>,
    /// The sandbox to change while the person is asked.
    meddle_with: Arc<Mutex<Option<String>>>,
}

impl Person {
    pub(crate) fn new(action: ElicitationAction) -> Self {
        Self { action, asked: Arc::default(), meddle_with: Arc::default() }
    }
}

impl ClientHandler for Person {
    fn get_info(&self) -> ClientConfig {
        let capabilities = ClientCapabilities::builder().enable_elicitation().build();
        ClientConfig::new(capabilities, Implementation::new("person", "1"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = request {
            self.asked.lock().unwrap().push(message);
        }
        let meddle = self.meddle_with.lock().unwrap().clone();
        if let Some(url) = meddle {
            rename_robot(&url, ids::ROBOT_ROVER_1, "renamed-meanwhile").await;
        }
        let result = ElicitResult::new(self.action.clone());
        Ok(if self.action == ElicitationAction::Accept {
            result.with_content(json!({"confirm": true}))
        } else {
            result
        })
    }
}

/// Changes a machine directly over gRPC, as another user of the fleet would.
async fn rename_robot(url: &str, robot: &str, name: &str) {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string()).unwrap().connect().await.unwrap();
    let token = AuthServiceClient::new(channel.clone())
        .authenticate(AuthenticateRequest {
            entity: DEMO_API_KEY_ID.into(),
            credentials: Some(Credentials { r#type: "api-key".into(), payload: DEMO_API_KEY.into() }),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut request = tonic::Request::new(UpdateRobotRequest {
        id: robot.into(),
        name: name.into(),
        location: ids::LOCATION_WAREHOUSE.into(),
    });
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    AppServiceClient::new(channel).update_robot(request).await.unwrap();
}

fn delete_rover() -> Value {
    json!({"robot_id": ids::ROBOT_ROVER_1})
}

async fn rover_exists<C: ClientHandler>(harness: &Harness<C>) -> bool {
    harness.call("get_robot", delete_rover()).await.is_error != Some(true)
}

async fn flag_mode_asks_a_person_when_the_model_did_not_confirm() {
    let person = Person::new(ElicitationAction::Accept);
    let harness = Harness::start_client(SandboxConfig::default(), &[], person.clone()).await;
    let done = harness.ok("delete_robot", delete_rover()).await;
    assert_eq!(done["status"], json!("ok"));
    assert!(!rover_exists(&harness).await);
    let asked = person.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].starts_with("Delete machine rover-1") && asked[0].contains("rover-1-lidar"), "{}", asked[0]);
    harness.stop().await;
}

async fn declined_and_cancelled_confirmations_change_nothing() {
    for (action, code) in
        [(ElicitationAction::Decline, "confirmation_declined"), (ElicitationAction::Cancel, "confirmation_cancelled")]
    {
        let harness =
            Harness::start_client(SandboxConfig::default(), &["--confirm", "human"], Person::new(action)).await;
        let before = harness.sandbox.snapshot();
        assert_error_code(&harness.err("delete_robot", delete_rover()).await, code);
        let mut flagged = delete_rover();
        flagged["confirm"] = json!(true);
        assert_error_code(&harness.err("delete_robot", flagged).await, code);
        assert_eq!(harness.sandbox.snapshot(), before);
        assert!(!harness.methods().iter().any(|m| m == "DeleteRobot"));
        harness.stop().await;
    }
}

async fn human_mode_ignores_the_flag_and_refuses_clients_that_cannot_ask() {
    let harness = Harness::start_with(SandboxConfig::default(), &["--confirm", "human"]).await;
    let mut flagged = delete_rover();
    flagged["confirm"] = json!(true);
    let error = harness.err("delete_robot", flagged).await;
    assert_error_code(&error, "human_confirmation_unavailable");
    assert!(error["message"].as_str().unwrap().contains("--confirm=human"), "{error}");
    assert!(error["preview"].to_string().contains(ids::PART_ROVER_1_MAIN));
    assert!(rover_exists(&harness).await);
    harness.stop().await;

    let harness = Harness::start_client(
        SandboxConfig::default(),
        &["--confirm", "human"],
        Person::new(ElicitationAction::Accept),
    )
    .await;
    harness.ok("delete_robot", delete_rover()).await;
    assert!(!rover_exists(&harness).await);
    harness.stop().await;
}

async fn a_target_changed_while_the_person_decided_is_refused() {
    let person = Person::new(ElicitationAction::Accept);
    let harness = Harness::start_client(SandboxConfig::default(), &[], person.clone()).await;
    *person.meddle_with.lock().unwrap() = Some(harness.sandbox.url());
    let error = harness.err("delete_robot", delete_rover()).await;
    assert_error_code(&error, "target_changed");
    assert!(error["now"].to_string().contains("renamed-meanwhile"), "{error}");
    assert!(rover_exists(&harness).await, "nothing was deleted");
    assert!(!harness.methods().iter().any(|m| m == "DeleteRobot"));
    harness.stop().await;
}

async fn mrtr_confirmation_is_sealed_bound_and_single_use() {
    let person = Person::new(ElicitationAction::Accept);
    let harness = Harness::start_modern(SandboxConfig::default(), &["--confirm", "human"], person.clone()).await;

    // The client library drives the round trip: input request → person → retry with state.
    harness.ok("delete_robot", json!({"robot_id": ids::ROBOT_ROVER_2})).await;
    assert_eq!(person.asked.lock().unwrap().len(), 1);

    let params = |state: Option<String>, answer: Option<Value>| {
        let mut p =
            CallToolRequestParams::new("delete_robot").with_arguments(delete_rover().as_object().unwrap().clone());
        p.request_state = state;
        p.input_responses = answer.map(|a| [("confirm".to_string(), a)].into());
        p
    };
    let accept = json!({"action": "accept", "content": {"confirm": true}});
    let CallToolResponse::InputRequired(round) = harness.client.call_tool_once(params(None, None)).await.unwrap()
    else {
        panic!("expected an input request")
    };
    let state = round.request_state.clone().unwrap();

    // Tampered: one character changed.
    let mut forged = state.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let tampered =
        harness.client.call_tool_once(params(Some(String::from_utf8(forged).unwrap()), Some(accept.clone()))).await;
    assert_error_code(&structured(tampered), "invalid_request_state");

    // Bound to the arguments: the same state for another machine is rejected.
    let mut other = params(Some(state.clone()), Some(accept.clone()));
    other.arguments = Some(json!({"robot_id": ids::ROBOT_ARM}).as_object().unwrap().clone());
    assert_error_code(&structured(harness.client.call_tool_once(other).await), "invalid_request_state");
    assert!(rover_exists(&harness).await);

    // Accepted once, then replay is refused.
    let accepted = structured(harness.client.call_tool_once(params(Some(state.clone()), Some(accept.clone()))).await);
    assert_eq!(accepted["status"], json!("ok"), "{accepted}");
    assert!(!rover_exists(&harness).await);
    let replayed = structured(harness.client.call_tool_once(params(Some(state), Some(accept))).await);
    assert_error_code(&replayed, "invalid_request_state");
    harness.stop().await;
}

fn structured(response: Result<CallToolResponse, rmcp::ServiceError>) -> Value {
    match response.unwrap() {
        CallToolResponse::Complete(result) => result.structured_content.unwrap(),
        other => panic!("expected a complete result, got {other:?}"),
    }
}

/// Replicas sharing a state key: a deletion previewed on one process is confirmed on another, and
/// the same confirmation replayed on the first finds its target gone.
#[tokio::test]
async fn a_confirmation_sealed_by_one_replica_is_redeemed_by_another() {
    const KEY: &str = "0123456789abcdef0123456789abcdef-shared";
    let shared = [("VIAM_MCP_STATE_KEY", KEY)];
    let args = ["--confirm", "human"];
    let person = Person::new(ElicitationAction::Accept);
    let a = Harness::start_modern(SandboxConfig::default(), &args, person.clone()).await;
    let replica_b = a.replica(&args, &shared, person.clone()).await;
    let replica_a = a.replica(&args, &shared, person).await;
    let params = |state: Option<String>| {
        let mut p =
            CallToolRequestParams::new("delete_robot").with_arguments(delete_rover().as_object().unwrap().clone());
        p.input_responses = state
            .as_ref()
            .map(|_| [("confirm".to_string(), json!({"action": "accept", "content": {"confirm": true}}))].into());
        p.request_state = state;
        p
    };
    let CallToolResponse::InputRequired(round) = replica_a.call_tool_once(params(None)).await.unwrap() else {
        panic!("expected an input request")
    };
    let state = round.request_state.clone().unwrap();
    // A process with its own key cannot open it.
    assert_error_code(&structured(a.client.call_tool_once(params(Some(state.clone()))).await), "invalid_request_state");
    assert!(rover_exists(&a).await);
    // The replica with the shared key can.
    let done = structured(replica_b.call_tool_once(params(Some(state.clone()))).await);
    assert_eq!(done["status"], json!("ok"), "{done}");
    assert!(!rover_exists(&a).await);
    // Replayed on the first replica, which never redeemed it: the target is gone.
    let replayed = structured(replica_a.call_tool_once(params(Some(state))).await);
    assert_error_code(&replayed, "target_changed");
    assert_eq!(a.methods().iter().filter(|m| *m == "DeleteRobot").count(), 1);
    let _ = replica_b.cancel().await;
    let _ = replica_a.cancel().await;
    a.stop().await;
}
