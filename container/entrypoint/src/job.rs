//! The job's record, as the container moves it: claimed (PENDING or QUEUED → RUNNING, conditionally, so a second
//! start does nothing), completed (or annotated for the workflow's next steps), failed with a one-line reason, or
//! released after an interruption. The writes that end a run are retried while the store is unavailable: a run
//! that finished must not be lost to a DynamoDB hiccup.

use std::future::Future;
use std::time::Duration;

use tradai::backtest::{RunId, Status};
use tradai::report::chain;
use tradai::store::{RecordUpdate, StoreError, Transition, TransitionOutcome, WorkflowStore};
use tradai::time::Timestamp;

use crate::failure::RunFailure;
use crate::publish::Published;
use crate::result::Produced;
use crate::settings::EntrypointSettings;
use crate::{Outcome, STEP};

/// The first pause before a write is tried again; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// `write`'s answer, trying it again with backoff (0.5 s doubling to 30 s) while the store is unavailable, for up to
/// `budget`; the last error when the budget runs out. Every write retried here is conditional, so a retry of one
/// that landed (its answer lost) finds the job moved and changes nothing.
pub async fn persistently<T, W, F>(budget: Duration, mut write: W) -> Result<T, StoreError>
where
    W: FnMut() -> F,
    F: Future<Output = Result<T, StoreError>>,
{
    let deadline = tokio::time::Instant::now() + budget;
    let mut pause = FIRST_PAUSE;
    loop {
        match write().await {
            Err(StoreError::Unavailable(error)) if tokio::time::Instant::now() + pause < deadline => {
                tracing::warn!(error = %chain(error.as_ref()), retry_in = ?pause, "the job table is unavailable");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
            answer => return answer,
        }
    }
}

/// Claims the job: PENDING or QUEUED → RUNNING. `Err(status)` when it was not waiting to run (or another start won).
pub async fn claim(store: &impl WorkflowStore, run_id: RunId) -> Result<Result<(), Option<Status>>, RunFailure> {
    let Some(record) = store.get(run_id).await.map_err(RunFailure::Store)? else {
        return Ok(Err(None));
    };
    if !matches!(record.status, Status::Pending | Status::Queued) {
        return Ok(Err(Some(record.status)));
    }
    let now = Timestamp::now();
    let start = Transition::new(record.status, Status::Running, now).with(RecordUpdate {
        started_at: Some(now),
        ..RecordUpdate::default()
    });
    match store.transition(run_id, &start).await.map_err(RunFailure::Store)? {
        TransitionOutcome::Moved(_) => Ok(Ok(())),
        TransitionOutcome::LostRace { current } => Ok(Err(Some(current))),
        TransitionOutcome::NotFound => Ok(Err(None)),
    }
}

/// Records the run's result: COMPLETED with it (and what MLflow did not take, if anything), or — when the workflow
/// writes the final status — only the MLflow run, for the steps after the container.
pub async fn record_completion(
    store: &impl WorkflowStore,
    settings: &EntrypointSettings,
    produced: &Produced,
    published: &Published,
) -> Result<(), RunFailure> {
    let run_id = settings.run_id;
    let tracked = published.tracked.as_ref();
    let update = RecordUpdate {
        result: Some(produced.record.clone()),
        mlflow_experiment_id: tracked.map(|run| run.experiment_id.clone()),
        mlflow_run_id: tracked.map(|run| run.run_id.clone()),
        tracking_error: published.tracking_error.clone(),
        ..RecordUpdate::default()
    };
    if settings.workflow_managed {
        // The workflow's next steps summarise and complete the job; it only needs to know the MLflow run.
        let annotation = RecordUpdate { result: None, ..update };
        persistently(settings.record_retry, || store.annotate(run_id, &annotation))
            .await
            .map_err(RunFailure::Record)?;
        return Ok(());
    }
    let done = Transition::new(Status::Running, Status::Completed, Timestamp::now()).with(update);
    let outcome = persistently(settings.record_retry, || store.transition(run_id, &done))
        .await
        .map_err(RunFailure::Record)?;
    match outcome {
        TransitionOutcome::Moved(_) => {}
        other => tracing::warn!(%run_id, outcome = ?other, "the job moved before it could complete"),
    }
    Ok(())
}

/// Records FAILED on a job that never started running.
pub async fn fail_waiting_job(
    store: &impl WorkflowStore,
    run_id: RunId,
    failure: RunFailure,
    budget: Duration,
) -> Outcome {
    let reason = chain(&failure);
    fail_if_waiting(store, run_id, &reason, budget).await;
    tracing::error!(%run_id, %reason, "backtest failed before it started");
    Outcome::Failed {
        reason,
        code: failure.exit_code(),
    }
}

/// Moves job `run_id` to FAILED with `reason` if it is still waiting to run (PENDING or QUEUED), each write tried
/// for `budget`; answers the status it has then, as far as it could be read.
async fn fail_if_waiting(store: &impl WorkflowStore, run_id: RunId, reason: &str, budget: Duration) -> Option<Status> {
    let record = match persistently(budget, || store.get(run_id)).await {
        Ok(record) => record?,
        Err(error) => {
            tracing::error!(%run_id, error = %chain(&error), "could not read the job");
            return None;
        }
    };
    if !matches!(record.status, Status::Pending | Status::Queued) {
        return Some(record.status);
    }
    let failed =
        Transition::new(record.status, Status::Failed, Timestamp::now()).with(RecordUpdate::failure(reason, STEP));
    match persistently(budget, || store.transition(run_id, &failed)).await {
        Ok(TransitionOutcome::Moved(_)) => Some(Status::Failed),
        Ok(TransitionOutcome::LostRace { current }) => Some(current),
        Ok(TransitionOutcome::NotFound) => None,
        Err(error) => {
            tracing::error!(%run_id, error = %chain(&error), "could not record the failure");
            Some(record.status)
        }
    }
}

/// Records FAILED on the running job (unless recording is what failed); answers the outcome to exit with.
pub async fn fail_running_job(
    store: &impl WorkflowStore,
    run_id: RunId,
    failure: RunFailure,
    budget: Duration,
) -> Outcome {
    let reason = chain(&failure);
    tracing::error!(%run_id, %reason, "backtest failed");
    if failure.is_recorded() {
        let failed = Transition::new(Status::Running, Status::Failed, Timestamp::now())
            .with(RecordUpdate::failure(&reason, STEP));
        match persistently(budget, || store.transition(run_id, &failed)).await {
            Ok(TransitionOutcome::Moved(_)) => {}
            Ok(other) => tracing::warn!(%run_id, outcome = ?other, "the job had moved already"),
            Err(error) => tracing::error!(%run_id, error = %chain(&error), "could not record the failure"),
        }
    }
    Outcome::Failed {
        reason,
        code: failure.exit_code(),
    }
}

/// Records the interruption, unless the job was cancelled (then it stays CANCELLED). A run the workflow manages is
/// released (RUNNING → QUEUED): the workflow decides what comes next — a re-run on regular Fargate after a Spot
/// reclaim claims it again, its failure path fails it. A run nothing else manages is FAILED `interrupted`.
pub async fn interrupted(store: &impl WorkflowStore, run_id: RunId, workflow_managed: bool) -> Outcome {
    let ended = if workflow_managed {
        Transition::new(Status::Running, Status::Queued, Timestamp::now())
    } else {
        Transition::new(Status::Running, Status::Failed, Timestamp::now())
            .with(RecordUpdate::failure("interrupted", STEP))
    };
    match store.transition(run_id, &ended).await {
        Ok(TransitionOutcome::LostRace {
            current: Status::Cancelled,
        }) => Outcome::Cancelled,
        Ok(_) => Outcome::Interrupted,
        Err(error) => {
            tracing::error!(%run_id, error = %chain(&error), "could not record the interruption");
            Outcome::Interrupted
        }
    }
}

/// Records an interruption that came before the job was claimed: a run the workflow manages leaves it waiting
/// (QUEUED) for the workflow to decide; any other is FAILED `interrupted`, unless it was cancelled.
pub async fn interrupted_waiting(store: &impl WorkflowStore, run_id: RunId, workflow_managed: bool) -> Outcome {
    // One try each: the process is being stopped.
    let status = if workflow_managed {
        match store.get(run_id).await {
            Ok(record) => record.map(|record| record.status),
            Err(error) => {
                tracing::error!(%run_id, error = %chain(&error), "could not read the interrupted job");
                None
            }
        }
    } else {
        fail_if_waiting(store, run_id, "interrupted", Duration::ZERO).await
    };
    if status == Some(Status::Cancelled) {
        Outcome::Cancelled
    } else {
        Outcome::Interrupted
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn unavailable() -> StoreError {
        StoreError::Unavailable("throttled".into())
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_is_tried_again_while_the_store_is_unavailable() {
        let calls = AtomicUsize::new(0);
        let started = tokio::time::Instant::now();
        let answer = persistently(Duration::from_secs(300), || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=3 => Err(unavailable()),
                _ => Ok("written"),
            }
        })
        .await;
        assert_eq!(answer.expect("written after four failures"), "written");
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        // 0.5 + 1 + 2 + 4 s of backoff.
        assert_eq!(started.elapsed(), Duration::from_millis(7500));
    }

    #[tokio::test(start_paused = true)]
    async fn it_gives_up_when_the_budget_runs_out_and_never_retries_a_refusal() {
        let calls = AtomicUsize::new(0);
        let started = tokio::time::Instant::now();
        let answer: Result<(), _> = persistently(Duration::from_secs(120), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(unavailable())
        })
        .await;
        assert!(matches!(answer, Err(StoreError::Unavailable(_))));
        assert!(started.elapsed() <= Duration::from_secs(120), "{:?}", started.elapsed());
        // 0.5, 1, 2, 4, 8, 16, 30, 30 s: the ninth pause would pass the budget.
        assert_eq!(calls.load(Ordering::SeqCst), 9);

        let refused = AtomicUsize::new(0);
        let answer: Result<(), _> = persistently(Duration::from_secs(120), || async {
            refused.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::InvalidCursor)
        })
        .await;
        assert!(matches!(answer, Err(StoreError::InvalidCursor)));
        assert_eq!(refused.load(Ordering::SeqCst), 1);
    }
}
