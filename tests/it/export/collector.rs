//! Self-test of the in-process OTLP collector (`testkit/src/otlp_collector/`), driven by
//! independent clients: the generated tonic `TraceServiceClient`/`MetricsServiceClient`,
//! `reqwest`, raw TCP sockets and `tonic-types` for the gRPC error details. Everything
//! stays on 127.0.0.1 and every wait is bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;
use testkit::otlp_collector::{AttrValue, Collector, Outcome, Reply, Signal, Transport};
use tonic::codec::CompressionEncoding;
use tonic_types::StatusExt;

const WAIT: Duration = Duration::from_secs(30);

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv(
                "service.name",
                any_value::Value::StringValue("selftest".into()),
            ),
            kv("host.cpus", any_value::Value::IntValue(2)),
        ],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "selftest-scope".into(),
        version: "1.2.3".into(),
        ..Default::default()
    })
}

/// One resource, one scope, `names.len()` spans.
fn trace_request(names: &[&str]) -> ExportTraceServiceRequest {
    let spans = names
        .iter()
        .enumerate()
        .map(|(i, name)| Span {
            trace_id: vec![0x4b; 16],
            span_id: vec![u8::try_from(i + 1).unwrap(); 8],
            parent_span_id: if i == 0 { Vec::new() } else { vec![1; 8] },
            name: (*name).to_owned(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_250_000_000,
            attributes: vec![
                kv(
                    "http.route",
                    any_value::Value::StringValue("/orders".into()),
                ),
                kv("http.response.status_code", any_value::Value::IntValue(200)),
            ],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn metrics_request(name: &str, value: i64) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![Metric {
                    name: name.to_owned(),
                    unit: "1".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            time_unix_nano: 1_700_000_000_000_000_000,
                            value: Some(number_data_point::Value::AsInt(value)),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn post_protobuf(
    client: &reqwest::blocking::Client,
    url: &str,
    body: Vec<u8>,
    compress: bool,
) -> reqwest::blocking::Response {
    let mut request = client
        .post(url)
        .header("content-type", "application/x-protobuf");
    let body = if compress {
        request = request.header("content-encoding", "gzip");
        gzip(&body)
    } else {
        body
    };
    request.body(body).send().expect("the collector answers")
}

#[tokio::test]
async fn grpc_traces_arrive_gzip_compressed_with_their_metadata() {
    let collector = Collector::start();
    let mut client = TraceServiceClient::connect(collector.grpc_endpoint())
        .await
        .unwrap()
        .send_compressed(CompressionEncoding::Gzip);

    let mut request = tonic::Request::new(trace_request(&["GET /orders", "load order"]));
    request
        .metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    let response = client.export(request).await.expect("export accepted");
    assert_eq!(response.into_inner().partial_success, None);

    let requests = collector.trace_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].transport, Transport::Grpc);
    assert!(requests[0].gzip, "the request was gzip-compressed");
    assert_eq!(requests[0].header("authorization"), Some("Bearer s3cret"));

    let spans = collector.spans();
    assert_eq!(spans.len(), 2);
    let root = &spans[0];
    assert_eq!(root.name(), "GET /orders");
    assert_eq!(root.service_name().as_deref(), Some("selftest"));
    assert_eq!(root.resource["host.cpus"], AttrValue::Int(2));
    assert_eq!(root.scope_name, "selftest-scope");
    assert_eq!(root.scope_version, "1.2.3");
    assert_eq!(root.kind(), span::SpanKind::Server);
    assert_eq!(root.trace_id(), "4b".repeat(16));
    assert_eq!(root.span_id(), "01".repeat(8));
    assert_eq!(root.parent_span_id(), None);
    assert_eq!(root.duration(), Duration::from_millis(250));
    assert_eq!(root.attribute("http.route").unwrap(), "/orders");
    assert_eq!(
        root.attributes()["http.response.status_code"],
        AttrValue::Int(200)
    );
    assert_eq!(spans[1].parent_span_id(), Some("01".repeat(8)));
    assert_eq!(collector.spans_named("load order").len(), 1);

    // Without compression the record says so.
    let mut plain = TraceServiceClient::connect(collector.grpc_endpoint())
        .await
        .unwrap();
    plain.export(trace_request(&["plain"])).await.unwrap();
    let requests = collector.trace_requests();
    assert_eq!(requests.len(), 2);
    assert!(!requests[1].gzip);
    assert_eq!(requests[1].header("authorization"), None);
    assert_eq!(collector.span_count(), 3);
    assert!(collector.rejections().is_empty());
}

#[tokio::test]
async fn grpc_unavailable_carries_a_well_formed_retry_info_then_succeeds() {
    let collector = Collector::start();
    collector.fail_next(
        Signal::Traces,
        1,
        Reply::grpc_retry(tonic::Code::Unavailable, Duration::from_millis(1500)),
    );
    // An HTTP reply is not consumed by gRPC requests.
    collector.fail_next(Signal::Traces, 1, Reply::http(503));
    let mut client = TraceServiceClient::connect(collector.grpc_endpoint())
        .await
        .unwrap()
        .send_compressed(CompressionEncoding::Gzip);

    let status = client
        .export(trace_request(&["refused"]))
        .await
        .expect_err("the scripted failure");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    // Decoded with tonic-types, independently of the collector's hand-written messages.
    let retry = status
        .get_details_retry_info()
        .expect("a google.rpc.RetryInfo detail");
    assert_eq!(retry.retry_delay, Some(Duration::from_millis(1500)));
    assert!(collector.spans().is_empty(), "a failed payload is not data");

    client
        .export(trace_request(&["accepted"]))
        .await
        .expect("back to success");
    let names: Vec<_> = collector
        .spans()
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(names, ["accepted"]);

    let attempts = collector.attempts(Signal::Traces);
    assert_eq!(attempts.len(), 2);
    assert!(attempts[0].failed());
    assert_eq!(attempts[1].outcome, Outcome::Accepted);
    assert!(attempts[0].at <= attempts[1].at);
    assert_eq!(collector.failed_attempts(Signal::Traces).len(), 1);
    assert_eq!(
        collector.pending_replies(),
        1,
        "the HTTP reply is still queued"
    );

    // A plain UNAVAILABLE has no details.
    collector.fail_next(Signal::Traces, 1, Reply::grpc(tonic::Code::Unavailable));
    let status = client.export(trace_request(&["x"])).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(status.get_details_retry_info().is_none());
}

#[tokio::test]
async fn grpc_partial_success_keeps_the_data() {
    let collector = Collector::start();
    collector.fail_next(
        Signal::Traces,
        1,
        Reply::partial_success(2, "two spans dropped"),
    );
    collector.fail_next(
        Signal::Metrics,
        1,
        Reply::partial_success(1, "one point dropped"),
    );

    let mut traces = TraceServiceClient::connect(collector.grpc_endpoint())
        .await
        .unwrap();
    let response = traces
        .export(trace_request(&["a", "b", "c"]))
        .await
        .unwrap()
        .into_inner();
    let partial = response.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_spans, 2);
    assert_eq!(partial.error_message, "two spans dropped");
    assert_eq!(collector.span_count(), 3);

    let mut metrics = MetricsServiceClient::connect(collector.grpc_endpoint())
        .await
        .unwrap()
        .send_compressed(CompressionEncoding::Gzip);
    let response = metrics
        .export(metrics_request("selftest.gauge", 7))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.partial_success.unwrap().rejected_data_points, 1);
    let received = collector.metrics_named("selftest.gauge");
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].transport, Transport::Grpc);
    assert_eq!(received[0].scope_name, "selftest-scope");
    assert!(matches!(
        collector.attempts(Signal::Metrics)[0].outcome,
        Outcome::PartialSuccess { rejected: 1, .. }
    ));
    assert!(collector.metric_requests()[0].gzip);
}

