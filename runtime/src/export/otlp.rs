//! The OTLP transport: one client per exporter, gRPC (tonic) or protobuf over HTTP
//! (reqwest), with the configured headers and gzip, retried by the specification's rules
//! and bounded by the export's deadline.

use std::time::{Duration, Instant, SystemTime};

use http::{HeaderName, HeaderValue};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use prost::bytes::Bytes;

use super::retry::{self, Failure};
use super::stats::{ExportStats, Signal};
use crate::Error;
use crate::config::{Compression, Protocol, Transport, effective_protocol};
use crate::gzip::gzip;

/// An OTLP request message and what its response says.
pub(crate) trait OtlpMessage: Message + Default + Clone + Send + Sync + 'static {
    /// The response message.
    type Response: Message + Default + Send + 'static;
    /// The gRPC method.
    const GRPC_PATH: &'static str;
    /// Items the receiver rejected, and its message, from a partial success.
    fn rejected(response: &Self::Response) -> (u64, String);
}

impl OtlpMessage for ExportTraceServiceRequest {
    type Response = ExportTraceServiceResponse;
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    fn rejected(response: &Self::Response) -> (u64, String) {
        response
            .partial_success
            .as_ref()
            .map_or((0, String::new()), |p| {
                (p.rejected_spans.max(0) as u64, p.error_message.clone())
            })
    }
}

impl OtlpMessage for ExportMetricsServiceRequest {
    type Response = ExportMetricsServiceResponse;
    const GRPC_PATH: &'static str =
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

    fn rejected(response: &Self::Response) -> (u64, String) {
        response
            .partial_success
            .as_ref()
            .map_or((0, String::new()), |p| {
                (
                    p.rejected_data_points.max(0) as u64,
                    p.error_message.clone(),
                )
            })
    }
}

/// What the receiver accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// Items it rejected (a partial success); the rest were accepted.
    pub(crate) rejected: u64,
    /// Its explanation, when it gave one.
    pub(crate) message: String,
}

/// One exporter's connection to its receiver.
pub(crate) struct OtlpClient {
    /// The endpoint, for messages.
    pub(crate) endpoint: String,
    wire: Wire,
    headers: Vec<(HeaderName, HeaderValue)>,
    gzip: bool,
    /// The whole export, retries included.
    pub(crate) timeout: Duration,
    pub(crate) stats: ExportStats,
}

enum Wire {
    Http {
        client: reqwest::Client,
        url: reqwest::Url,
    },
    Grpc {
        channel: tonic::transport::Channel,
    },
}

impl std::fmt::Debug for OtlpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values often hold credentials: names only.
        f.debug_struct("OtlpClient")
            .field("endpoint", &self.endpoint)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The default endpoints: a collector on this host.
const DEFAULT_GRPC: &str = "http://localhost:4317";
const DEFAULT_HTTP: &str = "http://localhost:4318";

/// The URL an OTLP/HTTP exporter posts `signal` to: the endpoint as given when it has a
/// path, else the endpoint with the signal's path (`/v1/traces`) appended.
pub(crate) fn http_url(endpoint: Option<&str>, signal: Signal) -> String {
    let endpoint = endpoint.unwrap_or(DEFAULT_HTTP);
    let after_scheme = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(slash) if after_scheme[slash..] != *"/" => endpoint.to_owned(),
        _ => format!("{}{}", endpoint.trim_end_matches('/'), signal.http_path()),
    }
}

