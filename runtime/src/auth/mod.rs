//! Who may read `/metrics`: static bearer tokens and API keys, opaque tokens from a
//! [`TokenStore`], and JWTs with scopes.
//!
//! [`Authenticator::from_config`] reads `observability.prometheus.authentication`;
//! [`Authenticator::authenticate`] turns a request's headers into a [`Decision`]: allowed
//! with the client's id and scopes, or denied with 401 or 403 and a [`FailureReason`].
//!
//! - **Static tokens** (`token_env`, several separated by commas, or `token_file`) are
//!   kept only as SHA-256 hashes and compared in constant time. They carry every scope;
//!   each is its own client, `static:` and the first eight hex digits of its hash.
//! - **Opaque tokens** `rf_<id>_<secret>` come from the [`TokenStore`] (`token_store`),
//!   each with its scopes, expiry, revocation and rotation grace period.
//! - **JWTs** are verified with the one configured algorithm (HS256 with a secret from
//!   the environment, RS256 or ES256 with a PEM or JWKS file); `exp`, `iss` and `aud` are
//!   required, `nbf` is checked, both with the configured leeway; scopes come from
//!   `scope` or `scp`.
//!
//! A credential never appears in a `Decision`, an error, a log line or `Debug` output.
//!
//! ```
//! use rustform::auth::{Authenticator, Decision, DenyStatus, FailureReason};
//! use rustform::config::Config;
//!
//! let yaml = "observability:\n  prometheus:\n    authentication:\n      enabled: true\n      \
//!             method: bearer_token\n      token_env: METRICS_TOKEN\n      \
//!             required_scopes: [\"metrics:read\"]\n";
//! let env = |name: &str| {
//!     (name == "METRICS_TOKEN").then(|| "0123456789abcdef0123456789abcdef".to_owned())
//! };
//! let config = Config::parse(yaml, "rustform.yml", &env).unwrap();
//! let auth = Authenticator::from_config(&config.observability.prometheus.authentication, &env)?;
//!
//! let mut headers = http::HeaderMap::new();
//! assert_eq!(
//!     auth.authenticate(&headers),
//!     Decision::Denied { status: DenyStatus::Unauthorized, reason: FailureReason::Missing, client: None }
//! );
//! headers.insert("authorization", "Bearer 0123456789abcdef0123456789abcdef".parse().unwrap());
//! assert!(auth.authenticate(&headers).is_allowed());
//! assert_eq!(auth.challenge(), "Bearer realm=\"rustform\"");
//! # Ok::<(), rustform::Error>(())
//! ```

mod decision;
#[cfg(feature = "jwt")]
mod jwt;
mod secret;
mod store;

#[cfg(all(test, feature = "jwt"))]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName};
use subtle::{Choice, ConditionallySelectable};

pub use decision::{ClientId, Decision, DenyStatus, FailureReason};
#[cfg(feature = "jwt")]
pub use jwt::{Claims, MetricsTokenManager};
pub use store::{IssuedToken, TokenInfo, TokenStatus, TokenStore};

use crate::Error;
use crate::config::{AuthMethod, Authentication};
#[cfg(feature = "jwt")]
use jwt::JwtVerifier;
use secret::Digest;

/// The longest credential read from a header; longer ones are malformed.
pub(crate) const MAX_CREDENTIAL_LEN: usize = 8 * 1024;

/// The shortest static token accepted.
const MIN_STATIC_TOKEN_LEN: usize = 16;

/// The `WWW-Authenticate` challenge of every 401.
const CHALLENGE: &str = "Bearer realm=\"rustform\"";

/// Decides who may read the endpoint. Cheap to clone (`Arc` inside), `Send + Sync`; its
/// `Debug` output shows the method, header and number of tokens, never a secret.
///
/// See the [module documentation](self) for an example.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    scheme: Scheme,
    required_scopes: Vec<String>,
}

enum Scheme {
    /// Authentication off.
    Anyone,
    /// `<header>: Bearer <token>`, a static or stored token.
    Bearer { header: HeaderName, tokens: Tokens },
    /// `<header>: <token>`, a static or stored token.
    ApiKey { header: HeaderName, tokens: Tokens },
    /// `<header>: Bearer <jwt>`.
    #[cfg(feature = "jwt")]
    Jwt {
        header: HeaderName,
        verifier: Box<JwtVerifier>,
    },
}