#[test]
fn http_metrics_protobuf_plain_and_gzip() {
    let collector = Collector::start();
    let client = http();
    let url = format!("{}/v1/metrics", collector.http_endpoint());
    assert_eq!(url, collector.metrics_url());

    for (i, compress) in [false, true].into_iter().enumerate() {
        let body = metrics_request("selftest.gauge", i64::try_from(i).unwrap()).encode_to_vec();
        let response = post_protobuf(&client, &url, body, compress);
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/x-protobuf");
        let decoded = ExportMetricsServiceResponse::decode(response.bytes().unwrap()).unwrap();
        assert_eq!(decoded.partial_success, None);
    }

    let requests = collector.wait_for_metric_requests(2, WAIT);
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests.iter().map(|r| r.gzip).collect::<Vec<_>>(),
        [false, true]
    );
    assert!(requests.iter().all(|r| r.transport == Transport::Http));
    let metrics = collector.wait_for_metric("selftest.gauge", WAIT);
    assert_eq!(metrics.len(), 2);
    assert_eq!(metrics[1].resource["service.name"], "selftest");
    let Some(metric::Data::Gauge(gauge)) = &metrics[1].metric.data else {
        panic!("a gauge: {:?}", metrics[1].metric);
    };
    assert_eq!(
        gauge.data_points[0].value,
        Some(number_data_point::Value::AsInt(1))
    );
    assert!(collector.rejections().is_empty());
}

