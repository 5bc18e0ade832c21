//! Times on the command line: `--exp`/`--nbf` values (a duration from now, or a UNIX time),
//! and how dates are shown to people (RFC 3339, "expired 5m ago", "expires in 14m").

use std::time::Duration;

use tessera_jwt::NumericDate;

/// A `--exp`/`--nbf` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeSpec {
    /// An absolute time, in seconds since the epoch.
    At(i64),
    /// This long after now.
    After(Duration),
}

impl TimeSpec {
    /// Digits alone are a UNIX time; anything else is a duration (`90s`, `15m`, `1h30m`,
    /// `30d`), parsed by `humantime`.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<i64>()
                .map(TimeSpec::At)
                .map_err(|e| format!("`{s}`: {e}"));
        }
        let duration = humantime::parse_duration(s).map_err(|e| {
            format!(
                "`{s}` is neither a UNIX time (digits only) nor a duration such as 90s, 15m, \
                 1h30m or 30d ({e})"
            )
        })?;
        if duration.subsec_nanos() != 0 {
            return Err(format!("`{s}`: JWT times are whole seconds"));
        }
        Ok(TimeSpec::After(duration))
    }

    /// The time in seconds since the epoch, checked to be a valid JWT NumericDate
    /// (1970..=9999).
    pub(crate) fn resolve(self, now: i64) -> Result<i64, String> {
        let secs = match self {
            TimeSpec::At(t) => t,
            TimeSpec::After(d) => i64::try_from(d.as_secs())
                .ok()
                .and_then(|d| now.checked_add(d))
                .ok_or_else(|| {
                    format!("{} from now is out of range", humantime::format_duration(d))
                })?,
        };
        NumericDate::from_secs(secs)
            .map(|_| secs)
            .map_err(|_| format!("{secs} is outside 1970-01-01..9999-12-31"))
    }
}

/// A date as RFC 3339 in UTC (`2026-11-23T10:00:00Z`), when it is a valid NumericDate.
pub(crate) fn rfc3339(secs: f64) -> Option<String> {
    NumericDate::from_f64(secs).ok().map(|d| d.to_string())
}

/// A span of time for people: its two largest units, `5m`, `14m`, `2h 5m`, `3d 4h`, `0s`.
pub(crate) fn span(secs: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let Some(first) = UNITS.iter().position(|&(size, _)| secs >= size) else {
        return "0s".into();
    };
    let mut parts = vec![format!("{}{}", secs / UNITS[first].0, UNITS[first].1)];
    if let Some(&(size, name)) = UNITS.get(first + 1) {
        let n = secs % UNITS[first].0 / size;
        if n > 0 {
            parts.push(format!("{n}{name}"));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_unix_times() {
        let now = 1_700_000_000;
        let at = |s: &str| TimeSpec::parse(s).unwrap().resolve(now).unwrap();
        assert_eq!(at("90s"), now + 90);
        assert_eq!(at("15m"), now + 900);
        assert_eq!(at("1h"), now + 3600);
        assert_eq!(at("30d"), now + 30 * 86_400);
        assert_eq!(at("1h30m"), now + 5400);
        assert_eq!(at("1800000000"), 1_800_000_000);
        for bad in ["", "soon", "15", "-5m", "1.5s", "500ms"] {
            let parsed = TimeSpec::parse(bad);
            if bad == "15" {
                // Digits are a UNIX time (1970), valid but absolute.
                assert_eq!(parsed, Ok(TimeSpec::At(15)));
            } else {
                assert!(parsed.is_err(), "{bad}");
            }
        }
        assert!(TimeSpec::At(253_402_300_800).resolve(now).is_err());
        assert!(
            TimeSpec::parse("100000000years")
                .unwrap()
                .resolve(now)
                .is_err()
        );
    }

    #[test]
    fn spans_show_two_units() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(59), "59s");
        assert_eq!(span(300), "5m");
        assert_eq!(span(840), "14m");
        assert_eq!(span(305), "5m 5s");
        assert_eq!(span(3_600 + 5 * 60 + 7), "1h 5m");
        assert_eq!(span(86_400 * 3 + 3_600 * 4 + 59), "3d 4h");
        assert_eq!(span(86_400 + 30), "1d");
    }

    #[test]
    fn dates_show_as_rfc3339() {
        assert_eq!(rfc3339(1_795_428_000.0).unwrap(), "2026-11-23T10:00:00Z");
        assert!(rfc3339(-1.0).is_none());
    }
}