/// Static token hashes and the store.
struct Tokens {
    statics: Vec<StaticToken>,
    store: Option<TokenStore>,
}

/// A static token, as its hash and the client id derived from that hash.
struct StaticToken {
    hash: Digest,
    client: ClientId,
}

impl StaticToken {
    /// The token of `digest`, named `static:` and the first eight hex digits of the
    /// token's SHA-256 (`printf %s "$TOKEN" | sha256sum | cut -c1-8`): each static
    /// token is its own client in rate limits, audit events and logs, and the id
    /// tells nothing usable about the token.
    fn new(hash: Digest) -> StaticToken {
        let client = ClientId::known(&format!("static:{}", secret::hex(&hash[..4])));
        StaticToken { hash, client }
    }
}

pub(crate) fn install_error(reason: impl Into<String>) -> Error {
    Error::Install {
        what: "authentication",
        reason: reason.into(),
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A scope is printable ASCII without spaces.
pub(crate) fn check_scope(scope: &str) -> Result<(), Error> {
    if scope.is_empty() || !scope.bytes().all(|b| b.is_ascii_graphic()) || scope.contains('"') {
        return Err(install_error(format!(
            "{:?} is not a scope: write it like \"metrics:read\", printable, without spaces",
            scope.chars().take(40).collect::<String>()
        )));
    }
    Ok(())
}

impl Authenticator {
    /// An authenticator that allows everyone, as [`Decision::Allowed`] with an
    /// [anonymous](ClientId::anonymous) client and no scopes.
    pub fn none() -> Authenticator {
        Authenticator {
            inner: Arc::new(Inner {
                scheme: Scheme::Anyone,
                required_scopes: Vec::new(),
            }),
        }
    }

    /// The authenticator `auth` describes; `env` reads the variables it names
    /// (`token_env`, `jwt.secret_env`), usually [`crate::config::process_env`].
    ///
    /// Disabled authentication or method `none` allows everyone. Otherwise it fails,
    /// naming the setting to fix and never echoing a secret, when: bearer_token or
    /// api_key has no token source (`token_env`, `token_file`, `token_store`); the
    /// variable of `token_env` is unset or holds a token shorter than 16 characters or
    /// with spaces; `token_file` cannot be read; the store cannot be opened; jwt lacks
    /// its section, its secret (at least 32 bytes), or a readable key.
    pub fn from_config(
        auth: &Authentication,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Authenticator, Error> {
        if !auth.enabled || auth.method == AuthMethod::None {
            return Ok(Authenticator::none());
        }
        let scheme = match auth.method {
            AuthMethod::None => Scheme::Anyone,
            AuthMethod::BearerToken => Scheme::Bearer {
                header: header(
                    auth.token_header.as_deref(),
                    "Authorization",
                    "token_header",
                )?,
                tokens: tokens(auth, env)?,
            },
            AuthMethod::ApiKey => Scheme::ApiKey {
                header: header(auth.header_name.as_deref(), "X-API-Key", "header_name")?,
                tokens: tokens(auth, env)?,
            },
            #[cfg(not(feature = "jwt"))]
            AuthMethod::Jwt => {
                return Err(Error::missing_feature(
                    "observability.prometheus.authentication.method",
                    "JWT authentication",
                    "jwt",
                ));
            }
            #[cfg(feature = "jwt")]
            AuthMethod::Jwt => {
                let Some(jwt) = &auth.jwt else {
                    return Err(install_error(
                        "method jwt needs the jwt section: issuer, audience and the key",
                    ));
                };
                Scheme::Jwt {
                    header: header(
                        auth.token_header.as_deref(),
                        "Authorization",
                        "token_header",
                    )?,
                    verifier: Box::new(JwtVerifier::from_config(jwt, env)?),
                }
            }
        };
        Ok(Authenticator {
            inner: Arc::new(Inner {
                scheme,
                required_scopes: auth.required_scopes.clone(),
            }),
        })
    }

    /// The decision for a request with `headers`.
    ///
    /// Missing, malformed or invalid credentials are 401 ([`DenyStatus::Unauthorized`]);
    /// a valid credential without every required scope is 403
    /// ([`DenyStatus::Forbidden`], [`FailureReason::InsufficientScope`]). Several
    /// credential headers are malformed, not tried one by one.
    pub fn authenticate(&self, headers: &HeaderMap) -> Decision {
        match &self.inner.scheme {
            Scheme::Anyone => Decision::Allowed {
                client: ClientId::anonymous(),
                scopes: Vec::new(),
            },
            Scheme::Bearer { header, tokens } => match bearer(headers, header) {
                Ok(token) => self.opaque(tokens, token),
                Err(reason) => Decision::unauthorized(reason, None),
            },
            Scheme::ApiKey { header, tokens } => match api_key(headers, header) {
                Ok(token) => self.opaque(tokens, token),
                Err(reason) => Decision::unauthorized(reason, None),
            },
            #[cfg(feature = "jwt")]
            Scheme::Jwt { header, verifier } => {
                match bearer(headers, header).and_then(|token| verifier.verify(token)) {
                    Ok(claims) => {
                        let claim = claims.id.as_deref().or(claims.subject.as_deref());
                        let client = ClientId::from_claim(claim.unwrap_or("jwt"));
                        self.scoped(client, claims.scopes)
                    }
                    Err(reason) => Decision::unauthorized(reason, None),
                }
            }
        }
    }

    /// The value of `WWW-Authenticate` for a 401: `Bearer realm="rustform"`, for API
    /// keys too (there is no registered scheme for a key in a custom header, and
    /// clients that act on the challenge know Bearer).
    pub fn challenge(&self) -> &'static str {
        CHALLENGE
    }

    /// A static or stored token.
    fn opaque(&self, tokens: &Tokens, token: &str) -> Decision {
        let digest = secret::sha256(token.as_bytes());
        // Every static token is compared, and which one matched is chosen without a
        // branch on the comparisons.
        let mut matched = Choice::from(0);
        let mut which = 0u32;
        for (i, known) in (0u32..).zip(&tokens.statics) {
            let same = secret::same(&known.hash, &digest);
            which = u32::conditional_select(&which, &i, same);
            matched |= same;
        }
        if bool::from(matched)
            && let Some(known) = usize::try_from(which)
                .ok()
                .and_then(|i| tokens.statics.get(i))
        {
            return Decision::Allowed {
                client: known.client.clone(),
                scopes: self.inner.required_scopes.clone(),
            };
        }
        let Some(store) = &tokens.store else {
            return Decision::unauthorized(FailureReason::Invalid, None);
        };
        match store.verify(token) {
            Ok(info) => self.scoped(info.client(), info.scopes),
            // A stored token that is not a store token's shape is simply not known.
            Err(FailureReason::Malformed) => Decision::unauthorized(FailureReason::Invalid, None),
            Err(reason @ (FailureReason::Revoked | FailureReason::Expired)) => {
                // The secret was verified: the id is the sender's.
                let client =
                    store::parse_token(token).map(|(id, _)| ClientId::known(&format!("rf_{id}")));
                Decision::unauthorized(reason, client)
            }
            Err(reason) => Decision::unauthorized(reason, None),
        }
    }

    /// Allowed if `scopes` has every required scope, else 403.
    fn scoped(&self, client: ClientId, scopes: Vec<String>) -> Decision {
        if self
            .inner
            .required_scopes
            .iter()
            .all(|required| scopes.iter().any(|s| s == required))
        {
            Decision::Allowed { client, scopes }
        } else {
            Decision::Denied {
                status: DenyStatus::Forbidden,
                reason: FailureReason::InsufficientScope,
                client: Some(client),
            }
        }
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Authenticator");
        match &self.inner.scheme {
            Scheme::Anyone => s.field("method", &"none"),
            Scheme::Bearer { header, tokens } | Scheme::ApiKey { header, tokens } => {
                let method = if matches!(self.inner.scheme, Scheme::Bearer { .. }) {
                    "bearer_token"
                } else {
                    "api_key"
                };
                s.field("method", &method)
                    .field("header", header)
                    .field("static_tokens", &tokens.statics.len())
                    .field("token_store", &tokens.store.as_ref().map(TokenStore::path))
            }
            #[cfg(feature = "jwt")]
            Scheme::Jwt { header, verifier } => s
                .field("method", &"jwt")
                .field("header", header)
                .field("algorithm", &verifier.algorithm_name()),
        };
        s.field("required_scopes", &self.inner.required_scopes)
            .finish()
    }
}

/// The configured header name, or the default.
fn header(name: Option<&str>, default: &str, key: &str) -> Result<HeaderName, Error> {
    let name = name.unwrap_or(default);
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        install_error(format!(
            "{key} {name:?} is not an HTTP header name; write it like \"{default}\""
        ))
    })
}

