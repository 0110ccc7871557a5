//! The connection to Viam's app: one lazily connected channel, API-key authentication with a
//! cached bearer token, per-call deadlines, retries, and status codes mapped to `ToolError`.
use crate::error::ToolError;
use crate::proto::Rpc;
use crate::proto::rpc::v1::{AuthenticateRequest, Credentials, auth_service_client::AuthServiceClient};
use prost::bytes::Buf as _;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::path::Path;
use std::time::{Duration, Instant};
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

pub const DEFAULT_APP_URL: &str = "https://app.viam.com:443";
/// goutils caps gRPC messages at 32 MiB; tonic's 4 MiB default is too small for big pages.
const MAX_MESSAGE_SIZE: usize = 32 << 20;
const UNAVAILABLE_RETRIES: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// An API key and its id. `Debug` never shows the key.
#[derive(Clone)]
pub struct ApiKey {
    pub id: String,
    pub key: String,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey").field("id", &self.id).field("key", &"<redacted>").finish()
    }
}

#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    pub url: String,
    pub api_key: Option<ApiKey>,
    pub timeout: Duration,
}

/// Whether a failed call may be sent again when the service is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Reads: retried with backoff on `UNAVAILABLE`.
    OnUnavailable,
    /// Writes: never retried automatically, and a failure after the request may have reached
    /// the service is reported as `outcome_unknown`.
    Never,
}

pub struct Connection {
    url: String,
    channel: Channel,
    api_key: Option<ApiKey>,
    timeout: Duration,
    /// Held while authenticating, so concurrent calls share one Authenticate round trip.
    token: tokio::sync::Mutex<Option<MetadataValue<Ascii>>>,
}

impl Connection {
    /// Builds the channel without any I/O: nothing is dialled until the first call.
    pub fn new(config: ConnectionConfig) -> anyhow::Result<Self> {
        Self::with_ca_file(config, None)
    }

    /// As `new`; over TLS the server must present a certificate chaining to the webpki roots,
    /// the system's roots, or the CA certificates in the PEM file `ca_file`. There is no
    /// plaintext fallback.
    pub fn with_ca_file(config: ConnectionConfig, ca_file: Option<&Path>) -> anyhow::Result<Self> {
        let mut endpoint = Endpoint::from_shared(config.url.clone())
            .map_err(|e| anyhow::anyhow!("invalid app URL {:?}: {e}", config.url))?
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        if config.url.starts_with("https://") {
            let mut tls = ClientTlsConfig::new().with_webpki_roots();
            if let Some(path) = ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("cannot read --ca-file {}: {e}", path.display()))?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            // A system with no CA store (a minimal container) still has the webpki roots.
            endpoint = match endpoint.clone().tls_config(tls.clone().with_native_roots()) {
                Ok(endpoint) => endpoint,
                Err(e) => {
                    tracing::debug!("system CA certificates not used: {e}");
                    endpoint.tls_config(tls)?
                }
            };
        } else if !config.url.starts_with("http://") {
            anyhow::bail!("app URL {:?} must start with https:// or http://", config.url);
        }
        Ok(Self {
            url: config.url,
            channel: endpoint.connect_lazy(),
            api_key: config.api_key,
            timeout: config.timeout,
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// The configured key, so results can be scrubbed of it.
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }

    /// One unary call.
    pub async fn unary<R: Rpc>(&self, request: R, retry: Retry) -> Result<R::Response, ToolError> {
        self.unary_with(request, retry, codec::<R>).await
    }

    /// The response's wire bytes, not decoded: for a caller that only turns them into JSON.
    pub async fn unary_wire<R: Rpc>(&self, request: R, retry: Retry) -> Result<Vec<u8>, ToolError> {
        self.unary_with(request, retry, WireCodec::<R>::default).await
    }

    async fn unary_with<R: Rpc, C>(&self, request: R, retry: Retry, codec: fn() -> C) -> Result<C::Decode, ToolError>
    where
        C: Codec<Encode = R, Decode: Sync>,
    {
        self.with_auth(R::method(), retry, |bearer| {
            let request = self.request(request.clone(), bearer, true);
            async move {
                let mut grpc = self.grpc().await?;
                Ok(grpc.unary(request, path::<R>(), codec()).await?.into_inner())
            }
        })
        .await
    }

    /// Opens a server stream. It has no deadline: the caller bounds how long it reads.
    pub async fn server_stream<R: Rpc>(&self, request: R) -> Result<tonic::Streaming<R::Response>, ToolError> {
        self.with_auth(R::method(), Retry::OnUnavailable, |bearer| {
            let request = self.request(request.clone(), bearer, false);
            async move {
                let mut grpc = self.grpc().await?;
                Ok(grpc.server_streaming(request, path::<R>(), codec::<R>()).await?.into_inner())
            }
        })
        .await
    }

    /// Sends `messages` as one client stream and returns the single response.
    pub async fn client_stream<R: Rpc>(&self, messages: Vec<R>) -> Result<R::Response, ToolError> {
        self.with_auth(R::method(), Retry::Never, |bearer| {
            let request = self.request(tokio_stream::iter(messages.clone()), bearer, true);
            async move {
                let mut grpc = self.grpc().await?;
                Ok(grpc.client_streaming(request, path::<R>(), codec::<R>()).await?.into_inner())
            }
        })
        .await
    }

    fn request<T>(&self, message: T, bearer: MetadataValue<Ascii>, deadline: bool) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert("authorization", bearer);
        if deadline {
            request.set_timeout(self.timeout);
        }
        request
    }