impl OtlpClient {
    /// A client for `transport`, which must be created inside the export runtime (the
    /// gRPC channel connects lazily on it). `what` names the exporter in errors
    /// (`opentelemetry.tracing.exporters[0]`).
    pub(crate) fn new(
        what: &str,
        transport: &Transport,
        signal: Signal,
        exporter: &'static str,
        default_grpc: Option<&str>,
    ) -> Result<OtlpClient, Error> {
        let protocol = match (transport.endpoint.as_deref(), default_grpc) {
            (None, Some(_)) => transport.protocol.unwrap_or(Protocol::Grpc),
            (endpoint, _) => effective_protocol(endpoint, transport.protocol),
        };
        let headers = headers(what, transport)?;
        let install_error = |reason: String| Error::Install {
            what: "OpenTelemetry export",
            reason: format!("{what}: {reason}"),
        };
        let (endpoint, wire) = match protocol {
            Protocol::HttpProtobuf => {
                let url = http_url(transport.endpoint.as_deref(), signal);
                let parsed = reqwest::Url::parse(&url)
                    .map_err(|e| install_error(format!("endpoint {url:?} is not a URL ({e})")))?;
                let client = http_client(what, &parsed, transport, USER_AGENT)?;
                (
                    redacted(&parsed),
                    Wire::Http {
                        client,
                        url: parsed,
                    },
                )
            }
            Protocol::Grpc => {
                let url = transport
                    .endpoint
                    .as_deref()
                    .or(default_grpc)
                    .unwrap_or(DEFAULT_GRPC)
                    .to_owned();
                let parsed = reqwest::Url::parse(&url)
                    .map_err(|e| install_error(format!("endpoint {url:?} is not a URL ({e})")))?;
                let https = check_scheme(what, &parsed)?;
                let endpoint = tonic::transport::Endpoint::from_shared(url.clone())
                    .map_err(|e| install_error(format!("endpoint {url:?} is not usable ({e})")))?
                    .user_agent(USER_AGENT)
                    .map_err(|e| install_error(e.to_string()))?
                    .connect_timeout(transport.timeout);
                #[cfg(feature = "tls")]
                let channel = if https {
                    let config = crate::tls::client_config(&transport.tls, &format!("{what}.tls"))?;
                    endpoint.connect_with_connector_lazy(crate::tls::GrpcConnector::new(config))
                } else {
                    endpoint.connect_lazy()
                };
                #[cfg(not(feature = "tls"))]
                let channel = {
                    let _ = https;
                    endpoint.connect_lazy()
                };
                (redacted(&parsed), Wire::Grpc { channel })
            }
        };
        Ok(OtlpClient {
            endpoint,
            wire,
            headers,
            gzip: transport.compression == Some(Compression::Gzip),
            timeout: transport.timeout,
            stats: ExportStats::new(signal, exporter),
        })
    }

    /// Sends `request`, retrying transient failures until `deadline`.
    pub(crate) async fn export<M: OtlpMessage>(
        &self,
        request: M,
        deadline: Instant,
    ) -> Result<Accepted, Failure> {
        self.send::<M>(Bytes::from(request.encode_to_vec()), deadline)
            .await
    }

    /// Sends `body`, an `M` already encoded, retrying transient failures until
    /// `deadline`; every attempt sends the same bytes.
    pub(crate) async fn send<M: OtlpMessage>(
        &self,
        body: Bytes,
        deadline: Instant,
    ) -> Result<Accepted, Failure> {
        let retries = &self.stats.retries;
        let result = retry::with_retries(
            deadline,
            || retries.inc(),
            || self.attempt::<M>(body.clone()),
        )
        .await;
        match &result {
            Ok(accepted) if accepted.rejected > 0 => self.stats.partial.inc(),
            Ok(_) => self.stats.success.inc(),
            Err(_) => self.stats.failure.inc(),
        }
        result
    }

    async fn attempt<M: OtlpMessage>(&self, body: Bytes) -> Result<Accepted, Failure> {
        let response: M::Response = match &self.wire {
            Wire::Http { client, url } => self.post(client, url, body).await?,
            Wire::Grpc { channel } => self.call::<M>(channel.clone(), body).await?,
        };
        let (rejected, message) = M::rejected(&response);
        Ok(Accepted { rejected, message })
    }

