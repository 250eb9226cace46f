//! `external_service` checks: an HTTP GET that must answer 2xx.

use std::time::Duration;

use reqwest::{Client, Url};

use super::report::human;
use crate::Error;

/// An HTTP check, its URL parsed once.
#[derive(Debug, Clone)]
pub(crate) struct HttpCheck {
    /// The URL called, credentials and query included.
    url: Url,
    /// Its own client, for an `https://` URL (with the check's `tls`); an `http://` one
    /// uses the client the checks share.
    pub(crate) client: Option<Client>,
    /// The URL as messages show it: no user name, password, query or fragment.
    shown: String,
}

/// The client every HTTP check of a [`super::Checks`] shares: redirects are not followed
/// (a redirect is an answer, and following one could leave the intended host).
pub(crate) fn client() -> Result<Client, Error> {
    builder().build().map_err(|e| Error::Install {
        what: "health checks",
        reason: format!("cannot build the HTTP client ({e})"),
    })
}

fn builder() -> reqwest::ClientBuilder {
    Client::builder()
        .user_agent(concat!("rustform-health/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
}

/// The client of an `https://` check: `tls` (at YAML path `path`) verifies the server.
#[cfg(feature = "tls")]
fn tls_client(tls: &crate::config::ClientTls, path: &str) -> Result<Client, Error> {
    crate::tls::reqwest(builder(), tls, path)?
        .build()
        .map_err(|e| Error::Install {
            what: "health checks",
            reason: format!("cannot build the HTTP client ({e})"),
        })
}

impl HttpCheck {
    /// Parses `url`, the value at YAML path `path`; errors name the path, never the
    /// credentials the URL may carry.
    /// `tls` and `tls_path` are the check's `tls` setting, for an `https://` URL.
    pub(crate) fn new(
        url: &str,
        path: &str,
        tls: &crate::config::ClientTls,
        tls_path: &str,
    ) -> Result<HttpCheck, Error> {
        let error = |reason: String| Error::Install {
            what: "health checks",
            reason: format!("{path}: {reason}"),
        };
        let url = Url::parse(url.trim()).map_err(|e| {
            error(format!(
                "not a valid URL ({e}); write it like \"http://auth-service:8080/health\""
            ))
        })?;
        let shown = shown(&url);
        let client = match url.scheme() {
            "http" => None,
            #[cfg(feature = "tls")]
            "https" => Some(tls_client(tls, tls_path)?),
            #[cfg(not(feature = "tls"))]
            "https" => {
                let _ = (tls, tls_path);
                return Err(Error::missing_feature(path, "an https:// URL", "tls"));
            }
            other => {
                return Err(error(format!(
                    "{shown} has the scheme {other:?}; use an http:// or https:// URL"
                )));
            }
        };
        if url.host_str().is_none_or(str::is_empty) {
            return Err(error(format!(
                "{shown} has no host; write it like \"http://auth-service:8080/health\""
            )));
        }
        Ok(HttpCheck { url, client, shown })
    }

    /// Calls the service once, within `timeout`.
    pub(crate) async fn run(&self, client: &Client, timeout: Duration) -> Result<(), String> {
        let response = client
            .get(self.url.clone())
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.describe(e, timeout))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            Err(format!(
                "GET {} answered {status} (redirects are not followed: check the final URL)",
                self.shown
            ))
        } else {
            Err(format!("GET {} answered {status}", self.shown))
        }
    }

    /// A request that got no answer: the error and its causes, without the URL reqwest
    /// would print (it may carry credentials).
    fn describe(&self, error: reqwest::Error, timeout: Duration) -> String {
        use std::error::Error as _;
        if error.is_timeout() {
            return format!("timed out after {}", human(timeout));
        }
        let error = error.without_url();
        let mut reason = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let cause = cause.to_string();
            if !reason.contains(&cause) {
                reason.push_str(": ");
                reason.push_str(&cause);
            }
            source = source.and_then(|s| s.source());
        }
        if error.is_connect() {
            format!("GET {}: cannot connect ({reason})", self.shown)
        } else {
            format!("GET {} failed ({reason})", self.shown)
        }
    }
}

/// `url` without user name, password, query or fragment.
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientTls;

    fn check(url: &str, path: &str) -> Result<HttpCheck, Error> {
        HttpCheck::new(
            url,
            path,
            &ClientTls::default(),
            "observability.health.checks[0].tls",
        )
    }

    #[test]
    fn credentials_and_query_are_not_shown() {
        let check = check(
            "http://user:hunter2@auth:8080/health?token=s3cret#frag",
            "observability.health.checks[0].url",
        )
        .unwrap();
        assert_eq!(check.shown, "http://auth:8080/health");
        assert_eq!(check.url.password(), Some("hunter2"));
        assert_eq!(check.url.query(), Some("token=s3cret"));
        assert!(check.client.is_none(), "http:// shares the checks' client");
    }

    #[test]
    fn a_bad_url_names_the_yaml_path_not_the_url() {
        let error = check(
            "http://user:hunter2@[::1",
            "observability.health.checks[2].url",
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, Error::Install { .. }));
        assert!(
            text.contains("observability.health.checks[2].url"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn only_http_and_https() {
        let text = check("ftp://auth/health", "observability.health.checks[0].url")
            .unwrap_err()
            .to_string();
        assert!(text.contains("\"ftp\""), "{text}");
        // https:// gets a client of its own, with TLS, or needs the feature.
        let https = check(
            "https://user:pw@auth/health?k=v",
            "observability.health.checks[0].url",
        );
        if cfg!(feature = "tls") {
            assert!(https.unwrap().client.is_some());
        } else {
            let text = https.unwrap_err().to_string();
            assert!(text.contains("`tls` feature"), "{text}");
            assert!(!text.contains("pw") && !text.contains("k=v"), "{text}");
        }
    }
}