/// The static token hashes and the store of `auth`.
fn tokens(auth: &Authentication, env: &dyn Fn(&str) -> Option<String>) -> Result<Tokens, Error> {
    let mut statics = Vec::new();
    if let Some(name) = &auth.token_env {
        let Some(value) = env(name).filter(|v| !v.trim().is_empty()) else {
            return Err(install_error(format!(
                "token_env names {name}, which is not set: set it to the token the scraper \
                 sends (or remove token_env)"
            )));
        };
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            statics.push(static_token(token, &format!("the variable {name}"))?);
        }
    }
    if let Some(file) = &auth.token_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| install_error(format!("cannot read token_file {file}: {e}")))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(install_error(format!(
                "token_file {file} is empty: write the token in it"
            )));
        }
        statics.push(static_token(token, &format!("token_file {file}"))?);
    }
    let store = auth
        .token_store
        .as_deref()
        .map(TokenStore::open)
        .transpose()?;
    if statics.is_empty() && store.is_none() {
        return Err(install_error(
            "bearer_token and api_key need a token: set token_env, token_file or token_store",
        ));
    }
    Ok(Tokens { statics, store })
}

/// The hash of a static token from `source`, if it is one. The message never shows the
/// token.
fn static_token(token: &str, source: &str) -> Result<StaticToken, Error> {
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(install_error(format!(
            "{source} holds a token with spaces or characters that cannot be sent in a \
             header; use letters, digits and punctuation"
        )));
    }
    if token.len() < MIN_STATIC_TOKEN_LEN {
        return Err(install_error(format!(
            "{source} holds a token shorter than {MIN_STATIC_TOKEN_LEN} characters, which \
             can be guessed; generate one with `openssl rand -hex 32`"
        )));
    }
    Ok(StaticToken::new(secret::sha256(token.as_bytes())))
}

