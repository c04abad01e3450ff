//! FinishSweep, the sweep workflow's last step: once the map has run every child (or failed), the children's
//! records say how the sweep ended. Their leaderboard is written to `sweeps/{id}/leaderboard.json` in the results
//! bucket with the picture beside it (`leaderboard.svg`); MLflow gets a parent run with both as artifacts and every
//! child's run nested under it; and the sweep moves to COMPLETED, or to FAILED saying which children failed and
//! why — by a write that leaves a CANCELLED sweep as it is. MLflow being down does not keep the sweep from ending:
//! the gap is recorded as its `tracking_error`.
//!
//! The outcome is judged from the children's records, not only from the map's: more children not COMPLETED than
//! the sweep tolerates fails it even when the map succeeded (a child execution that succeeded without recording
//! its result), and the map's own failure (reading the items, the threshold) fails it with the map's reason.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::picture::sweep_svg;
use super::record::{SweepId, SweepRecord};
use super::request::Plan;
use super::service::{SweepReport, children, report_of};
use super::store::{SweepStore, SweepUpdate};
use crate::backtest::{Status, WorkflowRecord};
use crate::mlflow::{ExperimentTracker, RegistryError, RunEnd};
use crate::objects::ObjectStore;
use crate::report::chain;
use crate::store::WorkflowStore;
use crate::time::Timestamp;
use crate::workflow::{ErrorType, Failure, StepError};

/// The leaderboard's and the picture's names under `sweeps/{id}/` in the results bucket.
pub const LEADERBOARD_FILE: &str = "leaderboard.json";
pub const PICTURE_FILE: &str = "leaderboard.svg";
/// The errors this step raises.
pub const RAISES: &[ErrorType] = &[ErrorType::InvalidInput, ErrorType::TransientDependency];

/// How many children's MLflow runs are nested under the parent at once.
const NESTING: usize = 16;
/// How many failed children a FAILED sweep's reason names.
const NAMED_FAILURES: usize = 3;

/// What the step reads from the sweep workflow's state.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FinishInput {
    pub sweep_id: SweepId,
    /// What the map's Catch put there, when the map failed.
    #[serde(default)]
    pub error: Option<Failure>,
    /// How the sweep's execution ended, when the rule on ended executions invokes the step (`ABORTED`, `TIMED_OUT`,
    /// `FAILED`): the sweep fails with it unless it already ended.
    #[serde(default)]
    pub execution_status: Option<String>,
}

/// What the step adds to the state (`$.finished`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finished {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub leaderboard_uri: String,
    pub picture_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_run_id: Option<String>,
    /// The MLflow parent run, when MLflow took it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mlflow_run_id: Option<String>,
}

/// The folder of a sweep's results.
pub fn sweep_folder(sweep_id: SweepId) -> String {
    format!("sweeps/{sweep_id}")
}

