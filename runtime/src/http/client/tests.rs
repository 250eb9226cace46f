use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

use super::*;
use crate::http::tests::{Fields, with_fields};
use crate::metrics::{MetricValue, default_registry};

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn redacted(text: &str) -> String {
    RedactedUrl(&url(text)).to_string()
}

#[test]
fn url_full_keeps_no_credentials_query_values_or_fragment() {
    assert_eq!(
        redacted("https://api.example/v1/items"),
        "https://api.example/v1/items"
    );
    assert_eq!(
        redacted("https://user:secret@api.example/v1"),
        "https://REDACTED:REDACTED@api.example/v1"
    );
    assert_eq!(
        redacted("https://user@api.example/"),
        "https://REDACTED:REDACTED@api.example/"
    );
    assert_eq!(
        redacted("https://:secret@api.example/"),
        "https://REDACTED:REDACTED@api.example/"
    );
    assert_eq!(
        redacted("http://api.example:8080/search?q=shoes&api_key=abc123&flag#top"),
        "http://api.example:8080/search?q=REDACTED&api_key=REDACTED&REDACTED"
    );
    assert_eq!(
        redacted("http://api.example/a?&x=&=v"),
        "http://api.example/a?&x=REDACTED&=REDACTED"
    );
    assert_eq!(redacted("http://api.example/a?"), "http://api.example/a?");
    assert_eq!(
        redacted("http://[::1]:9000/x?token=t"),
        "http://[::1]:9000/x?token=REDACTED"
    );
    // The scheme's default port is not written, as the URL does not hold it.
    assert_eq!(redacted("https://api.example:443/"), "https://api.example/");
    for text in [
        "https://user:secret@api.example/?password=hunter2#secret-fragment",
        "http://a:b@c/?s=hunter2&hunter2",
    ] {
        let out = redacted(text);
        for secret in ["secret", "hunter2", "user"] {
            assert!(!out.contains(secret), "{out}");
        }
    }
}

#[test]
fn server_addresses_drop_the_brackets_of_ipv6() {
    assert_eq!(
        server_address(&url("http://api.example:81/")),
        Some("api.example")
    );
    assert_eq!(server_address(&url("http://10.0.0.1/")), Some("10.0.0.1"));
    assert_eq!(server_address(&url("http://[::1]:8080/")), Some("::1"));
    assert_eq!(server_address(&url("data:text/plain,x")), None);
}

#[test]
fn span_names() {
    let name = |method, template| ClientSpanName { method, template }.to_string();
    assert_eq!(name("GET", None), "GET");
    assert_eq!(name("POST", Some("/items/{id}")), "POST /items/{id}");
    assert_eq!(name("_OTHER", None), "HTTP");
    assert_eq!(name("_OTHER", Some("/x")), "HTTP /x");
}

fn label_values(labels: &ClientLabels) -> Vec<String> {
    let mut values = Vec::new();
    labels.visit_values(&mut |v| values.push(v.to_owned()));
    assert_eq!(values.len(), ClientLabels::NAMES.len());
    values
}

#[test]
fn labels_are_in_the_declared_order_and_empty_when_they_do_not_apply() {
    let labels = |ending| ClientLabels {
        method: "GET",
        address: "api.example".into(),
        port: Some(443),
        ending,
    };
    let ok = Ending::Responded {
        status: 200,
        version: "1.1",
    };
    assert_eq!(
        label_values(&labels(ok)),
        ["GET", "api.example", "443", "200", ""]
    );
    let redirect = Ending::Responded {
        status: 304,
        version: "2",
    };
    assert_eq!(label_values(&labels(redirect))[3..], ["304", ""]);
    let not_found = Ending::Responded {
        status: 404,
        version: "1.1",
    };
    assert_eq!(label_values(&labels(not_found))[3..], ["404", "404"]);
    let unavailable = Ending::Responded {
        status: 503,
        version: "1.1",
    };
    assert_eq!(label_values(&labels(unavailable))[3..], ["503", "503"]);
    assert_eq!(
        label_values(&labels(Ending::Failed("timeout")))[3..],
        ["", "timeout"]
    );
    let unknown = ClientLabels {
        method: "_OTHER",
        address: "".into(),
        port: None,
        ending: Ending::Failed("_OTHER"),
    };
    assert_eq!(label_values(&unknown), ["_OTHER", "", "", "", "_OTHER"]);
}

/// Answers each of `answers` connections with the response it is given (after reading
/// the request head), then stops; `None` holds the connection open without answering.
fn responder(answers: Vec<Option<&'static str>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for answer in answers {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 65_536 {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            match answer {
                Some(response) => {
                    let _ = stream.write_all(response.as_bytes());
                }
                None => held.push(stream),
            }
        }
        // Keep unanswered connections open until the test process ends.
        std::thread::sleep(Duration::from_secs(3600));
        drop(held);
    });
    address
}

fn client() -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::from_settings(&HttpMetrics::default()))
        .build()
}

fn count(port: u16, status: &str, error_type: &str) -> u64 {
    let port = port.to_string();
    let labels = [
        ("http_request_method", "GET"),
        ("server_address", "127.0.0.1"),
        ("server_port", port.as_str()),
        ("http_response_status_code", status),
        ("error_type", error_type),
    ];
    match default_registry().snapshot().get(DURATION, &labels) {
        Some(MetricValue::Histogram(h)) => h.count,
        None => 0,
        Some(other) => panic!("{DURATION} is {other:?}"),
    }
}

