//! TransformResults: reads the engine's raw result from `results/{run_id}/` (the file Freqtrade's
//! `.last_result.json` names), computes the summary, writes `summary.json` and `equity.svg` beside it and as
//! artifacts of the run's MLflow run, records the summary on the job and moves it RUNNING → COMPLETED.
//! Repeating the step after it completed the job succeeds again (Step Functions may retry a step that did its work).

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tradai::backtest::Status;
use tradai::market_data::S3Objects;
use tradai::mlflow::ExperimentTracker;
use tradai::results::{LAST_RESULT, equity_svg, latest_backtest, parse_result, summarize};
use tradai::store::{RecordUpdate, Transition, TransitionOutcome, WorkflowStore};
use tradai::time::Timestamp;
use tradai::workflow::{StepError, run_id_of};

/// What the step needs: the results bucket, the job table, and MLflow (when configured).
pub struct Deps<S, T> {
    pub results: S3Objects,
    pub results_bucket: String,
    pub store: S,
    pub tracker: Option<T>,
}

/// Answers the state with `summary` added.
pub async fn handle<S: WorkflowStore, T: ExperimentTracker>(
    deps: &Deps<S, T>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let mut state = event.payload;
    let run_id = run_id_of(&state)?;
    let store_down = |error: tradai::store::StoreError| StepError::transient("the workflow store", &error);
    let record = deps
        .store
        .get(run_id)
        .await
        .map_err(store_down)?
        .ok_or_else(|| StepError::invalid_input(format!("no job with run_id {run_id}")))?;
    if record.status != Status::Running && record.status != Status::Completed {
        return Err(StepError::named("JobEnded", format!("the job is {}, not RUNNING", record.status)).into());
    }

    let folder = format!("results/{run_id}");
    let s3_down = |error: tradai::market_data::ObjectError| StepError::transient("the results bucket", &error);
    let pointer = deps
        .results
        .get_object(&format!("{folder}/{LAST_RESULT}"))
        .await
        .map_err(s3_down)?
        .ok_or_else(|| StepError::named("MissingResult", format!("no {LAST_RESULT} under {folder}/")))?;
    let name = latest_backtest(&pointer).map_err(|error| StepError::named("MissingResult", error.0))?;
    let bytes = deps
        .results
        .get_object(&format!("{folder}/{name}"))
        .await
        .map_err(s3_down)?
        .ok_or_else(|| {
            StepError::named(
                "MissingResult",
                format!("{LAST_RESULT} names {name}, which is not there"),
            )
        })?;
    let invalid = |error: tradai::results::ResultError| StepError::named("InvalidResult", error.0);
    let result = parse_result(&bytes, name.ends_with(".zip"), &record.strategy_name).map_err(invalid)?;
    let summary = summarize(&result).map_err(invalid)?;

    let chart = equity_svg(
        &format!(
            "{} v{} — equity, run {run_id}",
            record.strategy_name, record.strategy_version
        ),
        &summary.equity,
    );
    let summary_json = serde_json::to_value(&summary)
        .map_err(|error| StepError::invalid_input(format!("the summary cannot be written: {error}")))?;
    let summary_bytes = serde_json::to_vec_pretty(&summary_json).unwrap_or_default();
    for (file, bytes) in [
        ("summary.json", summary_bytes.clone()),
        ("equity.svg", chart.clone().into_bytes()),
    ] {
        deps.results
            .put_object(&format!("{folder}/{file}"), bytes)
            .await
            .map_err(s3_down)?;
    }
    if let (Some(tracker), Some(mlflow_run)) = (&deps.tracker, &record.mlflow_run_id) {
        let mlflow_down = |error: tradai::mlflow::RegistryError| StepError::transient("MLflow", &error);
        let run = tracker
            .find_run(mlflow_run)
            .await
            .map_err(mlflow_down)?
            .ok_or_else(|| StepError::named("MissingResult", format!("the MLflow run {mlflow_run} does not exist")))?;
        tracker
            .log_artifact(&run, "summary/summary.json", summary_bytes)
            .await
            .map_err(mlflow_down)?;
        tracker
            .log_artifact(&run, "summary/equity.svg", chart.into_bytes())
            .await
            .map_err(mlflow_down)?;
    }

    let mut recorded = summary_json.clone();
    recorded["summary_uri"] = json!(format!("s3://{}/{folder}/summary.json", deps.results_bucket));
    recorded["equity_chart_uri"] = json!(format!("s3://{}/{folder}/equity.svg", deps.results_bucket));
    let done = Transition::new(Status::Running, Status::Completed, Timestamp::now()).with(RecordUpdate {
        result: Some(recorded.clone()),
        ..RecordUpdate::default()
    });
    match deps.store.transition(run_id, &done).await.map_err(store_down)? {
        TransitionOutcome::Moved(_)
        | TransitionOutcome::LostRace {
            current: Status::Completed,
        } => {}
        TransitionOutcome::LostRace { current } => {
            return Err(StepError::named(
                "JobEnded",
                format!("the job became {current} while its result was summarised"),
            )
            .into());
        }
        TransitionOutcome::NotFound => {
            return Err(StepError::invalid_input(format!("job {run_id} vanished")).into());
        }
    }
    tracing::info!(%run_id, trades = summary.total_trades, profit_pct = summary.profit_total_pct, "backtest completed");
    if let Value::Object(fields) = &mut state {
        fields.insert("summary".to_owned(), recorded);
    }
    Ok(state)
}
