//! TransformResults: reads the engine's raw result from `results/{run_id}/` (the file Freqtrade's
//! `.last_result.json` names), computes the summary, writes `summary.json`, `equity.svg` and `pairs.csv` beside it
//! and as artifacts of the run's MLflow run (with the run's `manifest.json`), records the summary on the job and
//! moves it RUNNING → COMPLETED.
//! Repeating the step after it completed the job succeeds again (Step Functions may retry a step that did its work).

use serde::Serialize;

use super::state::RunRef;
use super::{ErrorType, StepError};
use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::mlflow::{ExperimentTracker, RegistryError};
use crate::objects::{ObjectError, ObjectStore};
use crate::results::{
    BEST_EPOCH_FILE, CHART_FILE, LAST_RESULT, PAIRS_FILE, ResultError, SUMMARY_FILE, Summary, equity_svg,
    latest_backtest, parse_result, results_folder, summarize,
};
use crate::run_manifest::{MANIFEST_FILE, manifest_key};
use crate::store::{RecordUpdate, StoreError, Transition, TransitionOutcome, WorkflowStore};
use crate::time::Timestamp;

/// The summary as the job records it: the numbers, and where the files are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedSummary {
    #[serde(flatten)]
    pub summary: Summary,
    pub summary_uri: String,
    pub equity_chart_uri: String,
}

/// The per-pair table as CSV, best pair first, for a spreadsheet or MLflow's artifact view.
pub fn pairs_csv(summary: &Summary) -> String {
    let mut csv = String::from("pair,trades,wins,losses,win_rate,profit_abs,profit_pct,avg_trade_duration_minutes\n");
    for pair in &summary.per_pair {
        csv.push_str(&format!(
            "{},{},{},{},{:.4},{:.8},{:.4},{:.1}\n",
            pair.pair,
            pair.trades,
            pair.wins,
            pair.losses,
            pair.win_rate,
            pair.profit_abs,
            pair.profit_pct,
            pair.avg_trade_duration_minutes
        ));
    }
    csv
}

/// What the step adds to the state: a backtest's summary, or a hyperopt's best epoch.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Transformed {
    Backtest { summary: Box<RecordedSummary> },
    Hyperopt { best: serde_json::Value },
}

impl Transformed {
    /// The backtest's summary (none for a hyperopt).
    pub fn summary(&self) -> Option<&RecordedSummary> {
        match self {
            Self::Backtest { summary } => Some(summary),
            Self::Hyperopt { .. } => None,
        }
    }
}

/// The errors this step raises.
pub const RAISES: &[ErrorType] = &[
    ErrorType::MissingResult,
    ErrorType::InvalidResult,
    ErrorType::JobEnded,
    ErrorType::InvalidInput,
    ErrorType::TransientDependency,
];

