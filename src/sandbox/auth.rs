//! API-key authentication (goutils' `proto.rpc.v1.AuthService`) and the bearer-token check in front of
//! every AppService call.
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use super::Sandbox;
use super::state::new_secret;
use crate::proto::rpc::v1::auth_service_server::AuthService;
use crate::proto::rpc::v1::{AuthenticateRequest, AuthenticateResponse};

/// Issued access tokens: opaque random strings mapped to the API key id and their expiry.
pub struct Tokens {
    ttl: Duration,
    issued: Mutex<HashMap<String, (String, Instant)>>,
}

impl Tokens {
    pub fn new(ttl: Duration) -> Self {
        Tokens { ttl, issued: Mutex::default() }
    }

    fn issue(&self, entity: &str) -> String {
        let token = format!("{}{}", new_secret(), new_secret());
        let expiry = Instant::now() + self.ttl;
        self.issued.lock().unwrap_or_else(PoisonError::into_inner).insert(token.clone(), (entity.to_string(), expiry));
        token
    }

    /// The API key id behind a valid, unexpired `authorization: Bearer <token>` header.
    pub fn check(&self, metadata: &MetadataMap) -> Result<String, Status> {
        let header = metadata.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| Status::unauthenticated("expected authorization header with prefix: Bearer "))?;
        let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        match issued.get(token) {
            None => Err(Status::unauthenticated("invalid access token")),
            Some((_, expiry)) if *expiry <= Instant::now() => {
                issued.remove(token);
                Err(Status::unauthenticated("token expired"))
            }
            Some((entity, _)) => Ok(entity.clone()),
        }
    }
}

#[tonic::async_trait]
impl AuthService for Sandbox {
    /// Accepts the configured API key, and any key the fleet itself holds (created or rotated through the API).
    async fn authenticate(
        &self,
        request: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        if request.metadata().contains_key("authorization") {
            return Err(Status::invalid_argument("already authenticated; cannot re-authenticate"));
        }
        let r = request.into_inner();
        let credentials = r.credentials.ok_or_else(|| Status::invalid_argument("credentials required"))?;
        if credentials.r#type != "api-key" {
            return Err(Status::invalid_argument(format!(
                "unsupported credentials type {:?}; use \"api-key\"",
                credentials.r#type
            )));
        }
        let configured = r.entity == self.config.api_key_id && credentials.payload == self.config.api_key;
        if !configured && !self.state().key_matches(&r.entity, &credentials.payload) {
            return Err(Status::permission_denied("failed to authenticate: invalid API key id or key"));
        }
        Ok(Response::new(AuthenticateResponse { access_token: self.tokens.issue(&r.entity) }))
    }
}
