//! Call sites, their resolved state, and the guard that records one call.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, OnceLock};

use tracing::Span;

use rustform_config::names::observed as wire;

use crate::metrics::family::Family;
use crate::metrics::shard::{Slot, thread_slot};
use crate::metrics::{Buckets, Counter, Histogram, InFlight, default_registry};

/// What the macro knows about an observed function, fixed at compile time.
#[derive(Debug)]
pub struct FunctionInfo {
    /// The `function` label: `name` or `Type::name`; for a method whose type the macro
    /// cannot see, the bare method name (see `method_of_self_type`).
    pub function: &'static str,
    /// Whether the type name is only known at run time (`#[observed]` on a lone method):
    /// `Self`'s name is then prefixed on first call.
    pub method_of_self_type: bool,
    /// `module_path!()` at the function.
    pub module: &'static str,
    /// `env!("CARGO_PKG_NAME")` of the function's crate: the service name unless
    /// `OTEL_SERVICE_NAME` or the configuration gives one.
    pub crate_name: &'static str,
    /// `env!("CARGO_PKG_VERSION")` of the function's crate: `build_info`'s version unless
    /// the configuration gives one.
    pub crate_version: &'static str,
    /// The function's own duration buckets, validated by the macro.
    pub buckets: Option<&'static [f64]>,
    /// Whether to keep `function_calls_concurrent`.
    pub track_concurrency: bool,
    /// Whether to label calls with the calling observed function.
    pub callers: bool,
    /// Constant labels added to every series of the function.
    pub labels: &'static [(&'static str, &'static str)],
    /// The objective the function is judged by, `#[observed(objective = ...)]`.
    pub objective: Option<&'static crate::Objective>,
}

/// How to name `Self` for a lone method: `Some(type_name::<Self>)`, or `None`.
pub type SelfType = Option<fn() -> &'static str>;

/// One observed function: its compile-time facts and, after the first call, its series.
pub struct CallSite {
    info: FunctionInfo,
    state: OnceLock<SiteState>,
    /// For a method named from `Self`, the states of the `Self` types after the first: a
    /// generic `impl` or a trait's default method is one site for every type it serves.
    other_types: Mutex<Vec<(&'static str, &'static SiteState)>>,
}

/// How a call ended, as the generated code classified its return value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    error: bool,
    label: Option<&'static str>,
}

impl Outcome {
    /// A successful call, with the ok value's label if it has one.
    #[inline]
    pub const fn ok(label: Option<&'static str>) -> Outcome {
        Outcome {
            error: false,
            label,
        }
    }

    /// A failed call, with the error's kind if it has one.
    #[inline]
    pub const fn error(label: Option<&'static str>) -> Outcome {
        Outcome { error: true, label }
    }
}

/// How a call ended, as the runtime sees it.
pub(crate) enum Ending {
    Returned(Outcome),
    Panicked,
    Cancelled,
}

/// The three families every observed function records into, in the default registry.
struct FunctionFamilies {
    calls: Family<Counter>,
    durations: Family<Histogram>,
    concurrent: Family<InFlight>,
}

fn families() -> &'static FunctionFamilies {
    static FAMILIES: LazyLock<FunctionFamilies> = LazyLock::new(|| {
        // Function series are bounded by the code (functions × result kinds × callers),
        // not by input, so they get no cardinality limit.
        let f = FunctionFamilies {
            calls: Family::new((), usize::MAX),
            durations: Family::new(Buckets::function_default(), usize::MAX),
            concurrent: Family::new((), usize::MAX),
        };
        let registry = default_registry();
        for result in [
            registry.register(
                wire::CALLS,
                "Calls of functions instrumented with #[observed], by result",
                f.calls.clone(),
            ),
            registry.register(
                wire::DURATION,
                "Duration of calls of functions instrumented with #[observed]",
                f.durations.clone(),
            ),
            registry.register(
                wire::CONCURRENT,
                "Calls in progress of functions instrumented with #[observed(track_concurrency)]",
                f.concurrent.clone(),
            ),
        ] {
            if let Err(error) = result {
                tracing::error!(target: "rustform", %error, "function metrics are not exposed");
            }
        }
        f
    });
    &FAMILIES
}

