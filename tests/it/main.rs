//! The integration tests, one binary by area: each module below tests one part of
//! rustform through its public API, against the real peers (promtool, a Prometheus
//! server, HTTP clients, the in-process OTLP collector of `rustform-testkit`).
//!
//! Run one area with `cargo test --test it <area>::`, e.g. `cargo test --test it endpoint::`.
//!
//! Tests here share a process: they use their own registries, or their own series of the
//! default one, and run programs of their own (`tests/probe/`) where something is once
//! per process. The few tests that need the process to themselves are separate binaries
//! next to this folder, each saying why.

mod config;
mod endpoint;
mod export;
mod generate;
mod metrics;
mod module_layers;
mod observed;
mod service;