/// The single value of `name`, as visible ASCII text.
fn single_value<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<&'h str, FailureReason> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(FailureReason::Missing)?;
    if values.next().is_some() {
        return Err(FailureReason::Malformed);
    }
    if value.len() > MAX_CREDENTIAL_LEN + 16 {
        return Err(FailureReason::Malformed);
    }
    let text = value.to_str().map_err(|_| FailureReason::Malformed)?;
    Ok(text.trim_matches([' ', '\t']))
}

/// The token of `<name>: Bearer <token>` (scheme in any case).
fn bearer<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<&'h str, FailureReason> {
    let text = single_value(headers, name)?;
    if text.is_empty() {
        return Err(FailureReason::Empty);
    }
    let (scheme, token) = match text.split_once([' ', '\t']) {
        Some((scheme, rest)) => (scheme, rest.trim_start_matches([' ', '\t'])),
        None => (text, ""),
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(FailureReason::WrongScheme);
    }
    credential(token)
}

/// The key of `<name>: <key>`.
fn api_key<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<&'h str, FailureReason> {
    credential(single_value(headers, name)?)
}

fn credential(token: &str) -> Result<&str, FailureReason> {
    if token.is_empty() {
        Err(FailureReason::Empty)
    } else if token.len() > MAX_CREDENTIAL_LEN || token.contains([' ', '\t']) {
        Err(FailureReason::Malformed)
    } else {
        Ok(token)
    }
}