/// The service name label: set in code or configuration, else `OTEL_SERVICE_NAME`, else
/// the crate's name.
pub(crate) fn service_name(crate_name: &'static str) -> &'static str {
    static FROM_ENV: LazyLock<Option<String>> = LazyLock::new(|| {
        std::env::var("OTEL_SERVICE_NAME")
            .ok()
            .filter(|s| !s.trim().is_empty())
    });
    if let Some(name) = super::SERVICE_NAME.get() {
        return name;
    }
    FROM_ENV.as_deref().unwrap_or(crate_name)
}

/// The label values that identify a function's series.
struct Identity {
    function: &'static str,
    module: &'static str,
    service: &'static str,
    labels: &'static [(&'static str, &'static str)],
    /// The objective's labels on `function_calls_total`: name and success percentile.
    success_objective: &'static [(&'static str, &'static str)],
}

impl Identity {
    /// The labels of one `function_calls_total` series.
    fn call_pairs(
        &self,
        caller: Option<&Identity>,
        result: &'static str,
        kind: Option<(&'static str, &'static str)>,
    ) -> Vec<(&'static str, &'static str)> {
        let mut pairs = vec![
            (wire::FUNCTION, self.function),
            (wire::MODULE, self.module),
            (wire::SERVICE_NAME, self.service),
        ];
        if let Some(caller) = caller {
            pairs.push((wire::CALLER_FUNCTION, caller.function));
            pairs.push((wire::CALLER_MODULE, caller.module));
        }
        pairs.push((wire::RESULT, result));
        pairs.extend(kind);
        pairs.extend_from_slice(self.success_objective);
        pairs.extend_from_slice(self.labels);
        pairs
    }
}

/// A site's resolved series.
pub(crate) struct SiteState {
    id: Identity,
    /// The full name of the `Self` type the state was resolved for, if it names one.
    self_type: Option<&'static str>,
    duration: Histogram,
    concurrent: Option<InFlight>,
    direct: Outcomes,
    callers: Option<CallerOutcomes>,
}

impl CallSite {
    /// A call site; `const` so it can be a `static`.
    pub const fn new(info: FunctionInfo) -> CallSite {
        CallSite {
            info,
            state: OnceLock::new(),
            other_types: Mutex::new(Vec::new()),
        }
    }

    /// What the macro recorded about the function.
    pub(crate) fn info(&self) -> &FunctionInfo {
        &self.info
    }

    /// The resolved state, resolving it on the first call (for a method named from
    /// `Self`, on the first call for each `Self` type).
    #[inline]
    pub(crate) fn state(&'static self, self_type: SelfType) -> &'static SiteState {
        let state = match self.state.get() {
            Some(state) => state,
            None => {
                // The default registry's first use resolves every linked site, this one
                // included: let that happen before this site's own resolution starts, or
                // it would re-enter it (and the function families being created) and
                // deadlock.
                let _ = default_registry();
                self.state
                    .get_or_init(|| SiteState::new(&self.info, self_type))
            }
        };
        match (state.self_type, self_type) {
            (Some(resolved), Some(type_name)) => {
                let name = type_name();
                if same_label(resolved, name) {
                    state
                } else {
                    self.other_type(name, self_type)
                }
            }
            _ => state,
        }
    }

    /// The state for a `Self` type other than the first one seen.
    #[cold]
    fn other_type(&'static self, name: &'static str, self_type: SelfType) -> &'static SiteState {
        let mut others = self.other_types.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, state)) = others.iter().find(|(n, _)| same_label(n, name)) {
            return state;
        }
        // One leak per (site, type) pair: bounded by the code.
        let state = &*Box::leak(Box::new(SiteState::new(&self.info, self_type)));
        others.push((name, state));
        state
    }

    /// The `function` label, for the span's `code.function.name`.
    pub fn function_name(&'static self, self_type: SelfType) -> &'static str {
        self.state(self_type).id.function
    }

    /// Resolves the site ahead of its first call, unless its name needs `Self`.
    pub(crate) fn preload(&'static self) {
        if !self.info.method_of_self_type {
            self.state(None);
        }
    }

    /// The function's final name, once the site has resolved it.
    pub(crate) fn resolved_function(&self) -> Option<&'static str> {
        self.state.get().map(|s| s.id.function)
    }

    /// The `service_name` label of the site's series.
    pub(crate) fn service_name(&self) -> &'static str {
        service_name(self.info.crate_name)
    }
}

