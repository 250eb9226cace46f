//! JSON Web Tokens: verification pinned to one algorithm and key, and
//! [`MetricsTokenManager`] for HS256 tokens rustform issues itself.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::decision::FailureReason;
use super::secret;
use super::{MAX_CREDENTIAL_LEN, check_scope, install_error, unix_now};
use crate::Error;
use crate::config::{Jwt, JwtAlgorithm};

/// The shortest HS256 secret accepted: RFC 7518 asks for a key as long as the hash.
pub(crate) const MIN_SECRET_LEN: usize = 32;

/// The largest leeway honoured, whatever is asked.
const MAX_LEEWAY: Duration = Duration::from_secs(3_600);

/// The longest lifetime of an issued token: ten years.
const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 86_400);

/// The claims of a verified JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claims {
    /// `iss`.
    pub issuer: String,
    /// `aud`, one or several.
    pub audience: Vec<String>,
    /// `sub`.
    pub subject: Option<String>,
    /// `jti`.
    pub id: Option<String>,
    /// The scopes of `scope` (space-separated) and `scp` (a list or a string).
    pub scopes: Vec<String>,
    /// `iat`, seconds since the Unix epoch.
    pub issued_at: Option<u64>,
    /// `nbf`, seconds since the Unix epoch.
    pub not_before: Option<u64>,
    /// `exp`, seconds since the Unix epoch.
    pub expires_at: u64,
}

/// The claims as they arrive, untyped: `jsonwebtoken` checks presence and types of
/// `exp`, `nbf`, `iss` and `aud` first, and [`RawClaims::into_claims`] the others, so a
/// claim of the wrong type is `Invalid` wherever it is.
#[derive(Deserialize)]
struct RawClaims {
    #[serde(default)]
    iss: Option<Value>,
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    jti: Option<Value>,
    #[serde(default)]
    scope: Option<Value>,
    #[serde(default)]
    scp: Option<Value>,
    #[serde(default)]
    iat: Option<Value>,
    #[serde(default)]
    nbf: Option<Value>,
    #[serde(default)]
    exp: Option<Value>,
}

/// A NumericDate: whole or fractional seconds.
fn seconds(value: Option<&Value>) -> Result<Option<u64>, FailureReason> {
    match value {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .or_else(|| value.as_f64().filter(|x| *x >= 0.0).map(|x| x as u64))
            .map(Some)
            .ok_or(FailureReason::Invalid),
    }
}

/// A string claim.
fn text(value: Option<Value>) -> Result<Option<String>, FailureReason> {
    match value {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(FailureReason::Invalid),
    }
}

/// A claim that is a string or a list of strings.
fn texts(value: Option<Value>) -> Result<Vec<String>, FailureReason> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![text]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                _ => Err(FailureReason::Invalid),
            })
            .collect(),
        Some(_) => Err(FailureReason::Invalid),
    }
}

impl RawClaims {
    fn into_claims(self) -> Result<Claims, FailureReason> {
        let mut scopes: Vec<String> = Vec::new();
        for item in text(self.scope)?.into_iter().chain(texts(self.scp)?) {
            scopes.extend(item.split_whitespace().map(str::to_owned));
        }
        scopes.sort();
        scopes.dedup();
        Ok(Claims {
            issuer: text(self.iss)?.ok_or(FailureReason::Invalid)?,
            audience: texts(self.aud)?,
            subject: text(self.sub)?,
            id: text(self.jti)?,
            scopes,
            issued_at: seconds(self.iat.as_ref())?,
            not_before: seconds(self.nbf.as_ref())?,
            expires_at: seconds(self.exp.as_ref())?.ok_or(FailureReason::Invalid)?,
        })
    }
}

/// The `jsonwebtoken` algorithm of a configured one.
fn algorithm(algorithm: JwtAlgorithm) -> Algorithm {
    match algorithm {
        JwtAlgorithm::Hs256 => Algorithm::HS256,
        JwtAlgorithm::Rs256 => Algorithm::RS256,
        JwtAlgorithm::Es256 => Algorithm::ES256,
    }
}

