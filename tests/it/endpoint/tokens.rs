//! `rustform::auth` through its public API, configured from `rustform.yml` text as a
//! service would be: each security case with its exact decision, a store changed by
//! another handle (as the CLI does) seen by the running authenticator, 10,000 random
//! tokens refused, and no credential in any output.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{self, HeaderMap, HeaderValue};
use rustform::auth::{
    Authenticator, ClientId, Decision, DenyStatus, FailureReason, MetricsTokenManager, TokenStore,
};
use rustform::config::{Authentication, Config, JwtAlgorithm};

const STATIC: &str = "static-scrape-token-6b1f0c2e";

/// A static token's client id: `static:` and the first eight hex digits of its SHA-256,
/// as `printf %s "$TOKEN" | sha256sum | cut -c1-8` prints them.
fn static_id(token: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("static:{}", &hex[..8])
}
const SECRET: &str = "hs256 secret shared with the issuer, 48 bytes..";
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "shop-metrics";
const RSA_PUBLIC: &str = include_str!("../../../runtime/src/auth/testdata/rsa_public.pem");

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn env(name: &str) -> Option<String> {
    env_of(&[("METRICS_TOKEN", STATIC), ("JWT_SECRET", SECRET)])(name)
}

/// The `authentication` section of a file with `body` under it.
fn section(body: &str) -> Authentication {
    let text = format!(
        "observability:\n  prometheus:\n    authentication:\n{}",
        body.lines()
            .map(|l| format!("      {l}\n"))
            .collect::<String>()
    );
    Config::parse(&text, "rustform.yml", &env)
        .unwrap_or_else(|e| panic!("{e}"))
        .observability
        .prometheus
        .authentication
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
        headers.insert(http::header::AUTHORIZATION, value);
    }
    headers
}

fn raw(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(value).unwrap(),
    );
    headers
}

fn unauthorized(reason: FailureReason) -> Decision {
    Decision::Denied {
        status: DenyStatus::Unauthorized,
        reason,
        client: None,
    }
}

fn reason(decision: &Decision) -> Option<FailureReason> {
    match decision {
        Decision::Allowed { .. } => None,
        Decision::Denied { reason, .. } => Some(*reason),
    }
}

/// Polls `check` until it holds, for at most `limit`.
fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if check() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn store_section(store: &Path) -> Authentication {
    section(&format!(
        "enabled: true\nmethod: bearer_token\ntoken_env: METRICS_TOKEN\n\
         token_store: {}\nrequired_scopes: [\"metrics:read\"]",
        store.display()
    ))
}

#[test]
fn the_new_keys_parse_with_their_defaults() {
    let auth = section(
        "enabled: true\nmethod: jwt\ntoken_store: /var/lib/rustform/tokens.json\n\
         jwt:\n  algorithm: RS256\n  jwks_file: /etc/rustform/jwks.json\n  \
         issuer: https://auth.example.com\n  audience: shop-metrics\n\
         rate_limit:\n  failed_auth_per_minute: 5\n  trusted_proxies: [\"10.0.0.0/8\", \"::1\"]",
    );
    assert_eq!(
        auth.token_store.as_deref(),
        Some("/var/lib/rustform/tokens.json")
    );
    let jwt = auth.jwt.as_ref().unwrap();
    assert_eq!(jwt.algorithm, JwtAlgorithm::Rs256);
    assert_eq!(jwt.jwks_file.as_deref(), Some("/etc/rustform/jwks.json"));
    assert_eq!(jwt.issuer, ISSUER);
    assert_eq!(jwt.audience, AUDIENCE);
    assert_eq!(jwt.leeway, Duration::from_secs(60));
    assert_eq!(auth.rate_limit.failed_auth_per_minute, 5);
    assert_eq!(auth.rate_limit.trusted_proxies, ["10.0.0.0/8", "::1"]);
    let defaults = Authentication::default();
    assert_eq!(defaults.rate_limit.failed_auth_per_minute, 10);
    assert!(defaults.rate_limit.trusted_proxies.is_empty());
    assert!(defaults.jwt.is_none() && defaults.token_store.is_none());
}

