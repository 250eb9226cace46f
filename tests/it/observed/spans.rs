//! `#[observed]` spans, captured by a `tracing_subscriber` layer installed per test with
//! `tracing::subscriber::with_default` (thread-local): names, targets, levels, the
//! OpenTelemetry fields, error and panic status, which arguments are recorded, and the
//! parent of nested spans.

use std::fmt;
use std::future::Future;
use std::panic::catch_unwind;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustform::metrics::{MetricValue, default_registry};
use rustform::{ErrorLabel, observed};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber, span};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

const MODULE: &str = module_path!();

// ---------------------------------------------------------------------------------------
// The capturing layer
// ---------------------------------------------------------------------------------------

/// One span as the layer saw it.
#[derive(Debug, Clone)]
struct CapturedSpan {
    name: &'static str,
    target: String,
    level: Level,
    /// Fields given a value when the span was created, in order.
    fields: Vec<(String, String)>,
    /// Values recorded later with `Span::record`, in order.
    recorded: Vec<(String, String)>,
    /// Index of the parent span in the capture.
    parent: Option<usize>,
    /// How many times the span was closed.
    closed: usize,
}

impl CapturedSpan {
    fn field(&self, name: &str) -> Option<&str> {
        find(&self.fields, name)
    }

    /// The recorded values, sorted by field name.
    fn recorded_sorted(&self) -> Vec<(&str, &str)> {
        let mut values: Vec<(&str, &str)> = self
            .recorded
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        values.sort();
        values
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Everything a test captured.
#[derive(Debug, Default)]
struct Captured {
    spans: Vec<CapturedSpan>,
    /// The fields of every event.
    events: Vec<Vec<(String, String)>>,
}

impl Captured {
    /// The only span named `name`.
    fn span(&self, name: &str) -> &CapturedSpan {
        let mut found = self.spans.iter().filter(|s| s.name == name);
        let span = found
            .next()
            .unwrap_or_else(|| panic!("no span {name:?} in {:#?}", self.spans));
        assert!(found.next().is_none(), "more than one span {name:?}");
        span
    }

    /// The spans named `name`, in creation order.
    fn spans_named(&self, name: &str) -> Vec<&CapturedSpan> {
        self.spans.iter().filter(|s| s.name == name).collect()
    }

    fn index_of(&self, span: &CapturedSpan) -> usize {
        self.spans
            .iter()
            .position(|s| std::ptr::eq(s, span))
            .expect("a span of this capture")
    }

    /// Every field name and value seen, in spans and events.
    fn all_text(&self) -> Vec<&str> {
        let spans = self.spans.iter().flat_map(|s| {
            s.fields
                .iter()
                .chain(&s.recorded)
                .flat_map(|(n, v)| [n.as_str(), v.as_str()])
                .chain([s.name, s.target.as_str()])
        });
        let events = self
            .events
            .iter()
            .flatten()
            .flat_map(|(n, v)| [n.as_str(), v.as_str()]);
        spans.chain(events).collect()
    }
}

/// A layer that keeps what it sees.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Captured>>);

impl Capture {
    fn lock(&self) -> MutexGuard<'_, Captured> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self) -> Captured {
        std::mem::take(&mut *self.lock())
    }
}

/// A span's position in the capture, kept in the span's extensions.
struct SpanIndex(usize);

/// Collects field values as text: strings as they are, everything else formatted with
/// `Debug` (which for `%value` fields is their `Display`).
struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl Capture {
    fn index<S>(id: &span::Id, ctx: &Context<'_, S>) -> usize
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        ctx.span(id)
            .and_then(|s| s.extensions().get::<SpanIndex>().map(|i| i.0))
            .expect("a span this layer saw created")
    }
}

impl<S> Layer<S> for Capture
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("the registry knows the new span");
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<SpanIndex>().map(|i| i.0));
        let mut fields = Vec::new();
        attrs.record(&mut Fields(&mut fields));
        let meta = attrs.metadata();
        let index = {
            let mut captured = self.lock();
            captured.spans.push(CapturedSpan {
                name: meta.name(),
                target: meta.target().to_owned(),
                level: *meta.level(),
                fields,
                recorded: Vec::new(),
                parent,
                closed: 0,
            });
            captured.spans.len() - 1
        };
        span.extensions_mut().insert(SpanIndex(index));
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let index = Self::index(id, &ctx);
        let mut recorded = Vec::new();
        values.record(&mut Fields(&mut recorded));
        self.lock().spans[index].recorded.extend(recorded);
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let index = Self::index(&id, &ctx);
        self.lock().spans[index].closed += 1;
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.lock().events.push(fields);
    }
}