/// Ranks the children of `input`'s sweep into its leaderboard and picture in `results`, tracks the sweep in MLflow
/// (`tracker`, when there is one) as a parent run with the children's runs nested under it, and ends the sweep.
pub async fn finish_sweep(
    sweeps: &impl SweepStore,
    jobs: &impl WorkflowStore,
    results: &impl ObjectStore,
    tracker: Option<&impl ExperimentTracker>,
    input: &FinishInput,
) -> Result<Finished, StepError> {
    let id = input.sweep_id;
    let store_down = |error| StepError::transient("DynamoDB", error);
    let sweep = sweeps
        .get(id)
        .await
        .map_err(store_down)?
        .ok_or_else(|| StepError::invalid_input(format!("no sweep with sweep_id {id}")))?;
    let children = children(jobs, &sweep).await.map_err(store_down)?;
    let report = report_of(sweep.clone(), &children);
    let space = match &sweep.request.plan {
        Plan::Space(space) => space,
        Plan::WalkForward { .. } => {
            return Err(StepError::invalid_input(
                "walk-forward sweeps are not finished by this step yet",
            ));
        }
    };

    let folder = sweep_folder(id);
    let document = json!({"sweep_id": id, "strategy_name": report.strategy_name,
        "strategy_version": report.strategy_version, "runs": report.runs, "progress": report.progress,
        "leaderboard": report.leaderboard, "failures": report.failures});
    let board = serde_json::to_vec_pretty(&document)
        .map_err(|error| StepError::invalid_state("the leaderboard cannot be written", error))?;
    let title = format!(
        "{} v{} — {} runs ranked by {}",
        report.strategy_name, report.strategy_version, report.runs, report.rank_by
    );
    let picture = sweep_svg(&title, space, &report.leaderboard);
    let write_down = |error| StepError::transient("writing the leaderboard to S3", error);
    results
        .put(&format!("{folder}/{LEADERBOARD_FILE}"), board.clone())
        .await
        .map_err(write_down)?;
    results
        .put(&format!("{folder}/{PICTURE_FILE}"), picture.clone().into_bytes())
        .await
        .map_err(write_down)?;

    let ended_early = input.execution_status.as_deref().map(Failure::ended_execution);
    let outcome = judge(&report, input.error.as_ref().or(ended_early.as_ref()));
    let (status, error) = match &outcome {
        Ok(()) => (Status::Completed, None),
        Err(reason) => (Status::Failed, Some(reason.clone())),
    };
    let mut set = SweepUpdate {
        error: error.clone(),
        ..SweepUpdate::default()
    };
    if let Some(tracker) = tracker {
        let artifacts = Artifacts { board, picture };
        match track(tracker, &sweep, &children, &report, &artifacts, status).await {
            Ok(run_id) => set.mlflow_run_id = Some(run_id),
            Err(error) => {
                tracing::warn!(sweep_id = %id, error = %chain(&error), "MLflow did not take the sweep's parent run");
                set.tracking_error = Some(format!("MLflow did not take the sweep's parent run: {}", chain(&error)));
            }
        }
    }
    let ended = sweeps
        .transition(id, &[Status::Pending, Status::Running], status, Timestamp::now(), &set)
        .await
        .map_err(store_down)?;
    let (status, error) = match ended {
        Some(ended) => (ended.status, ended.error),
        // Cancelled while its children ran (or finished by an earlier attempt of this step): it stays as it is.
        None => (sweep.status, sweep.error),
    };
    tracing::info!(sweep_id = %id, %status, completed = report.progress.completed, failed = report.progress.failed,
        "sweep finished");
    Ok(Finished {
        status,
        error,
        leaderboard_uri: format!("s3://{}/{folder}/{LEADERBOARD_FILE}", results.bucket()),
        picture_uri: format!("s3://{}/{folder}/{PICTURE_FILE}", results.bucket()),
        best_run_id: report.leaderboard.best.clone(),
        mlflow_run_id: set.mlflow_run_id,
    })
}

/// What the parent run keeps as artifacts.
struct Artifacts {
    board: Vec<u8>,
    picture: String,
}

