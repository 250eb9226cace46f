//! When an export is tried again, by the OTLP specification: only failures the receiver
//! or the network says are transient, after an exponential backoff with jitter or the
//! delay the receiver asks for (`Retry-After`, gRPC `RetryInfo`), and never past the
//! export's deadline.

use std::time::{Duration, Instant, SystemTime};

/// The first backoff delay; each retry doubles it, up to [`MAX_BACKOFF`].
pub(crate) const INITIAL_BACKOFF: Duration = Duration::from_millis(250);
/// The longest backoff delay (a receiver's own delay may be longer).
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// Worth trying again, after `after` if the receiver named a delay.
    Retryable {
        after: Option<Duration>,
        reason: String,
    },
    /// Trying again would fail the same way (400, 500, `INVALID_ARGUMENT`, …).
    Permanent { reason: String },
}

impl Failure {
    pub(crate) fn reason(&self) -> &str {
        match self {
            Failure::Retryable { reason, .. } | Failure::Permanent { reason } => reason,
        }
    }
}

/// Whether an HTTP status is retried: 429, 502, 503 and 504 only.
pub(crate) fn http_status_is_retryable(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Whether a gRPC status is retried: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE,
/// UNAVAILABLE and DATA_LOSS; RESOURCE_EXHAUSTED only when the receiver sent `RetryInfo`.
pub(crate) fn grpc_code_is_retryable(code: tonic::Code, has_retry_info: bool) -> bool {
    use tonic::Code;
    match code {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => true,
        Code::ResourceExhausted => has_retry_info,
        _ => false,
    }
}

/// A `Retry-After` value: whole seconds, or an HTTP date (a date in the past means now).
/// Anything else is ignored (`None`), and the backoff applies.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The backoff before retry number `retry` (from 0): the exponential delay, of which a
/// random half is kept ("equal jitter"), so clients that failed together do not retry
/// together.
pub(crate) fn backoff(retry: u32, random: u64) -> Duration {
    let exponential = INITIAL_BACKOFF
        .saturating_mul(1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF);
    let half = exponential / 2;
    let nanos = half.as_nanos() as u64;
    let jitter = if nanos == 0 { 0 } else { random % (nanos + 1) };
    half + Duration::from_nanos(jitter)
}

/// Runs `attempt` until it succeeds, fails permanently, or the next try would start
/// after `deadline`; each attempt is itself cut off at the deadline. `on_retry` is
/// called before each repeated attempt.
pub(crate) async fn with_retries<T, F, Fut>(
    deadline: Instant,
    mut on_retry: impl FnMut(),
    mut attempt: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut retry = 0u32;
    loop {
        let deadline_at = tokio::time::Instant::from_std(deadline);
        let failure = match tokio::time::timeout_at(deadline_at, attempt()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(failure)) => failure,
            Err(_) => {
                return Err(Failure::Permanent {
                    reason: "the export timed out".to_owned(),
                });
            }
        };
        let Failure::Retryable { after, reason } = failure else {
            return Err(failure);
        };
        let delay = after.unwrap_or_else(|| backoff(retry, crate::trace::ids::next()));
        let now = Instant::now();
        if now + delay >= deadline {
            return Err(Failure::Permanent {
                reason: format!("{reason}; no time left to retry before the export timeout"),
            });
        }
        tokio::time::sleep(delay).await;
        retry += 1;
        on_retry();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_http_statuses_are_retried() {
        for status in [429, 502, 503, 504] {
            assert!(http_status_is_retryable(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 413, 415, 500, 501] {
            assert!(!http_status_is_retryable(status), "{status}");
        }
    }

    #[test]
    fn only_transient_grpc_codes_are_retried() {
        use tonic::Code;
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            assert!(grpc_code_is_retryable(code, false), "{code:?}");
        }
        for code in [
            Code::Unknown,
            Code::InvalidArgument,
            Code::NotFound,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::Internal,
            Code::Unimplemented,
        ] {
            assert!(!grpc_code_is_retryable(code, true), "{code:?}");
        }
        assert!(!grpc_code_is_retryable(Code::ResourceExhausted, false));
        assert!(grpc_code_is_retryable(Code::ResourceExhausted, true));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        // 2015-10-21T07:28:00Z plus 90 s.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for junk in ["", "-1", "1.5", "soon", "Wed, 99 Oct 2015"] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for retry in 0..40 {
            let full = INITIAL_BACKOFF
                .saturating_mul(1 << retry.min(16))
                .min(MAX_BACKOFF);
            for random in [0, 1, u64::MAX / 3, u64::MAX] {
                let delay = backoff(retry, random);
                assert!(delay >= full / 2 && delay <= full, "{retry} {delay:?}");
            }
        }
        assert_eq!(backoff(0, 0), INITIAL_BACKOFF / 2);
        assert_eq!(backoff(30, 0), MAX_BACKOFF / 2);
    }

    fn run<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn retries_until_success_honouring_the_receivers_delay() {
        let mut attempts = 0;
        let mut retries = 0;
        let result = run(with_retries(
            Instant::now() + Duration::from_secs(3600),
            || retries += 1,
            || {
                attempts += 1;
                let n = attempts;
                async move {
                    if n < 3 {
                        Err(Failure::Retryable {
                            after: Some(Duration::from_secs(2)),
                            reason: "503".into(),
                        })
                    } else {
                        Ok(n)
                    }
                }
            },
        ));
        assert_eq!(result, Ok(3));
        assert_eq!(retries, 2);
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        let mut attempts = 0;
        let result: Result<(), _> = run(with_retries(
            Instant::now() + Duration::from_secs(3600),
            || {},
            || {
                attempts += 1;
                async {
                    Err(Failure::Permanent {
                        reason: "400".into(),
                    })
                }
            },
        ));
        assert_eq!(attempts, 1);
        assert_eq!(result.unwrap_err().reason(), "400");
    }

    #[test]
    fn a_delay_past_the_deadline_gives_up_at_once() {
        let mut attempts = 0;
        let result: Result<(), _> = run(with_retries(
            Instant::now() + Duration::from_secs(5),
            || {},
            || {
                attempts += 1;
                async {
                    Err(Failure::Retryable {
                        after: Some(Duration::from_secs(60)),
                        reason: "429".into(),
                    })
                }
            },
        ));
        assert_eq!(attempts, 1);
        assert!(result.unwrap_err().reason().contains("no time left"));
    }
}
