//! `authentication`: who may read the endpoint (a static token, API keys, opaque tokens
//! from the token store, or JSON Web Tokens) and how fast each client may try.

use std::time::Duration;

use super::{choice, nested, some, whole};
use crate::IpNet;
use crate::decode::{Decoder, Fields};
use crate::node::Node;

section! {
    /// `authentication`: who may read the endpoint. By default disabled; when enabled,
    /// bearer tokens with no token source, no required scope and the default rate limits.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Authentication {
        /// `enabled` (default false).
        pub enabled: bool = false => Decoder::bool,
        /// Whether the configuration wrote `authentication` at all. `/metrics` is served to
        /// anyone only when it did (`enabled: false` or `method: none`); the defaults, with
        /// nothing written, make the endpoint answer 503 and log how to choose.
        pub explicit: bool = false,
        /// `method` (default bearer_token).
        pub method: AuthMethod = AuthMethod::BearerToken => choice(AUTH_METHODS),
        /// `token_env`: the variable holding the static token.
        pub token_env: Option<String> = None => some(env_var("token", "METRICS_TOKEN")),
        /// `token_file`: a file holding the static token.
        pub token_file: Option<String> = None => some(Decoder::string),
        /// `token_header` (default `Authorization`) for bearer tokens.
        pub token_header: Option<String> = None => some(header_name),
        /// `header_name` (default `X-API-Key`) for API keys.
        pub header_name: Option<String> = None => some(header_name),
        /// `required_scopes`.
        pub required_scopes: Vec<String> = Vec::new() => scopes,
        /// `token_store`: the file of opaque tokens (`rf_<id>_<secret>`) that
        /// `rustform metrics generate-token` writes; bearer_token and api_key accept them
        /// besides the static token.
        pub token_store: Option<String> = None => some(Decoder::string),
        /// `jwt`: how JSON Web Tokens are verified; required by method jwt.
        pub jwt: Option<Jwt> = None => some(Jwt::decode),
        /// `rate_limit`.
        pub rate_limit: RateLimit = RateLimit::default() => nested,
    }

    /// The section is written, and method jwt has its `jwt`.
    fn complete(&mut self, d: &mut Decoder<'_>, fields: &mut Fields<'_>) {
        self.explicit = true;
        if self.method == AuthMethod::Jwt && fields.get("jwt").is_none() {
            fields.missing(
                d,
                "missing key \"jwt\": method jwt needs the issuer, audience and key, like \
                 jwt: { issuer: \"https://auth.example.com\", audience: \"rustform\", secret_env: \"JWT_SECRET\" }",
            );
        }
    }
}

/// `authentication.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Anyone may read.
    None,
    /// `Authorization: Bearer <token>`.
    BearerToken,
    /// A key in a configurable header.
    ApiKey,
    /// A signed JWT with scopes.
    Jwt,
}

const AUTH_METHODS: &[(&str, AuthMethod)] = &[
    ("none", AuthMethod::None),
    ("bearer_token", AuthMethod::BearerToken),
    ("api_key", AuthMethod::ApiKey),
    ("jwt", AuthMethod::Jwt),
];

/// The name of an environment variable that holds a `what` (token, secret).
fn env_var<'e, 'n>(
    what: &'static str,
    example: &'static str,
) -> impl Fn(&mut Decoder<'e>, &'n Node, &str) -> Option<String> {
    move |d: &mut Decoder<'e>, node: &'n Node, path: &str| {
        let name = d.string(node, path)?;
        let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            d.error(
                path,
                node.at,
                // The value is not repeated: it may be the secret itself, written here by
                // mistake.
                format!(
                    "expected the name of an environment variable (letters, digits and `_`), like \
                     {example:?}; put the {what} itself in that variable, not in this file"
                ),
            );
            return None;
        }
        Some(name)
    }
}

/// The name of an HTTP header.
fn header_name(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<String> {
    let name = d.string(node, path)?;
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        d.error(
            path,
            node.at,
            format!("expected an HTTP header name, like \"X-API-Key\", found {name:?}"),
        );
        return None;
    }
    Some(name)
}

