//! Every security case with the exact decision, and the properties that must hold for
//! any input: no panic, no credential in any output.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::config::{Config, Jwt, JwtAlgorithm};

const RSA_PRIVATE: &str = include_str!("testdata/rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("testdata/rsa_public.pem");
const EC_PRIVATE: &str = include_str!("testdata/ec_private.pem");
const EC_PUBLIC: &str = include_str!("testdata/ec_public.pem");

const STATIC: &str = "static-token-0123456789abcdef";
const HS_SECRET: &str = "an HS256 secret that is long enough";
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "shop-metrics";

fn env(name: &str) -> Option<String> {
    match name {
        "METRICS_TOKEN" => Some(format!("{STATIC}, second-static-token-00000")),
        "JWT_SECRET" => Some(HS_SECRET.to_owned()),
        "SHORT" => Some("short".to_owned()),
        "SPACED" => Some("a token with spaces in it, really".to_owned()),
        _ => None,
    }
}

/// `static:` and the first eight hex digits of the token's SHA-256.
fn static_id(token: &str) -> String {
    format!(
        "static:{}",
        &secret::hex(&secret::sha256(token.as_bytes()))[..8]
    )
}

fn auth_config(yaml: &str) -> Authentication {
    let text = format!(
        "observability:\n  prometheus:\n    authentication:\n{}",
        yaml.lines()
            .map(|l| format!("      {l}\n"))
            .collect::<String>()
    );
    Config::parse(&text, "rustform.yml", &env)
        .unwrap_or_else(|e| panic!("{e}"))
        .observability
        .prometheus
        .authentication
}

fn bearer_auth() -> Authenticator {
    Authenticator::from_config(
        &auth_config(
            "enabled: true\nmethod: bearer_token\ntoken_env: METRICS_TOKEN\nrequired_scopes: [\"metrics:read\"]",
        ),
        &env,
    )
    .unwrap()
}

fn headers(name: &str, values: &[&str]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for value in values {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    map
}

fn with_bearer(token: &str) -> HeaderMap {
    headers("authorization", &[&format!("Bearer {token}")])
}

fn denied(reason: FailureReason) -> Decision {
    Decision::Denied {
        status: DenyStatus::Unauthorized,
        reason,
        client: None,
    }
}

fn forbidden(client: &str) -> Decision {
    Decision::Denied {
        status: DenyStatus::Forbidden,
        reason: FailureReason::InsufficientScope,
        client: Some(ClientId::known(client)),
    }
}

fn allowed(client: &str, scopes: &[&str]) -> Decision {
    Decision::Allowed {
        client: ClientId::known(client),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[test]
fn header_shapes_get_their_exact_decision() {
    let auth = bearer_auth();
    let cases: &[(&[&str], Decision)] = &[
        (&[], denied(FailureReason::Missing)),
        (&[""], denied(FailureReason::Empty)),
        (&["Bearer"], denied(FailureReason::Empty)),
        (&["Bearer    "], denied(FailureReason::Empty)),
        (&["Basic dXNlcjpwYXNz"], denied(FailureReason::WrongScheme)),
        (&[STATIC], denied(FailureReason::WrongScheme)),
        (&["Token abc"], denied(FailureReason::WrongScheme)),
        (&["Bearer two words"], denied(FailureReason::Malformed)),
        (
            &["Bearer wrong-token-0123456789"],
            denied(FailureReason::Invalid),
        ),
        (
            &["Bearer static-token-0123456789abcdeX"],
            denied(FailureReason::Invalid),
        ),
        (
            &["Bearer static-token-0123456789abcdef"],
            allowed(&static_id(STATIC), &["metrics:read"]),
        ),
        (
            &["bearer static-token-0123456789abcdef"],
            allowed(&static_id(STATIC), &["metrics:read"]),
        ),
        (
            &["BEARER   static-token-0123456789abcdef  "],
            allowed(&static_id(STATIC), &["metrics:read"]),
        ),
        (
            &["Bearer second-static-token-00000"],
            allowed(&static_id("second-static-token-00000"), &["metrics:read"]),
        ),
        (
            &[
                "Bearer static-token-0123456789abcdef",
                "Bearer static-token-0123456789abcdef",
            ],
            denied(FailureReason::Malformed),
        ),
    ];
    for (values, expected) in cases {
        assert_eq!(
            &auth.authenticate(&headers("authorization", values)),
            expected,
            "{values:?}"
        );
    }
    let mut non_ascii = HeaderMap::new();
    non_ascii.insert(
        "authorization",
        HeaderValue::from_bytes("Bearer tök€n".as_bytes()).unwrap(),
    );
    assert_eq!(
        auth.authenticate(&non_ascii),
        denied(FailureReason::Malformed)
    );
    let huge = format!("Bearer {}", "a".repeat(MAX_CREDENTIAL_LEN + 1));
    assert_eq!(
        auth.authenticate(&headers("authorization", &[&huge])),
        denied(FailureReason::Malformed)
    );
}

#[test]
fn a_custom_header_and_api_keys() {
    let auth = Authenticator::from_config(
        &auth_config("enabled: true\nmethod: bearer_token\ntoken_env: METRICS_TOKEN\ntoken_header: X-Scrape-Auth"),
        &env,
    )
    .unwrap();
    assert_eq!(
        auth.authenticate(&with_bearer(STATIC)),
        denied(FailureReason::Missing)
    );
    assert_eq!(
        auth.authenticate(&headers("x-scrape-auth", &[&format!("Bearer {STATIC}")])),
        allowed(&static_id(STATIC), &[])
    );

    let keys = Authenticator::from_config(
        &auth_config("enabled: true\nmethod: api_key\ntoken_env: METRICS_TOKEN"),
        &env,
    )
    .unwrap();
    assert_eq!(
        keys.authenticate(&with_bearer(STATIC)),
        denied(FailureReason::Missing)
    );
    assert_eq!(
        keys.authenticate(&headers("x-api-key", &[STATIC])),
        allowed(&static_id(STATIC), &[])
    );
    assert_eq!(
        keys.authenticate(&headers("X-API-KEY", &[STATIC])),
        allowed(&static_id(STATIC), &[])
    );
    assert_eq!(
        keys.authenticate(&headers("x-api-key", &["  "])),
        denied(FailureReason::Empty)
    );
    assert_eq!(
        keys.authenticate(&headers("x-api-key", &[&format!("Bearer {STATIC}")])),
        denied(FailureReason::Malformed)
    );
    assert_eq!(
        keys.authenticate(&headers("x-api-key", &["not-the-key-at-all-000"])),
        denied(FailureReason::Invalid)
    );
    assert_eq!(keys.challenge(), "Bearer realm=\"rustform\"");
}

#[test]
fn disabled_or_none_allows_everyone_anonymously() {
    for yaml in ["enabled: false", "enabled: true\nmethod: none"] {
        let auth = Authenticator::from_config(&auth_config(yaml), &env).unwrap();
        let decision = auth.authenticate(&HeaderMap::new());
        assert!(decision.is_allowed());
        assert!(decision.client().unwrap().is_anonymous());
    }
}

#[test]
fn configuration_mistakes_are_refused_without_the_secret() {
    let cases = [
        ("enabled: true\nmethod: bearer_token", "need a token"),
        (
            "enabled: true\nmethod: bearer_token\ntoken_env: UNSET",
            "UNSET, which is not set",
        ),
        (
            "enabled: true\nmethod: bearer_token\ntoken_env: SHORT",
            "shorter than 16",
        ),
        (
            "enabled: true\nmethod: bearer_token\ntoken_env: SPACED",
            "spaces",
        ),
        (
            "enabled: true\nmethod: bearer_token\ntoken_file: /nonexistent/token",
            "cannot read token_file",
        ),
    ];
    for (yaml, expected) in cases {
        let err = Authenticator::from_config(&auth_config(yaml), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{yaml}: {err}");
        assert!(
            !err.contains("short\"") && !err.contains("with spaces in it"),
            "{err}"
        );
    }
    let mut jwt = Jwt::default();
    jwt.issuer = ISSUER.to_owned();
    jwt.audience = AUDIENCE.to_owned();
    jwt.secret_env = Some("SHORT".to_owned());
    let mut auth = Authentication::default();
    auth.enabled = true;
    auth.method = AuthMethod::Jwt;
    auth.jwt = Some(jwt);
    let err = Authenticator::from_config(&auth, &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least 32 bytes"), "{err}");
    assert!(!err.contains("short"), "{err}");
    auth.jwt = None;
    let err = Authenticator::from_config(&auth, &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("jwt section"), "{err}");
}

// --- the token store through the authenticator -----------------------------------------

static STORE_NOW: AtomicU64 = AtomicU64::new(1_900_000_000);

fn store_clock() -> u64 {
    STORE_NOW.load(Ordering::SeqCst)
}

fn store_auth(dir: &Path, scheme_api_key: bool) -> (Authenticator, TokenStore) {
    let store = TokenStore::open_with_clock(&dir.join("tokens.json"), store_clock).unwrap();
    let tokens = Tokens {
        statics: vec![StaticToken::new(secret::sha256(STATIC.as_bytes()))],
        store: Some(store.clone()),
    };
    let scheme = if scheme_api_key {
        Scheme::ApiKey {
            header: HeaderName::from_static("x-api-key"),
            tokens,
        }
    } else {
        Scheme::Bearer {
            header: HeaderName::from_static("authorization"),
            tokens,
        }
    };
    let auth = Authenticator {
        inner: Arc::new(Inner {
            scheme,
            required_scopes: vec!["metrics:read".to_owned()],
        }),
    };
    (auth, store)
}

#[test]
fn store_tokens_carry_their_scopes_expiry_revocation_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (auth, store) = store_auth(dir.path(), false);
    let start = store_clock();

    let reader = store
        .create(
            &["metrics:read", "health:read"],
            Some(Duration::from_secs(3_600)),
        )
        .unwrap();
    let client = format!("rf_{}", reader.id());
    assert_eq!(
        auth.authenticate(&with_bearer(reader.token())),
        allowed(&client, &["metrics:read", "health:read"])
    );

    let writer = store.create(&["health:read"], None).unwrap();
    assert_eq!(
        auth.authenticate(&with_bearer(writer.token())),
        forbidden(&format!("rf_{}", writer.id()))
    );

    // A right id with a wrong secret proves nothing about the sender.
    let forged = format!("rf_{}_{}", reader.id(), "0".repeat(64));
    assert_eq!(
        auth.authenticate(&with_bearer(&forged)),
        denied(FailureReason::Invalid)
    );
    let unknown = format!("rf_zzzzzzzzzz_{}", "0".repeat(64));
    assert_eq!(
        auth.authenticate(&with_bearer(&unknown)),
        denied(FailureReason::Invalid)
    );

    // Rotation: both secrets work during the grace period, only the new one after.
    let rotated = store.rotate(reader.id(), Duration::from_secs(600)).unwrap();
    assert!(auth.authenticate(&with_bearer(reader.token())).is_allowed());
    assert!(
        auth.authenticate(&with_bearer(rotated.token()))
            .is_allowed()
    );
    STORE_NOW.store(start + 600, Ordering::SeqCst);
    assert_eq!(
        auth.authenticate(&with_bearer(reader.token())),
        denied(FailureReason::Invalid)
    );
    assert!(
        auth.authenticate(&with_bearer(rotated.token()))
            .is_allowed()
    );

    // Expiry.
    STORE_NOW.store(start + 3_600, Ordering::SeqCst);
    assert_eq!(
        auth.authenticate(&with_bearer(rotated.token())),
        Decision::Denied {
            status: DenyStatus::Unauthorized,
            reason: FailureReason::Expired,
            client: Some(ClientId::known(&client)),
        }
    );
    STORE_NOW.store(start, Ordering::SeqCst);

    // Revocation.
    assert!(
        auth.authenticate(&with_bearer(rotated.token()))
            .is_allowed()
    );
    store.revoke(reader.id()).unwrap();
    assert_eq!(
        auth.authenticate(&with_bearer(rotated.token())),
        Decision::Denied {
            status: DenyStatus::Unauthorized,
            reason: FailureReason::Revoked,
            client: Some(ClientId::known(&client)),
        }
    );
    // The static token still works beside the store.
    assert_eq!(
        auth.authenticate(&with_bearer(STATIC)),
        allowed(&static_id(STATIC), &["metrics:read"])
    );

    let (keys, key_store) = store_auth(dir.path(), true);
    let key = key_store.create(&["metrics:read"], None).unwrap();
    assert!(
        keys.authenticate(&headers("x-api-key", &[key.token()]))
            .is_allowed()
    );
}

// --- JWT ---------------------------------------------------------------------------------

fn now() -> u64 {
    unix_now()
}

fn claims(overrides: Value) -> Value {
    let mut claims = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "prometheus",
        "jti": "scraper-1",
        "scope": "metrics:read other",
        "iat": now(),
        "exp": now() + 300,
    });
    for (key, value) in overrides.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

fn sign(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn hs(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(HS_SECRET.as_bytes()).unwrap(),
        None,
        claims,
    )
}

fn jwt_config(algorithm: JwtAlgorithm, leeway: u64) -> Authentication {
    let mut jwt = Jwt::default();
    jwt.algorithm = algorithm;
    jwt.issuer = ISSUER.to_owned();
    jwt.audience = AUDIENCE.to_owned();
    jwt.leeway = Duration::from_secs(leeway);
    let mut auth = Authentication::default();
    auth.enabled = true;
    auth.method = AuthMethod::Jwt;
    auth.required_scopes = vec!["metrics:read".to_owned()];
    auth.jwt = Some(jwt);
    auth
}

fn hs_auth(leeway: u64) -> Authenticator {
    let mut config = jwt_config(JwtAlgorithm::Hs256, leeway);
    config.jwt.as_mut().unwrap().secret_env = Some("JWT_SECRET".to_owned());
    Authenticator::from_config(&config, &env).unwrap()
}

fn key_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn rs_auth(dir: &Path) -> Authenticator {
    let mut config = jwt_config(JwtAlgorithm::Rs256, 60);
    config.jwt.as_mut().unwrap().public_key_file = Some(key_file(dir, "rsa.pem", RSA_PUBLIC));
    Authenticator::from_config(&config, &env).unwrap()
}

/// A base64url encoding without padding, to build tokens by hand.
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

#[test]
fn jwt_cases_get_their_exact_decision() {
    let auth = hs_auth(60);
    let t = now();
    let cases: Vec<(&str, String, Decision)> = vec![
        (
            "valid",
            hs(&claims(json!({}))),
            allowed("scraper-1", &["metrics:read", "other"]),
        ),
        (
            "scp list, no jti",
            hs(&claims(
                json!({"scope": null, "jti": null, "scp": ["metrics:read"]}),
            )),
            allowed("prometheus", &["metrics:read"]),
        ),
        (
            "scp string",
            hs(&claims(json!({"scope": null, "scp": "a metrics:read"}))),
            allowed("scraper-1", &["a", "metrics:read"]),
        ),
        (
            "aud list",
            hs(&claims(json!({"aud": ["other", AUDIENCE]}))),
            allowed("scraper-1", &["metrics:read", "other"]),
        ),
        (
            "expired past leeway",
            hs(&claims(json!({"exp": t - 61}))),
            denied(FailureReason::Expired),
        ),
        (
            "expired within leeway",
            hs(&claims(json!({"exp": t - 30}))),
            allowed("scraper-1", &["metrics:read", "other"]),
        ),
        (
            "nbf in the future",
            hs(&claims(json!({"nbf": t + 600}))),
            denied(FailureReason::NotYetValid),
        ),
        (
            "nbf within leeway",
            hs(&claims(json!({"nbf": t + 30}))),
            allowed("scraper-1", &["metrics:read", "other"]),
        ),
        (
            "wrong issuer",
            hs(&claims(json!({"iss": "https://evil.example.com"}))),
            denied(FailureReason::WrongIssuer),
        ),
        (
            "wrong audience",
            hs(&claims(json!({"aud": "another-service"}))),
            denied(FailureReason::WrongAudience),
        ),
        (
            "missing scope",
            hs(&claims(json!({"scope": "health:read"}))),
            forbidden("scraper-1"),
        ),
        (
            "no scope at all",
            hs(&claims(json!({"scope": null}))),
            forbidden("scraper-1"),
        ),
        (
            "string exp",
            hs(&claims(json!({"exp": (t + 300).to_string()}))),
            denied(FailureReason::Invalid),
        ),
        (
            "string exp in the past",
            hs(&claims(json!({"exp": "1"}))),
            denied(FailureReason::Invalid),
        ),
        (
            "string nbf",
            hs(&claims(json!({"nbf": (t + 600).to_string()}))),
            denied(FailureReason::Invalid),
        ),
        (
            "no exp",
            hs(&claims(json!({"exp": null}))),
            denied(FailureReason::Invalid),
        ),
        (
            "no iss",
            hs(&claims(json!({"iss": null}))),
            denied(FailureReason::Invalid),
        ),
        (
            "no aud",
            hs(&claims(json!({"aud": null}))),
            denied(FailureReason::Invalid),
        ),
        (
            "numeric iss",
            hs(&claims(json!({"iss": 7}))),
            denied(FailureReason::Invalid),
        ),
        (
            "other secret",
            sign(
                Algorithm::HS256,
                &EncodingKey::from_secret(b"another secret that is long enough!").unwrap(),
                None,
                &claims(json!({})),
            ),
            denied(FailureReason::Invalid),
        ),
        (
            "HS384",
            sign(
                Algorithm::HS384,
                &EncodingKey::from_secret(HS_SECRET.as_bytes()).unwrap(),
                None,
                &claims(json!({})),
            ),
            denied(FailureReason::Invalid),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"JWT"}"#),
                b64(claims(json!({})).to_string().as_bytes())
            ),
            denied(FailureReason::Malformed),
        ),
        (
            "alg None with a signature",
            format!(
                "{}.{}.{}",
                b64(br#"{"alg":"None","typ":"JWT"}"#),
                b64(claims(json!({})).to_string().as_bytes()),
                b64(b"sig")
            ),
            denied(FailureReason::Malformed),
        ),
        (
            "two parts",
            "abc.def".to_owned(),
            denied(FailureReason::Malformed),
        ),
        (
            "garbage",
            "a.b.c".to_owned(),
            denied(FailureReason::Malformed),
        ),
    ];
    for (name, token, expected) in cases {
        assert_eq!(auth.authenticate(&with_bearer(&token)), expected, "{name}");
    }
    // A tampered payload with the original signature.
    let token = hs(&claims(json!({})));
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = b64(claims(json!({"scope": "admin metrics:read"}))
        .to_string()
        .as_bytes());
    assert_eq!(
        auth.authenticate(&with_bearer(&parts.join("."))),
        denied(FailureReason::Invalid)
    );
}

#[test]
fn zero_leeway_refuses_a_token_that_just_expired() {
    let auth = hs_auth(0);
    let token = hs(&claims(json!({"exp": now() - 2})));
    assert_eq!(
        auth.authenticate(&with_bearer(&token)),
        denied(FailureReason::Expired)
    );
    let token = hs(&claims(json!({"nbf": now() + 5})));
    assert_eq!(
        auth.authenticate(&with_bearer(&token)),
        denied(FailureReason::NotYetValid)
    );
}

#[test]
fn rs256_pins_the_algorithm_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let auth = rs_auth(dir.path());
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let good = sign(Algorithm::RS256, &rsa, None, &claims(json!({})));
    assert_eq!(
        auth.authenticate(&with_bearer(&good)),
        allowed("scraper-1", &["metrics:read", "other"])
    );
    // The classic confusion: HS256 keyed with the RSA public key everyone may know.
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()).unwrap(),
        None,
        &claims(json!({})),
    );
    assert_eq!(
        auth.authenticate(&with_bearer(&confused)),
        denied(FailureReason::Invalid)
    );
    // Another RSA algorithm with the same key.
    let ps = sign(Algorithm::RS384, &rsa, None, &claims(json!({})));
    assert_eq!(
        auth.authenticate(&with_bearer(&ps)),
        denied(FailureReason::Invalid)
    );
    // An HS256 token for an RS256 service, keyed with the HS secret.
    assert_eq!(
        auth.authenticate(&with_bearer(&hs(&claims(json!({}))))),
        denied(FailureReason::Invalid)
    );
    let expired = sign(
        Algorithm::RS256,
        &rsa,
        None,
        &claims(json!({"exp": now() - 120})),
    );
    assert_eq!(
        auth.authenticate(&with_bearer(&expired)),
        denied(FailureReason::Expired)
    );
}

