//! Cancelling a job: record CANCELLED first (conditional on the status it leaves), then stop what runs it. In that
//! order a container that is interrupted by the stop finds the job already CANCELLED and leaves it so.

use serde::Serialize;

use crate::backtest::{RunId, Status};
use crate::executor::{StopError, Stopper};
use crate::store::{RecordUpdate, StoreError, Transition, TransitionOutcome, WorkflowStore};
use crate::time::Timestamp;

/// How often a cancel re-reads a job that moved under it before giving up.
const ATTEMPTS: usize = 3;

/// A job that is now CANCELLED.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancelled {
    pub run_id: RunId,
    pub status: Status,
    /// The status the job had when the cancel arrived (CANCELLED when it was cancelled before).
    pub previous_status: Status,
    /// Whether a running execution or task was asked to stop.
    pub stop_requested: bool,
    /// Who cancelled it (the first caller to, when it was cancelled before), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
}

/// Why a job was not cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no backtest with run_id {0}")]
    NotFound(RunId),
    #[error("backtest {run_id} already finished as {status}; only unfinished backtests can be cancelled")]
    Finished { run_id: RunId, status: Status },
    #[error("backtest {0} kept changing status while being cancelled")]
    Contended(RunId),
    #[error("the workflow store could not be used")]
    Store(#[from] StoreError),
    #[error("backtest {run_id} is recorded CANCELLED, but what runs it could not be stopped; cancel again to retry")]
    Stop {
        run_id: RunId,
        #[source]
        source: StopError,
    },
}

/// Cancels job `run_id` on behalf of `caller`, who is recorded as `cancelled_by`. Cancelling a CANCELLED job again
/// repeats the stop request and succeeds; the first canceller stays on record.
pub async fn cancel(
    store: &impl WorkflowStore,
    stopper: &impl Stopper,
    run_id: RunId,
    caller: Option<String>,
) -> Result<Cancelled, CancelError> {
    for _ in 0..ATTEMPTS {
        let record = store.get(run_id).await?.ok_or(CancelError::NotFound(run_id))?;
        let previous_status = record.status;
        let record = match previous_status {
            Status::Completed | Status::Failed => {
                return Err(CancelError::Finished {
                    run_id,
                    status: previous_status,
                });
            }
            Status::Cancelled => record,
            Status::Pending | Status::Queued | Status::Running => {
                let transition =
                    Transition::new(previous_status, Status::Cancelled, Timestamp::now()).with(RecordUpdate {
                        cancelled_by: caller.clone(),
                        ..RecordUpdate::default()
                    });
                match store.transition(run_id, &transition).await? {
                    TransitionOutcome::Moved(record) => *record,
                    TransitionOutcome::LostRace { .. } => continue,
                    TransitionOutcome::NotFound => return Err(CancelError::NotFound(run_id)),
                }
            }
        };
        let by = record.cancelled_by.as_deref().unwrap_or("its owner");
        let stop_requested = stopper
            .stop(&record, &format!("backtest {run_id} cancelled by {by}"))
            .await
            .map_err(|source| CancelError::Stop { run_id, source })?;
        tracing::info!(%run_id, %previous_status, stop_requested, "backtest cancelled");
        return Ok(Cancelled {
            run_id,
            status: Status::Cancelled,
            previous_status,
            stop_requested,
            cancelled_by: record.cancelled_by,
        });
    }
    Err(CancelError::Contended(run_id))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::backtest::{BacktestRequest, WorkflowRecord};
    use crate::store::MemoryStore;

    /// Remembers what it was asked to stop.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<RunId>>);

    impl Stopper for Recorder {
        async fn stop(&self, record: &WorkflowRecord, _reason: &str) -> Result<bool, StopError> {
            let known = record.execution_arn.is_some() || record.task_arn.is_some();
            if known {
                self.0.lock().expect("lock").push(record.run_id);
            }
            Ok(known)
        }
    }

    async fn job(store: &MemoryStore, status: Status, execution: bool) -> RunId {
        let body = json!({"strategy_name": "S", "strategy_version": 1, "config": {"timeframe": "1h",
            "symbols": ["BTC/USDT"], "start_date": "2024-01-01", "end_date": "2024-02-01"}});
        let request = BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("valid");
        let mut record = WorkflowRecord::new(RunId::new(), request, status, Timestamp::now());
        if execution {
            record.execution_arn = Some("arn:aws:states:us-east-1:123456789012:execution:tradai-backtest:x".into());
        }
        store.create(&record).await.expect("created");
        record.run_id
    }

    #[tokio::test]
    async fn unfinished_jobs_become_cancelled_and_running_ones_are_stopped() {
        let store = MemoryStore::new();
        let stopper = Recorder::default();
        for (status, execution) in [
            (Status::Pending, false),
            (Status::Queued, false),
            (Status::Running, true),
        ] {
            let run_id = job(&store, status, execution).await;
            let cancelled = cancel(&store, &stopper, run_id, None).await.expect("cancelled");
            assert_eq!(
                (cancelled.previous_status, cancelled.stop_requested),
                (status, execution)
            );
            assert_eq!(
                store.get(run_id).await.expect("read").expect("stored").status,
                Status::Cancelled
            );
        }
        assert_eq!(stopper.0.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn finished_jobs_are_refused_and_unknown_ones_not_found() {
        let store = MemoryStore::new();
        for status in [Status::Completed, Status::Failed] {
            let run_id = job(&store, status, false).await;
            assert!(matches!(
                cancel(&store, &Recorder::default(), run_id, None).await,
                Err(CancelError::Finished { .. })
            ));
            assert_eq!(store.get(run_id).await.expect("read").expect("stored").status, status);
        }
        let unknown = RunId::new();
        assert!(matches!(
            cancel(&store, &Recorder::default(), unknown, None).await,
            Err(CancelError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn cancelling_twice_repeats_the_stop_and_succeeds() {
        let store = MemoryStore::new();
        let stopper = Recorder::default();
        let run_id = job(&store, Status::Running, true).await;
        cancel(&store, &stopper, run_id, None).await.expect("first");
        let again = cancel(&store, &stopper, run_id, None).await.expect("second");
        assert_eq!(again.previous_status, Status::Cancelled);
        assert_eq!(stopper.0.lock().expect("lock").len(), 2);
    }

    #[tokio::test]
    async fn the_first_canceller_is_recorded_and_kept() {
        let store = MemoryStore::new();
        let run_id = job(&store, Status::Running, true).await;
        let ada = Some("arn:aws:iam::123456789012:user/ada".to_owned());
        let first = cancel(&store, &Recorder::default(), run_id, ada.clone())
            .await
            .expect("first");
        assert_eq!(first.cancelled_by, ada);
        let bob = Some("arn:aws:iam::123456789012:user/bob".to_owned());
        let again = cancel(&store, &Recorder::default(), run_id, bob).await.expect("again");
        assert_eq!(again.cancelled_by, ada);
        let record = store.get(run_id).await.expect("read").expect("stored");
        assert_eq!(record.cancelled_by, ada);
        assert_eq!(crate::jobs::StatusReport::new(record, None).cancelled_by, ada);
    }
}
