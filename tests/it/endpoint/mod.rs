//! The secured `/metrics` endpoint, its tokens and its own server, over real HTTP on
//! loopback; most tests run the endpoint probe (`tests/probe/endpoint_probe.rs`).

use std::io::{BufRead, BufReader, Lines};
use std::net::SocketAddr;
use std::process::ChildStderr;

mod access;
mod connections;
mod shutdown;
mod tls;
mod tokens;

/// Reads the endpoint probe's standard error up to its `listening: <address>` line: the
/// address, and the lines after it, for what the test waits for next.
fn listening(stderr: ChildStderr) -> (SocketAddr, Lines<BufReader<ChildStderr>>) {
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the probe reports its address")
            .unwrap();
        if let Some(address) = line.strip_prefix("listening: ") {
            break address.parse().unwrap();
        }
    };
    (address, lines)
}
