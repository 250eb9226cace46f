//! OTLP/gRPC: the `TraceService` and `MetricsService` servers generated in
//! `opentelemetry-proto`, accepting gzip, routed through axum so the one accept loop serves
//! them. A scripted gRPC failure carries its retry delay the way the OTLP specification
//! asks, as a `google.rpc.RetryInfo` in the status details.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::CompressionEncoding;

use super::model::{Reply, Transport, header_str};
use super::records::{OtlpPayload, RequestMeta, Shared, partial_of};
use super::{MAX_BODY_BYTES, RETRY_INFO_TYPE_URL, rpc};

pub(super) fn grpc_router(shared: &Arc<Shared>) -> Router {
    let traces = TraceServiceServer::new(GrpcTraces(shared.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_BODY_BYTES);
    let metrics = MetricsServiceServer::new(GrpcMetrics(shared.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_BODY_BYTES);
    tonic::service::Routes::new(traces)
        .add_service(metrics)
        .into_axum_router()
}

struct GrpcTraces(Arc<Shared>);
struct GrpcMetrics(Arc<Shared>);

#[tonic::async_trait]
impl TraceService for GrpcTraces {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        grpc_export(&self.0, request)
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcMetrics {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        grpc_export(&self.0, request)
    }
}

fn grpc_export<T: OtlpPayload>(
    shared: &Shared,
    request: tonic::Request<T>,
) -> Result<tonic::Response<T::Response>, tonic::Status> {
    let headers = request.metadata().clone().into_headers();
    let gzip = header_str(&headers, "grpc-encoding")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    let meta = RequestMeta::new(Transport::Grpc, headers, gzip);
    match shared.accept(meta, request.into_inner()) {
        Some(Reply::Grpc { code, retry_delay }) => Err(grpc_status(code, retry_delay)),
        reply => Ok(tonic::Response::new(T::response(partial_of(
            reply.as_ref(),
        )))),
    }
}

/// A gRPC status; with a delay, its details are a `google.rpc.Status` holding a
/// `google.rpc.RetryInfo`.
fn grpc_status(code: tonic::Code, retry_delay: Option<Duration>) -> tonic::Status {
    let message = "scripted failure from the test collector";
    let Some(delay) = retry_delay else {
        return tonic::Status::new(code, message);
    };
    let info = rpc::RetryInfo {
        retry_delay: Some(rpc::Duration {
            seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
        }),
    };
    let status = rpc::Status {
        code: code as i32,
        message: message.to_owned(),
        details: vec![rpc::Any {
            type_url: RETRY_INFO_TYPE_URL.to_owned(),
            value: info.encode_to_vec(),
        }],
    };
    tonic::Status::with_details(code, message, status.encode_to_vec().into())
}