/// Summarises run `run`'s result in `results` (the results bucket) and completes its job in `store`; `tracker`,
/// when MLflow is configured, gets the summary and chart as artifacts of the job's MLflow run.
pub async fn transform_results<T: ExperimentTracker>(
    results: &impl ObjectStore,
    store: &impl WorkflowStore,
    tracker: Option<&T>,
    run: &RunRef,
) -> Result<Transformed, StepError> {
    let run_id = run.run_id;
    let store_down = |error: StoreError| StepError::transient("the workflow store", error);
    let record = store
        .get(run_id)
        .await
        .map_err(store_down)?
        .ok_or_else(|| StepError::invalid_input(format!("no job with run_id {run_id}")))?;
    if record.status != Status::Running && record.status != Status::Completed {
        return Err(StepError::JobEnded(format!(
            "the job is {}, not RUNNING",
            record.status
        )));
    }

    let folder = results_folder(run_id);
    let s3_down = |error: ObjectError| StepError::transient("the results bucket", error);
    if record.config.hyperopt.is_some() {
        return record_best_epoch(results, store, &record).await;
    }
    let summary = read_summary(results, run_id, &record.strategy_name).await?;

    let chart = equity_svg(
        &format!(
            "{} v{} — equity, run {run_id}",
            record.strategy_name, record.strategy_version
        ),
        &summary.equity,
    );
    let summary_bytes = serde_json::to_vec_pretty(&summary)
        .map_err(|error| StepError::invalid_state("the summary cannot be written", error))?;
    let pairs_csv = pairs_csv(&summary).into_bytes();
    for (file, bytes) in [
        (SUMMARY_FILE, summary_bytes.clone()),
        (CHART_FILE, chart.clone().into_bytes()),
        (PAIRS_FILE, pairs_csv.clone()),
    ] {
        results.put(&format!("{folder}/{file}"), bytes).await.map_err(s3_down)?;
    }
    if let (Some(tracker), Some(mlflow_run)) = (tracker, &record.mlflow_run_id) {
        let mlflow_down = |error: RegistryError| StepError::transient("MLflow", error);
        let tracked = tracker
            .find_run(mlflow_run)
            .await
            .map_err(mlflow_down)?
            .ok_or_else(|| StepError::MissingResult(format!("the MLflow run {mlflow_run} does not exist")))?;
        tracker
            .log_artifact(&tracked, &format!("summary/{SUMMARY_FILE}"), summary_bytes)
            .await
            .map_err(mlflow_down)?;
        tracker
            .log_artifact(&tracked, &format!("summary/{CHART_FILE}"), chart.into_bytes())
            .await
            .map_err(mlflow_down)?;
        tracker
            .log_artifact(&tracked, &format!("summary/{PAIRS_FILE}"), pairs_csv)
            .await
            .map_err(mlflow_down)?;
        // What produced the result, beside it (a run launched without the workflow has no manifest).
        if let Some(manifest) = results.get(&manifest_key(run_id)).await.map_err(s3_down)? {
            tracker
                .log_artifact(&tracked, MANIFEST_FILE, manifest)
                .await
                .map_err(mlflow_down)?;
        }
    }

    let recorded = RecordedSummary {
        summary_uri: format!("s3://{}/{folder}/{SUMMARY_FILE}", results.bucket()),
        equity_chart_uri: format!("s3://{}/{folder}/{CHART_FILE}", results.bucket()),
        summary,
    };
    let as_recorded = serde_json::to_value(&recorded)
        .map_err(|error| StepError::invalid_state("the summary cannot be written", error))?;
    complete(store, run_id, as_recorded).await?;
    tracing::info!(%run_id, trades = recorded.summary.total_trades, profit_pct = recorded.summary.profit_total_pct,
        "backtest completed");
    Ok(Transformed::Backtest {
        summary: Box::new(recorded),
    })
}

/// Summarises the engine's raw result of run `run_id` of `strategy` in `results` (the file Freqtrade's
/// `.last_result.json` names under `results/{run_id}/`), equity curve included.
pub async fn read_summary(results: &impl ObjectStore, run_id: RunId, strategy: &str) -> Result<Summary, StepError> {
    let folder = results_folder(run_id);
    let s3_down = |error: ObjectError| StepError::transient("the results bucket", error);
    let pointer = results
        .get(&format!("{folder}/{LAST_RESULT}"))
        .await
        .map_err(s3_down)?
        .ok_or_else(|| StepError::MissingResult(format!("no {LAST_RESULT} under {folder}/")))?;
    let name = latest_backtest(&pointer).map_err(|error| StepError::MissingResult(error.0))?;
    let bytes = results
        .get(&format!("{folder}/{name}"))
        .await
        .map_err(s3_down)?
        .ok_or_else(|| StepError::MissingResult(format!("{LAST_RESULT} names {name}, which is not there")))?;
    let result = parse_result(&bytes, name.ends_with(".zip"), strategy).map_err(StepError::InvalidResult)?;
    summarize(&result).map_err(StepError::InvalidResult)
}

/// A hyperopt run's result: the best epoch the container wrote beside the epochs (`best_epoch.json`), recorded
/// on the job as it is, with where it is kept; the job moves RUNNING → COMPLETED.
async fn record_best_epoch(
    results: &impl ObjectStore,
    store: &impl WorkflowStore,
    record: &WorkflowRecord,
) -> Result<Transformed, StepError> {
    let run_id = record.run_id;
    let key = format!("{}/{BEST_EPOCH_FILE}", results_folder(run_id));
    let bytes = results
        .get(&key)
        .await
        .map_err(|error| StepError::transient("the results bucket", error))?
        .ok_or_else(|| StepError::MissingResult(format!("the hyperopt left no {key}")))?;
    let invalid = |why: &str| StepError::InvalidResult(ResultError(format!("{key} {why}")));
    let mut best: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid("is not JSON"))?;
    if best["mode"] != "hyperopt" || !best["params"].is_object() {
        return Err(invalid("is not a hyperopt's best epoch with its params"));
    }
    best["best_epoch_uri"] = serde_json::json!(format!("s3://{}/{key}", results.bucket()));
    complete(store, run_id, best.clone()).await?;
    tracing::info!(%run_id, epoch = %best["best_epoch"], "hyperopt completed");
    Ok(Transformed::Hyperopt { best })
}

