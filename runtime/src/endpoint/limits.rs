//! Per-client rate limits (GCRA) and the client's address.
//!
//! Authenticated requests are limited per credential (its id), others per network;
//! failed authentications get a tighter limit per network, and a network past it is
//! refused whatever it presents next, so the limit tells a guesser nothing about the
//! token it tried. IPv6 clients are counted per /64 (`ipv6_prefix_length`), since one
//! host commonly holds a whole /64. `X-Forwarded-For` is believed only from the
//! configured trusted proxies.
//!
//! The limiter is the generic cell rate algorithm: per key, one number, the theoretical
//! arrival time (TAT) of the next request. A request at `now` passes when the TAT is at
//! most `tolerance` ahead of `now` (the burst), and moves the TAT one emission interval
//! further (`60 s / requests_per_minute`); otherwise it waits until the TAT is back
//! within the tolerance. A key whose TAT is in the past has fully recovered and is
//! forgotten by the sweep, which runs on a thread of its own every minute, or at once
//! when a table is full: a request never walks the table. Past [`MAX_KEYS`] keys, new
//! clients share one overflow key until the sweep makes room, so memory stays bounded
//! however many clients come and go, and none of them goes unlimited.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use crate::Error;
use crate::config::{IpNet, RateLimit};

/// The most keys one limiter remembers.
pub(crate) const MAX_KEYS: usize = 100_000;

/// How often the sweeper forgets recovered keys when nothing wakes it.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What a limit is counted per.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// A credential's client id.
    Client(String),
    /// A client network (an address, or its /64 for IPv6).
    Network(IpNet),
    /// Every new key while the table is full.
    Overflow,
}

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
    tats: Mutex<HashMap<Key, u64>>,
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
    fn check(&self, key: &Key) -> Result<(), Duration> {
        let now = self.now();
        let mut tats = self.tats.lock().unwrap_or_else(PoisonError::into_inner);
        let key = if tats.len() >= MAX_KEYS && !tats.contains_key(key) {
            SWEEPER.wake();
            &Key::Overflow
        } else {
            key
        };
        let tat = tats.get(key).copied().unwrap_or(now).max(now);
        self.admits(tat, now)?;
        let next = tat.saturating_add(self.emission);
        match tats.get_mut(key) {
            Some(slot) => *slot = next,
            None => {
                tats.insert(key.clone(), next);
            }
        }
        Ok(())
    }

    /// Whether a request of `key` would be over the limit now, without counting one:
    /// `Err` with the wait until it would not.
    fn peek(&self, key: &Key) -> Result<(), Duration> {
        let now = self.now();
        let tats = self.tats.lock().unwrap_or_else(PoisonError::into_inner);
        let tat = match tats.get(key) {
            Some(tat) => *tat,
            None if tats.len() >= MAX_KEYS => tats.get(&Key::Overflow).copied().unwrap_or(now),
            None => now,
        };
        self.admits(tat, now)
    }

    /// Whether a request at `now` passes a key whose TAT is `tat`: `Err` with the wait
    /// while the TAT is more than the tolerance ahead.
    fn admits(&self, tat: u64, now: u64) -> Result<(), Duration> {
        let ahead = tat.saturating_sub(now);
        if ahead > self.tolerance {
            return Err(Duration::from_nanos(ahead - self.tolerance));
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
    ipv4_prefix: u8,
    ipv6_prefix: u8,
}

impl Limits {
    pub(crate) fn new(rate: &RateLimit) -> Result<Limits, Error> {
        let clients = Arc::new(Keyed::new(rate.requests_per_minute, rate.burst_size));
        let failures = Arc::new(Keyed::new(
            rate.failed_auth_per_minute,
            rate.failed_auth_per_minute,
        ));
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
        SWEEPER.watch(&clients);
        SWEEPER.watch(&failures);
        Ok(Limits {
            clients,
            failures,
            trusted,
            ipv4_prefix: rate.ipv4_prefix_length.clamp(1, 32),
            ipv6_prefix: rate.ipv6_prefix_length.clamp(1, 128),
        })
    }

    /// Counts a request of `key`; `Err` with the wait when it is over the limit.
    pub(crate) fn check_client(&self, key: &Key) -> Result<(), Duration> {
        self.clients.check(key)
    }

    /// Counts a failed authentication from `network`; `Err` with the wait when over.
    pub(crate) fn check_failure(&self, network: &Key) -> Result<(), Duration> {
        self.failures.check(network)
    }

    /// `Err` with the wait while `network` is past its failed-authentication limit:
    /// until then every request from it is refused, whatever credential it presents.
    pub(crate) fn blocked(&self, network: &Key) -> Result<(), Duration> {
        self.failures.peek(network)
    }

    /// Forgets keys whose limit has fully recovered.
    #[cfg(test)]
    pub(crate) fn sweep(&self) {
        self.clients.sweep();
        self.failures.sweep();
    }

    /// Keys remembered now, clients and failures together.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.clients.len() + self.failures.len()
    }

    /// The network `address` is limited as: the address itself for IPv4 (by default),
    /// its /64 for IPv6. An IPv4-mapped IPv6 address counts as its IPv4 address.
    pub(crate) fn network(&self, address: IpAddr) -> Key {
        let address = address.to_canonical();
        let prefix = if address.is_ipv4() {
            self.ipv4_prefix
        } else {
            self.ipv6_prefix
        };
        // The prefix is clamped to the address's length, so `new` always gives one.
        IpNet::new(address, prefix).map_or(Key::Overflow, Key::Network)
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the
    /// last address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub(crate) fn client_address(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.ip();
        if !self.trusted.iter().any(|n| n.contains(peer)) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        forwarded
            .into_iter()
            .rev()
            .find(|a| !self.trusted.iter().any(|n| n.contains(*a)))
            .unwrap_or(peer)
    }
}

