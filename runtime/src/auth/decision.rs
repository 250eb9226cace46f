//! What authentication decided about a request, in words the endpoint, the audit log and
//! the `reason` label share.

use std::fmt;
use std::sync::Arc;

/// The outcome of [`Authenticator::authenticate`](super::Authenticator::authenticate).
///
/// ```
/// use rustform::auth::{Authenticator, Decision};
///
/// let decision = Authenticator::none().authenticate(&http::HeaderMap::new());
/// assert!(decision.is_allowed());
/// match decision {
///     Decision::Allowed { client, .. } => assert!(client.is_anonymous()),
///     Decision::Denied { .. } => unreachable!(),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The request may proceed.
    Allowed {
        /// Who it is: the token's id, never the credential.
        client: ClientId,
        /// The scopes the credential carries. A static token carries every scope and
        /// is reported with the required ones.
        scopes: Vec<String>,
    },
    /// The request is refused.
    Denied {
        /// 401 (no valid credential) or 403 (a valid credential without the scope).
        status: DenyStatus,
        /// Why, for the audit event and the `reason` label.
        reason: FailureReason,
        /// Who it was, when a credential was verified but is not accepted (revoked,
        /// expired, lacking a scope); `None` when nothing about the sender is proven.
        client: Option<ClientId>,
    },
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }

    /// The client, when one is known.
    pub fn client(&self) -> Option<&ClientId> {
        match self {
            Decision::Allowed { client, .. } => Some(client),
            Decision::Denied { client, .. } => client.as_ref(),
        }
    }

    pub(crate) fn unauthorized(reason: FailureReason, client: Option<ClientId>) -> Decision {
        Decision::Denied {
            status: DenyStatus::Unauthorized,
            reason,
            client,
        }
    }
}

/// The status of a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyStatus {
    /// 401: no credential, or one that is not valid. Answer with `WWW-Authenticate`.
    Unauthorized,
    /// 403: a valid credential that lacks a required scope.
    Forbidden,
}

impl DenyStatus {
    /// The HTTP status code.
    ///
    /// ```
    /// use rustform::auth::DenyStatus;
    ///
    /// assert_eq!(DenyStatus::Forbidden.code(), http::StatusCode::FORBIDDEN);
    /// ```
    pub fn code(self) -> http::StatusCode {
        match self {
            DenyStatus::Unauthorized => http::StatusCode::UNAUTHORIZED,
            DenyStatus::Forbidden => http::StatusCode::FORBIDDEN,
        }
    }
}

/// Why a request was refused: the `reason` label of
/// `rustform_endpoint_auth_failures_total` and of the audit event. Never says more
/// about the credential than this.
///
/// ```
/// use rustform::auth::FailureReason;
///
/// assert_eq!(FailureReason::WrongScheme.as_str(), "wrong_scheme");
/// assert_eq!(FailureReason::ALL.len(), 11);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureReason {
    /// No credential header.
    Missing,
    /// An `Authorization` header with another scheme than `Bearer`.
    WrongScheme,
    /// The header is there but holds no credential.
    Empty,
    /// The credential cannot be read: several headers, spaces inside, not visible
    /// ASCII, longer than 8 KiB, a JWT that does not decode (not three base64url parts
    /// of JSON, or a header naming no known algorithm, as `alg: none` does).
    Malformed,
    /// A credential that is not accepted: an unknown or wrong token, a bad signature,
    /// another algorithm than the configured one, an unknown key, a required claim
    /// (`exp`, `iss`, `aud`) missing or of the wrong type (a string `exp`), a secret
    /// replaced by rotation whose grace period is over.
    Invalid,
    /// Past its expiry (for a JWT, past `exp` plus the leeway).
    Expired,
    /// A JWT whose `nbf` is still in the future (beyond the leeway).
    NotYetValid,
    /// A token revoked in the store.
    Revoked,
    /// A valid credential without every required scope (answered 403).
    InsufficientScope,
    /// A JWT from another issuer.
    WrongIssuer,
    /// A JWT for another audience.
    WrongAudience,
}

impl FailureReason {
    /// Every reason, to register each label value before the first failure.
    pub const ALL: [FailureReason; 11] = [
        FailureReason::Missing,
        FailureReason::WrongScheme,
        FailureReason::Empty,
        FailureReason::Malformed,
        FailureReason::Invalid,
        FailureReason::Expired,
        FailureReason::NotYetValid,
        FailureReason::Revoked,
        FailureReason::InsufficientScope,
        FailureReason::WrongIssuer,
        FailureReason::WrongAudience,
    ];

    /// The reason in snake_case, for labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Missing => "missing",
            FailureReason::WrongScheme => "wrong_scheme",
            FailureReason::Empty => "empty",
            FailureReason::Malformed => "malformed",
            FailureReason::Invalid => "invalid",
            FailureReason::Expired => "expired",
            FailureReason::NotYetValid => "not_yet_valid",
            FailureReason::Revoked => "revoked",
            FailureReason::InsufficientScope => "insufficient_scope",
            FailureReason::WrongIssuer => "wrong_issuer",
            FailureReason::WrongAudience => "wrong_audience",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for FailureReason {}

/// Who made a request, safe to log and to key a rate limit by: `static` for a static
/// token, `rf_<id>` for a token from the store, a JWT's `jti` (else its `sub`), or
/// `anonymous` when authentication is off. Never the credential.
///
/// ```
/// use rustform::auth::ClientId;
///
/// assert_eq!(ClientId::anonymous().to_string(), "anonymous");
/// assert!(ClientId::anonymous().is_anonymous());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId {
    name: Arc<str>,
    anonymous: bool,
}

/// The longest client id kept from a JWT claim.
#[cfg(feature = "jwt")]
const MAX_CLIENT_LEN: usize = 64;

impl ClientId {
    /// The client of a request that needs no credential.
    pub fn anonymous() -> ClientId {
        ClientId {
            name: Arc::from("anonymous"),
            anonymous: true,
        }
    }

    /// Whether no credential identified the client (authentication is off); rate limit
    /// such clients by address instead.
    pub fn is_anonymous(&self) -> bool {
        self.anonymous
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// A client named by the service itself (`static`, `rf_<id>`).
    pub(crate) fn known(name: &str) -> ClientId {
        ClientId {
            name: Arc::from(name),
            anonymous: false,
        }
    }

    /// A client named by a verified claim: printable, without spaces or quotes, at most
    /// 64 characters, so it is safe in a log line and a label.
    #[cfg(feature = "jwt")]
    pub(crate) fn from_claim(claim: &str) -> ClientId {
        let name: String = claim
            .chars()
            .take(MAX_CLIENT_LEN)
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-._:@/+".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        ClientId::known(if name.is_empty() { "jwt" } else { &name })
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientId").field(&&*self.name).finish()
    }
}
