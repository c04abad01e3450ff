//! The job's record, as the container moves it: claimed (PENDING or QUEUED → RUNNING, conditionally, so a second
//! start does nothing), completed (or annotated for the workflow's next steps), or failed with a one-line reason.

use tradai::backtest::{RunId, Status};
use tradai::report::chain;
use tradai::store::{RecordUpdate, Transition, TransitionOutcome, WorkflowStore};
use tradai::time::Timestamp;

use crate::failure::RunFailure;
use crate::publish::Published;
use crate::result::Produced;
use crate::{Outcome, STEP};

/// Claims the job: PENDING or QUEUED → RUNNING. `Err(status)` when it was not waiting to run (or another start won).
pub async fn claim(store: &impl WorkflowStore, run_id: RunId) -> Result<Result<(), Option<Status>>, RunFailure> {
    let Some(record) = store.get(run_id).await.map_err(RunFailure::Store)? else {
        return Ok(Err(None));
    };
    if !matches!(record.status, Status::Pending | Status::Queued) {
        return Ok(Err(Some(record.status)));
    }
    let start = Transition::new(record.status, Status::Running, Timestamp::now());
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
    run_id: RunId,
    workflow_managed: bool,
    produced: &Produced,
    published: &Published,
) -> Result<(), RunFailure> {
    let tracked = published.tracked.as_ref();
    let update = RecordUpdate {
        result: Some(produced.record.clone()),
        mlflow_experiment_id: tracked.map(|run| run.experiment_id.clone()),
        mlflow_run_id: tracked.map(|run| run.run_id.clone()),
        tracking_error: published.tracking_error.clone(),
        ..RecordUpdate::default()
    };
    if workflow_managed {
        // The workflow's next steps summarise and complete the job; it only needs to know the MLflow run.
        let annotation = RecordUpdate { result: None, ..update };
        store.annotate(run_id, &annotation).await.map_err(RunFailure::Record)?;
        return Ok(());
    }
    let done = Transition::new(Status::Running, Status::Completed, Timestamp::now()).with(update);
    match store.transition(run_id, &done).await.map_err(RunFailure::Record)? {
        TransitionOutcome::Moved(_) => {}
        other => tracing::warn!(%run_id, outcome = ?other, "the job moved before it could complete"),
    }
    Ok(())
}

/// Records FAILED on a job that never started running.
pub async fn fail_waiting_job(store: &impl WorkflowStore, run_id: RunId, failure: RunFailure) -> Outcome {
    let reason = chain(&failure);
    if let Ok(Some(record)) = store.get(run_id).await
        && matches!(record.status, Status::Pending | Status::Queued)
    {
        let failed =
            Transition::new(record.status, Status::Failed, Timestamp::now()).with(RecordUpdate::failure(&reason, STEP));
        if let Err(error) = store.transition(run_id, &failed).await {
            tracing::error!(%run_id, error = %chain(&error), "could not record the failure");
        }
    }
    tracing::error!(%run_id, %reason, "backtest failed before it started");
    Outcome::Failed {
        reason,
        code: failure.exit_code(),
    }
}

/// Records FAILED on the running job (unless recording is what failed); answers the outcome to exit with.
pub async fn fail_running_job(store: &impl WorkflowStore, run_id: RunId, failure: RunFailure) -> Outcome {
    let reason = chain(&failure);
    tracing::error!(%run_id, %reason, "backtest failed");
    if failure.is_recorded() {
        let failed = Transition::new(Status::Running, Status::Failed, Timestamp::now())
            .with(RecordUpdate::failure(&reason, STEP));
        match store.transition(run_id, &failed).await {
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
