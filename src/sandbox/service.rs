//! The AppService: every RPC is a thin wrapper that goes through `admit` (fault injection, token check,
//! journal), then the caller's role check and one `State` method, under the state lock, saving the state
//! after mutations.
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use super::state::{State, Target};
use super::{Sandbox, lock};
use crate::proto::viam::app::v1::app_service_server::AppService;
use crate::proto::viam::app::v1::upload_module_file_request::ModuleFile;
use crate::proto::viam::app::v1::*;

/// Log entries a tailed machine produces per tick.
const TAIL_BATCH: u64 = 3;

/// The longest status message the sandbox sends: messages echo ids and names from the request,
/// and a status travels in a header, which an unbounded echo would make too large to deliver.
const MAX_STATUS_MESSAGE: usize = 512;

fn bounded(status: Status) -> Status {
    if status.message().len() <= MAX_STATUS_MESSAGE {
        return status;
    }
    let mut end = MAX_STATUS_MESSAGE;
    while !status.message().is_char_boundary(end) {
        end -= 1;
    }
    Status::new(status.code(), format!("{}…", &status.message()[..end]))
}

impl Sandbox {
    /// The gate of every AppService call: injected latency and failures first, then the bearer token.
    /// Returns the caller's API key id.
    async fn admit(&self, method: &str, metadata: &MetadataMap) -> Result<String, Status> {
        if !self.config.latency.is_zero() {
            tokio::time::sleep(self.config.latency).await;
        }
        if self.inject_failure() {
            return Err(Status::unavailable(format!("sandbox: injected failure of {method}")));
        }
        self.tokens.check(metadata)
    }

    /// Journals the request before it is validated, so failing requests show up too.
    fn record(&self, method: &str, message: &impl Message) {
        self.journal().push(method, message.encode_to_vec());
    }

    async fn admit_request<Q: Message>(&self, method: &str, request: Request<Q>) -> Result<(String, Q), Status> {
        let caller = self.admit(method, request.metadata()).await?;
        let message = request.into_inner();
        self.record(method, &message);
        Ok((caller, message))
    }

    async fn read<Q: Message + Target, R>(
        &self,
        method: &str,
        request: Request<Q>,
        f: impl FnOnce(&State, Q, &str) -> Result<R, Status>,
    ) -> Result<Response<R>, Status> {
        let (caller, message) = self.admit_request(method, request).await?;
        let state = self.state();
        state.authorize(&caller, method, &message).map_err(bounded)?;
        f(&state, message, &caller).map(Response::new).map_err(bounded)
    }

    async fn write<Q: Message + Target, R>(
        &self,
        method: &str,
        request: Request<Q>,
        f: impl FnOnce(&mut State, Q, &str) -> Result<R, Status>,
    ) -> Result<Response<R>, Status> {
        let (caller, message) = self.admit_request(method, request).await?;
        let result = self
            .mutate(|state| {
                state.authorize(&caller, method, &message)?;
                f(state, message, &caller)
            })
            .await
            .map_err(bounded)?;
        if !self.config.reply_delay.is_zero() {
            tokio::time::sleep(self.config.reply_delay).await;
        }
        Ok(Response::new(result))
    }

    /// Applies a change and, with a state file, saves the result before the caller gets an answer.
    async fn mutate<R>(&self, f: impl FnOnce(&mut State) -> Result<R, Status>) -> Result<R, Status> {
        let (result, pending) = {
            let mut state = self.state();
            let result = f(&mut state)?;
            let pending = self.store.as_ref().map(|store| {
                state.settle(&super::state::now());
                store.prepare(&state)
            });
            (result, pending)
        };
        if let (Some(store), Some(pending)) = (&self.store, pending) {
            store.commit(pending).await?;
        }
        Ok(result)
    }

