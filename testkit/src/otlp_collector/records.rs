//! What the servers share with the [`Collector`](super::Collector): every request as an
//! [`Attempt`], the accepted payloads by signal, and the queue of scripted replies, behind
//! one mutex with a condition variable that the blocking waiting helpers sleep on. Each
//! decoded request body is a [`Payload`] that knows its signal and where it is kept, so
//! the gRPC and HTTP servers record through the same [`Shared::accept`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use axum::http::HeaderMap;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::model::{
    Attempt, AttrValue, Outcome, Received, ReceivedMetric, ReceivedSpan, Reply, Signal, Transport,
    attributes,
};

#[derive(Default)]
pub(super) struct Shared {
    records: Mutex<Records>,
    pub(super) changed: Condvar,
    pub(super) handshake_failures: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
pub(super) struct Records {
    /// Bumped on every change, for the waiting helpers.
    pub(super) generation: u64,
    pub(super) traces: Vec<Received<ExportTraceServiceRequest>>,
    pub(super) metrics: Vec<Received<ExportMetricsServiceRequest>>,
    pub(super) zipkin: Vec<Received<Vec<zipkin_types::Span>>>,
    pub(super) attempts: Vec<Attempt>,
    pub(super) script: VecDeque<(Signal, Reply)>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Records> {
        lock(&self.records)
    }

    /// Records a request whose body could not be decoded or validated.
    pub(super) fn reject(&self, meta: RequestMeta, signal: Signal, message: String) {
        self.record(|state| {
            state
                .attempts
                .push(meta.attempt(signal, Outcome::Rejected(message)));
        });
    }

    /// Consumes the next scripted reply for this request, records the attempt, and stores
    /// the payload unless the reply is a failure. Returns the reply used, if any.
    pub(super) fn accept<T: Payload>(&self, meta: RequestMeta, payload: T) -> Option<Reply> {
        let signal = T::SIGNAL;
        let mut reply = None;
        self.record(|state| {
            if let Some(i) = state
                .script
                .iter()
                .position(|(s, r)| *s == signal && r.applies_to(signal, meta.transport))
            {
                reply = state.script.remove(i).map(|(_, r)| r);
            }
            let outcome = match &reply {
                Some(r) if r.is_failure() => Outcome::Failed(r.clone()),
                Some(Reply::PartialSuccess {
                    rejected,
                    error_message,
                }) => Outcome::PartialSuccess {
                    rejected: *rejected,
                    error_message: error_message.clone(),
                },
                _ => Outcome::Accepted,
            };
            let failed = matches!(outcome, Outcome::Failed(_));
            state.attempts.push(meta.clone().attempt(signal, outcome));
            if !failed {
                T::store(state, meta.received(payload));
            }
        });
        reply
    }

    pub(super) fn record(&self, change: impl FnOnce(&mut Records)) {
        let mut state = self.lock();
        change(&mut state);
        state.generation += 1;
        drop(state);
        self.changed.notify_all();
    }
}

/// Locks a mutex, recovering it if a panicking thread poisoned it (the records stay
/// usable; the server tasks never panic while holding it).
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What is known of a request besides its payload.
#[derive(Clone)]
pub(super) struct RequestMeta {
    transport: Transport,
    pub(super) headers: HeaderMap,
    gzip: bool,
    at: Instant,
}

impl RequestMeta {
    pub(super) fn new(transport: Transport, headers: HeaderMap, gzip: bool) -> RequestMeta {
        RequestMeta {
            transport,
            headers,
            gzip,
            at: Instant::now(),
        }
    }

    fn attempt(self, signal: Signal, outcome: Outcome) -> Attempt {
        Attempt {
            signal,
            transport: self.transport,
            at: self.at,
            headers: self.headers,
            gzip: self.gzip,
            outcome,
        }
    }

    fn received<T>(self, body: T) -> Received<T> {
        Received {
            transport: self.transport,
            headers: self.headers,
            gzip: self.gzip,
            at: self.at,
            body,
        }
    }
}

/// A decoded request body: which signal it is and where accepted ones are kept.
pub(super) trait Payload: Sized {
    const SIGNAL: Signal;
    fn store(state: &mut Records, received: Received<Self>);
}

/// An OTLP export request type and its response type.
pub(super) trait OtlpPayload: Payload + Message + Default {
    type Response: Message + Default;
    fn response(partial: Option<(i64, String)>) -> Self::Response;
}

impl Payload for ExportTraceServiceRequest {
    const SIGNAL: Signal = Signal::Traces;

    fn store(state: &mut Records, received: Received<Self>) {
        state.traces.push(received);
    }
}

impl OtlpPayload for ExportTraceServiceRequest {
    type Response = ExportTraceServiceResponse;

    fn response(partial: Option<(i64, String)>) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: partial.map(|(rejected_spans, error_message)| {
                ExportTracePartialSuccess {
                    rejected_spans,
                    error_message,
                }
            }),
        }
    }
}

impl Payload for ExportMetricsServiceRequest {
    const SIGNAL: Signal = Signal::Metrics;

    fn store(state: &mut Records, received: Received<Self>) {
        state.metrics.push(received);
    }
}

impl OtlpPayload for ExportMetricsServiceRequest {
    type Response = ExportMetricsServiceResponse;

    fn response(partial: Option<(i64, String)>) -> ExportMetricsServiceResponse {
        ExportMetricsServiceResponse {
            partial_success: partial.map(|(rejected_data_points, error_message)| {
                ExportMetricsPartialSuccess {
                    rejected_data_points,
                    error_message,
                }
            }),
        }
    }
}

impl Payload for Vec<zipkin_types::Span> {
    const SIGNAL: Signal = Signal::Zipkin;

    fn store(state: &mut Records, received: Received<Self>) {
        state.zipkin.push(received);
    }
}

pub(super) fn partial_of(reply: Option<&Reply>) -> Option<(i64, String)> {
    match reply {
        Some(Reply::PartialSuccess {
            rejected,
            error_message,
        }) => Some((*rejected, error_message.clone())),
        _ => None,
    }
}

pub(super) fn flatten_spans(requests: &[Received<ExportTraceServiceRequest>]) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for request in requests {
        for rs in &request.body.resource_spans {
            let resource = resource_attributes(rs.resource.as_ref());
            for ss in &rs.scope_spans {
                let (scope_name, scope_version) = scope(ss.scope.as_ref());
                out.extend(ss.spans.iter().map(|span| ReceivedSpan {
                    transport: request.transport,
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                    scope_version: scope_version.clone(),
                    span: span.clone(),
                }));
            }
        }
    }
    out
}

pub(super) fn flatten_metrics(
    requests: &[Received<ExportMetricsServiceRequest>],
) -> Vec<ReceivedMetric> {
    let mut out = Vec::new();
    for request in requests {
        for rm in &request.body.resource_metrics {
            let resource = resource_attributes(rm.resource.as_ref());
            for sm in &rm.scope_metrics {
                let (scope_name, scope_version) = scope(sm.scope.as_ref());
                out.extend(sm.metrics.iter().map(|metric| ReceivedMetric {
                    transport: request.transport,
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                    scope_version: scope_version.clone(),
                    metric: metric.clone(),
                }));
            }
        }
    }
    out
}

fn resource_attributes(resource: Option<&Resource>) -> BTreeMap<String, AttrValue> {
    resource
        .map(|r| attributes(&r.attributes))
        .unwrap_or_default()
}

fn scope(scope: Option<&InstrumentationScope>) -> (String, String) {
    scope
        .map(|s| (s.name.clone(), s.version.clone()))
        .unwrap_or_default()
}
