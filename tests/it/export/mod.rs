//! Export over OTLP and Zipkin to the in-process collector.

mod collector;
mod otlp;
mod sampling;