#[test]
fn each_case_gets_its_exact_decision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let auth = Authenticator::from_config(&store_section(&path), &env).unwrap();
    // The store was created by the service, private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let cli = TokenStore::open(&path).unwrap();
    let reader = cli.create(&["metrics:read"], None).unwrap();
    let prober = cli.create(&["health:read"], None).unwrap();
    let lapsed = cli.create(&["metrics:read"], Some(Duration::ZERO)).unwrap();
    // The service sees tokens created by another process within a second.
    assert!(eventually(Duration::from_secs(3), || auth
        .authenticate(&bearer(reader.token()))
        .is_allowed()));

    assert_eq!(
        auth.authenticate(&HeaderMap::new()),
        unauthorized(FailureReason::Missing)
    );
    assert_eq!(
        auth.authenticate(&raw(&format!("Basic {STATIC}"))),
        unauthorized(FailureReason::WrongScheme)
    );
    assert_eq!(
        auth.authenticate(&raw("Bearer ")),
        unauthorized(FailureReason::Empty)
    );
    assert_eq!(
        auth.authenticate(&bearer("not-the-token-at-all")),
        unauthorized(FailureReason::Invalid)
    );
    assert_allowed(
        &auth.authenticate(&bearer(STATIC)),
        &static_id(STATIC),
        &["metrics:read"],
    );
    assert_allowed(
        &auth.authenticate(&bearer(reader.token())),
        &format!("rf_{}", reader.id()),
        &["metrics:read"],
    );
    assert_denied(
        &auth.authenticate(&bearer(prober.token())),
        DenyStatus::Forbidden,
        FailureReason::InsufficientScope,
        Some(&format!("rf_{}", prober.id())),
    );
    assert_denied(
        &auth.authenticate(&bearer(lapsed.token())),
        DenyStatus::Unauthorized,
        FailureReason::Expired,
        Some(&format!("rf_{}", lapsed.id())),
    );
    // The right id with another secret proves nothing.
    let forged = format!("rf_{}_{}", reader.id(), "ab".repeat(32));
    assert_eq!(
        auth.authenticate(&bearer(&forged)),
        unauthorized(FailureReason::Invalid)
    );

    // Rotation with a short grace period: both secrets, then only the new one.
    let rotated = cli.rotate(reader.id(), Duration::from_secs(1)).unwrap();
    assert!(eventually(Duration::from_secs(3), || auth
        .authenticate(&bearer(rotated.token()))
        .is_allowed()));
    assert!(
        eventually(Duration::from_secs(4), || reason(
            &auth.authenticate(&bearer(reader.token()))
        ) == Some(FailureReason::Invalid)),
        "the rotated-out secret still works after its grace period"
    );
    assert!(auth.authenticate(&bearer(rotated.token())).is_allowed());

    // Revocation by another process takes effect in the running authenticator.
    cli.revoke(reader.id()).unwrap();
    assert!(
        eventually(Duration::from_secs(3), || reason(
            &auth.authenticate(&bearer(rotated.token()))
        ) == Some(FailureReason::Revoked)),
        "a revoked token is still accepted"
    );
    assert_denied(
        &auth.authenticate(&bearer(rotated.token())),
        DenyStatus::Unauthorized,
        FailureReason::Revoked,
        Some(&format!("rf_{}", reader.id())),
    );
    assert_allowed(
        &auth.authenticate(&bearer(STATIC)),
        &static_id(STATIC),
        &["metrics:read"],
    );
}

fn assert_allowed(decision: &Decision, client: &str, scopes: &[&str]) {
    match decision {
        Decision::Allowed {
            client: who,
            scopes: granted,
        } => {
            assert_eq!(who.as_str(), client);
            assert!(!who.is_anonymous());
            assert_eq!(granted, scopes);
        }
        other => panic!("expected allowed as {client}, got {other:?}"),
    }
}

fn assert_denied(
    decision: &Decision,
    status: DenyStatus,
    reason: FailureReason,
    client: Option<&str>,
) {
    match decision {
        Decision::Denied {
            status: s,
            reason: r,
            client: c,
        } => {
            assert_eq!((*s, *r), (status, reason), "{decision:?}");
            assert_eq!(c.as_ref().map(ClientId::as_str), client, "{decision:?}");
        }
        other => panic!("expected denied ({reason}), got {other:?}"),
    }
}

fn jwt_section(leeway: &str) -> Authentication {
    section(&format!(
        "enabled: true\nmethod: jwt\nrequired_scopes: [\"metrics:read\"]\njwt:\n  \
         secret_env: JWT_SECRET\n  issuer: {ISSUER}\n  audience: {AUDIENCE}\n  leeway: {leeway}"
    ))
}

