//! Idempotent submission: a client's `Idempotency-Key` claims one run id for one request body for a day, so a
//! retried POST gets the original job back instead of a second one. A claim is a conditional write with an expiry.

mod dynamodb;
mod memory;

use std::fmt;
use std::future::Future;

use chrono::TimeDelta;
use sha2::{Digest, Sha256};

pub use dynamodb::DynamoDbKeys;
pub use memory::MemoryKeys;

use crate::backtest::{BacktestRequest, RunId};
use crate::store::StoreError;
use crate::time::Timestamp;

/// How long a key keeps answering with its first job.
pub const KEY_LIFETIME: TimeDelta = TimeDelta::hours(24);
/// The longest key accepted.
pub const MAX_KEY_CHARS: usize = 255;

/// A client's idempotency key: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key, if `text` is one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let visible = text.bytes().all(|b| b.is_ascii_graphic());
        if !text.is_empty() && text.len() <= MAX_KEY_CHARS && visible {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "must be 1 to {MAX_KEY_CHARS} visible ASCII characters (a UUID is a good key)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 of a request's canonical JSON and of the caller asking: equal for requests that mean the same,
/// whatever their spacing, key order or defaulted fields, when the same caller asks them. A key reused by another
/// caller therefore never answers with the first caller's job.
pub fn fingerprint(request: &BacktestRequest, caller: Option<&str>) -> String {
    let canonical = serde_json::to_vec(request).expect("a validated request always serializes");
    let mut hash = Sha256::new();
    hash.update(canonical);
    if let Some(caller) = caller {
        // A NUL never occurs in JSON text, so no request and caller can collide with another pair.
        hash.update([0]);
        hash.update(caller.as_bytes());
    }
    hash.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours now, for the run id we offered.
    Claimed,
    /// The key was claimed before (and has not expired) for this run id and request fingerprint.
    Existing { run_id: RunId, fingerprint: String },
}

/// Where idempotency keys are claimed.
pub trait IdempotencyKeys: Send + Sync {
    /// Claims `key` for `run_id` and `fingerprint` until `now + KEY_LIFETIME`, unless an unexpired claim exists.
    fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        run_id: RunId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Gives `key` up, if it is still claimed for `run_id`, so the client's retry starts afresh.
    fn release(&self, key: &IdempotencyKey, run_id: RunId) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(body: serde_json::Value) -> BacktestRequest {
        BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("valid")
    }

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(IdempotencyKey::parse("3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10").is_ok());
        for bad in ["", "with space", "tab\t", "ünïcode", &"k".repeat(256)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_fingerprint_ignores_spelling_but_not_meaning() {
        let a = request(
            json!({"strategy_name": "S", "strategy_version": 1, "config": {"timeframe": "1h",
            "symbols": ["BTC/USDT"], "start_date": "2024-01-01", "end_date": "2024-02-01",
            "config_overrides": {"fee": 0.001, "stake_amount": 2}}}),
        );
        let b = request(
            json!({"config": {"config_overrides": {"stake_amount": 2, "fee": 0.001}, "end_date": "2024-02-01",
            "start_date": "2024-01-01", "symbols": ["BTC/USDT"], "timeframe": "1h"},
            "strategy_version": "1", "strategy_name": "S", "experiment_name": "backtests/S"}),
        );
        assert_eq!(fingerprint(&a, None), fingerprint(&b, None));
        let c = request(
            json!({"strategy_name": "S", "strategy_version": 2, "config": {"timeframe": "1h",
            "symbols": ["BTC/USDT"], "start_date": "2024-01-01", "end_date": "2024-02-01"}}),
        );
        assert_ne!(fingerprint(&a, None), fingerprint(&c, None));
        assert_eq!(fingerprint(&a, None).len(), 64);
    }

    #[test]
    fn the_fingerprint_tells_callers_apart() {
        let a = request(
            json!({"strategy_name": "S", "strategy_version": 1, "config": {"timeframe": "1h",
            "symbols": ["BTC/USDT"], "start_date": "2024-01-01", "end_date": "2024-02-01"}}),
        );
        let ada = "arn:aws:iam::123456789012:user/ada";
        assert_eq!(fingerprint(&a, Some(ada)), fingerprint(&a, Some(ada)));
        assert_ne!(
            fingerprint(&a, Some(ada)),
            fingerprint(&a, Some("arn:aws:iam::123456789012:user/bob"))
        );
        assert_ne!(fingerprint(&a, Some(ada)), fingerprint(&a, None));
    }
}
