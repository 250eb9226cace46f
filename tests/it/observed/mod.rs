//! `#[observed]`: its metrics and spans, and the service name on them.

mod metrics;
mod service_name;
mod spans;
