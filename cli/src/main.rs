//! `rustform`: the command line of the rustform toolkit.
//!
//! ```text
//! rustform metrics generate-token --scopes "metrics:read" --expires-in 30d
//! rustform metrics list-tokens [--json]
//! rustform metrics rotate-token --token-id ID [--grace 1h]
//! rustform metrics revoke-token --token-id ID
//! rustform generate {alerts|dashboards|scrape-config|k8s|alertmanager|compose|all} \
//!     --config rustform.yml [--catalog FILE_OR_URL] --out DIR
//! ```
//!
//! `generate` writes alert rules, Grafana dashboards and deployment files from the
//! configuration and, with `--catalog`, the service's catalog: the JSON of
//! `rustform::catalog()`, from a file or from a running service's `/catalog` (with
//! `--token-file` or `RUSTFORM_TOKEN` when the endpoint asks for a bearer token).
//!
//! The token store is `--store PATH`, else `observability.prometheus.authentication.token_store`
//! of the configuration file (`--config PATH`, default `./rustform.yml`).
//!
//! Exit codes: 0 done, 2 a usage or configuration mistake, 1 anything else. Errors go
//! to stderr with what to do about them.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use rustform::auth::{IssuedToken, TokenInfo, TokenStatus, TokenStore};
use rustform::config::{Config, parse_duration};
use serde_json::{Value, json};

/// The rustform toolkit's command line.
#[derive(Parser)]
#[command(name = "rustform", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Tokens for the scrapers of the secured /metrics endpoint.
    Metrics {
        #[command(subcommand)]
        command: Metrics,
    },
    /// Writes alert rules, dashboards and deployment files.
    Generate(Generate),
}

/// `rustform generate`.
#[derive(Args)]
struct Generate {
    /// What to write: alerts, dashboards, scrape-config, k8s, alertmanager, compose or all.
    what: String,
    /// The configuration file.
    #[arg(long, default_value = "rustform.yml")]
    config: PathBuf,
    /// The service's catalog: a JSON file, or the URL of a running service's /catalog.
    #[arg(long)]
    catalog: Option<String>,
    /// A file holding the bearer token for a catalog URL (else RUSTFORM_TOKEN).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// For an https:// catalog URL: trust the CAs of this PEM file instead of the
    /// system's roots.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// For an https:// catalog URL: a client certificate (PEM) for mutual TLS.
    #[arg(long, requires = "key_file")]
    cert_file: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, requires = "cert_file")]
    key_file: Option<PathBuf>,
    /// The output directory.
    #[arg(long)]
    out: PathBuf,
    /// The container image of the Deployment and the compose service.
    #[arg(long)]
    image: Option<String>,
    /// The Kubernetes namespace.
    #[arg(long)]
    namespace: Option<String>,
    /// HTTP requests per second per Pod the autoscaler aims at, besides CPU and memory
    /// (served by prometheus-adapter); 0 scales on CPU and memory only.
    #[arg(long, default_value_t = 100.0)]
    requests_per_second: f64,
}

#[derive(Subcommand)]
enum Metrics {
    /// Creates a token in the store and prints it, once.
    GenerateToken {
        /// The scopes it grants, separated by commas or spaces, like "metrics:read".
        #[arg(long, value_name = "SCOPES")]
        scopes: String,
        /// How long it is valid: a duration like "30d", "12h", "1w", or "never".
        #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = parse_expiry)]
        expires_in: Expiry,
        #[command(flatten)]
        common: Common,
    },
    /// Gives a token a new secret; the old one keeps working for the grace period.
    RotateToken {
        /// The token's id, as `list-tokens` shows it.
        #[arg(long, value_name = "ID")]
        token_id: String,
        /// How long the old secret keeps working, like "1h" or "0s".
        #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_grace)]
        grace: Duration,
        #[command(flatten)]
        common: Common,
    },
    /// Lists the tokens (never their secrets).
    ListTokens {
        #[command(flatten)]
        common: Common,
    },
    /// Revokes a token for good.
    RevokeToken {
        /// The token's id, as `list-tokens` shows it.
        #[arg(long, value_name = "ID")]
        token_id: String,
        #[command(flatten)]
        common: Common,
    },
}