#[test]
fn http_traces_keep_headers_and_bad_bodies_are_rejected_not_counted() {
    let collector = Collector::start();
    let client = http();
    let body = trace_request(&["GET /orders"]).encode_to_vec();

    let response = client
        .post(collector.traces_url())
        .header("content-type", "application/x-protobuf")
        .header("authorization", "Bearer http-token")
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let decoded = ExportTraceServiceResponse::decode(response.bytes().unwrap()).unwrap();
    assert_eq!(decoded.partial_success, None);
    let requests = collector.trace_requests();
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer http-token")
    );
    assert_eq!(requests[0].transport, Transport::Http);

    // OTLP/JSON is not served.
    let response = client
        .post(collector.traces_url())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(response.status(), 415);
    // Not protobuf.
    let response = post_protobuf(&client, &collector.traces_url(), vec![0xff; 7], false);
    assert_eq!(response.status(), 400);
    // Claims gzip, is not.
    let response = client
        .post(collector.traces_url())
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);

    assert_eq!(collector.span_count(), 1, "rejected bodies are not data");
    let rejected = collector.rejected(Signal::Traces);
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert!(rejected[0].rejection().unwrap().contains("content-type"));
    assert!(rejected[1].rejection().unwrap().contains("protobuf"));
    assert!(rejected[2].rejection().unwrap().contains("gzip"));
    assert!(rejected[2].gzip);
}

#[test]
fn http_scripted_failures_are_recorded_apart_in_order() {
    let collector = Collector::start();
    collector.fail_next(Signal::Traces, 1, Reply::http_retry_after(503, "1"));
    collector.fail_next(Signal::Traces, 1, Reply::http(400));
    // A gRPC reply is not consumed by HTTP requests.
    collector.fail_next(Signal::Traces, 1, Reply::grpc(tonic::Code::Unavailable));
    let client = http();
    let body = trace_request(&["span"]).encode_to_vec();

    let response = post_protobuf(&client, &collector.traces_url(), body.clone(), true);
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let response = post_protobuf(&client, &collector.traces_url(), body.clone(), false);
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("retry-after").is_none());
    let response = post_protobuf(&client, &collector.traces_url(), body.clone(), false);
    assert_eq!(response.status(), 200);

    assert_eq!(
        collector.span_count(),
        1,
        "only the accepted payload counts"
    );
    let failed = collector.failed_attempts(Signal::Traces);
    assert_eq!(failed.len(), 2);
    assert_eq!(
        failed[0].outcome,
        Outcome::Failed(Reply::http_retry_after(503, "1"))
    );
    assert!(failed[0].gzip);
    assert_eq!(failed[1].outcome, Outcome::Failed(Reply::http(400)));
    let times = collector.attempt_times(Signal::Traces);
    assert_eq!(times.len(), 3);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(
        collector.pending_replies(),
        1,
        "the gRPC reply is still queued"
    );
    assert!(collector.attempts(Signal::Metrics).is_empty());

    // Partial success over HTTP.
    collector.fail_next(
        Signal::Metrics,
        1,
        Reply::partial_success(3, "three points dropped"),
    );
    let response = post_protobuf(
        &client,
        &collector.metrics_url(),
        metrics_request("m", 1).encode_to_vec(),
        false,
    );
    assert_eq!(response.status(), 200);
    let decoded = ExportMetricsServiceResponse::decode(response.bytes().unwrap()).unwrap();
    let partial = decoded.partial_success.unwrap();
    assert_eq!(partial.rejected_data_points, 3);
    assert_eq!(partial.error_message, "three points dropped");
    assert_eq!(collector.metrics_named("m").len(), 1);
}

