//! The workflow store: where every job's record and status live. A port with a DynamoDB adapter and an in-memory
//! fake; both keep the same promises (conditional create, conditional transitions, newest-first listing by status).

mod cursor;
pub(crate) mod dynamodb;
mod memory;

use std::future::Future;

use serde::Serialize;
use serde_json::Value;

pub use cursor::Cursor;
pub use dynamodb::DynamoDbStore;
pub use memory::MemoryStore;

use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::run_manifest::Fingerprint;
use crate::time::Timestamp;

/// The partition key of the table.
pub const KEY_ATTRIBUTE: &str = "run_id";
/// The index that lists jobs by status, newest first.
pub const STATUS_INDEX: &str = "status-created_at-index";
/// The index that lists the jobs one caller submitted, newest first (sparse: jobs with a `submitted_by`).
pub const SUBMITTER_INDEX: &str = "submitted_by-created_at-index";
/// The index that finds the runs of one set of inputs, newest first (sparse: jobs with a `fingerprint`).
pub const FINGERPRINT_INDEX: &str = "fingerprint-created_at-index";

/// Keeps job records. Every status change is conditional on the status it leaves.
pub trait WorkflowStore: Send + Sync {
    /// Records a new job; never overwrites one with the same run id.
    fn create(&self, record: &WorkflowRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The job with this run id, read consistently, if there is one.
    fn get(&self, run_id: RunId) -> impl Future<Output = Result<Option<WorkflowRecord>, StoreError>> + Send;

    /// The jobs of `run_ids` that exist, in that order (a sweep's children). Read one by one unless the store can
    /// read many at once.
    fn get_many(&self, run_ids: &[RunId]) -> impl Future<Output = Result<Vec<WorkflowRecord>, StoreError>> + Send {
        async move {
            let mut records = Vec::with_capacity(run_ids.len());
            for run_id in run_ids {
                records.extend(self.get(*run_id).await?);
            }
            Ok(records)
        }
    }

    /// Moves a job from `transition.from` to `transition.to` and sets the given fields, only if it is still in
    /// `from`. Losing to another writer is an outcome, not an error.
    fn transition(
        &self,
        run_id: RunId,
        transition: &Transition,
    ) -> impl Future<Output = Result<TransitionOutcome, StoreError>> + Send;

    /// Writes the fields of `set` on job `run_id`, whatever its status (they describe it, they do not move it).
    /// Answers whether the job exists.
    fn annotate(&self, run_id: RunId, set: &RecordUpdate) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Refreshes the `updated_at` of a RUNNING job to `at`: the heartbeat the orphan scan reads. Answers false when
    /// the job is not RUNNING (any more): whoever runs it should stop.
    fn heartbeat(&self, run_id: RunId, at: Timestamp) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Up to `limit` jobs in `status`, newest first, continuing after `cursor`.
    fn list_by_status(
        &self,
        status: Status,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// Up to `limit` jobs submitted by `submitted_by`, in `only` status or in any, newest first, continuing after
    /// `cursor`.
    fn list_by_submitter(
        &self,
        submitted_by: &str,
        only: Option<Status>,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// The newest COMPLETED job whose engine ran on inputs with `fingerprint` (not one answered from the cache
    /// itself), if there is one: the result a run of the same inputs may be answered from.
    fn completed_with(
        &self,
        fingerprint: &Fingerprint,
    ) -> impl Future<Output = Result<Option<WorkflowRecord>, StoreError>> + Send;

    /// Every job in `status` whose `updated_at` (for a RUNNING job its last heartbeat) is older than
    /// `updated_before`, across every page.
    fn stale(
        &self,
        status: Status,
        updated_before: Timestamp,
    ) -> impl Future<Output = Result<Vec<WorkflowRecord>, StoreError>> + Send;
}

/// A status change and the fields written with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    pub at: Timestamp,
    pub set: RecordUpdate,
    /// When set, the change happens only if the job's `updated_at` is still this: nothing (a heartbeat, another
    /// writer) touched it since it was read.
    pub unchanged_since: Option<Timestamp>,
}

impl Transition {
    /// A change from `from` to `to` at `at`, with no other field written.
    pub fn new(from: Status, to: Status, at: Timestamp) -> Self {
        Self {
            from,
            to,
            at,
            set: RecordUpdate::default(),
            unchanged_since: None,
        }
    }

    /// The same change, only if the job's `updated_at` is still `seen`.
    pub fn if_unchanged_since(mut self, seen: Timestamp) -> Self {
        self.unchanged_since = Some(seen);
        self
    }

    /// The same change, also writing `set`.
    pub fn with(mut self, set: RecordUpdate) -> Self {
        self.set = set;
        self
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.from.can_move_to(self.to) {
            Ok(())
        } else {
            Err(StoreError::InvalidTransition {
                from: self.from,
                to: self.to,
            })
        }
    }
}

/// Fields a transition may write beside the status; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RecordUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mlflow_experiment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mlflow_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_from: Option<RunId>,
}

impl RecordUpdate {
    /// A failure with its one-line reason and the step that failed.
    pub fn failure(error: impl Into<String>, failed_step: impl Into<String>) -> Self {
        Self {
            error: Some(one_line(&error.into())),
            failed_step: Some(failed_step.into()),
            ..Self::default()
        }
    }