fn manager() -> MetricsTokenManager {
    MetricsTokenManager::new(SECRET)
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE)
}

/// base64url without padding, to build a token by hand.
fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn jwt_cases_get_their_exact_decision() {
    let auth = Authenticator::from_config(&jwt_section("60s"), &env).unwrap();
    let hour = Duration::from_secs(3_600);
    let token = manager().generate_token(&["metrics:read"], hour).unwrap();
    let jti = manager().validate(&token).unwrap().id.unwrap();
    assert_allowed(&auth.authenticate(&bearer(&token)), &jti, &["metrics:read"]);

    let wrong_issuer = MetricsTokenManager::new(SECRET)
        .with_issuer("https://evil.example.com")
        .with_audience(AUDIENCE)
        .generate_token(&["metrics:read"], hour)
        .unwrap();
    assert_eq!(
        auth.authenticate(&bearer(&wrong_issuer)),
        unauthorized(FailureReason::WrongIssuer)
    );
    let wrong_audience = MetricsTokenManager::new(SECRET)
        .with_issuer(ISSUER)
        .with_audience("billing")
        .generate_token(&["metrics:read"], hour)
        .unwrap();
    assert_eq!(
        auth.authenticate(&bearer(&wrong_audience)),
        unauthorized(FailureReason::WrongAudience)
    );
    let other_secret = MetricsTokenManager::new("another secret of forty bytes, not ours")
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE)
        .generate_token(&["metrics:read"], hour)
        .unwrap();
    assert_eq!(
        auth.authenticate(&bearer(&other_secret)),
        unauthorized(FailureReason::Invalid)
    );
    let no_scope = manager().generate_token(&["health:read"], hour).unwrap();
    let no_scope_id = manager().validate(&no_scope).unwrap().id.unwrap();
    assert_denied(
        &auth.authenticate(&bearer(&no_scope)),
        DenyStatus::Forbidden,
        FailureReason::InsufficientScope,
        Some(&no_scope_id),
    );

    // `alg: none` with valid claims and no signature.
    let claims = format!(
        r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","scope":"metrics:read","exp":{}}}"#,
        unix_now() + 3_600
    );
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"NONE"}"#,
        r#"{"typ":"JWT"}"#,
    ] {
        let unsigned = format!("{}.{}.", b64(header.as_bytes()), b64(claims.as_bytes()));
        assert_eq!(
            auth.authenticate(&bearer(&unsigned)),
            unauthorized(FailureReason::Malformed),
            "{header}"
        );
    }
}

#[test]
fn an_hs256_token_keyed_with_the_rsa_public_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("jwt.pem");
    std::fs::write(&pem, RSA_PUBLIC).unwrap();
    let auth = Authenticator::from_config(
        &section(&format!(
            "enabled: true\nmethod: jwt\njwt:\n  algorithm: RS256\n  public_key_file: {}\n  \
             issuer: {ISSUER}\n  audience: {AUDIENCE}",
            pem.display()
        )),
        &env,
    )
    .unwrap();
    // Anyone may know the public key; a verifier that let the token pick its algorithm
    // would check this HMAC with it and accept.
    let forged = MetricsTokenManager::new(RSA_PUBLIC)
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE)
        .generate_token(&["metrics:read"], Duration::from_secs(3_600))
        .unwrap();
    assert_eq!(
        auth.authenticate(&bearer(&forged)),
        unauthorized(FailureReason::Invalid)
    );
}

#[test]
fn expiry_honours_the_leeway() {
    let strict = Authenticator::from_config(&jwt_section("0s"), &env).unwrap();
    let lenient = Authenticator::from_config(&jwt_section("60s"), &env).unwrap();
    // Valid for no time at all: expired as soon as the clock moves on.
    let token = manager()
        .generate_token(&["metrics:read"], Duration::ZERO)
        .unwrap();
    assert!(
        eventually(Duration::from_secs(4), || reason(
            &strict.authenticate(&bearer(&token))
        ) == Some(FailureReason::Expired)),
        "an expired token is accepted without leeway"
    );
    assert_eq!(
        strict.authenticate(&bearer(&token)),
        unauthorized(FailureReason::Expired)
    );
    // Within the leeway it is still accepted.
    assert!(lenient.authenticate(&bearer(&token)).is_allowed());
}

/// xorshift64*, seeded from the clock; the seed is printed on failure.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize]))
            .collect()
    }
}

