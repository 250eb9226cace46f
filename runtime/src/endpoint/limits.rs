//! Per-client rate limits (GCRA) and the client's address.
//!
//! Authenticated requests are limited per credential (its id), others per address;
//! failed authentications get a tighter limit per address, so guessing tokens is slow.
//! Keys not seen for a while are evicted as the maps grow, so memory stays bounded
//! however many clients come and go. `X-Forwarded-For` is believed only from the
//! configured trusted proxies.
//!
//! The limiter is the generic cell rate algorithm: per key, one number, the theoretical
//! arrival time (TAT) of the next request. A request at `now` passes when the TAT is at
//! most `tolerance` ahead of `now` (the burst), and moves the TAT one emission interval
//! further (`60 s / requests_per_minute`); otherwise it waits until the TAT is back
//! within the tolerance. A key whose TAT is in the past has fully recovered and is
//! forgotten at the next sweep.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use crate::Error;
use crate::config::{IpNet, RateLimit};

/// Checks between two sweeps of keys whose limit has fully recovered.
const SWEEP_EVERY: u64 = 4096;

/// A rate per key: `per_minute` requests a minute, `burst` of them at once.
struct Keyed {
    /// Nanoseconds between two requests at the sustained rate.
    emission: u64,
    /// How far ahead of now the TAT may be and a request still pass: `burst - 1`
    /// emissions.
    tolerance: u64,
    /// When the nanoseconds count from.
    epoch: Instant,
    /// Each key's TAT, in nanoseconds since `epoch`.
    tats: Mutex<HashMap<String, u64>>,
}

impl Keyed {
    fn new(per_minute: u32, burst: u32) -> Keyed {
        let emission = 60_000_000_000 / u64::from(per_minute.max(1));
        Keyed {
            emission,
            tolerance: emission.saturating_mul(u64::from(burst.max(1) - 1)),
            epoch: Instant::now(),
            tats: Mutex::default(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Counts a request of `key`: `Err` with the wait when it is over the limit.
    fn check(&self, key: &str) -> Result<(), Duration> {
        let now = self.now();
        let mut tats = self.tats.lock().unwrap_or_else(PoisonError::into_inner);
        let tat = tats.get(key).copied().unwrap_or(now).max(now);
        let ahead = tat - now;
        if ahead > self.tolerance {
            return Err(Duration::from_nanos(ahead - self.tolerance));
        }
        let next = tat.saturating_add(self.emission);
        match tats.get_mut(key) {
            Some(slot) => *slot = next,
            None => {
                tats.insert(key.to_owned(), next);
            }
        }
        Ok(())
    }

    /// Forgets keys whose limit has fully recovered: they would start afresh anyway.
    fn sweep(&self) {
        let now = self.now();
        let mut tats = self.tats.lock().unwrap_or_else(PoisonError::into_inner);
        tats.retain(|_, tat| *tat > now);
        tats.shrink_to_fit();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The limiters of one endpoint.
pub(crate) struct Limits {
    clients: Arc<Keyed>,
    failures: Arc<Keyed>,
    trusted: Vec<IpNet>,
    checks: AtomicU64,
}

impl Limits {
    pub(crate) fn new(rate: &RateLimit) -> Result<Limits, Error> {
        let clients = Keyed::new(rate.requests_per_minute, rate.burst_size);
        let failures = Keyed::new(rate.failed_auth_per_minute, rate.failed_auth_per_minute);
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
            clients: Arc::new(clients),
            failures: Arc::new(failures),
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

    fn check(&self, limiter: &Keyed, key: &str) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        limiter.check(key)
    }

    /// Forgets keys whose limit has fully recovered: they would start afresh anyway.
    pub(crate) fn sweep(&self) {
        self.clients.sweep();
        self.failures.sweep();
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
                clients.sweep();
                failures.sweep();
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
    fn the_wait_is_until_the_next_request_fits() {
        // 60 a minute: one a second; a burst of 2.
        let limiter = Keyed::new(60, 2);
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        let wait = limiter.check("a").unwrap_err();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // A refused request does not push the TAT further.
        let again = limiter.check("a").unwrap_err();
        assert!(again <= wait, "{again:?} vs {wait:?}");
        // A burst of one: every request needs the full interval.
        let strict = Keyed::new(6, 1);
        assert!(strict.check("b").is_ok());
        let wait = strict.check("b").unwrap_err();
        assert!(wait > Duration::from_secs(9), "{wait:?}");
    }

    #[test]
    fn zero_rates_mean_one_a_minute_not_a_division_by_zero() {
        let limiter = Keyed::new(0, 0);
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").unwrap_err() > Duration::from_secs(59));
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