/// Where the store is and how to print.
#[derive(Args)]
struct Common {
    /// The token store file (default: token_store from the configuration file).
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,
    /// The configuration file that names the token store.
    #[arg(long, value_name = "PATH", default_value = "rustform.yml")]
    config: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// A token's lifetime.
#[derive(Clone, Copy)]
enum Expiry {
    After(Duration),
    Never,
}

fn parse_expiry(text: &str) -> Result<Expiry, String> {
    if text.trim().eq_ignore_ascii_case("never") {
        return Ok(Expiry::Never);
    }
    match parse_duration(text) {
        Some(d) if d >= Duration::from_secs(60) => Ok(Expiry::After(d)),
        Some(_) => Err("a token must live at least a minute; give a duration like \"30d\"".into()),
        None => Err(format!(
            "expected a duration like \"30d\", \"12h\" or \"1w\" (units ms, s, m, h, d, w), or \
             \"never\"; found {text:?}"
        )),
    }
}

fn parse_grace(text: &str) -> Result<Duration, String> {
    parse_duration(text).ok_or_else(|| {
        format!(
            "expected a duration like \"1h\", \"15m\" or \"0s\" (units ms, s, m, h, d, w); found {text:?}"
        )
    })
}

/// A failure: the message, and whether it was the user's input (exit 2) or not (1).
struct Failure {
    usage: bool,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            usage: true,
            message: message.into(),
        }
    }

    fn other(message: impl ToString) -> Failure {
        Failure {
            usage: false,
            message: message.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(if failure.usage { 2 } else { 1 })
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let command = match cli.command {
        Command::Metrics { command } => command,
        Command::Generate(generate) => return run_generate(&generate),
    };
    match command {
        Metrics::GenerateToken {
            scopes,
            expires_in,
            common,
        } => {
            let scopes: Vec<&str> = scopes
                .split([',', ' ', '\t'])
                .filter(|s| !s.is_empty())
                .collect();
            if scopes.is_empty() {
                return Err(Failure::usage(
                    "--scopes needs at least one scope, like --scopes \"metrics:read\"",
                ));
            }
            let store = open(&common, true)?;
            let ttl = match expires_in {
                Expiry::After(d) => Some(d),
                Expiry::Never => None,
            };
            let issued = store.create(&scopes, ttl).map_err(|e| {
                // The only input in a creation is the scopes; the rest is the file.
                let message = e.to_string();
                if message.contains("is not a scope") {
                    Failure::usage(message)
                } else {
                    Failure::other(message)
                }
            })?;
            print_issued(&issued, &store, common.json, "Created");
        }
        Metrics::RotateToken {
            token_id,
            grace,
            common,
        } => {
            let store = open(&common, false)?;
            let info = known(&store, &token_id)?;
            if matches!(info.status(), TokenStatus::Revoked | TokenStatus::Expired) {
                return Err(Failure::usage(format!(
                    "token {token_id} is {} and cannot be rotated: create a new one with \
                     `rustform metrics generate-token`",
                    info.status().as_str()
                )));
            }
            let issued = store.rotate(&token_id, grace).map_err(Failure::other)?;
            print_issued(&issued, &store, common.json, "Rotated");
            if !common.json {
                match issued.info().previous_valid_until {
                    Some(until) => println!(
                        "The previous secret keeps working until {}; replace the scraper's credentials before then.",
                        rfc3339(until)
                    ),
                    None => println!("The previous secret no longer works."),
                }
            }
        }
        Metrics::ListTokens { common } => {
            let store = open(&common, false)?;
            let tokens = store.list();
            if common.json {
                let list: Vec<Value> = tokens.iter().map(info_json).collect();
                println!("{}", Value::Array(list));
            } else if tokens.is_empty() {
                println!(
                    "No tokens in {}; create one with `rustform metrics generate-token --scopes metrics:read`.",
                    store.path().display()
                );
            } else {
                print_table(&tokens);
            }
        }
        Metrics::RevokeToken { token_id, common } => {
            let store = open(&common, false)?;
            known(&store, &token_id)?;
            let info = store.revoke(&token_id).map_err(Failure::other)?;
            if common.json {
                println!("{}", info_json(&info));
            } else {
                println!("Revoked token {token_id}; a running service refuses it within a second.");
            }
        }
    }
    Ok(())
}

/// The store named by `--store` or the configuration file.
fn open(common: &Common, create: bool) -> Result<TokenStore, Failure> {
    let path = match &common.store {
        Some(path) => path.clone(),
        None => store_from_config(&common.config)?,
    };
    if !create && !path.exists() {
        return Err(Failure::usage(format!(
            "there is no token store at {}: create a token first with `rustform metrics \
             generate-token --scopes metrics:read`, or pass --store PATH",
            path.display()
        )));
    }
    TokenStore::open(&path).map_err(Failure::other)
}

/// `token_store` of the configuration file, relative paths from the file's directory.
fn store_from_config(config: &Path) -> Result<PathBuf, Failure> {
    if !config.exists() {
        return Err(Failure::usage(format!(
            "no token store given: pass --store PATH, or set \
             observability.prometheus.authentication.token_store in {} (or name the \
             configuration file with --config PATH)",
            config.display()
        )));
    }
    let parsed = Config::load(config).map_err(|e| Failure::usage(e.to_string()))?;
    let Some(store) = parsed
        .observability
        .prometheus
        .authentication
        .token_store
        .clone()
    else {
        return Err(Failure::usage(format!(
            "{} sets no observability.prometheus.authentication.token_store: set it, or pass \
             --store PATH",
            config.display()
        )));
    };
    let store = PathBuf::from(store);
    Ok(match config.parent() {
        Some(dir) if store.is_relative() && !dir.as_os_str().is_empty() => dir.join(store),
        _ => store,
    })
}

/// Token `id`, or a usage failure (exit code 2).
fn known(store: &TokenStore, id: &str) -> Result<TokenInfo, Failure> {
    store.get(id).ok_or_else(|| {
        Failure::usage(format!(
            "{} has no token with id {id:?}; `rustform metrics list-tokens` shows the ids",
            store.path().display()
        ))
    })
}

fn print_issued(issued: &IssuedToken, store: &TokenStore, json: bool, verb: &str) {
    let info = issued.info();
    if json {
        let mut value = info_json(info);
        value["token"] = Value::String(issued.token().to_owned());
        println!("{value}");
        return;
    }
    let expires = info.expires.map_or_else(
        || "never expires".to_owned(),
        |e| format!("expires {}", rfc3339(e)),
    );
    println!(
        "{verb} token {} in {} (scopes: {}; {expires}).",
        info.id,
        store.path().display(),
        info.scopes.join(" ")
    );
    println!();
    println!("    {}", issued.token());
    println!();
    println!(
        "This is the only time the token is shown. Write it to a file only Prometheus can read"
    );
    println!(
        "(`umask 077; echo -n 'rf_…' > /etc/prometheus/rustform-token`) and point the scrape job at it:"
    );
    println!();
    println!("    scrape_configs:");
    println!("      - job_name: my-service");
    println!("        authorization:");
    println!("          type: Bearer");
    println!("          credentials_file: /etc/prometheus/rustform-token");
    println!();
}

fn info_json(info: &TokenInfo) -> Value {
    let time = |t: Option<SystemTime>| t.map_or(Value::Null, |t| Value::String(rfc3339(t)));
    json!({
        "id": info.id,
        "status": info.status().as_str(),
        "scopes": info.scopes,
        "created": rfc3339(info.created),
        "expires": time(info.expires),
        "revoked": time(info.revoked),
        "previous_valid_until": time(info.previous_valid_until),
    })
}

fn print_table(tokens: &[TokenInfo]) {
    let rows: Vec<[String; 5]> = tokens
        .iter()
        .map(|t| {
            [
                t.id.clone(),
                t.status().as_str().to_owned(),
                t.scopes.join(","),
                rfc3339(t.created),
                t.expires.map_or_else(|| "never".to_owned(), rfc3339),
            ]
        })
        .collect();
    let header = ["ID", "STATUS", "SCOPES", "CREATED", "EXPIRES"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: [&str; 5]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(header);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

fn run_generate(args: &Generate) -> Result<(), Failure> {
    use rustform::catalog::Catalog;
    use rustform_generate::{self as generate, Kind, Options, Service};

    let kind = Kind::from_name(&args.what).ok_or_else(|| {
        Failure::usage(format!(
            "unknown output {:?}: use one of alerts, dashboards, scrape-config, k8s, \
             alertmanager, compose, all",
            args.what
        ))
    })?;
    let config = Config::load(&args.config).map_err(|e| Failure::usage(e.to_string()))?;
    let catalog = match &args.catalog {
        Some(source) => {
            let text = read_catalog(source, args)?;
            serde_json::from_str::<Catalog>(&text)
                .map_err(|e| Failure::usage(format!("{source} is not a rustform catalog: {e}")))?
        }
        None => Catalog::empty(config.service_name().unwrap_or_default()),
    };
    let mut options = Options::default();
    if let Some(image) = &args.image {
        options.image = image.clone();
    }
    if let Some(namespace) = &args.namespace {
        options.namespace = namespace.clone();
    }
    if !(args.requests_per_second.is_finite() && args.requests_per_second >= 0.0) {
        return Err(Failure::usage(format!(
            "--requests-per-second {}: use a number of requests per second, or 0 for none",
            args.requests_per_second
        )));
    }
    options.requests_per_second =
        (args.requests_per_second > 0.0).then_some(args.requests_per_second);
    let service = Service::new(&config, &catalog).with_options(options);
    let written = generate::write(kind, &service, &args.out).map_err(|e| match e {
        generate::GenerateError::Io { .. } => Failure::other(e),
        _ => Failure::usage(e.to_string()),
    })?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}

/// The catalog's JSON from a file, or from a URL with the token as a bearer credential
/// (over TLS for `https://`, with `--ca-file`, `--cert-file` and `--key-file`).
fn read_catalog(source: &str, args: &Generate) -> Result<String, Failure> {
    let token_file = args.token_file.as_deref();
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        return std::fs::read_to_string(source)
            .map_err(|e| Failure::usage(format!("cannot read the catalog {source}: {e}")));
    }
    let token = match token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?
                .trim()
                .to_owned(),
        ),
        None => std::env::var("RUSTFORM_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
    };
    let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30));
    if source.starts_with("https://") {
        let mut tls = rustform::config::ClientTls::default();
        let text = |path: &Option<PathBuf>| path.as_ref().map(|p| p.display().to_string());
        tls.ca_file = text(&args.ca_file);
        tls.cert_file = text(&args.cert_file);
        tls.key_file = text(&args.key_file);
        let config = rustform::tls::client_config(&tls, "--catalog tls")
            .map_err(|e| Failure::usage(e.to_string()))?;
        builder = builder.tls_backend_preconfigured(config);
    }
    let client = builder.build().map_err(Failure::other)?;
    let mut request = client.get(source);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().map_err(|e| {
        Failure::other(format!(
            "cannot fetch the catalog from {source}: {}",
            error_chain(&e)
        ))
    })?;
    let status = response.status();
    if !status.is_success() {
        let hint = match status.as_u16() {
            401 => ": give a token with --token-file or RUSTFORM_TOKEN",
            403 => ": the token lacks the endpoint's required scope",
            _ => "",
        };
        return Err(Failure::other(format!("{source} answered {status}{hint}")));
    }
    response.text().map_err(Failure::other)
}

/// An error and its causes, each once: reqwest's own message leaves out why a TLS
/// handshake failed.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = source.and_then(std::error::Error::source);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_767_225_599)),
            "2025-12-31T23:59:59Z"
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