    async fn grpc(&self) -> Result<tonic::client::Grpc<Channel>, Status> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        grpc.ready().await.map_err(|e| Status::unavailable(format!("cannot reach {}: {e}", self.url)))?;
        Ok(grpc)
    }

    /// Runs `attempt` with a bearer token: re-authenticates once on `UNAUTHENTICATED`, and for
    /// reads retries `UNAVAILABLE` with exponential backoff.
    async fn with_auth<T, F, Fut>(&self, method: &str, retry: Retry, mut attempt: F) -> Result<T, ToolError>
    where
        F: FnMut(MetadataValue<Ascii>) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let started = Instant::now();
        let mut bearer = self.bearer(None).await?;
        let mut reauthenticated = false;
        let mut retries = 0;
        loop {
            match attempt(bearer.clone()).await {
                Ok(value) => {
                    tracing::debug!(method, elapsed_ms = started.elapsed().as_millis() as u64, "ok");
                    return Ok(value);
                }
                Err(status) if status.code() == Code::Unauthenticated && !reauthenticated => {
                    tracing::info!(method, "token rejected; authenticating again");
                    reauthenticated = true;
                    bearer = self.bearer(Some(&bearer)).await?;
                }
                Err(status) if certificate_problem(&status).is_some() => {
                    return Err(self.untrusted(&status));
                }
                Err(status)
                    if status.code() == Code::Unavailable
                        && retry == Retry::OnUnavailable
                        && retries < UNAVAILABLE_RETRIES =>
                {
                    let backoff = FIRST_BACKOFF * 2u32.pow(retries);
                    tracing::warn!(method, retry = retries + 1, ?backoff, "unavailable; retrying");
                    retries += 1;
                    tokio::time::sleep(backoff).await;
                }
                Err(status) => {
                    tracing::info!(method, code = ?status.code(), "failed");
                    let status = self.deadline_as_such(status);
                    if retry == Retry::Never && may_have_arrived(&status) {
                        return Err(ToolError::OutcomeUnknown {
                            message: format!("{method} failed after it was sent: {}", status.message()),
                            verify: None,
                        });
                    }
                    return Err(status.into());
                }
            }
        }
    }

    /// tonic reports its own client-side timeout as CANCELLED; it is a missed deadline.
    fn deadline_as_such(&self, status: Status) -> Status {
        if status.code() == Code::Cancelled && status.message().contains("Timeout expired") {
            Status::deadline_exceeded(format!("no answer within the {:?} deadline", self.timeout))
        } else {
            status
        }
    }

    /// The error for a TLS peer whose certificate failed verification: it names the problem
    /// and the flag that fixes it. Never retried.
    fn untrusted(&self, status: &Status) -> ToolError {
        let problem = certificate_problem(status).unwrap_or_default();
        ToolError::Grpc {
            code: Code::Unavailable,
            message: format!("TLS: the certificate of {} was not accepted: {problem}", self.url),
            hint: Some(
                "If the service's certificate comes from a private CA (a corporate proxy, or \
                 `viam-fleet-mcp sandbox --tls-dir DIR`), pass that CA's PEM file with --ca-file \
                 (or VIAM_CA_FILE or SSL_CERT_FILE)."
                    .into(),
            ),
        }
    }

    /// The cached bearer token, or a fresh one when there is none or `stale` was rejected.
    async fn bearer(&self, stale: Option<&MetadataValue<Ascii>>) -> Result<MetadataValue<Ascii>, ToolError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Some(*t) != stale) {
            return Ok(token.clone());
        }
        let access_token = self.authenticate().await?;
        let bearer: MetadataValue<Ascii> = format!("Bearer {access_token}")
            .parse()
            .map_err(|_| ToolError::local("the service returned an access token that is not valid ASCII"))?;
        *cached = Some(bearer.clone());
        Ok(bearer)
    }

    /// `proto.rpc.v1.AuthService/Authenticate` on the bare channel: it must carry no
    /// `authorization` header, or the service refuses to re-authenticate.
    async fn authenticate(&self) -> Result<String, ToolError> {
        let Some(api_key) = &self.api_key else {
            return Err(ToolError::NotConfigured {
                message: "no Viam API key is configured: set VIAM_API_KEY and VIAM_API_KEY_ID \
                          (create one with `viam organizations api-key create` or in the Viam app), \
                          or start with --sandbox to use the simulated fleet"
                    .into(),
            });
        };
        let mut request = Request::new(AuthenticateRequest {
            entity: api_key.id.clone(),
            credentials: Some(Credentials { r#type: "api-key".into(), payload: api_key.key.clone() }),
        });
        request.set_timeout(self.timeout);
        let response =
            AuthServiceClient::new(self.channel.clone()).authenticate(request).await.map_err(|status| match status
                .code()
            {
                Code::PermissionDenied | Code::Unauthenticated | Code::InvalidArgument => ToolError::Grpc {
                    code: Code::Unauthenticated,
                    message: format!("the API key with id {} was rejected: {}", api_key.id, status.message()),
                    hint: Some("Check VIAM_API_KEY and VIAM_API_KEY_ID.".into()),
                },
                _ if certificate_problem(&status).is_some() => self.untrusted(&status),
                _ => status.into(),
            })?;
        Ok(response.into_inner().access_token)
    }
}

/// Whether a failed request may still have reached the service and taken effect: the deadline
/// passed or the transport failed mid-call, as opposed to an answer from the service or a
/// connection that was never made.
fn may_have_arrived(status: &Status) -> bool {
    if matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled) {
        return true;
    }
    let mut source = std::error::Error::source(status);
    let transport = source.is_some();
    while let Some(error) = source {
        let text = error.to_string();
        if text.contains("error trying to connect") || text.contains("tcp connect error") || text.contains("dns error")
        {
            return false;
        }
        source = error.source();
    }
    transport
}