/// The sweep's MLflow parent run (the one recorded on the sweep, else a new one in the children's experiment):
/// the sweep's settings as params, its counts and best value as metrics, the leaderboard and picture as artifacts,
/// and every child's run nested under it (`mlflow.parentRunId`, as MLflow nests runs). Answers its run id.
async fn track(
    tracker: &impl ExperimentTracker,
    sweep: &SweepRecord,
    children: &[WorkflowRecord],
    report: &SweepReport,
    artifacts: &Artifacts,
    status: Status,
) -> Result<String, RegistryError> {
    let known = match &sweep.mlflow_run_id {
        Some(run_id) => tracker.find_run(run_id).await?,
        None => None,
    };
    let run = match known {
        Some(run) => run,
        None => {
            let tags = BTreeMap::from([
                ("tradai.kind".to_owned(), "sweep".to_owned()),
                ("tradai.sweep_id".to_owned(), sweep.sweep_id.to_string()),
                ("tradai.strategy".to_owned(), sweep.strategy_name.clone()),
                ("tradai.strategy_version".to_owned(), sweep.strategy_version.to_string()),
            ]);
            let name = format!("sweep-{}", sweep.sweep_id);
            tracker
                .start_run(&sweep.request.base.experiment_name, &name, &tags)
                .await?
        }
    };
    let request = &sweep.request;
    let space = match &request.plan {
        Plan::Space(space) => serde_json::to_string(space).unwrap_or_default(),
        Plan::WalkForward { plan, .. } => serde_json::to_string(plan).unwrap_or_default(),
    };
    let params = BTreeMap::from([
        ("space".to_owned(), space),
        ("runs".to_owned(), sweep.runs.to_string()),
        ("rank_by".to_owned(), request.rank_by.metric().to_owned()),
        ("max_concurrency".to_owned(), request.max_concurrency.to_string()),
        (
            "tolerated_failure_percentage".to_owned(),
            request.tolerated_failure_percentage.to_string(),
        ),
        ("strategy_version".to_owned(), sweep.strategy_version.to_string()),
    ]);
    let progress = &report.progress;
    let mut metrics = BTreeMap::from([
        ("children_completed".to_owned(), progress.completed as f64),
        ("children_failed".to_owned(), progress.failed as f64),
        ("children_cancelled".to_owned(), progress.cancelled as f64),
    ]);
    if let Some(best) = report.leaderboard.rows.first().and_then(|row| row.value) {
        metrics.insert(format!("best_{}", request.rank_by.metric()), best);
    }
    tracker.log_batch(&run, &params, &metrics).await?;
    tracker
        .log_artifact(&run, &format!("sweep/{LEADERBOARD_FILE}"), artifacts.board.clone())
        .await?;
    tracker
        .log_artifact(
            &run,
            &format!("sweep/{PICTURE_FILE}"),
            artifacts.picture.clone().into_bytes(),
        )
        .await?;
    // Up to a thousand children, NESTING at a time; the first failure is answered.
    let parent = run.run_id.clone();
    let nested: Vec<Result<(), RegistryError>> = futures::stream::iter(
        children
            .iter()
            .filter_map(|child| child.mlflow_run_id.clone())
            .map(|child_run| {
                let parent = parent.clone();
                async move { tracker.set_tag(&child_run, "mlflow.parentRunId", &parent).await }
            }),
    )
    .buffer_unordered(NESTING)
    .collect()
    .await;
    nested.into_iter().collect::<Result<Vec<()>, _>>()?;
    let end = if status == Status::Completed {
        RunEnd::Finished
    } else {
        RunEnd::Failed
    };
    tracker.end_run(&run, end).await?;
    Ok(run.run_id)
}

/// Whether the sweep succeeded, else why not, in one line.
fn judge(report: &SweepReport, map_failure: Option<&Failure>) -> Result<(), String> {
    let unfinished = report.runs - report.progress.completed;
    let share = if report.runs == 0 {
        0.0
    } else {
        unfinished as f64 * 100.0 / report.runs as f64
    };
    let named: Vec<String> = report
        .failures
        .iter()
        .take(NAMED_FAILURES)
        .map(|failure| {
            format!(
                "child {} ({}) failed in {}: {}",
                failure["index"],
                failure["run_id"].as_str().unwrap_or_default(),
                failure["failed_step"].as_str().unwrap_or("an unknown step"),
                failure["error"].as_str().unwrap_or("no reason recorded")
            )
        })
        .collect();
    let children = || {
        let mut text = format!(
            "{unfinished} of {} children did not complete ({share:.1}%), more than the tolerated {}%",
            report.runs, report.tolerated_failure_percentage
        );
        if !named.is_empty() {
            text.push_str(": ");
            text.push_str(&named.join("; "));
        }
        text
    };
    match map_failure {
        Some(failure) if failure.error == "States.ExceedToleratedFailureThreshold" => Err(children()),
        Some(failure) => Err(format!(
            "the sweep's map failed with {}: {}",
            failure.error,
            failure.cause.lines().next().unwrap_or_default()
        )),
        None if share > report.tolerated_failure_percentage => Err(children()),
        None => Ok(()),
    }
}
