//! The runtime half of `#[observed]`: what the generated code calls through
//! `rustform::__private`. Not a public API.
//!
//! Each annotated function owns one `static CallSite`. On its first call the site
//! resolves everything that needs a lookup (its series in the three function families,
//! the service name, its buckets) into a `SiteState`; every later call costs a few
//! atomic operations: two clock reads, a counter increment in the caller's stripe, a
//! histogram observation in the caller's stripe, and two thread-local writes that let a
//! nested observed function name its caller.
//!
//! The generated code is kept to what only it can do (the statics, calling the body,
//! picking how to classify the return value by its type) and calls into non-generic
//! functions here for the rest, so a service with hundreds of observed functions
//! compiles the span, the call's bookkeeping and the error's recording once, not once
//! per function (`scripts/bench-compile` measures it).

mod classify;
mod future;
mod site;
mod span;

pub use classify::{
    ClassifyOther, ClassifyResult, ErrorMessage, LabelOf, LabelProbe, Message, Never, NoLabel,
    RecordDebug, RecordDisplay, RecordNothing, Ret, classify_error,
};
pub use future::ObservedFuture;
pub use site::{CallSite, FunctionInfo, Outcome, SelfType, SyncCall};
pub use span::{SPAN_FIELDS, function_span, observed_span};

use std::sync::OnceLock;

/// Every observed function of the program: each `#[observed]` adds its call site at link
/// time.
#[doc(hidden)]
#[allow(unsafe_code)] // linkme places the slice in a link section
#[linkme::distributed_slice]
pub static OBSERVED_FUNCTIONS: [&'static CallSite];

/// The service name set in code or configuration (`rustform::set_service_name`).
pub(crate) static SERVICE_NAME: OnceLock<String> = OnceLock::new();

/// The service name set in code or configuration, if any.
pub(crate) fn set_service_name_of_process() -> Option<String> {
    SERVICE_NAME.get().cloned()
}

/// Resolves every observed function whose name is known without running it, so its
/// series show in `/metrics` at zero from the start: run by the default registry on its
/// first use.
fn preload_observed_functions() {
    for site in OBSERVED_FUNCTIONS.iter() {
        site.preload();
    }
}

#[allow(unsafe_code)] // linkme places the element in a link section
#[linkme::distributed_slice(crate::metrics::ON_DEFAULT_REGISTRY)]
static PRELOAD: fn() = preload_observed_functions;