#[test]
fn es256_with_a_pem_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = jwt_config(JwtAlgorithm::Es256, 60);
    config.jwt.as_mut().unwrap().public_key_file = Some(key_file(dir.path(), "ec.pem", EC_PUBLIC));
    let auth = Authenticator::from_config(&config, &env).unwrap();
    let ec = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    let token = sign(Algorithm::ES256, &ec, None, &claims(json!({})));
    assert!(auth.authenticate(&with_bearer(&token)).is_allowed());
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let token = sign(Algorithm::RS256, &rsa, None, &claims(json!({})));
    assert_eq!(
        auth.authenticate(&with_bearer(&token)),
        denied(FailureReason::Invalid)
    );
    // An RSA key where an EC key belongs is refused when starting.
    config.jwt.as_mut().unwrap().public_key_file =
        Some(key_file(dir.path(), "rsa.pem", RSA_PUBLIC));
    assert!(Authenticator::from_config(&config, &env).is_err());
}

#[test]
fn jwks_keys_are_chosen_by_kid() {
    let dir = tempfile::tempdir().unwrap();
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let mut jwk = Jwk::from_encoding_key(&rsa, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("key-2026".to_owned());
    let set = JwkSet { keys: vec![jwk] };
    let mut config = jwt_config(JwtAlgorithm::Rs256, 60);
    config.jwt.as_mut().unwrap().jwks_file = Some(key_file(
        dir.path(),
        "jwks.json",
        &serde_json::to_string(&set).unwrap(),
    ));
    let auth = Authenticator::from_config(&config, &env).unwrap();
    let named = sign(Algorithm::RS256, &rsa, Some("key-2026"), &claims(json!({})));
    assert!(auth.authenticate(&with_bearer(&named)).is_allowed());
    // One key in the set: a token without kid may use it.
    let unnamed = sign(Algorithm::RS256, &rsa, None, &claims(json!({})));
    assert!(auth.authenticate(&with_bearer(&unnamed)).is_allowed());
    let unknown = sign(Algorithm::RS256, &rsa, Some("key-1999"), &claims(json!({})));
    assert_eq!(
        auth.authenticate(&with_bearer(&unknown)),
        denied(FailureReason::Invalid)
    );
}

#[test]
fn the_manager_issues_tokens_the_authenticator_accepts() {
    let manager = MetricsTokenManager::new(HS_SECRET)
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE);
    let token = manager
        .generate_token(&["metrics:read"], Duration::from_secs(60))
        .unwrap();
    let claims = manager.validate(&token).unwrap();
    assert_eq!(claims.issuer, ISSUER);
    assert_eq!(claims.audience, [AUDIENCE]);
    assert_eq!(claims.subject.as_deref(), Some("prometheus"));
    assert_eq!(claims.id.as_ref().map(String::len), Some(32));
    assert_eq!(claims.expires_at, claims.issued_at.unwrap() + 60);
    assert_eq!(claims.not_before, claims.issued_at);
    match hs_auth(60).authenticate(&with_bearer(&token)) {
        Decision::Allowed { client, scopes } => {
            assert_eq!(client.as_str(), claims.id.as_deref().unwrap());
            assert_eq!(scopes, ["metrics:read"]);
        }
        other => panic!("{other:?}"),
    }
    let other_audience = MetricsTokenManager::new(HS_SECRET).with_issuer(ISSUER);
    assert_eq!(
        other_audience.validate(&token),
        Err(FailureReason::WrongAudience)
    );
    let other_token = manager
        .with_subject("vmagent")
        .generate_token(&[], Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        hs_auth(60).authenticate(&with_bearer(&other_token)),
        forbidden(
            &MetricsTokenManager::new(HS_SECRET)
                .with_issuer(ISSUER)
                .with_audience(AUDIENCE)
                .validate(&other_token)
                .unwrap()
                .id
                .unwrap()
        )
    );

    let weak = MetricsTokenManager::new("short");
    let err = weak
        .generate_token(&["metrics:read"], Duration::from_secs(60))
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least 32 bytes"), "{err}");
    assert_eq!(weak.validate(&token), Err(FailureReason::Invalid));
    assert!(
        MetricsTokenManager::new(HS_SECRET)
            .generate_token(&["two words"], Duration::from_secs(1))
            .is_err()
    );
    let debug = format!("{:?}", MetricsTokenManager::new(HS_SECRET));
    assert!(!debug.contains(HS_SECRET), "{debug}");
}

