//! Durations as people write them: `500ms`, `10s`, `5m`, `1h30m`, `30d`.

use std::time::Duration;

/// What a duration looks like, for messages.
pub(crate) const EXPECTED: &str = "a duration like \"500ms\", \"10s\", \"5m\", \"2h\" or \"30d\"";

/// Parses a duration: one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h`, `d`,
/// `w`; numbers may have a fraction (`1.5s`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3_600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    // Ten years is more than any timeout or interval means; beyond it is a typo.
    if !total.is_finite() || total > 10.0 * 365.0 * 86_400.0 {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7_200)));
        assert_eq!(parse_duration("30d"), Some(Duration::from_secs(2_592_000)));
        assert_eq!(parse_duration("1w"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1_500)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "10",
            "s",
            "10 s",
            "-5s",
            "5x",
            "1.2.3s",
            "5sec",
            "99999999999d",
            "ms5",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
