//! Per-client rate limits (GCRA, by `governor`) and the client's address.
//!
//! Authenticated requests are limited per credential (its id), others per address;
//! failed authentications get a tighter limit per address, so guessing tokens is slow.
//! Keys not seen for a while are evicted as the maps grow, so memory stays bounded
//! however many clients come and go. `X-Forwarded-For` is believed only from the
//! configured trusted proxies.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::Error;
use crate::config::{IpNet, RateLimit};

/// Checks between two sweeps of keys whose limit has fully recovered.
const SWEEP_EVERY: u64 = 4096;

/// The limiters of one endpoint.
pub(crate) struct Limits {
    clients: Arc<DefaultKeyedRateLimiter<String>>,
    failures: Arc<DefaultKeyedRateLimiter<String>>,
    trusted: Vec<IpNet>,
    checks: AtomicU64,
}

impl Limits {
    pub(crate) fn new(rate: &RateLimit) -> Result<Limits, Error> {
        let per_minute = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let clients = Quota::per_minute(per_minute(rate.requests_per_minute))
            .allow_burst(per_minute(rate.burst_size));
        let failures_per_minute = per_minute(rate.failed_auth_per_minute);
        let failures = Quota::per_minute(failures_per_minute).allow_burst(failures_per_minute);
        let trusted = rate
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, text)| {
                text.parse::<IpNet>().map_err(|_| Error::Install {
                    what: "the endpoint",
                    reason: format!(
                        "observability.prometheus.authentication.rate_limit.trusted_proxies[{i}]: \
                         expected an IP address or network like \"10.0.0.0/8\", found {text:?}"
                    ),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Limits {
            clients: Arc::new(RateLimiter::keyed(clients)),
            failures: Arc::new(RateLimiter::keyed(failures)),
            trusted,
            checks: AtomicU64::new(0),
        })
    }

    /// Counts a request of `key`; `Err` with the wait when it is over the limit.
    pub(crate) fn check_client(&self, key: &str) -> Result<(), Duration> {
        self.check(&self.clients, key)
    }

    /// Counts a failed authentication from `key`; `Err` with the wait when over.
    pub(crate) fn check_failure(&self, key: &str) -> Result<(), Duration> {
        self.check(&self.failures, key)
    }

    fn check(&self, limiter: &DefaultKeyedRateLimiter<String>, key: &str) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets keys whose limit has fully recovered: they would start afresh anyway.
    pub(crate) fn sweep(&self) {
        for limiter in [&self.clients, &self.failures] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Keys remembered now, clients and failures together.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.clients.len() + self.failures.len()
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the
    /// last address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub(crate) fn client_address(
        &self,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
    ) -> Option<IpAddr> {
        let peer = peer?.ip();
        if !self.trusted.iter().any(|n| n.contains(peer)) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|a| !self.trusted.iter().any(|n| n.contains(*a)))
                .unwrap_or(peer),
        )
    }
}

/// Sweeps the limiters of an installed endpoint now and then, even when no request
/// comes to trigger it.
pub(crate) fn start_eviction(limits: &Limits) {
    let clients = Arc::downgrade(&limits.clients);
    let failures = Arc::downgrade(&limits.failures);
    let _ = std::thread::Builder::new()
        .name("rustform-limits".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(60));
                let (Some(clients), Some(failures)) = (clients.upgrade(), failures.upgrade())
                else {
                    return;
                };
                for limiter in [clients, failures] {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn rate(per_minute: u32, burst: u32, proxies: &[&str]) -> RateLimit {
        let mut rate = RateLimit::default();
        rate.requests_per_minute = per_minute;
        rate.burst_size = burst;
        rate.trusted_proxies = proxies.iter().map(|p| (*p).to_owned()).collect();
        rate
    }

    #[test]
    fn the_burst_passes_then_the_rate_applies() {
        let limits = Limits::new(&rate(60, 10, &[])).unwrap();
        for _ in 0..10 {
            assert!(limits.check_client("prometheus").is_ok());
        }
        let wait = limits.check_client("prometheus").unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        // Another client has its own allowance.
        assert!(limits.check_client("other").is_ok());
    }

    #[test]
    fn a_proxy_that_is_not_an_address_is_refused() {
        assert!(Limits::new(&rate(60, 10, &["not-an-ip"])).is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let limits = Limits::new(&rate(60, 10, &["10.0.0.0/8"])).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 10.1.1.1"),
        );
        let proxy: SocketAddr = "10.0.0.5:4000".parse().unwrap();
        let stranger: SocketAddr = "198.51.100.7:4000".parse().unwrap();
        assert_eq!(
            limits.client_address(Some(proxy), &headers),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            limits.client_address(Some(stranger), &headers),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(limits.client_address(None, &headers), None);
    }

    #[test]
    fn recovered_keys_are_forgotten() {
        let limits = Limits::new(&rate(1_000_000, 1, &[])).unwrap();
        for i in 0..10_000 {
            let _ = limits.check_client(&format!("client-{i}"));
        }
        // At 16,000 a second, every key has recovered within a fraction of a second.
        std::thread::sleep(Duration::from_millis(50));
        limits.sweep();
        assert!(limits.len() < 100, "{} keys left", limits.len());
    }
}