/// Runs `f` with a capturing subscriber as this thread's default.
fn capture<R>(f: impl FnOnce() -> R) -> (R, Captured) {
    let layer = Capture::default();
    let subscriber = tracing_subscriber::registry().with(layer.clone());
    let result = tracing::subscriber::with_default(subscriber, f);
    (result, layer.take())
}

/// Runs `f` on a current-thread runtime with a capturing subscriber as this thread's
/// default; the runtime, and every task it spawned, is gone when this returns.
fn capture_async<F: Future>(f: F) -> (F::Output, Captured) {
    capture(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
            .block_on(f)
    })
}

/// Runs `f` with a subscriber that captures only spans at `INFO` and above.
fn capture_info_and_above<R>(f: impl FnOnce() -> R) -> (R, Captured) {
    let layer = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::INFO)
        .with(layer.clone());
    let result = tracing::subscriber::with_default(subscriber, f);
    (result, layer.take())
}

/// The `service_name` label: `OTEL_SERVICE_NAME` if set, else this package's name.
fn service() -> String {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| env!("CARGO_PKG_NAME").to_owned())
}

/// The count of the `function_calls_total` series of `function` with exactly these
/// labels besides `function`, `module` and `service_name`, if it exists.
fn calls(function: &str, extra: &[(&str, &str)]) -> Option<u64> {
    let service = service();
    let mut labels = vec![
        ("function", function),
        ("module", MODULE),
        ("service_name", service.as_str()),
    ];
    labels.extend_from_slice(extra);
    match default_registry()
        .snapshot()
        .get("function_calls_total", &labels)
    {
        Some(MetricValue::Counter(n)) => Some(*n),
        None => None,
        other => panic!("function_calls_total holds {other:?}"),
    }
}

/// Whether any series of the default registry names `function`.
fn has_any_series(function: &str) -> bool {
    default_registry().snapshot().families.iter().any(|f| {
        f.series.iter().any(|s| {
            s.labels
                .iter()
                .any(|(n, v)| n == "function" && v == function)
        })
    })
}

#[derive(Debug, ErrorLabel)]
enum OrderError {
    OutOfStock(u32),
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::OutOfStock(item) => write!(f, "item {item} is out of stock"),
        }
    }
}

impl std::error::Error for OrderError {}

// ---------------------------------------------------------------------------------------
// Names, targets, levels, fields
// ---------------------------------------------------------------------------------------

#[observed]
fn place_order(quantity: u32) -> Result<u32, OrderError> {
    Ok(quantity)
}

#[test]
fn a_call_makes_one_info_span_named_after_the_function() {
    let (result, captured) = capture(|| place_order(2));
    assert_eq!(result.unwrap(), 2);
    assert_eq!(captured.spans.len(), 1);
    let span = &captured.spans[0];
    assert_eq!(span.name, "place_order");
    assert_eq!(span.target, MODULE);
    assert_eq!(span.level, Level::INFO);
    // Exactly the OpenTelemetry code fields: no arguments, no status yet.
    assert_eq!(
        span.fields,
        [
            ("code.function.name".to_owned(), "place_order".to_owned()),
            ("code.namespace".to_owned(), MODULE.to_owned()),
        ]
    );
    // Ok: nothing recorded, no status.
    assert!(span.recorded.is_empty(), "{:?}", span.recorded);
    assert_eq!(span.parent, None);
    assert_eq!(span.closed, 1);
    assert!(captured.events.is_empty());
}

#[observed(name = "checkout.process", target = "billing", level = "debug")]
fn checkout() {}