/// `required_scopes`: words without spaces; the others are reported and left out.
fn scopes(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Vec<String>> {
    let scopes = d.strings(node, path);
    Some(
        scopes
            .into_iter()
            .filter_map(|(scope, at, path)| {
                if scope.is_empty() || scope.contains(char::is_whitespace) {
                    d.error(
                        &path,
                        at,
                        format!(
                            "expected a scope without spaces, like \"metrics:read\", found {scope:?}"
                        ),
                    );
                    None
                } else {
                    Some(scope)
                }
            })
            .collect(),
    )
}

section! {
    /// `authentication.rate_limit`. By default 60 requests a minute with bursts of 10, 10
    /// failed attempts a minute, no trusted proxy, IPv6 clients per /64 and IPv4 clients
    /// per address.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct RateLimit {
        /// `requests_per_minute` (default 60) per client.
        pub requests_per_minute: u32 = 60 => whole(1, 1_000_000),
        /// `burst_size` (default 10).
        pub burst_size: u32 = 10 => whole(1, 1_000_000),
        /// `failed_auth_per_minute` (default 10): failed authentication attempts allowed per
        /// client address.
        pub failed_auth_per_minute: u32 = 10 => whole(1, 1_000_000),
        /// `ipv6_prefix_length` (default 64, 1 to 128): clients without a credential and
        /// failed authentications from IPv6 addresses are limited per network of this
        /// length, since one host commonly holds a whole /64 and could move through it.
        pub ipv6_prefix_length: u8 = 64 => whole(1, 128),
        /// `ipv4_prefix_length` (default 32, 1 to 32): the same for IPv4 addresses.
        pub ipv4_prefix_length: u8 = 32 => whole(1, 32),
        /// `trusted_proxies` (default none): the peers whose `X-Forwarded-For` is believed,
        /// as written: IP addresses or networks, each checked to parse as an [`IpNet`].
        pub trusted_proxies: Vec<String> = Vec::new() => trusted_proxies,
    }
}

/// `trusted_proxies`: addresses and networks, kept as written (trimmed); the others are
/// reported and left out.
fn trusted_proxies(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Vec<String>> {
    let proxies = d.strings(node, path);
    Some(
        proxies
            .into_iter()
            .filter_map(|(text, at, path)| match text.trim().parse::<IpNet>() {
                Ok(_) => Some(text.trim().to_owned()),
                Err(message) => {
                    d.error(&path, at, message);
                    None
                }
            })
            .collect(),
    )
}

/// `authentication.jwt`: the key, issuer and audience a JSON Web Token must have.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Jwt {
    /// `algorithm` (default HS256). Tokens signed with any other algorithm are refused.
    pub algorithm: JwtAlgorithm,
    /// `secret_env`: the variable holding the HS256 secret (at least 32 bytes).
    pub secret_env: Option<String>,
    /// `public_key_file`: the PEM public key for RS256 or ES256.
    pub public_key_file: Option<String>,
    /// `jwks_file`: a JSON Web Key Set for RS256 or ES256, keys chosen by `kid`.
    pub jwks_file: Option<String>,
    /// `issuer`: the required `iss` claim.
    pub issuer: String,
    /// `audience`: the required `aud` claim (one of its values).
    pub audience: String,
    /// `leeway` (default 60 s, at most 1 h): clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

impl Default for Jwt {
    /// HS256, no key, empty issuer and audience (which the file must give), 60 s leeway.
    fn default() -> Self {
        Jwt {
            algorithm: JwtAlgorithm::Hs256,
            secret_env: None,
            public_key_file: None,
            jwks_file: None,
            issuer: String::new(),
            audience: String::new(),
            leeway: Duration::from_secs(60),
        }
    }
}

/// `authentication.jwt.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and an RSA public key.
    Rs256,
    /// ECDSA on P-256 with SHA-256 and an EC public key.
    Es256,
}

const JWT_ALGORITHMS: &[(&str, JwtAlgorithm)] = &[
    ("HS256", JwtAlgorithm::Hs256),
    ("RS256", JwtAlgorithm::Rs256),
    ("ES256", JwtAlgorithm::Es256),
];

/// The longest `jwt.leeway`: more keeps expired tokens working.
const MAX_LEEWAY: Duration = Duration::from_secs(3_600);