// --- nothing leaks ----------------------------------------------------------------------

/// A token no output may contain, in every shape a credential can take.
const MARK: &str = "LEAKCANARY7f3a9c";

#[test]
fn no_output_contains_the_presented_credential() {
    let dir = tempfile::tempdir().unwrap();
    let (auth, store) = store_auth(dir.path(), false);
    let issued = store.create(&["metrics:read"], None).unwrap();
    let (_, issued_secret) = store::parse_token(issued.token()).unwrap();
    let store_id = issued.id().to_owned();
    let mut presented: Vec<String> = vec![
        format!("Bearer {MARK}"),
        format!("Basic {MARK}"),
        format!("Bearer {MARK} {MARK}"),
        format!("Bearer rf_{store_id}_{}", "0".repeat(64)),
        format!("Bearer {}", issued.token()),
        format!("Bearer {}.{MARK}.{MARK}", b64(br#"{"alg":"HS256"}"#)),
        MARK.to_owned(),
    ];
    store.revoke(&store_id).unwrap();
    presented.push(format!("Bearer {}", issued.token()));
    let jwt = hs_auth(60);
    let jwt_with_mark = hs(&claims(json!({"aud": MARK})));
    presented.push(format!("Bearer {jwt_with_mark}"));
    for value in &presented {
        for authenticator in [&auth, &jwt] {
            let decision = authenticator.authenticate(&headers("authorization", &[value]));
            let outputs = [
                format!("{decision:?}"),
                format!("{authenticator:?}"),
                format!("{store:?}"),
                decision
                    .client()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ];
            for output in outputs {
                assert!(!output.contains(MARK), "{output}");
                assert!(!output.contains(issued_secret), "{output}");
                assert!(!output.contains(&jwt_with_mark), "{output}");
            }
            if let Decision::Denied { reason, .. } = decision {
                assert!(!reason.to_string().contains(MARK));
            }
        }
    }
    assert!(!format!("{issued:?}").contains(issued_secret));
    // A verified JWT's claims name the client, never more than a safe id.
    let hostile = hs(&claims(
        json!({"jti": format!("x\ny\"{}", "z".repeat(200))}),
    ));
    let decision = jwt.authenticate(&with_bearer(&hostile));
    let client = decision.client().unwrap().to_string();
    assert_eq!(client.len(), 64);
    assert!(
        client.bytes().all(|b| b.is_ascii_graphic() && b != b'"'),
        "{client}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_header_value_is_decided_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let auth = bearer_auth();
        let jwt = hs_auth(60);
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            for name in ["authorization", "x-api-key"] {
                let mut map = HeaderMap::new();
                map.insert(http::HeaderName::from_static(name), value.clone());
                let decision = auth.authenticate(&map);
                prop_assert!(!decision.is_allowed());
                prop_assert!(!jwt.authenticate(&map).is_allowed());
            }
        }
    }

    #[test]
    fn any_token_is_verified_without_panicking(
        token in "(Bearer |bearer |)(rf_[a-z0-9]{6,14}_[0-9a-f]{60,68}|[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,40}|\\PC{0,80})"
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (auth, store) = store_auth(dir.path(), false);
        let _ = store.verify(&token);
        let _ = MetricsTokenManager::new(HS_SECRET).validate(&token);
        if let Ok(value) = HeaderValue::from_str(&token) {
            let mut map = HeaderMap::new();
            map.insert(http::header::AUTHORIZATION, value);
            prop_assert!(!auth.authenticate(&map).is_allowed());
            prop_assert!(!hs_auth(60).authenticate(&map).is_allowed());
        }
    }
}