impl SiteState {
    fn new(info: &'static FunctionInfo, self_type: SelfType) -> SiteState {
        let self_type = self_type
            .filter(|_| info.method_of_self_type)
            .map(|type_name| type_name());
        let function = match self_type {
            Some(type_name) => {
                let name = format!("{}::{}", short_type_name(type_name), info.function);
                // Once per call site and `Self` type, for the life of the process.
                &*Box::leak(name.into_boxed_str())
            }
            None => info.function,
        };
        let (success_objective, latency_objective) = objective_labels(info.objective);
        let id = Identity {
            function,
            module: info.module,
            service: service_name(info.crate_name),
            labels: info.labels,
            success_objective,
        };
        let mut pairs = vec![
            (wire::FUNCTION, id.function),
            (wire::MODULE, id.module),
            (wire::SERVICE_NAME, id.service),
        ];
        pairs.extend_from_slice(id.labels);
        // The in-flight gauge carries no objective labels, as in autometrics.
        let gauge_pairs = pairs.clone();
        pairs.extend_from_slice(latency_objective);
        let buckets = info
            .buckets
            .map_or_else(Buckets::function_default, Buckets::from_checked);
        let families = families();
        let duration = families
            .durations
            .get_or_create_with(&pairs, |_| Histogram::new(buckets));
        let concurrent = info
            .track_concurrency
            .then(|| families.concurrent.get_or_create(&gauge_pairs));
        SiteState {
            self_type,
            direct: Outcomes::new(&id, None),
            callers: info.callers.then(CallerOutcomes::default),
            id,
            duration,
            concurrent,
        }
    }

    /// The counters for calls made from `caller`.
    #[inline]
    fn outcomes(&'static self, caller: Option<&'static SiteState>) -> &'static Outcomes {
        match (&self.callers, caller) {
            (Some(cache), Some(caller)) => cache.get(self, caller),
            _ => &self.direct,
        }
    }
}

type Pairs = &'static [(&'static str, &'static str)];

/// The objective labels of a function's call counters and of its duration histogram.
/// Leaked once per call site: bounded by the code.
fn objective_labels(objective: Option<&'static crate::Objective>) -> (Pairs, Pairs) {
    use crate::objective::{percentile_label, threshold_label};
    let Some(objective) = objective else {
        return (&[], &[]);
    };
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let success: Pairs = match objective.success_percentile() {
        Some(p) => Box::leak(Box::new([
            (wire::OBJECTIVE_NAME, objective.name()),
            (wire::OBJECTIVE_PERCENTILE, leak(percentile_label(p))),
        ])),
        None => &[],
    };
    let latency: Pairs = match objective.latency_target() {
        Some(target) => Box::leak(Box::new([
            (wire::OBJECTIVE_NAME, objective.name()),
            (
                wire::OBJECTIVE_PERCENTILE,
                leak(percentile_label(target.percentile)),
            ),
            (
                wire::OBJECTIVE_LATENCY_THRESHOLD,
                leak(threshold_label(target.threshold_seconds())),
            ),
        ])),
        None => &[],
    };
    (success, latency)
}

/// `my_crate::repo::Repo<alloc::string::String>` → `Repo`: paths and generic arguments
/// dropped, references and raw pointers looked through (`&str` → `str`), slices, arrays
/// and tuples kept with short element names (`&[my_crate::Item]` → `[Item]`).
fn short_type_name(full: &str) -> String {
    let mut rest = full;
    while let Some(inner) = ["&mut ", "&", "*const ", "*mut "]
        .iter()
        .find_map(|sigil| rest.strip_prefix(sigil))
    {
        rest = inner;
    }
    let mut short = String::with_capacity(rest.len());
    // Where the path segment being written starts in `short`.
    let mut segment_start = 0;
    let mut generic_depth = 0usize;
    for (i, c) in rest.char_indices() {
        let arrow = rest[..i].ends_with('-');
        match c {
            '<' => generic_depth += 1,
            '>' if generic_depth > 0 && !arrow => generic_depth -= 1,
            _ if generic_depth > 0 => {}
            // `path::` before the segment's end: drop the path.
            ':' if rest[i..].starts_with("::") => short.truncate(segment_start),
            ':' => {}
            c => {
                short.push(c);
                if !(c.is_alphanumeric() || c == '_') {
                    segment_start = short.len();
                }
            }
        }
    }
    short
}

/// The counters of one (function, caller) pair.
struct Outcomes {
    caller: Option<&'static SiteState>,
    ok: Counter,
    error: Counter,
    panic: OnceLock<Counter>,
    cancelled: OnceLock<Counter>,
    ok_kinds: KindCache,
    error_kinds: KindCache,
}