    async fn post<R: Message + Default>(
        &self,
        client: &reqwest::Client,
        url: &reqwest::Url,
        mut body: Bytes,
    ) -> Result<R, Failure> {
        let mut builder = client
            .post(url.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf");
        if self.gzip {
            body = Bytes::from(gzip(&body));
            builder = builder.header(http::header::CONTENT_ENCODING, "gzip");
        }
        for (name, value) in &self.headers {
            builder = builder.header(name.clone(), value.clone());
        }
        let response = builder.body(body).send().await.map_err(|e| transient(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
        let bytes = response.bytes().await.map_err(|e| transient(&e))?;
        if status.is_success() {
            // An empty or undecodable body from a receiver that said yes is a success.
            return Ok(R::decode(bytes.as_ref()).unwrap_or_default());
        }
        let reason = format!("HTTP {status}{}", rpc_message(&bytes));
        if retry::http_status_is_retryable(status.as_u16()) {
            Err(Failure::Retryable {
                after: retry_after,
                reason,
            })
        } else {
            Err(Failure::Permanent { reason })
        }
    }

    async fn call<M: OtlpMessage>(
        &self,
        channel: tonic::transport::Channel,
        body: Bytes,
    ) -> Result<M::Response, Failure> {
        let mut grpc = tonic::client::Grpc::new(channel);
        if self.gzip {
            grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        grpc = grpc.accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        grpc.ready().await.map_err(|e| Failure::Retryable {
            after: None,
            reason: format!("gRPC connection failed: {e}"),
        })?;
        let mut request = tonic::Request::new(body);
        for (name, value) in &self.headers {
            if let (Ok(key), Ok(value)) = (
                tonic::metadata::AsciiMetadataKey::from_bytes(name.as_str().as_bytes()),
                tonic::metadata::AsciiMetadataValue::try_from(value.as_bytes()),
            ) {
                request.metadata_mut().insert(key, value);
            }
        }
        let path = http::uri::PathAndQuery::from_static(M::GRPC_PATH);
        let codec = Encoded::<M::Response>(std::marker::PhantomData);
        match grpc.unary(request, path, codec).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => Err(grpc_failure(&status)),
        }
    }
}

/// The gRPC codec of a request encoded beforehand: its bytes are copied into the
/// message frame as they are, and the response is decoded by prost.
struct Encoded<R>(std::marker::PhantomData<R>);

impl<R: Message + Default + Send + 'static> tonic::codec::Codec for Encoded<R> {
    type Encode = Bytes;
    type Decode = R;
    type Encoder = EncodedBytes;
    type Decoder = tonic_prost::ProstDecoder<R>;

    fn encoder(&mut self) -> EncodedBytes {
        EncodedBytes
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstCodec::<(), R>::raw_decoder(tonic::codec::BufferSettings::default())
    }
}

/// Writes an encoded message into the gRPC frame.
struct EncodedBytes;

impl tonic::codec::Encoder for EncodedBytes {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Bytes,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        buf.put_slice(&item);
        Ok(())
    }
}

/// The `User-Agent` of every export.
const USER_AGENT: &str = concat!(
    "rustform/",
    env!("CARGO_PKG_VERSION"),
    " OTel-OTLP-Exporter-Rust"
);

/// The HTTP client of the exporter at `what` (OTLP/HTTP or Zipkin) for `url`: its
/// `User-Agent`, no redirects, the transport's timeout to connect, and `transport.tls`
/// for `https://`.
pub(crate) fn http_client(
    what: &str,
    url: &reqwest::Url,
    transport: &Transport,
    user_agent: &'static str,
) -> Result<reqwest::Client, Error> {
    let https = check_scheme(what, url)?;
    let builder = reqwest::Client::builder()
        .user_agent(user_agent)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(transport.timeout);
    #[cfg(feature = "tls")]
    let builder = if https {
        crate::tls::reqwest(builder, &transport.tls, &format!("{what}.tls"))?
    } else {
        builder
    };
    #[cfg(not(feature = "tls"))]
    let _ = https;
    builder.build().map_err(|e| Error::Install {
        what: "OpenTelemetry export",
        reason: format!("{what}: cannot build the HTTP client ({e})"),
    })
}

/// Whether `url`, the endpoint of the exporter at `what`, is `https://`; an error for a
/// scheme other than http and https, and for https in a build without the `tls` feature.
fn check_scheme(what: &str, url: &reqwest::Url) -> Result<bool, Error> {
    match url.scheme() {
        "http" => Ok(false),
        "https" if cfg!(feature = "tls") => Ok(true),
        "https" => Err(Error::missing_feature(
            format!("{what}.endpoint"),
            "an https:// endpoint",
            "tls",
        )),
        other => Err(Error::Install {
            what: "OpenTelemetry export",
            reason: format!(
                "{what}.endpoint: {} has the scheme {other:?}; use http:// or https://",
                redacted(url)
            ),
        }),
    }
}

/// A URL fit for a message: without a user name or password.
fn redacted(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// The configured headers, checked once; a bad one is named, never shown.
fn headers(what: &str, transport: &Transport) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
    transport
        .headers
        .iter()
        .map(|(name, value)| {
            let header = HeaderName::from_bytes(name.trim().to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("the header name {name:?} is not a valid HTTP header name"))?;
            let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
                format!("the value of header {name:?} is not a valid HTTP header value")
            })?;
            value.set_sensitive(true);
            Ok((header, value))
        })
        .collect::<Result<_, String>>()
        .map_err(|reason| Error::Install {
            what: "OpenTelemetry export",
            reason: format!("{what}: {reason}"),
        })
}