impl Jwt {
    /// `authentication.jwt`, whose keys are those its algorithm needs: `None` when
    /// something is wrong (and reported).
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Jwt> {
        let mut out = Jwt::default();
        let problems = d.problems.len();
        let mut f = d.map(node, path);
        let algorithm = f.read(d, "algorithm", choice(JWT_ALGORITHMS));
        let algorithm_given = f.get("algorithm").is_some();
        let secret = f.get("secret_env");
        if let Some((node, path)) = &secret {
            out.secret_env = env_var("secret", "JWT_SECRET")(d, node, path);
        }
        let public_key = f.get("public_key_file");
        if let Some((node, path)) = &public_key {
            out.public_key_file = d.string(node, path);
        }
        let jwks = f.get("jwks_file");
        if let Some((node, path)) = &jwks {
            out.jwks_file = d.string(node, path);
        }
        for (key, slot, example) in [
            ("issuer", &mut out.issuer, "https://auth.example.com"),
            ("audience", &mut out.audience, "rustform"),
        ] {
            match f.get(key) {
                Some((node, path)) => {
                    if let Some(text) = d.string(node, &path) {
                        if text.trim().is_empty() {
                            d.error(
                                &path,
                                node.at,
                                format!(
                                    "expected the {key} every token must name, like {example:?}"
                                ),
                            );
                        } else {
                            *slot = text;
                        }
                    }
                }
                None => f.missing(
                    d,
                    format!(
                        "missing key {key:?}: tokens are accepted only from a known issuer for a \
                         known audience; write it like {key}: {example:?}"
                    ),
                ),
            }
        }
        if let Some((node, path)) = f.get("leeway")
            && let Some(leeway) = d.duration(node, &path, Duration::ZERO)
        {
            if leeway > MAX_LEEWAY {
                d.error(
                    &path,
                    node.at,
                    format!(
                        "a leeway of {} keeps expired tokens working; allow clock skew of at most 1h",
                        crate::decode::show_duration(leeway)
                    ),
                );
            } else {
                out.leeway = leeway;
            }
        }
        f.finish(d);
        if let Some(algorithm) = algorithm {
            out.algorithm = algorithm;
        }
        if algorithm.is_some() || !algorithm_given {
            out.check_keys(d, node, path, [&secret, &public_key, &jwks]);
        }
        (d.problems.len() == problems).then_some(out)
    }

    /// Checks that the keys given are those of the algorithm: a secret for HS256, one
    /// public key or key set for RS256 and ES256.
    fn check_keys(
        &self,
        d: &mut Decoder<'_>,
        node: &Node,
        path: &str,
        [secret, public_key, jwks]: [&Option<(&Node, String)>; 3],
    ) {
        match self.algorithm {
            JwtAlgorithm::Hs256 => {
                for (given, key) in [(public_key, "public_key_file"), (jwks, "jwks_file")] {
                    if let Some((node, path)) = given {
                        d.error(
                            path,
                            node.at,
                            format!(
                                "{key} is for RS256 and ES256; HS256 verifies with the shared \
                                 secret named by secret_env (or set algorithm: \"RS256\")"
                            ),
                        );
                    }
                }
                if secret.is_none() {
                    d.error(
                        path,
                        node.at,
                        "missing key \"secret_env\": HS256 needs the variable holding the \
                         shared secret, like secret_env: \"JWT_SECRET\"",
                    );
                }
            }
            JwtAlgorithm::Rs256 | JwtAlgorithm::Es256 => {
                let name = if self.algorithm == JwtAlgorithm::Rs256 {
                    "RS256"
                } else {
                    "ES256"
                };
                if let Some((node, path)) = secret {
                    d.error(
                        path,
                        node.at,
                        format!(
                            "secret_env is for HS256; {name} verifies with a public key: \
                             set public_key_file or jwks_file instead"
                        ),
                    );
                }
                match (public_key, jwks) {
                    (None, None) => d.error(
                        path,
                        node.at,
                        format!(
                            "missing key \"public_key_file\": {name} needs the PEM public key \
                             (public_key_file) or a JSON Web Key Set (jwks_file)"
                        ),
                    ),
                    (Some(_), Some((node, path))) => d.error(
                        path,
                        node.at,
                        "public_key_file and jwks_file cannot be used together: give one",
                    ),
                    _ => {}
                }
            }
        }
    }
}