impl Outcomes {
    /// The always-present series (`result="ok"` and `result="error"`) are created here,
    /// so they show at zero from the first call; the others on first use.
    fn new(id: &Identity, caller: Option<&'static SiteState>) -> Outcomes {
        let calls = &families().calls;
        let caller_id = caller.map(|c| &c.id);
        Outcomes {
            caller,
            ok: calls.get_or_create(&id.call_pairs(caller_id, "ok", None)),
            error: calls.get_or_create(&id.call_pairs(caller_id, "error", None)),
            panic: OnceLock::new(),
            cancelled: OnceLock::new(),
            ok_kinds: KindCache::default(),
            error_kinds: KindCache::default(),
        }
    }

    fn counter(
        &self,
        id: &Identity,
        result: &'static str,
        kind: Option<(&'static str, &'static str)>,
    ) -> Counter {
        let caller_id = self.caller.map(|c| &c.id);
        families()
            .calls
            .get_or_create(&id.call_pairs(caller_id, result, kind))
    }

    #[inline]
    fn record(&self, id: &Identity, ending: &Ending, slot: Slot) {
        match *ending {
            Ending::Returned(Outcome {
                error: false,
                label: None,
            }) => self.ok.inc_in(slot),
            Ending::Returned(Outcome {
                error: true,
                label: None,
            }) => self.error.inc_in(slot),
            Ending::Returned(Outcome {
                error: false,
                label: Some(label),
            }) => {
                self.ok_kinds.inc(label, slot, || {
                    self.counter(id, "ok", Some((wire::OK, label)))
                });
            }
            Ending::Returned(Outcome {
                error: true,
                label: Some(label),
            }) => {
                self.error_kinds.inc(label, slot, || {
                    self.counter(id, "error", Some((wire::ERROR, label)))
                });
            }
            Ending::Panicked => self
                .panic
                .get_or_init(|| self.counter(id, "error", Some((wire::ERROR, "panic"))))
                .inc_in(slot),
            Ending::Cancelled => self
                .cancelled
                .get_or_init(|| self.counter(id, "cancelled", None))
                .inc_in(slot),
        }
    }
}

const KIND_SLOTS: usize = 8;