/// Moves job `run_id` RUNNING → COMPLETED with `result`; a job already COMPLETED (the step repeated) is left so.
async fn complete(store: &impl WorkflowStore, run_id: RunId, result: serde_json::Value) -> Result<(), StepError> {
    let done = Transition::new(Status::Running, Status::Completed, Timestamp::now()).with(RecordUpdate {
        result: Some(result),
        ..RecordUpdate::default()
    });
    let store_down = |error: StoreError| StepError::transient("the workflow store", error);
    match store.transition(run_id, &done).await.map_err(store_down)? {
        TransitionOutcome::Moved(_)
        | TransitionOutcome::LostRace {
            current: Status::Completed,
        } => Ok(()),
        TransitionOutcome::LostRace { current } => Err(StepError::JobEnded(format!(
            "the job became {current} while its result was summarised"
        ))),
        TransitionOutcome::NotFound => Err(StepError::invalid_input(format!("job {run_id} vanished"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::{RunId, WorkflowRecord};
    use crate::objects::MemoryObjects;
    use crate::store::MemoryStore;
    use crate::workflow::fakes::{FakeTracker, sample_record};

    /// A result zip holding `trades` (close day, profit) of a 30-day backtest from 1000 USDT.
    fn result_zip(strategy: &str, trades: &[(i64, f64)]) -> Vec<u8> {
        use std::io::Write;
        let day = 86_400_000_i64;
        let start = 1_767_225_600_000_i64;
        let trades: Vec<serde_json::Value> = trades
            .iter()
            .map(|(close, profit)| {
                serde_json::json!({"pair": "BTC/USDT", "profit_abs": profit, "profit_ratio": profit / 1000.0,
                    "open_timestamp": start + (close - 1) * day, "close_timestamp": start + close * day})
            })
            .collect();
        let result = serde_json::json!({"strategy": {strategy: {"trades": trades, "starting_balance": 1000,
            "backtest_start_ts": start, "backtest_end_ts": start + 30 * day, "pairlist": ["BTC/USDT"]}}});
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("backtest-result-1.json", zip::write::SimpleFileOptions::default())
            .expect("entry");
        zip.write_all(result.to_string().as_bytes()).expect("written");
        zip.finish().expect("zip").into_inner()
    }

    async fn world(status: Status) -> (MemoryObjects, MemoryStore, WorkflowRecord) {
        let store = MemoryStore::new();
        let mut record = sample_record(status);
        record.mlflow_run_id = Some("mlflow-run".into());
        store.create(&record).await.expect("created");
        (MemoryObjects::new("results"), store, record)
    }

    async fn put_result(results: &MemoryObjects, run_id: RunId, zip: Vec<u8>) {
        let folder = format!("results/{run_id}");
        results
            .put(&format!("{folder}/backtest-result-1.zip"), zip)
            .await
            .expect("put");
        let pointer = br#"{"latest_backtest": "backtest-result-1.zip"}"#.to_vec();
        results
            .put(&format!("{folder}/{LAST_RESULT}"), pointer)
            .await
            .expect("put");
    }

    #[tokio::test]
    async fn transform_results_is_repeatable() {
        let (results, store, record) = world(Status::Running).await;
        put_result(
            &results,
            record.run_id,
            result_zip("EmaCross", &[(1, 100.0), (2, -50.0)]),
        )
        .await;
        let tracker = FakeTracker::with_run("mlflow-run");
        let run = RunRef { run_id: record.run_id };
        let first = transform_results(&results, &store, Some(&tracker), &run)
            .await
            .expect("summarised");
        let summary = first.summary().expect("a backtest's summary");
        assert_eq!(summary.summary.total_trades, 2);
        assert_eq!(
            summary.summary_uri,
            format!("s3://results/results/{}/summary.json", record.run_id)
        );
        let job = store.get(record.run_id).await.expect("read").expect("there");
        assert_eq!(job.status, Status::Completed);
        let again = transform_results(&results, &store, Some(&tracker), &run)
            .await
            .expect("repeatable");
        assert_eq!(again.summary(), first.summary());
        assert_eq!(tracker.logged().len(), 6, "both runs log the artifacts");
        let csv = results
            .get(&format!("results/{}/pairs.csv", record.run_id))
            .await
            .expect("read")
            .expect("the per-pair table");
        let csv = String::from_utf8(csv).expect("text");
        assert!(csv.starts_with("pair,trades,wins,losses,"), "{csv}");
        assert_eq!(csv.lines().count(), 2, "one pair traded: {csv}");
    }

    #[tokio::test]
    async fn a_hyperopts_best_epoch_is_its_result_and_a_missing_one_is_named() {
        let (results, _, mut record) = world(Status::Running).await;
        record.config.hyperopt = Some(crate::backtest::Hyperopt {
            epochs: 10,
            loss: "SharpeHyperOptLoss".into(),
        });
        let store = MemoryStore::new();
        store.create(&record).await.expect("recorded as a hyperopt");
        let run = RunRef { run_id: record.run_id };
        let missing = transform_results(&results, &store, None::<&FakeTracker>, &run)
            .await
            .expect_err("no best epoch yet");
        assert_eq!(missing.error_type(), ErrorType::MissingResult);
        assert!(missing.to_string().contains(BEST_EPOCH_FILE), "{missing}");
        let key = format!("results/{}/{BEST_EPOCH_FILE}", record.run_id);
        results
            .put(&key, b"{\"mode\": \"backtest\"}".to_vec())
            .await
            .expect("put");
        let invalid = transform_results(&results, &store, None::<&FakeTracker>, &run)
            .await
            .expect_err("not a hyperopt's");
        assert_eq!(invalid.error_type(), ErrorType::InvalidResult);

        let best = serde_json::json!({"mode": "hyperopt", "best_epoch": 7, "epochs": 10,
            "params": {"buy.buy_ema_fast": 9}, "metrics": {"total_trades": 4, "profit_total": 0.02}});
        results.put(&key, best.to_string().into_bytes()).await.expect("put");
        let done = transform_results(&results, &store, None::<&FakeTracker>, &run)
            .await
            .expect("recorded");
        assert!(done.summary().is_none());
        let job = store.get(record.run_id).await.expect("read").expect("there");
        assert_eq!(job.status, Status::Completed);
        let result = job.result.expect("a result");
        assert_eq!(result["params"], best["params"]);
        assert_eq!(result["best_epoch_uri"], format!("s3://results/{key}"));
    }

    #[tokio::test]
    async fn what_cannot_be_summarised_is_named_and_leaves_the_job_running() {
        let (results, store, record) = world(Status::Running).await;
        let run = RunRef { run_id: record.run_id };
        let none = transform_results(&results, &store, None::<&FakeTracker>, &run)
            .await
            .expect_err("no result");
        assert_eq!(none.error_type(), ErrorType::MissingResult);
        put_result(&results, record.run_id, b"not a zip".to_vec()).await;
        let invalid = transform_results(&results, &store, None::<&FakeTracker>, &run)
            .await
            .expect_err("unreadable");
        assert_eq!(invalid.error_type(), ErrorType::InvalidResult);
        let job = store.get(record.run_id).await.expect("read").expect("there");
        assert_eq!(
            job.status,
            Status::Running,
            "a failed step leaves the status to MarkFailed"
        );
        for error in [none, invalid] {
            assert!(RAISES.contains(&error.error_type()));
        }
    }

    #[tokio::test]
    async fn a_cancelled_job_is_not_completed() {
        let (results, store, record) = world(Status::Cancelled).await;
        put_result(&results, record.run_id, result_zip("EmaCross", &[(1, 10.0)])).await;
        let run = RunRef { run_id: record.run_id };
        let error = transform_results(&results, &store, None::<&FakeTracker>, &run)
            .await
            .expect_err("ended");
        assert_eq!(error.error_type(), ErrorType::JobEnded);
        let job = store.get(record.run_id).await.expect("read").expect("there");
        assert_eq!(job.status, Status::Cancelled);
    }
}
