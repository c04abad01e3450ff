use std::collections::HashMap;
use std::sync::Mutex;

use super::{Claim, IdempotencyKey, IdempotencyKeys, KEY_LIFETIME};
use crate::backtest::RunId;
use crate::store::StoreError;
use crate::time::Timestamp;

/// In-memory idempotency keys with the DynamoDB adapter's promises, for fast tests.
#[derive(Debug, Default)]
pub struct MemoryKeys {
    claims: Mutex<HashMap<IdempotencyKey, (RunId, String, Timestamp)>>,
}

impl IdempotencyKeys for MemoryKeys {
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        run_id: RunId,
        now: Timestamp,
    ) -> Result<Claim, StoreError> {
        let mut claims = self.claims.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((existing, theirs, expires)) = claims.get(key)
            && *expires > now
        {
            return Ok(Claim::Existing {
                run_id: *existing,
                fingerprint: theirs.clone(),
            });
        }
        claims.insert(key.clone(), (run_id, fingerprint.to_owned(), now.plus(KEY_LIFETIME)));
        Ok(Claim::Claimed)
    }

    async fn release(&self, key: &IdempotencyKey, run_id: RunId) -> Result<(), StoreError> {
        let mut claims = self.claims.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if claims.get(key).is_some_and(|(owner, _, _)| *owner == run_id) {
            claims.remove(key);
        }
        Ok(())
    }
}
