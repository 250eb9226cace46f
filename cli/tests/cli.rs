//! The `rustform` binary on a temporary token store: what an operator types, what the
//! store then holds, and the exit codes.

use std::path::Path;
use std::process::{Command, Output};

use rustform::auth::{FailureReason, TokenStore};
use serde_json::Value;

fn rustform(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rustform"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the rustform binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn generate_list_rotate_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("tokens.json");
    let store_arg = store_path.to_str().unwrap();

    // Generate, as text: the token once, and how to give it to Prometheus.
    let text = ok(rustform(
        dir.path(),
        &[
            "metrics",
            "generate-token",
            "--scopes",
            "metrics:read",
            "--expires-in",
            "30d",
            "--store",
            store_arg,
        ],
    ));
    let token = text
        .split_whitespace()
        .find(|w| w.starts_with("rf_"))
        .unwrap_or_else(|| panic!("no token in {text}"))
        .to_owned();
    assert!(text.contains("credentials_file"), "{text}");
    assert!(text.contains("only time"), "{text}");
    let store = TokenStore::open(&store_path).unwrap();
    let info = store.verify(&token).unwrap();
    assert_eq!(info.scopes, ["metrics:read"]);
    let lifetime = info.expires.unwrap().duration_since(info.created).unwrap();
    assert_eq!(lifetime.as_secs(), 30 * 86_400);

    // Generate, as JSON.
    let second = json(&ok(rustform(
        dir.path(),
        &[
            "metrics",
            "generate-token",
            "--scopes",
            "metrics:read,health:read",
            "--expires-in",
            "never",
            "--json",
            "--store",
            store_arg,
        ],
    )));
    let second_token = second["token"].as_str().unwrap().to_owned();
    assert_eq!(second["expires"], Value::Null);
    assert_eq!(
        second["scopes"],
        serde_json::json!(["metrics:read", "health:read"])
    );

    // List: both, with no secret anywhere.
    let listed = ok(rustform(
        dir.path(),
        &["metrics", "list-tokens", "--json", "--store", store_arg],
    ));
    let secret = token.rsplit('_').next().unwrap();
    assert!(!listed.contains(secret), "{listed}");
    assert!(!listed.contains(&second_token), "{listed}");
    let list = json(&listed);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let first = list.iter().find(|t| t["id"] == info.id.as_str()).unwrap();
    assert_eq!(first["status"], "active");
    assert_eq!(first["scopes"], serde_json::json!(["metrics:read"]));
    assert!(first["created"].as_str().unwrap().ends_with('Z'));
    assert!(first.get("token").is_none() && first.get("hash").is_none());
    let table = ok(rustform(
        dir.path(),
        &["metrics", "list-tokens", "--store", store_arg],
    ));
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains(&info.id) && !table.contains(secret),
        "{table}"
    );

    // Rotate: a new secret, the old one still valid during the grace period.
    let rotated = json(&ok(rustform(
        dir.path(),
        &[
            "metrics",
            "rotate-token",
            "--token-id",
            &info.id,
            "--grace",
            "1h",
            "--json",
            "--store",
            store_arg,
        ],
    )));
    let new_token = rotated["token"].as_str().unwrap();
    assert_ne!(new_token, token);
    assert_eq!(rotated["status"], "rotating");
    // A running service sees the change within a second; this one looks now.
    store.reload().unwrap();
    assert!(store.verify(new_token).is_ok());
    assert!(store.verify(&token).is_ok());

    // Rotate without grace: the previous secret (the first rotation's) stops at once.
    ok(rustform(
        dir.path(),
        &[
            "metrics",
            "rotate-token",
            "--token-id",
            &info.id,
            "--grace",
            "0s",
            "--store",
            store_arg,
        ],
    ));
    store.reload().unwrap();
    assert_eq!(store.verify(new_token), Err(FailureReason::Invalid));

    // Revoke.
    let revoked = ok(rustform(
        dir.path(),
        &[
            "metrics",
            "revoke-token",
            "--token-id",
            &info.id,
            "--store",
            store_arg,
        ],
    ));
    assert!(revoked.contains("Revoked"), "{revoked}");
    store.reload().unwrap();
    let list = json(&ok(rustform(
        dir.path(),
        &["metrics", "list-tokens", "--json", "--store", store_arg],
    )));
    let first = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == info.id.as_str())
        .unwrap();
    assert_eq!(first["status"], "revoked");
    assert!(store.verify(&second_token).is_ok());

    // An unknown id and a revoked token are the user's mistakes.
    let unknown = rustform(
        dir.path(),
        &[
            "metrics",
            "revoke-token",
            "--token-id",
            "nosuchid00",
            "--store",
            store_arg,
        ],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("list-tokens"),
        "{}",
        stderr(&unknown)
    );
    let again = rustform(
        dir.path(),
        &[
            "metrics",
            "rotate-token",
            "--token-id",
            &info.id,
            "--store",
            store_arg,
        ],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("revoked"), "{}", stderr(&again));
}

#[test]
fn a_bad_duration_is_a_usage_error_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tokens.json");
    for bad in ["30 days", "soon", "10"] {
        let output = rustform(
            dir.path(),
            &[
                "metrics",
                "generate-token",
                "--scopes",
                "metrics:read",
                "--expires-in",
                bad,
                "--store",
                store.to_str().unwrap(),
            ],
        );
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let message = stderr(&output);
        assert!(message.contains("--expires-in"), "{message}");
        assert!(message.contains("\"30d\""), "{message}");
        assert!(stdout(&output).is_empty());
    }
    assert!(!store.exists(), "a failed command created the store");
}

#[test]
fn the_store_comes_from_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rustform.yml"),
        "observability:\n  prometheus:\n    authentication:\n      token_store: secrets/tokens.json\n",
    )
    .unwrap();
    let out = json(&ok(rustform(
        dir.path(),
        &[
            "metrics",
            "generate-token",
            "--scopes",
            "metrics:read",
            "--json",
        ],
    )));
    let store = TokenStore::open(dir.path().join("secrets/tokens.json")).unwrap();
    assert!(store.verify(out["token"].as_str().unwrap()).is_ok());

    // Without a file and without --store: exit 2, saying both ways to fix it.
    let empty = tempfile::tempdir().unwrap();
    let output = rustform(empty.path(), &["metrics", "list-tokens"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("--store") && message.contains("token_store"),
        "{message}"
    );

    // A broken configuration file: exit 2 with its own message.
    std::fs::write(
        empty.path().join("rustform.yml"),
        "observability:\n  prometheus:\n    authentication:\n      tokn_store: x\n",
    )
    .unwrap();
    let output = rustform(empty.path(), &["metrics", "list-tokens"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("did you mean \"token_store\""),
        "{}",
        stderr(&output)
    );
}
