//! The HTTP port: OTLP/HTTP (`POST /v1/traces` and `/v1/metrics`, protobuf bodies,
//! optionally gzip) and Zipkin v2 (`POST /api/v2/spans`, JSON). Bodies are checked for
//! their content type and decompressed within [`MAX_BODY_BYTES`]; OTLP errors are answered
//! with a protobuf `google.rpc.Status`, as the OTLP/HTTP specification asks.

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::model::{Reply, Signal, Transport, header_str};
use super::records::{OtlpPayload, RequestMeta, Shared, partial_of};
use super::zipkin::decode_zipkin;
use super::{MAX_BODY_BYTES, rpc};

const PROTOBUF: &str = "application/x-protobuf";

pub(super) fn http_router(shared: &Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/traces", post(otlp_http::<ExportTraceServiceRequest>))
        .route(
            "/v1/metrics",
            post(otlp_http::<ExportMetricsServiceRequest>),
        )
        .route("/api/v2/spans", post(zipkin_http))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared.clone())
}

async fn otlp_http<T: OtlpPayload>(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signal = T::SIGNAL;
    let meta = http_meta(headers);
    let body = match read_body(&meta.headers, &body, &[PROTOBUF]) {
        Ok(body) => body,
        Err((status, message)) => {
            shared.reject(meta, signal, message.clone());
            return rpc_status_response(status, None, &message);
        }
    };
    let payload = match T::decode(body.as_slice()) {
        Ok(payload) => payload,
        Err(e) => {
            let message = format!("invalid protobuf {}: {e}", std::any::type_name::<T>());
            shared.reject(meta, signal, message.clone());
            return rpc_status_response(StatusCode::BAD_REQUEST, None, &message);
        }
    };
    match shared.accept(meta, payload) {
        Some(Reply::Http {
            status,
            retry_after,
        }) => scripted_http_failure(status, retry_after.as_deref()),
        reply => {
            let response = T::response(partial_of(reply.as_ref()));
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
                response.encode_to_vec(),
            )
                .into_response()
        }
    }
}

async fn zipkin_http(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let meta = http_meta(headers);
    let body = match read_body(&meta.headers, &body, &["application/json"]) {
        Ok(body) => body,
        Err((status, message)) => {
            shared.reject(meta, Signal::Zipkin, message.clone());
            return (status, message).into_response();
        }
    };
    let spans = match decode_zipkin(&body) {
        Ok(spans) => spans,
        Err(message) => {
            shared.reject(meta, Signal::Zipkin, message.clone());
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    match shared.accept(meta, spans) {
        Some(Reply::Http {
            status,
            retry_after,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, "scripted failure from the test collector").into_response();
            if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        _ => StatusCode::ACCEPTED.into_response(),
    }
}

/// The metadata of an HTTP request (`gzip` from `Content-Encoding`).
fn http_meta(headers: HeaderMap) -> RequestMeta {
    let gzip = header_str(&headers, "content-encoding")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    RequestMeta::new(Transport::Http, headers, gzip)
}

/// Checks the content type, and gunzips the body when `Content-Encoding: gzip`. On error:
/// the status to answer and the message to record.
fn read_body(
    headers: &HeaderMap,
    body: &[u8],
    content_types: &[&str],
) -> Result<Vec<u8>, (StatusCode, String)> {
    let content_type = header_str(headers, "content-type")
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !content_types.contains(&content_type.as_str()) {
        let message = format!(
            "unsupported content-type {content_type:?}; this endpoint accepts {}",
            content_types.join(", ")
        );
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, message));
    }
    let encoding = header_str(headers, "content-encoding")
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => Ok(body.to_vec()),
        "gzip" => gunzip(body).map_err(|message| (StatusCode::BAD_REQUEST, message)),
        other => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported content-encoding {other:?}; accepted: gzip"),
        )),
    }
}

fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| format!("invalid gzip body: {e}"))?;
    if plain.len() > MAX_BODY_BYTES {
        return Err(format!(
            "the decompressed body exceeds {MAX_BODY_BYTES} bytes"
        ));
    }
    Ok(plain)
}

fn scripted_http_failure(status: u16, retry_after: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    rpc_status_response(
        status,
        retry_after,
        "scripted failure from the test collector",
    )
}

/// An HTTP error answer whose body is a protobuf `google.rpc.Status`.
fn rpc_status_response(status: StatusCode, retry_after: Option<&str>, message: &str) -> Response {
    let code = match status.as_u16() {
        400 => tonic::Code::InvalidArgument,
        415 => tonic::Code::InvalidArgument,
        429 => tonic::Code::ResourceExhausted,
        502..=504 => tonic::Code::Unavailable,
        _ => tonic::Code::Unknown,
    };
    let body = rpc::Status {
        code: code as i32,
        message: message.to_owned(),
        details: Vec::new(),
    }
    .encode_to_vec();
    let mut response = (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
        body,
    )
        .into_response();
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