/// The one thread that sweeps every endpoint's limiters: every [`SWEEP_EVERY`], and at
/// once when a table is full. Limiters are held weakly, so a dropped endpoint's go
/// with it.
struct Sweeper {
    watched: Mutex<Vec<Weak<Keyed>>>,
    thread: Option<std::thread::Thread>,
}

static SWEEPER: LazyLock<Sweeper> = LazyLock::new(|| {
    let thread = std::thread::Builder::new()
        .name("rustform-limits".into())
        .spawn(|| {
            loop {
                std::thread::park_timeout(SWEEP_EVERY);
                SWEEPER.sweep();
            }
        })
        .ok()
        .map(|handle| handle.thread().clone());
    Sweeper {
        watched: Mutex::default(),
        thread,
    }
});

impl Sweeper {
    fn watch(&self, limiter: &Arc<Keyed>) {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        watched.retain(|w| w.strong_count() > 0);
        watched.push(Arc::downgrade(limiter));
    }

    /// Asks for a sweep now (without waiting for it).
    fn wake(&self) {
        if let Some(thread) = &self.thread {
            thread.unpark();
        }
    }

    fn sweep(&self) {
        let limiters: Vec<Arc<Keyed>> = {
            let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
            watched.retain(|w| w.strong_count() > 0);
            watched.iter().filter_map(Weak::upgrade).collect()
        };
        for limiter in limiters {
            limiter.sweep();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn client(name: &str) -> Key {
        Key::Client(name.to_owned())
    }

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
        let prometheus = client("prometheus");
        for _ in 0..10 {
            assert!(limits.check_client(&prometheus).is_ok());
        }
        let wait = limits.check_client(&prometheus).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        // Another client has its own allowance.
        assert!(limits.check_client(&client("other")).is_ok());
    }

    #[test]
    fn the_wait_is_until_the_next_request_fits() {
        // 60 a minute: one a second; a burst of 2.
        let limiter = Keyed::new(60, 2);
        let a = client("a");
        assert!(limiter.check(&a).is_ok());
        assert!(limiter.peek(&a).is_ok());
        assert!(limiter.check(&a).is_ok());
        let wait = limiter.check(&a).unwrap_err();
        // Looking does not count.
        assert!(limiter.peek(&a).unwrap_err() <= wait);
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // A refused request does not push the TAT further.
        let again = limiter.check(&a).unwrap_err();
        assert!(again <= wait, "{again:?} vs {wait:?}");
        // A burst of one: every request needs the full interval.
        let strict = Keyed::new(6, 1);
        assert!(strict.check(&client("b")).is_ok());
        let wait = strict.check(&client("b")).unwrap_err();
        assert!(wait > Duration::from_secs(9), "{wait:?}");
    }

    #[test]
    fn zero_rates_mean_one_a_minute_not_a_division_by_zero() {
        let limiter = Keyed::new(0, 0);
        assert!(limiter.check(&client("a")).is_ok());
        assert!(limiter.check(&client("a")).unwrap_err() > Duration::from_secs(59));
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
            limits.client_address(proxy, &headers),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            limits.client_address(stranger, &headers),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn recovered_keys_are_forgotten() {
        let limits = Limits::new(&rate(1_000_000, 1, &[])).unwrap();
        for i in 0..10_000 {
            let _ = limits.check_client(&client(&format!("client-{i}")));
        }
        // At 16,000 a second, every key has recovered within a fraction of a second.
        std::thread::sleep(Duration::from_millis(50));
        limits.sweep();
        assert!(limits.len() < 100, "{} keys left", limits.len());
    }

    #[test]
    fn ipv6_clients_are_one_network_per_64_and_ipv4_one_per_address() {
        let limits = Limits::new(&rate(60, 10, &[])).unwrap();
        let net = |a: &str| limits.network(a.parse().unwrap());
        assert_eq!(
            net("2001:db8:1:2::1"),
            net("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(net("2001:db8:1:2::1"), net("2001:db8:1:3::1"));
        assert_ne!(net("203.0.113.1"), net("203.0.113.2"));
        // A dual-stack listener's IPv4 peer is its IPv4 address.
        assert_eq!(net("::ffff:203.0.113.1"), net("203.0.113.1"));
        let mut wide = rate(60, 10, &[]);
        wide.ipv6_prefix_length = 48;
        wide.ipv4_prefix_length = 24;
        let wide = Limits::new(&wide).unwrap();
        let net = |a: &str| wide.network(a.parse().unwrap());
        assert_eq!(net("2001:db8:1:2::1"), net("2001:db8:1:ff::1"));
        assert_eq!(net("203.0.113.1"), net("203.0.113.200"));
    }

    #[test]
    fn a_full_table_puts_new_keys_in_one_limited_overflow_key() {
        let limiter = Keyed::new(60, 2);
        {
            let mut tats = limiter.tats.lock().unwrap();
            let far = limiter.now() + 3_600_000_000_000;
            for i in 0..MAX_KEYS {
                tats.insert(client(&format!("c{i}")), far);
            }
        }
        // New keys share the overflow key's allowance: limited, never unlimited.
        assert!(limiter.check(&client("new-1")).is_ok());
        assert!(limiter.check(&client("new-2")).is_ok());
        assert!(limiter.check(&client("new-3")).is_err());
        assert!(limiter.peek(&client("new-4")).is_err());
        assert_eq!(limiter.len(), MAX_KEYS + 1);
        // A key already known keeps its own.
        assert!(limiter.check(&client("c1")).is_err());
    }

    #[test]
    fn a_request_never_sweeps_the_table() {
        // Not watched by the sweeper thread, so only a request could sweep it.
        let limits = Limits {
            clients: Arc::new(Keyed::new(1_000_000, 1)),
            failures: Arc::new(Keyed::new(1_000_000, 1)),
            trusted: Vec::new(),
            ipv4_prefix: 32,
            ipv6_prefix: 64,
        };
        for i in 0..100 {
            let _ = limits.check_client(&client(&format!("gone-{i}")));
        }
        // At 16,000 a second, every one of them has recovered within a few milliseconds.
        std::thread::sleep(Duration::from_millis(50));
        for _ in 0..5_000 {
            let _ = limits.check_client(&client("steady"));
        }
        assert_eq!(limits.len(), 101, "a request swept the table");
        limits.sweep();
        assert!(limits.len() <= 1, "{} keys left", limits.len());
    }
}
