use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::cursor::Position;
use super::{Cursor, Page, RecordUpdate, StoreError, Transition, TransitionOutcome, WorkflowStore};
use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::run_manifest::Fingerprint;
use crate::time::Timestamp;

/// An in-memory workflow store with the DynamoDB adapter's promises, for fast tests of the logic above it.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<RunId, WorkflowRecord>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many jobs are stored.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no job is stored.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<RunId, WorkflowRecord>> {
        // A panic while holding the lock cannot leave a half-written record: every write is one insert.
        self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Up to `limit` of the records that match, newest first as the indexes order them (ties by run id,
    /// descending), after `after`.
    fn page(&self, matches: impl Fn(&WorkflowRecord) -> bool, after: Option<Position>, limit: usize) -> Page {
        let limit = limit.clamp(1, 1000);
        let mut matching: Vec<WorkflowRecord> =
            self.lock().values().filter(|record| matches(record)).cloned().collect();
        matching.sort_by_key(|record| std::cmp::Reverse((record.created_at, record.run_id)));
        let start = match after {
            Some(position) => matching
                .iter()
                .position(|r| (r.created_at, r.run_id) == (position.created_at, position.run_id))
                .map_or(0, |index| index + 1),
            None => 0,
        };
        let mut records: Vec<WorkflowRecord> = matching.into_iter().skip(start).take(limit + 1).collect();
        let next = if records.len() > limit {
            records.truncate(limit);
            records.last().map(Cursor::after)
        } else {
            None
        };
        Page { records, next }
    }
}

impl WorkflowStore for MemoryStore {
    async fn create(&self, record: &WorkflowRecord) -> Result<(), StoreError> {
        let mut records = self.lock();
        if records.contains_key(&record.run_id) {
            return Err(StoreError::AlreadyExists(record.run_id));
        }
        records.insert(record.run_id, record.clone());
        Ok(())
    }

    async fn get(&self, run_id: RunId) -> Result<Option<WorkflowRecord>, StoreError> {
        Ok(self.lock().get(&run_id).cloned())
    }

    async fn transition(&self, run_id: RunId, transition: &Transition) -> Result<TransitionOutcome, StoreError> {
        transition.check()?;
        let mut records = self.lock();
        let Some(record) = records.get_mut(&run_id) else {
            return Ok(TransitionOutcome::NotFound);
        };
        let touched = transition.unchanged_since.is_some_and(|seen| seen != record.updated_at);
        if record.status != transition.from || touched {
            return Ok(TransitionOutcome::LostRace { current: record.status });
        }
        record.status = transition.to;
        record.updated_at = transition.at;
        transition.set.apply(record);
        Ok(TransitionOutcome::Moved(Box::new(record.clone())))
    }

    async fn annotate(&self, run_id: RunId, set: &RecordUpdate) -> Result<bool, StoreError> {
        let mut records = self.lock();
        let Some(record) = records.get_mut(&run_id) else {
            return Ok(false);
        };
        set.apply(record);
        Ok(true)
    }

    async fn heartbeat(&self, run_id: RunId, at: Timestamp) -> Result<bool, StoreError> {
        let mut records = self.lock();
        match records.get_mut(&run_id) {
            Some(record) if record.status == Status::Running => {
                record.updated_at = at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn completed_with(&self, fingerprint: &Fingerprint) -> Result<Option<WorkflowRecord>, StoreError> {
        Ok(self
            .lock()
            .values()
            .filter(|record| record.answers(fingerprint))
            .max_by_key(|record| record.created_at)
            .cloned())
    }

    async fn list_by_status(&self, status: Status, limit: usize, cursor: Option<&Cursor>) -> Result<Page, StoreError> {
        let after = cursor.map(|cursor| cursor.position(status)).transpose()?;
        Ok(self.page(|record| record.status == status, after, limit))
    }

    async fn list_by_submitter(
        &self,
        submitted_by: &str,
        only: Option<Status>,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<Page, StoreError> {
        let after = cursor
            .map(|cursor| cursor.submitter_position(submitted_by))
            .transpose()?;
        let matches = |record: &WorkflowRecord| {
            record.submitted_by.as_deref() == Some(submitted_by) && only.is_none_or(|status| record.status == status)
        };
        Ok(self.page(matches, after, limit))
    }

    async fn stale(&self, status: Status, updated_before: Timestamp) -> Result<Vec<WorkflowRecord>, StoreError> {
        Ok(self
            .lock()
            .values()
            .filter(|record| record.status == status && record.updated_at < updated_before)
            .cloned()
            .collect())
    }
}