/// The checks every token passes: one algorithm; `exp`, `iss` and `aud` required;
/// `nbf` checked; the leeway on both.
fn validation(algorithm: Algorithm, issuer: &str, audience: &str, leeway: Duration) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.algorithms = vec![algorithm];
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.leeway = leeway.min(MAX_LEEWAY).as_secs();
    validation
}

/// Whether `jsonwebtoken` has its crypto backend (it panics without one).
fn crypto_ready() -> bool {
    CryptoProvider::try_get_default().is_some()
}

/// Verifies `token` with `key` under `validation`, pinned to `algorithm`.
fn verify<'k>(
    token: &str,
    algorithm: Algorithm,
    key: impl FnOnce(Option<&str>) -> Option<&'k DecodingKey>,
    validation: &Validation,
) -> Result<Claims, FailureReason> {
    if token.len() > MAX_CREDENTIAL_LEN || token.bytes().filter(|b| *b == b'.').count() != 2 {
        return Err(FailureReason::Malformed);
    }
    if !crypto_ready() {
        return Err(FailureReason::Invalid);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| FailureReason::Malformed)?;
    if header.alg != algorithm {
        // `alg: none` does not decode at all; HS256 against an RSA key lands here.
        return Err(FailureReason::Invalid);
    }
    let key = key(header.kid.as_deref()).ok_or(FailureReason::Invalid)?;
    let data = jsonwebtoken::decode::<RawClaims>(token, key, validation).map_err(|error| {
        match error.kind() {
            ErrorKind::ExpiredSignature => FailureReason::Expired,
            ErrorKind::ImmatureSignature => FailureReason::NotYetValid,
            ErrorKind::InvalidIssuer => FailureReason::WrongIssuer,
            ErrorKind::InvalidAudience => FailureReason::WrongAudience,
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => FailureReason::Malformed,
            _ => FailureReason::Invalid,
        }
    })?;
    data.claims.into_claims()
}

/// Where the verifying key comes from.
enum Keys {
    /// One key: the HS256 secret or a PEM public key.
    One(DecodingKey),
    /// A key set; a token names its key with `kid` (or, with one key, may omit it).
    Set(Vec<(Option<String>, DecodingKey)>),
}

/// Verifies the JWTs of `method: jwt`.
pub(crate) struct JwtVerifier {
    algorithm: Algorithm,
    keys: Keys,
    validation: Validation,
}

impl JwtVerifier {
    /// The verifier of `config`, reading the secret from `env` or the key from its file.
    pub(crate) fn from_config(
        config: &Jwt,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<JwtVerifier, Error> {
        if !crypto_ready() {
            return Err(install_error(
                "jsonwebtoken has no crypto backend: more than one of its backend features is \
                 enabled in this build; enable only rust_crypto",
            ));
        }
        if config.issuer.is_empty() || config.audience.is_empty() {
            return Err(install_error(
                "method jwt needs jwt.issuer and jwt.audience: tokens are accepted only from a \
                 known issuer for a known audience",
            ));
        }
        let alg = algorithm(config.algorithm);
        let keys = match config.algorithm {
            JwtAlgorithm::Hs256 => {
                let Some(name) = &config.secret_env else {
                    return Err(install_error(
                        "HS256 needs jwt.secret_env, the variable holding the shared secret",
                    ));
                };
                let secret = env(name).unwrap_or_default();
                if secret.len() < MIN_SECRET_LEN {
                    // Neither the value nor its length is shown.
                    return Err(install_error(format!(
                        "jwt.secret_env names {name}, which must hold a secret of at least \
                         {MIN_SECRET_LEN} bytes; generate one with `openssl rand -base64 48`"
                    )));
                }
                let key = DecodingKey::from_secret(secret.as_bytes())
                    .map_err(|_| install_error(format!("{name} does not hold a usable secret")))?;
                Keys::One(key)
            }
            JwtAlgorithm::Rs256 | JwtAlgorithm::Es256 => {
                match (&config.public_key_file, &config.jwks_file) {
                    (Some(file), None) => {
                        let pem = std::fs::read(file).map_err(|e| {
                            install_error(format!("cannot read jwt.public_key_file {file}: {e}"))
                        })?;
                        let key = if alg == Algorithm::RS256 {
                            DecodingKey::from_rsa_pem(&pem)
                        } else {
                            DecodingKey::from_ec_pem(&pem)
                        };
                        let key = key.map_err(|e| {
                            install_error(format!(
                                "jwt.public_key_file {file} is not a PEM {} public key: {e}",
                                if alg == Algorithm::RS256 {
                                    "RSA"
                                } else {
                                    "P-256"
                                }
                            ))
                        })?;
                        Keys::One(key)
                    }
                    (None, Some(file)) => Keys::Set(read_jwks(file, alg)?),
                    _ => {
                        return Err(install_error(
                            "RS256 and ES256 need exactly one of jwt.public_key_file and \
                             jwt.jwks_file",
                        ));
                    }
                }
            }
        };
        Ok(JwtVerifier {
            algorithm: alg,
            keys,
            validation: validation(alg, &config.issuer, &config.audience, config.leeway),
        })
    }

    /// The claims of `token`, or why it is refused.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, FailureReason> {
        verify(
            token,
            self.algorithm,
            |kid| match &self.keys {
                Keys::One(key) => Some(key),
                Keys::Set(keys) => match kid {
                    Some(kid) => keys
                        .iter()
                        .find(|(id, _)| id.as_deref() == Some(kid))
                        .map(|(_, key)| key),
                    None if keys.len() == 1 => Some(&keys[0].1),
                    None => None,
                },
            },
            &self.validation,
        )
    }

