//! The metric core: the exposition formats, declared and derived metrics, process metrics, objectives.

mod app_metrics;
mod declared;
mod exposition;
mod objectives;
mod openmetrics;
mod process;