#[observed(level = "warn")]
fn warn_level() {}

#[observed(level = "trace")]
fn trace_level() {}

#[test]
fn name_target_and_level_can_be_set() {
    let ((), captured) = capture(|| {
        checkout();
        warn_level();
        trace_level();
    });
    let span = captured.span("checkout.process");
    assert_eq!(span.target, "billing");
    assert_eq!(span.level, Level::DEBUG);
    // The OpenTelemetry fields still name the function and its module.
    assert_eq!(span.field("code.function.name"), Some("checkout"));
    assert_eq!(span.field("code.namespace"), Some(MODULE));
    assert_eq!(captured.span("warn_level").level, Level::WARN);
    assert_eq!(captured.span("trace_level").level, Level::TRACE);
    assert_eq!(captured.span("trace_level").target, MODULE);
    assert_eq!(captured.spans.len(), 3);
}

struct Cart {
    items: Vec<u32>,
}

#[observed]
impl Cart {
    fn total(&self) -> u32 {
        self.items.iter().sum()
    }

    #[observed(name = "cart.clear")]
    fn clear(&mut self) {
        self.items.clear();
    }
}

struct Till;

impl Till {
    #[observed]
    fn open_drawer(&self) -> bool {
        true
    }
}

#[test]
fn methods_of_an_observed_impl_block_are_named_type_method() {
    let ((), captured) = capture(|| {
        let mut cart = Cart { items: vec![2, 3] };
        assert_eq!(cart.total(), 5);
        cart.clear();
        assert!(Till.open_drawer());
    });
    let total = captured.span("Cart::total");
    assert_eq!(total.field("code.function.name"), Some("Cart::total"));
    assert_eq!(total.field("code.namespace"), Some(MODULE));
    let clear = captured.span("cart.clear");
    assert_eq!(clear.field("code.function.name"), Some("Cart::clear"));
    // A lone method learns its type's name at run time.
    let drawer = captured
        .spans
        .iter()
        .find(|s| s.field("code.function.name") == Some("Till::open_drawer"))
        .unwrap_or_else(|| panic!("no span of Till::open_drawer in {:#?}", captured.spans));
    assert_eq!(drawer.target, MODULE);
    assert_eq!(captured.spans.len(), 3);
}

// ---------------------------------------------------------------------------------------
// Errors and panics
// ---------------------------------------------------------------------------------------

#[observed]
fn reserve(item: u32) -> Result<(), OrderError> {
    Err(OrderError::OutOfStock(item))
}

#[derive(Debug)]
#[allow(dead_code)]
struct DebugOnly {
    code: u16,
}

#[observed]
fn debug_only_error() -> Result<(), DebugOnly> {
    Err(DebugOnly { code: 503 })
}

/// Neither `Display` nor `Debug`.
struct Opaque;

#[observed]
fn opaque_error() -> Result<(), Opaque> {
    Err(Opaque)
}

#[observed]
fn io_error() -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "config.yml is missing",
    ))
}

fn is_success(status: &u16) -> bool {
    *status < 400
}

#[observed(ok_if = is_success)]
fn respond(status: u16) -> u16 {
    status
}

#[test]
fn an_err_marks_the_span_with_status_and_message() {
    let ((), captured) = capture(|| {
        reserve(7).unwrap_err();
        debug_only_error().unwrap_err();
        assert!(opaque_error().is_err());
        io_error().unwrap_err();
        respond(503);
        respond(200);
    });
    assert_eq!(
        captured.span("reserve").recorded_sorted(),
        [
            ("exception.message", "item 7 is out of stock"),
            ("otel.status_code", "ERROR")
        ]
    );
    // Without Display, the message is the Debug form.
    assert_eq!(
        captured.span("debug_only_error").recorded_sorted(),
        [
            ("exception.message", "DebugOnly { code: 503 }"),
            ("otel.status_code", "ERROR")
        ]
    );
    // Without either, only the status.
    assert_eq!(
        captured.span("opaque_error").recorded_sorted(),
        [("otel.status_code", "ERROR")]
    );
    assert_eq!(
        captured.span("io_error").recorded_sorted(),
        [
            ("exception.message", "config.yml is missing"),
            ("otel.status_code", "ERROR")
        ]
    );
    // A return value classified as an error by `ok_if` sets the status only.
    let responses = captured.spans_named("respond");
    assert_eq!(responses.len(), 2);
    assert_eq!(
        responses[0].recorded_sorted(),
        [("otel.status_code", "ERROR")]
    );
    assert!(responses[1].recorded.is_empty());
    for span in &captured.spans {
        assert_eq!(span.closed, 1, "{span:?}");
    }
}