    /// The algorithm, for Debug output.
    pub(crate) fn algorithm_name(&self) -> &'static str {
        match self.algorithm {
            Algorithm::HS256 => "HS256",
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
            _ => "other",
        }
    }
}

/// The keys of a JWKS file usable with `alg`, by `kid`.
fn read_jwks(file: &str, alg: Algorithm) -> Result<Vec<(Option<String>, DecodingKey)>, Error> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| install_error(format!("cannot read jwt.jwks_file {file}: {e}")))?;
    let set: JwkSet = serde_json::from_str(&text).map_err(|e| {
        install_error(format!(
            "jwt.jwks_file {file} is not a JSON Web Key Set ({{\"keys\": [...]}}): {e}"
        ))
    })?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        // A key meant for another algorithm is skipped, not trusted for this one.
        if let Some(key_alg) = jwk.common.key_algorithm
            && Algorithm::try_from(key_alg).ok() != Some(alg)
        {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        if key.family() != alg.family() {
            continue;
        }
        keys.push((jwk.common.key_id.clone(), key));
    }
    if keys.is_empty() {
        return Err(install_error(format!(
            "jwt.jwks_file {file} has no key usable with the configured algorithm"
        )));
    }
    Ok(keys)
}

/// Issues and validates HS256 JWTs for scrapers: the token an operator hands to
/// Prometheus, with `iss`, `aud`, `sub`, a random `jti`, the scopes in `scope`, `iat`,
/// `nbf` and `exp`.
///
/// Defaults: issuer `rustform`, audience `rustform-metrics`, subject `prometheus`,
/// 60 s leeway. The secret must be at least 32 bytes, or `generate_token` fails and
/// `validate` refuses everything. Its `Debug` output never shows the secret.
///
/// ```
/// use std::time::Duration;
/// use rustform::auth::{FailureReason, MetricsTokenManager};
///
/// let manager = MetricsTokenManager::new("a shared secret of at least 32 bytes!")
///     .with_issuer("https://auth.example.com")
///     .with_audience("shop-metrics");
/// let token = manager.generate_token(&["metrics:read"], Duration::from_secs(3600))?;
/// let claims = manager.validate(&token).unwrap();
/// assert_eq!(claims.scopes, ["metrics:read"]);
/// assert_eq!(claims.subject.as_deref(), Some("prometheus"));
///
/// let other = MetricsTokenManager::new("another secret, also 32 bytes long");
/// assert_eq!(other.validate(&token), Err(FailureReason::Invalid));
/// # Ok::<(), rustform::Error>(())
/// ```
pub struct MetricsTokenManager {
    keys: Option<(EncodingKey, DecodingKey)>,
    issuer: String,
    audience: String,
    subject: String,
    leeway: Duration,
    validation: Validation,
}