/// The innermost error in `status`'s source chain that is about a certificate, such as
/// "invalid peer certificate: UnknownIssuer".
fn certificate_problem(status: &Status) -> Option<String> {
    let mut found = None;
    let mut source: Option<&dyn std::error::Error> = Some(status);
    while let Some(error) = source {
        let text = error.to_string();
        if text.contains("certificate") {
            found = Some(text);
        }
        source = error.source();
    }
    found
}

fn path<R: Rpc>() -> PathAndQuery {
    PathAndQuery::from_static(R::PATH)
}

fn codec<R: Rpc>() -> tonic_prost::ProstCodec<R, R::Response> {
    tonic_prost::ProstCodec::default()
}

/// Encodes the request as prost does and hands back the response's bytes as they arrived.
struct WireCodec<R>(PhantomData<fn(R)>);

impl<R> Default for WireCodec<R> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<R: prost::Message + Send + 'static> Codec for WireCodec<R> {
    type Encode = R;
    type Decode = Vec<u8>;
    type Encoder = tonic_prost::ProstEncoder<R>;
    type Decoder = WireDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        WireDecoder
    }
}

struct WireDecoder;

impl Decoder for WireDecoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut bytes = vec![0; buf.remaining()];
        buf.copy_to_slice(&mut bytes);
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = ApiKey { id: "id-1".into(), key: "s3cr3t-value".into() };
        let config =
            ConnectionConfig { url: DEFAULT_APP_URL.into(), api_key: Some(key), timeout: Duration::from_secs(1) };
        let shown = format!("{config:?}");
        assert!(shown.contains("id-1") && !shown.contains("s3cr3t-value"));
    }

    #[tokio::test]
    async fn builds_tls_and_plaintext_channels_without_io() {
        for url in [DEFAULT_APP_URL, "http://127.0.0.1:1"] {
            let config = ConnectionConfig { url: url.into(), api_key: None, timeout: Duration::from_secs(1) };
            assert!(Connection::new(config).is_ok(), "{url}");
        }
        let config = ConnectionConfig { url: "ftp://x".into(), api_key: None, timeout: Duration::from_secs(1) };
        assert!(Connection::new(config).is_err());
    }

    #[tokio::test]
    async fn a_call_without_a_key_says_how_to_set_one() {
        let config =
            ConnectionConfig { url: "http://127.0.0.1:1".into(), api_key: None, timeout: Duration::from_secs(1) };
        let conn = Connection::new(config).unwrap();
        let err = conn.unary(crate::proto::viam::app::v1::ListOrganizationsRequest {}, Retry::Never).await.unwrap_err();
        assert_eq!(err.code(), "not_configured");
        assert!(err.to_string().contains("VIAM_API_KEY_ID"));
    }
}