/// Counters by `ok`/`error` label, found without hashing or locking: the labels are
/// `&'static str`s, compared by address first. Past `KIND_SLOTS` distinct labels the
/// family lookup (hash and read lock) is used.
#[derive(Default)]
struct KindCache {
    slots: [OnceLock<(&'static str, Counter)>; KIND_SLOTS],
}

impl KindCache {
    /// Increments the counter for `label`; `lookup` finds it in the family (idempotent).
    #[inline]
    fn inc(&self, label: &'static str, stripe: Slot, lookup: impl Fn() -> Counter) {
        for entry in &self.slots {
            let (held, counter) = match entry.get() {
                Some(entry) => entry,
                // Another thread may fill the entry first with another label: then this
                // entry is not ours and the scan goes on.
                None => entry.get_or_init(|| (label, lookup())),
            };
            if same_label(held, label) {
                counter.inc_in(stripe);
                return;
            }
        }
        lookup().inc_in(stripe);
    }
}

#[inline]
fn same_label(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

const CALLER_SLOTS: usize = 8;

/// Counters by calling function, for `#[observed(callers)]`.
#[derive(Default)]
struct CallerOutcomes {
    slots: [OnceLock<(usize, Box<Outcomes>)>; CALLER_SLOTS],
    overflow: Mutex<HashMap<usize, &'static Outcomes>>,
}

impl CallerOutcomes {
    #[inline]
    fn get(
        &'static self,
        site: &'static SiteState,
        caller: &'static SiteState,
    ) -> &'static Outcomes {
        let key = caller as *const SiteState as usize;
        for slot in &self.slots {
            let (held, outcomes) =
                slot.get_or_init(|| (key, Box::new(Outcomes::new(&site.id, Some(caller)))));
            if *held == key {
                return outcomes;
            }
        }
        let mut overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
        // One leak per (function, caller) pair beyond the slots: bounded by the code.
        overflow
            .entry(key)
            .or_insert_with(|| Box::leak(Box::new(Outcomes::new(&site.id, Some(caller)))))
    }
}

thread_local! {
    /// The observed function running on this thread (for async functions: being polled).
    static CURRENT: Cell<Option<&'static SiteState>> = const { Cell::new(None) };
}

#[inline]
pub(crate) fn enter_current(state: &'static SiteState) -> Option<&'static SiteState> {
    CURRENT.with(|c| c.replace(Some(state)))
}

#[inline]
pub(crate) fn restore_current(previous: Option<&'static SiteState>) {
    CURRENT.with(|c| c.set(previous));
}

/// One call in progress.
pub(crate) struct CallState {
    state: &'static SiteState,
    outcomes: &'static Outcomes,
    /// A raw clock reading.
    start: u64,
}

impl CallState {
    /// Starts a call: finds its caller, raises the concurrency gauge, reads the clock.
    #[inline]
    pub(crate) fn begin(state: &'static SiteState) -> CallState {
        let caller = if state.callers.is_some() {
            CURRENT.with(Cell::get)
        } else {
            None
        };
        let outcomes = state.outcomes(caller);
        if let Some(gauge) = &state.concurrent {
            gauge.enter();
        }
        CallState {
            state,
            outcomes,
            start: crate::clock::raw(),
        }
    }

    /// Records how the call ended.
    #[inline]
    pub(crate) fn end(self, ending: Ending, span: &Span) {
        let end = crate::clock::raw();
        let seconds = crate::clock::nanos_between(self.start, end) as f64 * 1e-9;
        let slot = thread_slot();
        self.state.duration.observe_in(slot, seconds);
        if !span.is_disabled() && crate::metrics::exemplar::has_source() {
            let nanos = crate::metrics::exemplar::monotonic_nanos(end);
            self.state.duration.offer_exemplar(seconds, nanos);
        }
        if let Some(gauge) = &self.state.concurrent {
            gauge.exit();
        }
        self.outcomes.record(&self.state.id, &ending, slot);
        match ending {
            Ending::Returned(Outcome { error: true, .. }) => mark_error(span, None),
            Ending::Panicked => mark_error(span, Some("panic")),
            _ => {}
        }
    }
}

fn mark_error(span: &Span, message: Option<&str>) {
    if !span.is_disabled() {
        span.record("otel.status_code", "ERROR");
        if let Some(message) = message {
            span.record("exception.message", message);
        }
    }
}

/// A synchronous call in progress: records a panic if dropped before it finishes.
pub struct SyncCall<'a> {
    call: Option<CallState>,
    previous: Option<&'static SiteState>,
    outcome: Option<Outcome>,
    span: &'a Span,
}

impl<'a> SyncCall<'a> {
    /// Starts a call of `site` under `span`. Inlined (it is small: the site's state, a
    /// clock reading, the current function); the call's end runs out of line, compiled
    /// once here.
    #[inline]
    pub fn begin(site: &'static CallSite, self_type: SelfType, span: &'a Span) -> SyncCall<'a> {
        let state = site.state(self_type);
        let call = CallState::begin(state);
        SyncCall {
            call: Some(call),
            previous: enter_current(state),
            outcome: None,
            span,
        }
    }

    /// Ends the call with the classified outcome.
    #[inline]
    pub fn finish(mut self, outcome: Outcome) {
        self.outcome = Some(outcome);
    }
}

impl Drop for SyncCall<'_> {
    fn drop(&mut self) {
        restore_current(self.previous);
        if let Some(call) = self.call.take() {
            let ending = match self.outcome {
                Some(outcome) => Ending::Returned(outcome),
                // Dropped without an outcome: the body unwound.
                None => Ending::Panicked,
            };
            call.end(ending, self.span);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn type_names_are_shortened() {
        assert_eq!(short_type_name("a::b::Repo<alloc::string::String>"), "Repo");
        assert_eq!(short_type_name("Repo"), "Repo");
        assert_eq!(short_type_name("&a::Foo"), "Foo");
        assert_eq!(short_type_name("&str"), "str");
        assert_eq!(short_type_name("&mut &str"), "str");
        assert_eq!(short_type_name("*const u8"), "u8");
        assert_eq!(short_type_name("[a::Foo]"), "[Foo]");
        assert_eq!(short_type_name("&[u8; 4]"), "[u8; 4]");
        assert_eq!(short_type_name("(a::A, b::c::B<u8>)"), "(A, B)");
        assert_eq!(short_type_name("dyn a::Shape"), "dyn Shape");
        assert_eq!(short_type_name("fn(a::A) -> b::B<u8>"), "fn(A) -> B");
        assert_eq!(
            short_type_name("a::Boxed<dyn core::ops::Fn() -> u8>"),
            "Boxed"
        );
    }
}