impl MetricsTokenManager {
    /// A manager signing with `secret` (HS256).
    pub fn new(secret: impl AsRef<[u8]>) -> MetricsTokenManager {
        let secret = secret.as_ref();
        let keys = (secret.len() >= MIN_SECRET_LEN)
            .then(|| {
                Some((
                    EncodingKey::from_secret(secret).ok()?,
                    DecodingKey::from_secret(secret).ok()?,
                ))
            })
            .flatten();
        let mut manager = MetricsTokenManager {
            keys,
            issuer: "rustform".to_owned(),
            audience: "rustform-metrics".to_owned(),
            subject: "prometheus".to_owned(),
            leeway: Duration::from_secs(60),
            validation: Validation::new(Algorithm::HS256),
        };
        manager.revalidate();
        manager
    }

    /// The `iss` of issued tokens, and the one required by `validate`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> MetricsTokenManager {
        self.issuer = issuer.into();
        self.revalidate();
        self
    }

    /// The `aud` of issued tokens, and the one required by `validate`.
    pub fn with_audience(mut self, audience: impl Into<String>) -> MetricsTokenManager {
        self.audience = audience.into();
        self.revalidate();
        self
    }

    /// The `sub` of issued tokens (default `prometheus`).
    pub fn with_subject(mut self, subject: impl Into<String>) -> MetricsTokenManager {
        self.subject = subject.into();
        self
    }

    /// The clock skew `validate` allows on `exp` and `nbf` (default 60 s, at most 1 h).
    pub fn with_leeway(mut self, leeway: Duration) -> MetricsTokenManager {
        self.leeway = leeway.min(MAX_LEEWAY);
        self.revalidate();
        self
    }

    fn revalidate(&mut self) {
        self.validation = validation(Algorithm::HS256, &self.issuer, &self.audience, self.leeway);
    }

    /// A signed token carrying `scopes`, valid from now for `ttl`.
    ///
    /// Fails when the secret is shorter than 32 bytes, a scope is empty or has spaces,
    /// or `ttl` is more than ten years.
    pub fn generate_token(&self, scopes: &[&str], ttl: Duration) -> Result<String, Error> {
        let Some((key, _)) = &self.keys else {
            return Err(install_error(format!(
                "the MetricsTokenManager secret must be at least {MIN_SECRET_LEN} bytes; \
                 generate one with `openssl rand -base64 48`"
            )));
        };
        for scope in scopes {
            check_scope(scope)?;
        }
        if ttl > MAX_TTL {
            return Err(install_error(
                "a metrics token may live ten years at most; give a shorter ttl",
            ));
        }
        if !crypto_ready() {
            return Err(install_error(
                "jsonwebtoken has no crypto backend: enable only its rust_crypto feature",
            ));
        }
        let now = unix_now();
        let jti = secret::hex(&secret::random_bytes::<16>().map_err(install_error)?);
        let claims = IssuedClaims {
            iss: &self.issuer,
            aud: &self.audience,
            sub: &self.subject,
            jti: &jti,
            scope: scopes.join(" "),
            iat: now,
            nbf: now,
            exp: now + ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key)
            .map_err(|e| install_error(format!("cannot sign the token: {e}")))
    }

    /// The claims of `token` if this manager issued it and it is valid now.
    pub fn validate(&self, token: &str) -> Result<Claims, FailureReason> {
        let Some((_, key)) = &self.keys else {
            return Err(FailureReason::Invalid);
        };
        verify(token, Algorithm::HS256, |_| Some(key), &self.validation)
    }
}

impl fmt::Debug for MetricsTokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsTokenManager")
            .field("algorithm", &"HS256")
            .field("secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("subject", &self.subject)
            .field("leeway", &self.leeway)
            .finish()
    }
}

/// The claims rustform signs.
#[derive(Serialize)]
struct IssuedClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    jti: &'a str,
    scope: String,
    iat: u64,
    nbf: u64,
    exp: u64,
}
