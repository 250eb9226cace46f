//! The secured `/metrics` endpoint and the health checks, over real HTTP on loopback.

mod access;
mod connections;
mod shutdown;
mod tls;
mod tokens;