#[test]
fn go_down_refuses_and_drops_connections_then_comes_back_on_the_same_ports() {
    let collector = Collector::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut grpc = runtime
        .block_on(TraceServiceClient::connect(collector.grpc_endpoint()))
        .unwrap();
    runtime
        .block_on(grpc.export(trace_request(&["before"])))
        .unwrap();
    let body = trace_request(&["http before"]).encode_to_vec();
    assert_eq!(
        post_protobuf(&http(), &collector.traces_url(), body.clone(), false).status(),
        200
    );
    let (grpc_addr, http_addr) = (collector.grpc_addr(), collector.http_addr());
    let mut open = TcpStream::connect(http_addr).unwrap();

    collector.go_down();
    assert!(!collector.is_up());

    // The open connection was dropped: end of stream or reset, not a timeout.
    open.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    match open.read(&mut [0u8; 16]) {
        Ok(0) => {}
        Ok(n) => panic!("{n} bytes from a collector that is down"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ),
            "{e:?}"
        ),
    }
    for addr in [grpc_addr, http_addr] {
        let err = TcpStream::connect(addr).expect_err("the port is closed");
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{addr}: {err}");
    }
    let err = http()
        .post(collector.traces_url())
        .header("content-type", "application/x-protobuf")
        .body(body.clone())
        .send()
        .expect_err("nothing listens");
    assert!(err.is_connect(), "{err:?}");
    // (tonic reports a refused connection as `Unknown` or `Unavailable`.)
    let status = runtime
        .block_on(grpc.export(trace_request(&["while down"])))
        .expect_err("nothing listens");
    assert_ne!(status.code(), tonic::Code::Ok);

    collector.come_back();
    assert!(collector.is_up());
    assert_eq!(
        (collector.grpc_addr(), collector.http_addr()),
        (grpc_addr, http_addr)
    );
    assert_eq!(
        post_protobuf(&http(), &collector.traces_url(), body, false).status(),
        200
    );
    // The same tonic channel reconnects; a bounded number of tries.
    let mut accepted = false;
    for _ in 0..50 {
        if runtime
            .block_on(grpc.export(trace_request(&["after"])))
            .is_ok()
        {
            accepted = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(accepted, "the gRPC client reconnected");
    let names: Vec<_> = collector
        .spans()
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(names, ["before", "http before", "http before", "after"]);

    // Going down twice or coming back twice is harmless.
    collector.come_back();
    collector.go_down();
    collector.go_down();
    collector.come_back();
    assert_eq!(collector.span_count(), 4);
}

const ZIPKIN_SPANS: &str = r#"[
  {
    "traceId": "5af7183fb1d4cf5f5af7183fb1d4cf5f",
    "id": "6b221d5bc9e6496c",
    "parentId": "5af7183fb1d4cf5f",
    "name": "get /orders",
    "kind": "SERVER",
    "timestamp": 1556604172355737,
    "duration": 1431,
    "shared": true,
    "localEndpoint": {"serviceName": "backend", "ipv4": "127.0.0.1", "port": 8080},
    "remoteEndpoint": {"ipv6": "::1"},
    "annotations": [{"timestamp": 1556604172355800, "value": "wire send"}],
    "tags": {"http.method": "GET", "http.path": "/orders"}
  },
  {"traceId": "5af7183fb1d4cf5f", "id": "352bff9a74ca9ad2", "name": "child"}
]"#;