#[test]
fn ten_thousand_random_tokens_are_all_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = TokenStore::open(&path).unwrap();
    let ids: Vec<String> = (0..5)
        .map(|_| {
            store
                .create(&["metrics:read"], None)
                .unwrap()
                .id()
                .to_owned()
        })
        .collect();
    let opaque = Authenticator::from_config(&store_section(&path), &env).unwrap();
    let jwt = Authenticator::from_config(&jwt_section("60s"), &env).unwrap();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut random = Random(seed);
    const HEX: &[u8] = b"0123456789abcdef";
    const ID: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const PRINTABLE: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=!#$%&*";
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    for i in 0..10_000 {
        let token = match i % 5 {
            // A real id with a random secret.
            0 => format!("rf_{}_{}", ids[i % ids.len()], random.string(HEX, 64)),
            // A random id and secret.
            1 => format!("rf_{}_{}", random.string(ID, 10), random.string(HEX, 64)),
            // A JWT with a real header and random payload and signature.
            2 => format!(
                "{header}.{}.{}",
                random.string(B64, 60 + i % 40),
                random.string(B64, 43)
            ),
            // Random printable text of the static token's length and others.
            3 => random.string(PRINTABLE, STATIC.len()),
            _ => random.string(PRINTABLE, 1 + i % 120),
        };
        let headers = bearer(&token);
        for auth in [&opaque, &jwt] {
            let decision = auth.authenticate(&headers);
            assert!(
                !decision.is_allowed(),
                "seed {seed}: random token {token:?} was accepted"
            );
        }
        assert!(store.verify(&token).is_err(), "seed {seed}: {token:?}");
    }
}

/// A credential no output may contain.
const CANARY: &str = "CANARY-d41d8cd98f00b204e980";

#[test]
fn no_output_ever_contains_the_presented_credential() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = TokenStore::open(&path).unwrap();
    let issued = store.create(&["health:read"], None).unwrap();
    let auth = Authenticator::from_config(&store_section(&path), &env).unwrap();
    let jwt = Authenticator::from_config(&jwt_section("60s"), &env).unwrap();
    let signed_with_canary = MetricsTokenManager::new(SECRET)
        .with_issuer(ISSUER)
        .with_audience(CANARY)
        .generate_token(&["metrics:read"], Duration::from_secs(60))
        .unwrap();
    let secret = issued.token().rsplit('_').next().unwrap().to_owned();
    let presented = [
        format!("Bearer {CANARY}"),
        format!("Basic {CANARY}"),
        format!("Bearer {CANARY} {CANARY}"),
        format!("Bearer rf_{}_{}", issued.id(), "0".repeat(64)),
        format!("Bearer {}", issued.token()),
        format!("Bearer {signed_with_canary}"),
        format!("Bearer {}.{CANARY}.{CANARY}", b64(br#"{"alg":"HS256"}"#)),
        CANARY.to_owned(),
    ];
    for value in &presented {
        for authenticator in [&auth, &jwt] {
            let decision = authenticator.authenticate(&raw(value));
            assert!(!decision.is_allowed());
            let outputs = [
                format!("{decision:?}"),
                format!("{authenticator:?}"),
                format!("{store:?}"),
                format!("{issued:?}"),
                decision
                    .client()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                match &decision {
                    Decision::Denied { reason, .. } => format!("{reason} {reason:?}"),
                    Decision::Allowed { .. } => String::new(),
                },
            ];
            for output in &outputs {
                assert!(!output.contains(CANARY), "{output}");
                assert!(!output.contains(&secret), "{output}");
                assert!(!output.contains(&signed_with_canary), "{output}");
            }
        }
    }
    // A bad secret in the environment is named, never shown.
    for (value, expected) in [("CANARY short", "spaces"), ("CANARY", "shorter than 16")] {
        let env = env_of(&[("METRICS_TOKEN", value)]);
        let config = section("enabled: true\nmethod: bearer_token\ntoken_env: METRICS_TOKEN");
        let err = Authenticator::from_config(&config, &env).unwrap_err();
        let message = format!("{err} {err:?}");
        assert!(message.contains(expected), "{message}");
        assert!(!message.contains("CANARY"), "{message}");
    }
    let env = env_of(&[("JWT_SECRET", "CANARY")]);
    let err = Authenticator::from_config(&jwt_section("60s"), &env).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("CANARY"));
}
