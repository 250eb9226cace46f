//! IP networks, as `trusted_proxies` lists them and the endpoint's rate limits group
//! clients: an address and a prefix length, with IPv4-mapped IPv6 addresses read as
//! IPv4, the way a dual-stack listener reports IPv4 peers.

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `fd00::/8`); a single
/// address is a network of one (`/32`, `/128`).
///
/// ```
/// use rustform_config::IpNet;
///
/// let net: IpNet = "10.0.0.0/8".parse().unwrap();
/// assert!(net.contains("10.1.2.3".parse().unwrap()));
/// assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
/// assert!(!net.contains("192.168.0.1".parse().unwrap()));
/// assert_eq!("::1".parse::<IpNet>().unwrap().to_string(), "::1/128");
/// assert!("10.0.0.1/33".parse::<IpNet>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    address: std::net::IpAddr,
    prefix: u8,
}

impl IpNet {
    /// The network of `address` with `prefix` leading bits; `None` if the prefix is
    /// longer than the address. Bits past the prefix are cleared.
    pub fn new(address: std::net::IpAddr, prefix: u8) -> Option<IpNet> {
        let bits = if address.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return None;
        }
        let address = match address {
            std::net::IpAddr::V4(a) => {
                std::net::IpAddr::V4((u32::from(a) & mask(prefix, 32) as u32).into())
            }
            std::net::IpAddr::V6(a) => {
                std::net::IpAddr::V6((u128::from(a) & mask(prefix, 128)).into())
            }
        };
        Some(IpNet { address, prefix })
    }

    /// The first address of the network.
    pub fn address(&self) -> std::net::IpAddr {
        self.address
    }

    /// The number of leading bits that are the network.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in the network. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as
    /// a dual-stack listener reports IPv4 peers) counts as its IPv4 address.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        match (self.address, ip.to_canonical()) {
            (std::net::IpAddr::V4(net), std::net::IpAddr::V4(ip)) => {
                (u32::from(ip) & mask(self.prefix, 32) as u32) == u32::from(net)
            }
            (std::net::IpAddr::V6(net), std::net::IpAddr::V6(ip)) => {
                (u128::from(ip) & mask(self.prefix, 128)) == u128::from(net)
            }
            _ => false,
        }
    }
}

/// The `prefix` leading bits of a `bits`-bit address.
fn mask(prefix: u8, bits: u32) -> u128 {
    if prefix == 0 {
        0
    } else {
        (u128::MAX << (128 - u32::from(prefix))) >> (128 - bits)
    }
}

impl std::str::FromStr for IpNet {
    type Err = String;

    /// `a.b.c.d`, `a.b.c.d/n`, an IPv6 address, or one with `/n`.
    fn from_str(text: &str) -> Result<IpNet, String> {
        let expected = || {
            format!(
                "expected an IP address or network, like \"10.0.0.0/8\" or \"::1\", found {text:?}"
            )
        };
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: std::net::IpAddr = address.parse().map_err(|_| expected())?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 3 => {
                p.parse::<u8>().map_err(|_| expected())?
            }
            Some(_) => return Err(expected()),
        };
        IpNet::new(address, prefix).ok_or_else(|| {
            format!("{text:?} has a prefix longer than its address: at most /{bits}")
        })
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}
