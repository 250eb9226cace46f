//! The runtime half of `#[observed]`: what the generated code calls through
//! `rustform::__private`. Not a public API.
//!
//! Each annotated function owns one `static CallSite`. On its first call the site
//! resolves everything that needs a lookup (its series in the three function families,
//! the service name, its buckets) into a `SiteState`; every later call costs a few
//! atomic operations: two clock reads, a counter increment in the caller's stripe, a
//! histogram observation in the caller's stripe, and two thread-local writes that let a
//! nested observed function name its caller.

mod classify;
mod future;
mod site;

pub use classify::{
    ClassifyOther, ClassifyResult, LabelOf, Labeled, Message, Never, NoLabel, RecordDebug,
    RecordDisplay, RecordNothing, Ret,
};
pub use future::ObservedFuture;
pub use site::{CallSite, FunctionInfo, Outcome, SelfType, SyncCall, observe_sync};

/// The `service_name` label of an observed function's series.
pub(crate) fn service_name_of(site: &CallSite) -> &'static str {
    site.service_name()
}