/// A network error: retried (the receiver may be restarting).
fn transient(error: &reqwest::Error) -> Failure {
    use std::error::Error as _;
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_builder() || error.is_redirect() {
        Failure::Permanent { reason }
    } else {
        Failure::Retryable {
            after: None,
            reason,
        }
    }
}

/// The message of a `google.rpc.Status` body, as OTLP/HTTP receivers send on failure.
fn rpc_message(body: &[u8]) -> String {
    match RpcStatus::decode(body) {
        Ok(status) if !status.message.is_empty() => {
            format!(": {}", truncate(&status.message, 200))
        }
        _ => String::new(),
    }
}

fn truncate(text: &str, max: usize) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    text
}

/// A gRPC failure, retried by its code; `RetryInfo` in the details sets the delay.
fn grpc_failure(status: &tonic::Status) -> Failure {
    let retry_info = retry_info(status.details());
    let reason = format!(
        "gRPC {:?}{}",
        status.code(),
        if status.message().is_empty() {
            String::new()
        } else {
            format!(": {}", truncate(status.message(), 200))
        }
    );
    if retry::grpc_code_is_retryable(status.code(), retry_info.is_some()) {
        Failure::Retryable {
            after: retry_info,
            reason,
        }
    } else {
        Failure::Permanent { reason }
    }
}

/// The delay of a `google.rpc.RetryInfo` among a status's details.
pub(crate) fn retry_info(details: &[u8]) -> Option<Duration> {
    const RETRY_INFO: &str = "type.googleapis.com/google.rpc.RetryInfo";
    let status = RpcStatus::decode(details).ok()?;
    let any = status.details.iter().find(|d| d.type_url == RETRY_INFO)?;
    let delay = RetryInfo::decode(any.value.as_slice()).ok()?.retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    let nanos = u32::try_from(delay.nanos).ok()?;
    Some(Duration::new(seconds, nanos.min(999_999_999)))
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_get_the_signal_path_only_without_one() {
        assert_eq!(
            http_url(None, Signal::Traces),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            http_url(Some("http://collector:4318"), Signal::Metrics),
            "http://collector:4318/v1/metrics"
        );
        assert_eq!(
            http_url(Some("http://collector:4318/"), Signal::Traces),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            http_url(Some("http://gateway/otlp/traces"), Signal::Traces),
            "http://gateway/otlp/traces"
        );
    }

    #[test]
    fn retry_info_is_read_from_status_details() {
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: 2,
                nanos: 500_000_000,
            }),
        };
        let status = RpcStatus {
            code: 14,
            message: "busy".into(),
            details: vec![ProtoAny {
                type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                value: info.encode_to_vec(),
            }],
        };
        assert_eq!(
            retry_info(&status.encode_to_vec()),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(retry_info(b"not a status"), None);
        assert_eq!(retry_info(&[]), None);
    }

    #[test]
    fn grpc_statuses_are_classified() {
        let unavailable = grpc_failure(&tonic::Status::unavailable("down"));
        assert!(matches!(
            unavailable,
            Failure::Retryable { after: None, .. }
        ));
        let invalid = grpc_failure(&tonic::Status::invalid_argument("bad"));
        assert!(matches!(invalid, Failure::Permanent { .. }));
        let exhausted = grpc_failure(&tonic::Status::resource_exhausted("slow down"));
        assert!(matches!(exhausted, Failure::Permanent { .. }));
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let data = b"spans spans spans spans".repeat(50);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gzip(&data).as_slice())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }
}