    /// Streams freshly generated entries every `tail_interval` until the client goes away, the part is
    /// deleted or the sandbox shuts down. Ticks without matching entries send nothing: the Python SDK
    /// treats an empty batch as the end of the stream.
    async fn tail(&self, request: Request<TailRobotPartLogsRequest>) -> Result<Response<TailStream>, Status> {
        let method = <TailRobotPartLogsRequest as crate::proto::Rpc>::method();
        let (caller, message) = self.admit_request(method, request).await?;
        let mut tail = {
            let state = self.state();
            state.authorize(&caller, method, &message)?;
            state.tail_robot_part_logs(message)?
        };
        let (tx, rx) = mpsc::channel(16);
        let (state, stop, period) = (self.state.clone(), self.stop.clone(), self.config.tail_interval);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = tx.closed() => return,
                    _ = stop.cancelled() => return,
                }
                let batch = match lock(&state).tail_step(&mut tail, TAIL_BATCH) {
                    Ok(logs) if logs.is_empty() => continue,
                    Ok(logs) => Ok(TailRobotPartLogsResponse { logs }),
                    Err(status) => Err(bounded(status)),
                };
                let last = batch.is_err();
                if tx.send(batch).await.is_err() || last {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    /// One `module_file_info` message, then any number of `file` chunks; each message is journaled.
    async fn upload(
        &self,
        request: Request<Streaming<UploadModuleFileRequest>>,
    ) -> Result<Response<UploadModuleFileResponse>, Status> {
        let method = <UploadModuleFileRequest as crate::proto::Rpc>::method();
        let caller = self.admit(method, request.metadata()).await?;
        let mut stream = request.into_inner();
        let (mut info, mut size) = (None, 0u64);
        while let Some(message) = stream.message().await? {
            self.record(method, &message);
            match (message.module_file, &info) {
                (Some(ModuleFile::ModuleFileInfo(first)), None) => info = Some(first),
                (Some(ModuleFile::File(chunk)), Some(_)) => size += chunk.len() as u64,
                _ => {
                    return Err(Status::invalid_argument(
                        "send module_file_info in the first message and file bytes in the following ones",
                    ));
                }
            }
        }
        let info = info.ok_or_else(|| Status::invalid_argument("module_file_info is required"))?;
        self.mutate(|state| {
            state.authorize(&caller, method, &info)?;
            state.upload_module_file(info, size)
        })
        .await
        .map(Response::new)
    }
}

type TailStream = ReceiverStream<Result<TailRobotPartLogsResponse, Status>>;

/// Generates the `AppService` impl from a table: `read` RPCs see the state, `write` ones change it (and are
/// saved); the `_as` variants also learn the caller's API key id (for answers that depend on its roles, and
/// for history entries).
macro_rules! app_service {
    ($($kind:ident $name:ident($request:ident) -> $response:ident;)*) => {
        #[tonic::async_trait]
        impl AppService for Sandbox {
            type TailRobotPartLogsStream = TailStream;

            async fn tail_robot_part_logs(
                &self,
                request: Request<TailRobotPartLogsRequest>,
            ) -> Result<Response<TailStream>, Status> {
                self.tail(request).await.map_err(bounded)
            }

            async fn upload_module_file(
                &self,
                request: Request<Streaming<UploadModuleFileRequest>>,
            ) -> Result<Response<UploadModuleFileResponse>, Status> {
                self.upload(request).await.map_err(bounded)
            }

            $(
                async fn $name(&self, request: Request<$request>) -> Result<Response<$response>, Status> {
                    app_service!(@$kind self, <$request as crate::proto::Rpc>::method(), request, $name)
                }
            )*
        }
    };
    (@read $self:ident, $method:expr, $request:ident, $name:ident) => {
        $self.read($method, $request, |state, r, _| state.$name(r)).await
    };
    (@read_as $self:ident, $method:expr, $request:ident, $name:ident) => {
        $self.read($method, $request, State::$name).await
    };
    (@write $self:ident, $method:expr, $request:ident, $name:ident) => {
        $self.write($method, $request, |state, r, _| state.$name(r)).await
    };
    (@write_as $self:ident, $method:expr, $request:ident, $name:ident) => {
        $self.write($method, $request, State::$name).await
    };
}

app_service! {
    read get_user_id_by_email(GetUserIdByEmailRequest) -> GetUserIdByEmailResponse;
    write_as create_organization(CreateOrganizationRequest) -> CreateOrganizationResponse;
    read_as list_organizations(ListOrganizationsRequest) -> ListOrganizationsResponse;
    read get_organizations_with_access_to_location(GetOrganizationsWithAccessToLocationRequest)
        -> GetOrganizationsWithAccessToLocationResponse;
    read_as list_organizations_by_user(ListOrganizationsByUserRequest) -> ListOrganizationsByUserResponse;
    read get_organization(GetOrganizationRequest) -> GetOrganizationResponse;
    read get_organization_namespace_availability(GetOrganizationNamespaceAvailabilityRequest)
        -> GetOrganizationNamespaceAvailabilityResponse;
    write update_organization(UpdateOrganizationRequest) -> UpdateOrganizationResponse;
    write delete_organization(DeleteOrganizationRequest) -> DeleteOrganizationResponse;
    read list_organization_members(ListOrganizationMembersRequest) -> ListOrganizationMembersResponse;
    write create_organization_invite(CreateOrganizationInviteRequest) -> CreateOrganizationInviteResponse;
    write update_organization_invite_authorizations(UpdateOrganizationInviteAuthorizationsRequest)
        -> UpdateOrganizationInviteAuthorizationsResponse;
    write delete_organization_member(DeleteOrganizationMemberRequest) -> DeleteOrganizationMemberResponse;
    write delete_organization_invite(DeleteOrganizationInviteRequest) -> DeleteOrganizationInviteResponse;
    read resend_organization_invite(ResendOrganizationInviteRequest) -> ResendOrganizationInviteResponse;
    write create_location(CreateLocationRequest) -> CreateLocationResponse;
    read get_location(GetLocationRequest) -> GetLocationResponse;
    write update_location(UpdateLocationRequest) -> UpdateLocationResponse;
    write delete_location(DeleteLocationRequest) -> DeleteLocationResponse;
    read list_locations(ListLocationsRequest) -> ListLocationsResponse;
    write share_location(ShareLocationRequest) -> ShareLocationResponse;
    write unshare_location(UnshareLocationRequest) -> UnshareLocationResponse;
    read location_auth(LocationAuthRequest) -> LocationAuthResponse;
    write create_location_secret(CreateLocationSecretRequest) -> CreateLocationSecretResponse;
    write delete_location_secret(DeleteLocationSecretRequest) -> DeleteLocationSecretResponse;
    read get_robot(GetRobotRequest) -> GetRobotResponse;
    read get_rover_rental_robots(GetRoverRentalRobotsRequest) -> GetRoverRentalRobotsResponse;
    read get_robot_parts(GetRobotPartsRequest) -> GetRobotPartsResponse;
    read get_robot_part(GetRobotPartRequest) -> GetRobotPartResponse;
    read get_robot_part_logs(GetRobotPartLogsRequest) -> GetRobotPartLogsResponse;
    read get_robot_part_history(GetRobotPartHistoryRequest) -> GetRobotPartHistoryResponse;
    write_as update_robot_part(UpdateRobotPartRequest) -> UpdateRobotPartResponse;
    write new_robot_part(NewRobotPartRequest) -> NewRobotPartResponse;
    write delete_robot_part(DeleteRobotPartRequest) -> DeleteRobotPartResponse;
    read get_robot_api_keys(GetRobotApiKeysRequest) -> GetRobotApiKeysResponse;
    write mark_part_as_main(MarkPartAsMainRequest) -> MarkPartAsMainResponse;
    write mark_part_for_restart(MarkPartForRestartRequest) -> MarkPartForRestartResponse;
    write create_robot_part_secret(CreateRobotPartSecretRequest) -> CreateRobotPartSecretResponse;
    write delete_robot_part_secret(DeleteRobotPartSecretRequest) -> DeleteRobotPartSecretResponse;
    read list_robots(ListRobotsRequest) -> ListRobotsResponse;
    read list_robots_for_locations(ListRobotsForLocationsRequest) -> ListRobotsForLocationsResponse;
    read list_machine_summaries(ListMachineSummariesRequest) -> ListMachineSummariesResponse;
    write new_robot(NewRobotRequest) -> NewRobotResponse;
    write update_robot(UpdateRobotRequest) -> UpdateRobotResponse;
    write delete_robot(DeleteRobotRequest) -> DeleteRobotResponse;
    read list_fragments(ListFragmentsRequest) -> ListFragmentsResponse;
    read get_fragment(GetFragmentRequest) -> GetFragmentResponse;
    write create_fragment(CreateFragmentRequest) -> CreateFragmentResponse;
    write_as update_fragment(UpdateFragmentRequest) -> UpdateFragmentResponse;
    write delete_fragment(DeleteFragmentRequest) -> DeleteFragmentResponse;
    read get_fragment_history(GetFragmentHistoryRequest) -> GetFragmentHistoryResponse;
    write add_role(AddRoleRequest) -> AddRoleResponse;
    write remove_role(RemoveRoleRequest) -> RemoveRoleResponse;
    write change_role(ChangeRoleRequest) -> ChangeRoleResponse;
    read list_authorizations(ListAuthorizationsRequest) -> ListAuthorizationsResponse;
    read_as check_permissions(CheckPermissionsRequest) -> CheckPermissionsResponse;
    read get_registry_item(GetRegistryItemRequest) -> GetRegistryItemResponse;
    write create_registry_item(CreateRegistryItemRequest) -> CreateRegistryItemResponse;
    write update_registry_item(UpdateRegistryItemRequest) -> UpdateRegistryItemResponse;
    read list_registry_items(ListRegistryItemsRequest) -> ListRegistryItemsResponse;
    write delete_registry_item(DeleteRegistryItemRequest) -> DeleteRegistryItemResponse;
    write create_module(CreateModuleRequest) -> CreateModuleResponse;
    write update_module(UpdateModuleRequest) -> UpdateModuleResponse;
    read get_module(GetModuleRequest) -> GetModuleResponse;
    read list_modules(ListModulesRequest) -> ListModulesResponse;
    write create_key(CreateKeyRequest) -> CreateKeyResponse;
    write delete_key(DeleteKeyRequest) -> DeleteKeyResponse;
    write create_key_from_existing_key_authorizations(CreateKeyFromExistingKeyAuthorizationsRequest)
        -> CreateKeyFromExistingKeyAuthorizationsResponse;
    read list_keys(ListKeysRequest) -> ListKeysResponse;
    write rotate_key(RotateKeyRequest) -> RotateKeyResponse;
}
