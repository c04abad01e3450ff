use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::time::Timestamp;

/// Where a listing continues: opaque to clients, URL-safe, checked when it comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

/// The index position a cursor stands for: the last record of the page it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Position {
    pub run_id: RunId,
    pub status: Status,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<String>,
}

impl Cursor {
    /// A cursor as a client sent it back; checked only when used.
    pub fn from_client(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text handed to clients.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cursor that continues a listing after `record`.
    pub fn after(record: &WorkflowRecord) -> Self {
        let position = Position {
            run_id: record.run_id,
            status: record.status,
            created_at: record.created_at,
            submitted_by: record.submitted_by.clone(),
        };
        let json = serde_json::to_vec(&position).expect("a position always serializes");
        Self(URL_SAFE_NO_PAD.encode(json))
    }

    /// The position, if this cursor was made by a listing of `status`.
    pub(super) fn position(&self, status: Status) -> Result<Position, StoreError> {
        self.decode().filter(|position| position.status == status)
    }

    /// The position, if this cursor was made by a listing of the jobs `submitted_by` submitted.
    pub(super) fn submitter_position(&self, submitted_by: &str) -> Result<Position, StoreError> {
        self.decode()
            .filter(|position| position.submitted_by.as_deref() == Some(submitted_by))
    }

    fn decode(&self) -> Decoded {
        let json = URL_SAFE_NO_PAD.decode(self.0.as_bytes()).ok();
        Decoded(json.and_then(|json| serde_json::from_slice(&json).ok()))
    }
}

/// A decoded cursor, not yet checked against the listing it continues.
struct Decoded(Option<Position>);

impl Decoded {
    fn filter(self, belongs: impl FnOnce(&Position) -> bool) -> Result<Position, StoreError> {
        self.0.filter(belongs).ok_or(StoreError::InvalidCursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::BacktestRequest;

    fn record(status: Status) -> WorkflowRecord {
        let body = br#"{"strategy_name":"S","strategy_version":1,"config":{"timeframe":"1h",
            "symbols":["BTC/USDT"],"start_date":"2024-01-01","end_date":"2024-02-01"}}"#;
        let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date");
        let request = BacktestRequest::from_json(body, today).expect("valid request");
        WorkflowRecord::new(RunId::new(), request, status, Timestamp::now())
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_status_only() {
        let record = record(Status::Queued);
        let cursor = Cursor::after(&record);
        let position = cursor.position(Status::Queued).expect("valid");
        assert_eq!(position.run_id, record.run_id);
        assert!(matches!(
            cursor.position(Status::Running),
            Err(StoreError::InvalidCursor)
        ));
    }

    #[test]
    fn a_submitter_cursor_continues_only_that_submitters_listing() {
        let record = record(Status::Running).submitted_by(Some("arn:aws:iam::123456789012:user/ada".into()));
        let cursor = Cursor::after(&record);
        let position = cursor
            .submitter_position("arn:aws:iam::123456789012:user/ada")
            .expect("valid");
        assert_eq!(position.run_id, record.run_id);
        for other in ["arn:aws:iam::123456789012:user/bob", ""] {
            assert!(matches!(
                cursor.submitter_position(other),
                Err(StoreError::InvalidCursor)
            ));
        }
        let anonymous = Cursor::after(&self::record(Status::Running));
        assert!(matches!(
            anonymous.submitter_position(""),
            Err(StoreError::InvalidCursor)
        ));
    }

    #[test]
    fn garbage_is_an_invalid_cursor() {
        for text in ["", "!!!", "e30", "bm90IGpzb24"] {
            assert!(matches!(
                Cursor::from_client(text).position(Status::Queued),
                Err(StoreError::InvalidCursor)
            ));
        }
    }
}