#[observed]
fn crash() -> Result<(), OrderError> {
    panic!("a secret detail of the panic")
}

#[test]
fn a_panic_marks_the_span_with_status_error_and_message_panic() {
    let (payload, captured) = capture(|| catch_unwind(crash).expect_err("it panics"));
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"a secret detail of the panic")
    );
    let span = captured.span("crash");
    assert_eq!(
        span.recorded_sorted(),
        [
            ("exception.message", "panic"),
            ("otel.status_code", "ERROR")
        ]
    );
    assert_eq!(span.closed, 1);
}

#[observed]
async fn reserve_async(item: u32) -> Result<(), OrderError> {
    tokio::task::yield_now().await;
    Err(OrderError::OutOfStock(item))
}

#[observed]
async fn crash_async() {
    tokio::task::yield_now().await;
    panic!("async crash")
}

#[observed]
async fn wait_forever() -> Result<(), OrderError> {
    std::future::pending::<()>().await;
    Ok(())
}

#[observed]
async fn finish_async() -> Result<u8, OrderError> {
    tokio::task::yield_now().await;
    Ok(1)
}

#[test]
fn async_outcomes_mark_their_spans() {
    let ((), captured) = capture_async(async {
        reserve_async(9).await.unwrap_err();
        assert_eq!(finish_async().await.unwrap(), 1);
        let crashed = tokio::spawn(crash_async()).await.unwrap_err();
        assert!(crashed.is_panic());
        let timed_out = tokio::time::timeout(Duration::from_millis(1), wait_forever()).await;
        assert!(timed_out.is_err());
    });
    assert_eq!(
        captured.span("reserve_async").recorded_sorted(),
        [
            ("exception.message", "item 9 is out of stock"),
            ("otel.status_code", "ERROR")
        ]
    );
    assert!(captured.span("finish_async").recorded.is_empty());
    assert_eq!(
        captured.span("crash_async").recorded_sorted(),
        [
            ("exception.message", "panic"),
            ("otel.status_code", "ERROR")
        ]
    );
    // A cancelled call is not an error.
    assert!(captured.span("wait_forever").recorded.is_empty());
    for span in &captured.spans {
        assert_eq!(span.closed, 1, "{span:?}");
        assert_eq!(span.level, Level::INFO);
        assert_eq!(span.field("code.function.name"), Some(span.name));
    }
    assert_eq!(captured.spans.len(), 4);
}

// ---------------------------------------------------------------------------------------
// Arguments and fields
// ---------------------------------------------------------------------------------------

const PASSWORD: &str = "hunter2-correct-horse";

#[observed]
fn login(user: &str, password: &str) -> bool {
    !user.is_empty() && password.len() > 8
}

#[observed(args(user))]
fn login_recording_user(user: &str, password: &str) -> bool {
    !user.is_empty() && password.len() > 8
}

#[observed]
async fn login_async(user: String, password: String) -> Result<(), OrderError> {
    let _ = (user, password);
    Err(OrderError::OutOfStock(0))
}

#[test]
fn arguments_are_not_recorded_unless_listed() {
    let ((), captured) = capture(|| {
        assert!(login("alice", PASSWORD));
        assert!(login_recording_user("alice", PASSWORD));
    });
    let ((), captured_async) = capture_async(async {
        login_async("alice".into(), PASSWORD.into())
            .await
            .unwrap_err();
    });
    for captured in [&captured, &captured_async] {
        for text in captured.all_text() {
            assert!(
                !text.contains(PASSWORD),
                "the password leaked: {captured:#?}"
            );
            assert_ne!(text, "password", "the password's name was recorded");
        }
    }
    let plain = captured.span("login");
    assert_eq!(plain.field("user"), None);
    assert_eq!(plain.fields.len(), 2, "{:?}", plain.fields);
    let listed = captured.span("login_recording_user");
    assert_eq!(listed.field("user"), Some("alice"));
    assert_eq!(listed.fields.len(), 3, "{:?}", listed.fields);
    assert_eq!(captured_async.span("login_async").fields.len(), 2);
}

