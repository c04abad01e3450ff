//! Timestamps as the store keeps them: RFC 3339 UTC text of fixed width, so that text order is time order.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// An instant, written as `2026-11-24T06:00:00.123456Z` (always microseconds, always `Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self::from(Utc::now())
    }

    /// The UTC calendar day this instant falls on.
    pub fn date(self) -> NaiveDate {
        self.0.date_naive()
    }

    /// This instant moved forward by `delta`.
    pub fn plus(self, delta: TimeDelta) -> Self {
        Self::from(self.0 + delta)
    }

    /// The instant `millis` milliseconds after the Unix epoch, if representable.
    pub fn from_epoch_millis(millis: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(millis).map(Self::from)
    }

    /// Milliseconds since the Unix epoch.
    pub fn epoch_millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    /// Whole seconds since the Unix epoch (what DynamoDB's time-to-live reads).
    pub fn epoch_seconds(self) -> i64 {
        self.0.timestamp()
    }

    /// This instant moved back by `delta`.
    pub fn minus(self, delta: TimeDelta) -> Self {
        Self::from(self.0 - delta)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(time: DateTime<Utc>) -> Self {
        // Keep exactly what the text form can hold, so a value read back equals the value written.
        let micros = time.timestamp_micros();
        Self(DateTime::from_timestamp_micros(micros).unwrap_or(time))
    }
}

/// A text that is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 timestamp: {0:?}")]
pub struct InvalidTimestamp(pub String);

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(text)
            .map(|time| Self::from(time.with_timezone(&Utc)))
            .map_err(|_| InvalidTimestamp(text.chars().take(64).collect()))
    }
}

impl TryFrom<String> for Timestamp {
    type Error = InvalidTimestamp;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Timestamp> for String {
    fn from(time: Timestamp) -> Self {
        time.to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_fixed_width_and_sorts_as_time() {
        let early: Timestamp = "2026-01-02T03:04:05Z".parse().expect("valid");
        let late: Timestamp = "2026-01-02T03:04:05.5+00:00".parse().expect("valid");
        assert_eq!(early.to_string(), "2026-01-02T03:04:05.000000Z");
        assert_eq!(late.to_string(), "2026-01-02T03:04:05.500000Z");
        assert!(early.to_string() < late.to_string());
        assert!(early < late);
    }

    #[test]
    fn round_trips_through_text() {
        let now = Timestamp::now();
        assert_eq!(now.to_string().parse::<Timestamp>(), Ok(now));
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let time: Timestamp = "2026-01-02T03:04:05+02:00".parse().expect("valid");
        assert_eq!(time.to_string(), "2026-01-02T01:04:05.000000Z");
    }
}