/// Runs `f` on a current-thread runtime under a subscriber recording span fields.
fn run<F: std::future::Future>(f: impl FnOnce() -> F) -> (F::Output, Fields) {
    with_fields(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f())
    })
}

#[test]
fn a_5xx_is_an_error_with_its_status_and_attributes() {
    let address = responder(vec![Some(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    )]);
    let port = address.port();
    let (response, fields) = run(|| async move {
        client()
            .get(format!(
                "http://user:pw@{address}/items/7?token=s3cret#frag"
            ))
            .header("authorization", "Bearer do-not-record")
            .with_extension(UrlTemplate("/items/{id}"))
            .send()
            .await
    });
    assert_eq!(response.unwrap().status(), 503);
    let get = |name| fields.get(name);
    assert_eq!(get("otel.name").as_deref(), Some("GET /items/{id}"));
    assert_eq!(get("otel.kind").as_deref(), Some("client"));
    assert_eq!(get("http.request.method").as_deref(), Some("GET"));
    assert_eq!(get("http.request.method_original"), None);
    assert_eq!(get("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(get("server.port"), Some(port.to_string()));
    // reqwest itself moves credentials from the URL into an `Authorization` header,
    // which is not recorded either.
    assert_eq!(
        get("url.full"),
        Some(format!("http://{address}/items/7?token=REDACTED"))
    );
    assert_eq!(get("url.template").as_deref(), Some("/items/{id}"));
    assert_eq!(get("http.response.status_code").as_deref(), Some("503"));
    assert_eq!(get("network.protocol.version").as_deref(), Some("1.1"));
    assert_eq!(get("otel.status_code").as_deref(), Some("ERROR"));
    assert_eq!(get("error.type").as_deref(), Some("503"));
    let recorded = fields.0.lock().unwrap();
    assert!(
        recorded.iter().all(|(_, v)| !v.contains("do-not-record")
            && !v.contains("s3cret")
            && !v.contains("user:pw")),
        "{recorded:?}"
    );
    drop(recorded);
    assert_eq!(count(port, "503", "503"), 1);
}

#[test]
fn a_2xx_is_not_an_error_and_an_odd_method_folds() {
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
    let address = responder(vec![Some(ok), Some(ok)]);
    let port = address.port();
    let (status, fields) = run(|| async move {
        client()
            .get(format!("http://{address}/health"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    assert_eq!(fields.get("otel.name").as_deref(), Some("GET"));
    assert_eq!(fields.get("url.template"), None);
    assert_eq!(
        fields.get("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(fields.get("otel.status_code"), None);
    assert_eq!(fields.get("error.type"), None);
    assert_eq!(count(port, "200", ""), 1);

    let (status, fields) = run(|| async move {
        let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
        client()
            .request(purge, format!("http://{address}/cache"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    assert_eq!(fields.get("otel.name").as_deref(), Some("HTTP"));
    assert_eq!(fields.get("http.request.method").as_deref(), Some("_OTHER"));
    assert_eq!(
        fields.get("http.request.method_original").as_deref(),
        Some("PURGE")
    );
}

#[test]
fn a_refused_connection_is_a_connect_error() {
    // A port nothing listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (result, fields) = run(|| async move {
        client()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
    });
    assert!(result.is_err());
    assert_eq!(fields.get("otel.status_code").as_deref(), Some("ERROR"));
    assert_eq!(fields.get("error.type").as_deref(), Some("connect"));
    assert_eq!(fields.get("http.response.status_code"), None);
    assert_eq!(count(port, "", "connect"), 1);
}

#[test]
fn a_request_dropped_by_its_caller_is_cancelled_and_not_counted() {
    let address = responder(vec![None]);
    let port = address.port();
    let (result, fields) = run(|| async move {
        let request = client().get(format!("http://{address}/slow")).send();
        tokio::time::timeout(Duration::from_millis(200), request).await
    });
    assert!(result.is_err(), "the server never answers");
    assert_eq!(fields.get("error.type").as_deref(), Some("cancelled"));
    assert_eq!(fields.get("otel.status_code"), None);
    let snapshot = default_registry().snapshot();
    let port = port.to_string();
    let counted = snapshot.family(DURATION).is_some_and(|family| {
        family.series.iter().any(|s| {
            s.labels
                .iter()
                .any(|(k, v)| k == "server_port" && *v == port)
        })
    });
    assert!(!counted);
}

#[test]
fn disabled_metrics_are_not_registered_by_the_middleware() {
    let config = Config::parse(
        "observability:\n  prometheus:\n    metrics:\n      http:\n        enabled: false\n",
        "rustform.yml",
        &|_| None,
    )
    .unwrap();
    assert!(ClientMiddleware::from_config(&config).metrics.is_none());
    assert!(
        ClientMiddleware::from_config(&Config::default())
            .metrics
            .is_some()
    );
}

#[test]
fn transport_errors_have_short_fixed_names() {
    let builder = reqwest::Client::new().get("not a url").build().unwrap_err();
    assert_eq!(reqwest_error_type(&builder), "builder");
    let error = reqwest_middleware::Error::middleware(std::io::Error::other("refused by policy"));
    assert_eq!(error_type(&error), "_OTHER");
}