#[derive(Debug)]
#[allow(dead_code)]
enum Role {
    Admin,
}

#[observed(args(id, name, tags, ratio, admin, role))]
fn update_user(
    id: u64,
    name: String,
    tags: Vec<&str>,
    ratio: f64,
    admin: bool,
    role: Role,
    token: &str,
) -> usize {
    let _ = (role, token);
    name.len() + tags.len() + usize::from(admin) + id as usize + ratio as usize
}

struct Account {
    name: String,
    plan: Role,
}

#[observed(fields(user = %account.name, plan = ?account.plan, attempt = 3))]
fn charge(account: &Account) -> u32 {
    account.name.len() as u32
}

#[test]
fn listed_arguments_and_fields_are_recorded() {
    let ((), captured) = capture(|| {
        update_user(
            42,
            "bob".into(),
            vec!["a", "b"],
            0.5,
            true,
            Role::Admin,
            "tok-123",
        );
        let account = Account {
            name: "Zoë".into(),
            plan: Role::Admin,
        };
        assert_eq!(charge(&account), 4);
    });
    let update = captured.span("update_user");
    assert_eq!(update.field("id"), Some("42"));
    assert_eq!(update.field("name"), Some("bob"));
    assert_eq!(update.field("tags"), Some(r#"["a", "b"]"#));
    assert_eq!(update.field("ratio"), Some("0.5"));
    assert_eq!(update.field("admin"), Some("true"));
    assert_eq!(update.field("role"), Some("Admin"));
    assert_eq!(update.field("token"), None);
    assert!(!captured.all_text().contains(&"tok-123"));
    assert_eq!(update.fields.len(), 8, "{:?}", update.fields);

    let charge = captured.span("charge");
    assert_eq!(charge.field("user"), Some("Zoë"));
    assert_eq!(charge.field("plan"), Some("Admin"));
    assert_eq!(charge.field("attempt"), Some("3"));
    assert_eq!(charge.field("account"), None);
    assert_eq!(charge.fields.len(), 5, "{:?}", charge.fields);
}

// ---------------------------------------------------------------------------------------
// Nesting
// ---------------------------------------------------------------------------------------

#[observed]
fn inner_step(n: u32) -> u32 {
    n + 1
}

#[observed]
fn outer_step() -> u32 {
    inner_step(1) + inner_step(2)
}

#[observed]
async fn inner_async() -> u32 {
    tokio::task::yield_now().await;
    inner_step(10)
}

#[observed]
async fn outer_async() -> u32 {
    tokio::task::yield_now().await;
    let spawned = tokio::spawn(spawned_child()).await.unwrap();
    inner_async().await + spawned
}

#[observed]
async fn spawned_child() -> u32 {
    tokio::task::yield_now().await;
    100
}

#[test]
fn nested_calls_make_child_spans() {
    let (sum, captured) = capture(outer_step);
    assert_eq!(sum, 5);
    let outer = captured.span("outer_step");
    let outer_index = captured.index_of(outer);
    let inner = captured.spans_named("inner_step");
    assert_eq!(inner.len(), 2);
    for span in inner {
        assert_eq!(span.parent, Some(outer_index));
        assert_eq!(span.closed, 1);
    }
    assert_eq!(outer.parent, None);
    assert_eq!(outer.closed, 1);
}

#[test]
fn nested_async_calls_make_child_spans_and_spawned_tasks_start_their_own() {
    let (sum, captured) = capture_async(outer_async());
    assert_eq!(sum, 111);
    let outer = captured.index_of(captured.span("outer_async"));
    let inner_async = captured.span("inner_async");
    assert_eq!(inner_async.parent, Some(outer));
    let inner_sync = captured.span("inner_step");
    assert_eq!(inner_sync.parent, Some(captured.index_of(inner_async)));
    assert_eq!(captured.span("spawned_child").parent, None);
    assert_eq!(captured.spans.len(), 4);
    for span in &captured.spans {
        assert_eq!(span.closed, 1, "{span:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Filtering, and the halves of #[observed]
// ---------------------------------------------------------------------------------------

#[observed(level = "debug")]
fn quiet(fail: bool) -> Result<(), OrderError> {
    if fail {
        Err(OrderError::OutOfStock(1))
    } else {
        Ok(())
    }
}

#[observed(level = "debug")]
fn quiet_panic() {
    panic!("quiet panic")
}

#[observed(level = "debug")]
async fn quiet_async() -> Result<(), OrderError> {
    tokio::task::yield_now().await;
    Err(OrderError::OutOfStock(2))
}

#[observed]
fn loud() {}

#[test]
fn a_span_filtered_out_by_level_still_counts_metrics() {
    let ((), captured) = capture_info_and_above(|| {
        quiet(false).unwrap();
        quiet(true).unwrap_err();
        quiet(false).unwrap();
        catch_unwind(quiet_panic).expect_err("it panics");
        loud();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(quiet_async())
            .unwrap_err();
    });
    assert_eq!(captured.spans.len(), 1, "{:#?}", captured.spans);
    assert_eq!(captured.spans[0].name, "loud");

    assert_eq!(calls("quiet", &[("result", "ok")]), Some(2));
    assert_eq!(calls("quiet", &[("result", "error")]), Some(0));
    assert_eq!(
        calls("quiet", &[("result", "error"), ("error", "out_of_stock")]),
        Some(1)
    );
    assert_eq!(
        calls("quiet_panic", &[("result", "error"), ("error", "panic")]),
        Some(1)
    );
    assert_eq!(
        calls(
            "quiet_async",
            &[("result", "error"), ("error", "out_of_stock")]
        ),
        Some(1)
    );
}

#[observed(span = false)]
fn metrics_only(fail: bool) -> Result<(), OrderError> {
    if fail {
        Err(OrderError::OutOfStock(3))
    } else {
        Ok(())
    }
}

#[observed(metrics = false)]
fn span_only() -> Result<(), OrderError> {
    Err(OrderError::OutOfStock(4))
}

#[test]
fn span_false_keeps_metrics_and_metrics_false_keeps_the_span() {
    let ((), captured) = capture(|| {
        metrics_only(true).unwrap_err();
        metrics_only(false).unwrap();
        span_only().unwrap_err();
    });
    assert_eq!(captured.spans.len(), 1, "{:#?}", captured.spans);
    let span = captured.span("span_only");
    assert_eq!(span.field("code.function.name"), Some("span_only"));
    assert_eq!(calls("metrics_only", &[("result", "ok")]), Some(1));
    assert_eq!(
        calls(
            "metrics_only",
            &[("result", "error"), ("error", "out_of_stock")]
        ),
        Some(1)
    );
    assert!(!has_any_series("span_only"));
}

#[test]
fn without_a_subscriber_nothing_panics_and_calls_are_counted() {
    // No subscriber on this thread: every span is disabled.
    for fail in [true, false] {
        let _ = never_captured(fail);
    }
    let payload = catch_unwind(never_captured_panics).expect_err("it panics");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"uncaptured"));
    assert_eq!(calls("never_captured", &[("result", "ok")]), Some(1));
    assert_eq!(
        calls(
            "never_captured",
            &[("result", "error"), ("error", "out_of_stock")]
        ),
        Some(1)
    );
    assert_eq!(
        calls(
            "never_captured_panics",
            &[("result", "error"), ("error", "panic")]
        ),
        Some(1)
    );
}

#[observed]
fn never_captured(fail: bool) -> Result<(), OrderError> {
    if fail {
        Err(OrderError::OutOfStock(5))
    } else {
        Ok(())
    }
}

#[observed]
fn never_captured_panics() {
    panic!("uncaptured")
}
