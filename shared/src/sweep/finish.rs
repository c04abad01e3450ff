//! FinishSweep, the sweep workflow's last step: once the map has run every child (or failed), the children's
//! records say how the sweep ended. Their leaderboard is written to `sweeps/{id}/leaderboard.json` in the results
//! bucket with the picture beside it (`leaderboard.svg`); MLflow gets a parent run with both as artifacts and every
//! child's run nested under it; and the sweep moves to COMPLETED, or to FAILED saying which children failed and
//! why — by a write that leaves a CANCELLED sweep as it is. MLflow being down does not keep the sweep from ending:
//! the gap is recorded as its `tracking_error`. A walk-forward is written the same way, its windows in place of
//! the leaderboard: each window in-sample against out-of-sample, the out-of-sample trades stitched into one curve
//! (the picture), and their totals and the walk-forward efficiency on the parent run. Children the map never
//! started (an out-of-sample backtest whose hyperopt failed) are FAILED saying why, so none is left waiting.
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
use super::service::{SWEEP_STEP, SweepReport, children, end_pending, report_of};
use super::store::{SweepStore, SweepUpdate};
use super::windows::{Stitched, WindowReport, stitch};
use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::mlflow::{ExperimentTracker, RegistryError, RunEnd};
use crate::objects::ObjectStore;
use crate::report::chain;
use crate::results::{EquityPoint, equity_svg};
use crate::store::{RecordUpdate, WorkflowStore};
use crate::time::Timestamp;
use crate::workflow::transform::read_summary;
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
    let mut children = children(jobs, &sweep).await.map_err(store_down)?;
    if end_unstarted(jobs, &sweep, &children).await.map_err(store_down)? {
        children = super::service::children(jobs, &sweep).await.map_err(store_down)?;
    }
    let report = report_of(sweep.clone(), &children);

    let folder = sweep_folder(id);
    let mut document = json!({"sweep_id": id, "strategy_name": report.strategy_name,
        "strategy_version": report.strategy_version, "runs": report.runs, "progress": report.progress,
        "failures": report.failures});
    let (picture, stitched) = match &sweep.request.plan {
        Plan::Space(space) => {
            document["leaderboard"] = json!(report.leaderboard);
            let title = format!(
                "{} v{} — {} runs ranked by {}",
                report.strategy_name, report.strategy_version, report.runs, report.rank_by
            );
            (sweep_svg(&title, space, &report.leaderboard), None)
        }
        Plan::WalkForward { plan, .. } => {
            let windows = report.windows.clone().unwrap_or_default();
            let curves = out_of_sample_curves(results, &sweep, &windows).await?;
            let stitched = stitch(&windows, &curves);
            document["walk_forward"] = json!(plan);
            document["windows"] = json!(windows);
            document["out_of_sample"] = json!(stitched);
            let title = format!(
                "{} v{} — walk-forward out-of-sample equity, {} windows of {} test days",
                report.strategy_name, report.strategy_version, plan.windows, plan.test_days
            );
            let points: Vec<EquityPoint> = stitched
                .iter()
                .flat_map(|stitched| &stitched.equity)
                .map(|point| EquityPoint {
                    at_ms: point.at_ms,
                    balance: point.balance,
                })
                .collect();
            (equity_svg(&title, &points), stitched)
        }
    };
    let board = serde_json::to_vec_pretty(&document)
        .map_err(|error| StepError::invalid_state("the leaderboard cannot be written", error))?;
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
        match track(
            tracker,
            &sweep,
            &children,
            &report,
            stitched.as_ref(),
            &artifacts,
            status,
        )
        .await
        {
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
    stitched: Option<&Stitched>,
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
    if let Some(stitched) = stitched {
        metrics.insert("out_of_sample_profit_total_pct".to_owned(), stitched.profit_total_pct);
        metrics.insert("out_of_sample_trades".to_owned(), stitched.total_trades as f64);
        if let Some(efficiency) = stitched.efficiency {
            metrics.insert("walk_forward_efficiency".to_owned(), efficiency);
        }
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

/// Fails the children the map never started (still PENDING once it ended), saying why, so that none waits for a
/// workflow that will not start it: a walk-forward's out-of-sample backtest whose in-sample hyperopt did not
/// complete, or a child the map had not reached when it stopped. Answers whether there were any. A CANCELLED
/// sweep's children are left to its cancel, which stopped the map and is cancelling them (a repeated cancel ends
/// any it left): failing them here would race it and turn cancelled children into failed ones.
async fn end_unstarted(
    jobs: &impl WorkflowStore,
    sweep: &SweepRecord,
    children: &[WorkflowRecord],
) -> Result<bool, crate::store::StoreError> {
    if sweep.status == Status::Cancelled {
        return Ok(false);
    }
    let status_of: BTreeMap<RunId, Status> = children.iter().map(|child| (child.run_id, child.status)).collect();
    let ends: Vec<(RunId, Status, RecordUpdate)> = children
        .iter()
        .filter(|child| child.status == Status::Pending)
        .map(|child| {
            let reason = match child.config.parameters_from {
                Some(from) => format!(
                    "not run: its in-sample hyperopt {from} ended {}",
                    status_of.get(&from).copied().unwrap_or(Status::Pending)
                ),
                None => format!("not run: sweep {} ended before its workflow started it", sweep.sweep_id),
            };
            (child.run_id, Status::Failed, RecordUpdate::failure(reason, SWEEP_STEP))
        })
        .collect();
    if ends.is_empty() {
        return Ok(false);
    }
    tracing::warn!(sweep_id = %sweep.sweep_id, children = ends.len(), "children the map never started are FAILED");
    end_pending(jobs, ends).await?;
    Ok(true)
}

/// Each window's out-of-sample closed-trade equity, read from its completed backtest's raw result (None for a
/// window whose backtest did not complete, or whose result cannot be read: the other windows still stitch).
async fn out_of_sample_curves(
    results: &impl ObjectStore,
    sweep: &SweepRecord,
    windows: &[WindowReport],
) -> Result<Vec<Option<Vec<EquityPoint>>>, StepError> {
    let mut curves = Vec::with_capacity(windows.len());
    for window in windows {
        let side = &window.out_of_sample;
        if side.status != Status::Completed {
            curves.push(None);
            continue;
        }
        match read_summary(results, side.run_id, &sweep.strategy_name).await {
            Ok(summary) => curves.push(Some(summary.equity)),
            Err(error) if error.error_type() == ErrorType::TransientDependency => return Err(error),
            Err(error) => {
                tracing::warn!(run_id = %side.run_id, error = %chain(&error), "an out-of-sample result cannot be read");
                curves.push(None);
            }
        }
    }
    Ok(curves)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::objects::MemoryObjects;
    use crate::store::MemoryStore;
    use crate::sweep::record::child_jobs;
    use crate::sweep::record::tests::walk_forward_sweep;
    use crate::sweep::store::MemorySweeps;
    use crate::workflow::fakes::FakeTracker;

    /// A walk-forward whose first hyperopt failed: its out-of-sample backtest was never started, so the step fails it
    /// naming the hyperopt, the sweep fails beyond its tolerance, and the windows are written in place of a
    /// leaderboard, the completed ones in-sample beside out-of-sample.
    #[tokio::test]
    async fn a_window_whose_hyperopt_failed_leaves_no_child_waiting_and_the_windows_are_written() {
        let (sweeps, jobs, results) = (
            MemorySweeps::default(),
            MemoryStore::new(),
            MemoryObjects::new("results"),
        );
        let sweep = walk_forward_sweep();
        sweeps.create(&sweep).await.expect("recorded");
        for (index, mut child) in child_jobs(&sweep, &[]).into_iter().enumerate() {
            match index {
                0 => {
                    child.status = Status::Failed;
                    child.error = Some("no good epoch among the 8".into());
                }
                1 => {}
                even if even % 2 == 0 => {
                    child.status = Status::Completed;
                    child.result = Some(json!({"mode": "hyperopt", "params": {"buy.buy_ema_fast": 9},
                        "metrics": {"profit_total": 0.05, "backtest_days": 15, "sharpe": 2.0}}));
                }
                _ => {
                    child.status = Status::Completed;
                    child.result = Some(json!({"profit_total_pct": 1.0, "backtest_days": 5, "sharpe": 1.0}));
                }
            }
            jobs.create(&child).await.expect("recorded");
        }
        let input = FinishInput {
            sweep_id: sweep.sweep_id,
            error: None,
            execution_status: None,
        };
        let finished = finish_sweep(&sweeps, &jobs, &results, None::<&FakeTracker>, &input)
            .await
            .expect("finished");
        assert_eq!(finished.status, Status::Failed);
        let error = finished.error.expect("why");
        assert!(error.contains("2 of 6 children did not complete"), "{error}");

        let unstarted = jobs.get(sweep.sweep_id.child(1)).await.expect("read").expect("there");
        assert_eq!(unstarted.status, Status::Failed);
        let reason = unstarted.error.expect("a reason");
        assert_eq!(
            reason,
            format!(
                "not run: its in-sample hyperopt {} ended FAILED",
                sweep.sweep_id.child(0)
            )
        );

        let board = results
            .get(&format!("sweeps/{}/{LEADERBOARD_FILE}", sweep.sweep_id))
            .await
            .expect("read")
            .expect("written");
        let board: serde_json::Value = serde_json::from_slice(&board).expect("JSON");
        let windows = board["windows"].as_array().expect("the windows");
        assert_eq!(windows.len(), 3);
        let ratio = windows[1]["ratios"]["profit_per_day_pct"].as_f64().expect("a ratio");
        assert!((ratio - 0.6).abs() < 1e-9, "0.2 %/day out of 0.333 in: {ratio}");
        assert_eq!(
            board["out_of_sample"],
            serde_json::Value::Null,
            "no curve read: the results are not there"
        );
        assert!(board.get("leaderboard").is_none());
    }

    /// A cancelled sweep's end leaves its unstarted children to the cancel that stopped it (which cancels them),
    /// rather than failing them under its feet.
    #[tokio::test]
    async fn a_cancelled_sweeps_unstarted_children_are_left_to_its_cancel() {
        let (sweeps, jobs, results) = (
            MemorySweeps::default(),
            MemoryStore::new(),
            MemoryObjects::new("results"),
        );
        let mut sweep = walk_forward_sweep();
        sweep.status = Status::Cancelled;
        sweeps.create(&sweep).await.expect("recorded");
        for child in child_jobs(&sweep, &[]) {
            jobs.create(&child).await.expect("recorded");
        }
        let input = FinishInput {
            sweep_id: sweep.sweep_id,
            error: None,
            execution_status: Some("ABORTED".into()),
        };
        let finished = finish_sweep(&sweeps, &jobs, &results, None::<&FakeTracker>, &input)
            .await
            .expect("finished");
        assert_eq!(finished.status, Status::Cancelled);
        let children = jobs.get_many(&sweep.child_ids()).await.expect("read");
        assert!(
            children.iter().all(|child| child.status == Status::Pending),
            "{:?}",
            children.iter().map(|child| child.status).collect::<Vec<_>>()
        );
    }
}