    /// Why a hand-off failed, in one line, noted on a job that stays QUEUED.
    pub fn handoff_failure(reason: impl Into<String>) -> Self {
        Self {
            handoff_error: Some(one_line(&reason.into())),
            ..Self::default()
        }
    }

    fn apply(&self, record: &mut WorkflowRecord) {
        let update = self.clone();
        record.started_at = update.started_at.or(record.started_at.take());
        record.error = update.error.or(record.error.take());
        record.failed_step = update.failed_step.or(record.failed_step.take());
        record.result = update.result.or(record.result.take());
        record.mlflow_experiment_id = update.mlflow_experiment_id.or(record.mlflow_experiment_id.take());
        record.mlflow_run_id = update.mlflow_run_id.or(record.mlflow_run_id.take());
        record.execution_arn = update.execution_arn.or(record.execution_arn.take());
        record.task_arn = update.task_arn.or(record.task_arn.take());
        record.handoff_error = update.handoff_error.or(record.handoff_error.take());
        record.tracking_error = update.tracking_error.or(record.tracking_error.take());
        record.cancelled_by = update.cancelled_by.or(record.cancelled_by.take());
        record.fingerprint = update.fingerprint.or(record.fingerprint.take());
        record.cached_from = update.cached_from.or(record.cached_from.take());
    }
}

/// Errors are kept to one line of bounded length: they are shown in status responses and logs.
fn one_line(text: &str) -> String {
    const LIMIT: usize = 500;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= LIMIT {
        line
    } else {
        line.chars().take(LIMIT).collect::<String>() + "…"
    }
}

/// What came of a transition.
#[derive(Debug, Clone, PartialEq)]
pub enum TransitionOutcome {
    /// The job moved; this is the record as written.
    Moved(Box<WorkflowRecord>),
    /// Someone else moved the job first; it is now in `current`.
    LostRace { current: Status },
    /// There is no job with this run id.
    NotFound,
}

/// One page of a listing and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub records: Vec<WorkflowRecord>,
    pub next: Option<Cursor>,
}

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a job with run id {0} already exists")]
    AlreadyExists(RunId),
    #[error("a sweep with id {0} already exists")]
    SweepExists(crate::sweep::SweepId),
    #[error("a job cannot move from {from} to {to}")]
    InvalidTransition { from: Status, to: Status },
    #[error("the cursor is not one this listing handed out")]
    InvalidCursor,
    #[error("the stored record {key} cannot be read")]
    Corrupt {
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the workflow store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_kept_to_one_bounded_line() {
        let update = RecordUpdate::failure("engine failed:\n  Traceback\n\tboom", "RunBacktest");
        assert_eq!(update.error.as_deref(), Some("engine failed: Traceback boom"));
        let long = RecordUpdate::failure("x".repeat(2000), "RunBacktest");
        assert_eq!(long.error.map(|e| e.chars().count()), Some(501));
    }

    #[test]
    fn transitions_out_of_a_terminal_status_are_refused_before_any_write() {
        let transition = Transition::new(Status::Completed, Status::Failed, Timestamp::now());
        assert!(matches!(transition.check(), Err(StoreError::InvalidTransition { .. })));
    }
}