#[test]
fn zipkin_json_is_accepted_and_malformed_bodies_get_400() {
    let collector = Collector::start();
    let client = http();
    let post = |body: &str, compress: bool| {
        let mut request = client
            .post(collector.zipkin_endpoint())
            .header("content-type", "application/json");
        let bytes = if compress {
            request = request.header("content-encoding", "gzip");
            gzip(body.as_bytes())
        } else {
            body.as_bytes().to_vec()
        };
        request.body(bytes).send().unwrap()
    };

    for compress in [false, true] {
        let response = post(ZIPKIN_SPANS, compress);
        assert_eq!(response.status(), 202, "{}", response.text().unwrap());
    }
    assert!(
        collector.rejections().is_empty(),
        "{:?}",
        collector.rejections()
    );
    let spans = collector.wait_for_zipkin_spans(4, WAIT);
    assert_eq!(spans.len(), 4);
    let server = &spans[0];
    assert_eq!(server.name(), Some("get /orders"));
    assert_eq!(
        server.trace_id().to_string(),
        "5af7183fb1d4cf5f5af7183fb1d4cf5f"
    );
    assert_eq!(server.id().to_string(), "6b221d5bc9e6496c");
    assert!(matches!(server.kind(), Some(zipkin_types::Kind::Server)));
    assert_eq!(server.duration(), Some(Duration::from_micros(1431)));
    assert_eq!(server.tags()["http.path"], "/orders");
    assert_eq!(
        server.local_endpoint().and_then(|e| e.service_name()),
        Some("backend")
    );
    assert_eq!(spans[1].parent_id(), None);
    let requests = collector.zipkin_requests();
    assert_eq!(
        requests.iter().map(|r| r.gzip).collect::<Vec<_>>(),
        [false, true]
    );

    let valid: serde_json::Value = serde_json::from_str(ZIPKIN_SPANS).unwrap();
    let with = |pointer: &str, value: serde_json::Value| {
        let mut body = valid.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body.to_string()
    };
    // (what, body, a part of the reason recorded)
    let malformed = [
        ("not JSON", "not json".to_owned(), "invalid JSON"),
        (
            "an object, not an array",
            r#"{"traceId": "5af7183fb1d4cf5f"}"#.to_owned(),
            "expected a sequence",
        ),
        (
            "upper-case trace id",
            with("/0/traceId", "5AF7183FB1D4CF5F".into()),
            "not lower-case hex",
        ),
        (
            "24-digit trace id",
            with("/0/traceId", "5af7183fb1d4cf5f5af7183f".into()),
            "trace ID",
        ),
        (
            "short span id",
            with("/0/id", "6b221d5bc9e6496".into()),
            "span ID",
        ),
        (
            "all-zero span id",
            with("/1/id", "0000000000000000".into()),
            "all zeros",
        ),
        (
            "unknown kind",
            with("/0/kind", "INTERNAL".into()),
            "INTERNAL",
        ),
        (
            "float timestamp",
            with("/0/timestamp", serde_json::json!(1.5e15)),
            "floating point",
        ),
        ("string duration", with("/0/duration", "1431".into()), "u64"),
        ("zero duration", with("/0/duration", 0.into()), "minimum 1"),
        (
            "numeric tag",
            with("/0/tags/http.method", 200.into()),
            "expected a string",
        ),
        (
            "misspelt field",
            with(
                "/1",
                serde_json::json!({"traceID": "5af7183fb1d4cf5f", "id": "352bff9a74ca9ad2"}),
            ),
            "traceId",
        ),
        (
            "bad ipv4",
            with("/0/localEndpoint/ipv4", "localhost".into()),
            "IPv4",
        ),
        (
            "null name",
            with("/0/name", serde_json::Value::Null),
            "null",
        ),
    ];
    for (what, body, _) in &malformed {
        let response = post(body, false);
        assert_eq!(response.status(), 400, "{what}: {body}");
        assert!(
            !response.text().unwrap().is_empty(),
            "{what}: the reason is given"
        );
    }
    let rejected = collector.rejected(Signal::Zipkin);
    assert_eq!(rejected.len(), malformed.len());
    for ((what, _, reason), attempt) in malformed.iter().zip(&rejected) {
        let message = attempt.rejection().unwrap();
        assert!(message.contains(reason), "{what}: {message}");
    }
    assert_eq!(
        collector.zipkin_spans().len(),
        4,
        "rejected bodies are not data"
    );

    // A Zipkin body needs a JSON content type; scripted failures apply to Zipkin too.
    let response = client
        .post(collector.zipkin_endpoint())
        .header("content-type", "application/x-protobuf")
        .body(ZIPKIN_SPANS)
        .send()
        .unwrap();
    assert_eq!(response.status(), 415);
    collector.fail_next(Signal::Zipkin, 1, Reply::http_retry_after(429, "2"));
    let response = post(ZIPKIN_SPANS, false);
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(post(ZIPKIN_SPANS, false).status(), 202);
    assert_eq!(collector.zipkin_spans().len(), 6);
    assert_eq!(collector.failed_attempts(Signal::Zipkin).len(), 1);
}

#[test]
fn waits_are_bounded_and_see_data_that_arrives_later() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Collector>();

    let collector = Collector::start();
    let started = Instant::now();
    let spans = collector.wait_for_spans(1, Duration::from_millis(200));
    assert!(spans.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(!collector.wait_for(|c| c.span_count() > 0, Duration::ZERO));

    let url = collector.traces_url();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        post_protobuf(
            &http(),
            &url,
            trace_request(&["late", "later"]).encode_to_vec(),
            false,
        )
        .status()
    });
    let spans = collector.wait_for_spans(2, WAIT);
    assert_eq!(spans.len(), 2);
    assert_eq!(sender.join().unwrap(), 200);
    let attempts = collector.wait_for_attempts(Signal::Traces, 1, WAIT);
    assert_eq!(attempts.len(), 1);

    collector.clear();
    assert_eq!(collector.span_count(), 0);
    assert!(collector.all_attempts().is_empty());
}

#[tokio::test]
async fn async_waits_do_not_block_the_test_runtime() {
    let collector = Collector::start();
    let endpoint = collector.grpc_endpoint();
    // The client runs on this single-threaded runtime while the test waits.
    let task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut client = TraceServiceClient::connect(endpoint).await.unwrap();
        client.export(trace_request(&["async"])).await.unwrap();
    });
    let spans = collector.wait_for_spans_async(1, WAIT).await;
    assert_eq!(spans.len(), 1);
    task.await.unwrap();
    let metrics = collector
        .wait_for_metric_async("absent", Duration::from_millis(50))
        .await;
    assert!(metrics.is_empty());
}
