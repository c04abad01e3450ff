//! TransformResults against S3, DynamoDB and MLflow: a run's result is summarised, written beside it and to its
//! MLflow run, and the job completed — and doing it again succeeds; a run without a result is `MissingResult` and
//! stays RUNNING; a state without a run id is `InvalidInput`.

use std::collections::BTreeMap;

use tradai::backtest::{RunId, Status};
use tradai::mlflow::{ExperimentTracker, MlflowClient};
use tradai::objects::{ObjectStore, S3Objects};
use tradai::store::{DynamoDbStore, WorkflowStore};
use tradai_tests::stack::Stack;

use super::{assert_invalid_input, event, invocation, registry, sample_job};

const FUNCTION: &str = "transform-results";

fn deps(stack: &Stack) -> transform_results::Deps<S3Objects, DynamoDbStore, MlflowClient> {
    transform_results::Deps {
        results: stack.results(),
        store: stack.store(),
        tracker: Some(registry()),
    }
}

/// The running job `run_id`, with the MLflow run its container started; answers the MLflow run's id.
async fn running_job(stack: &Stack, run_id: &str) -> (RunId, String) {
    let run_id = sample_job(stack, run_id, Status::Running).await;
    let run = registry()
        .start_run(
            &tradai_tests::mlflow::unique_name("transform"),
            &run_id.to_string(),
            &BTreeMap::new(),
        )
        .await
        .expect("MLflow run");
    let update = tradai::store::RecordUpdate {
        mlflow_run_id: Some(run.run_id.clone()),
        ..Default::default()
    };
    stack.store().annotate(run_id, &update).await.expect("annotated");
    (run_id, run.run_id)
}

#[tokio::test]
async fn transform_results_summarises_completes_the_job_and_is_repeatable() {
    let stack = Stack::fresh().await;
    let state = event(FUNCTION, "valid.json");
    let (run_id, mlflow_run) = running_job(&stack, state["run_id"].as_str().expect("run id")).await;
    // +100, -50, -100, +30 (closing on days 1-4 of a 30-day backtest from 1000 USDT).
    let result = tradai_tests::freqtrade::result_json("EmaCross", &[(1, 100.0), (2, -50.0), (3, -100.0), (4, 30.0)]);
    let folder = format!("results/{run_id}");
    stack
        .put_result(
            &format!("{folder}/{}.zip", tradai_tests::freqtrade::BASE),
            tradai_tests::freqtrade::result_zip(&result),
        )
        .await;
    stack
        .put_result(
            &format!("{folder}/.last_result.json"),
            tradai_tests::freqtrade::last_result(),
        )
        .await;
    let deps = deps(&stack);
    let output = transform_results::handle(&deps, invocation(&state))
        .await
        .expect("summarised");
    let summary = &output["summary"];
    assert_eq!(summary["total_trades"], 4);
    assert_eq!(summary["win_rate"], 0.5);
    assert_eq!(summary["profit_total_abs"], -20.0);
    assert_eq!(summary["max_drawdown_abs"], 150.0);
    assert_eq!(summary["backtest_days"], 30);
    let record = stack.store().get(run_id).await.expect("read").expect("there");
    assert_eq!(record.status, Status::Completed);
    assert_eq!(
        record.result.as_ref().map(|r| r["total_trades"].clone()),
        Some(serde_json::json!(4))
    );
    let mut keys = stack.keys_in(&stack.results_bucket, &format!("{folder}/")).await;
    keys.sort();
    assert!(keys.contains(&format!("{folder}/summary.json")), "{keys:?}");
    assert!(keys.contains(&format!("{folder}/equity.svg")), "{keys:?}");
    assert!(keys.contains(&format!("{folder}/pairs.csv")), "{keys:?}");
    let chart = stack
        .results()
        .get(&format!("{folder}/equity.svg"))
        .await
        .expect("read");
    assert!(chart.is_some_and(|svg| svg.starts_with(b"<svg")));
    let mut artifacts = tradai_tests::mlflow::artifacts(&mlflow_run, "summary").await;
    artifacts.sort();
    assert_eq!(
        artifacts,
        ["summary/equity.svg", "summary/pairs.csv", "summary/summary.json"]
    );
    // Step Functions may run a step twice: the second run finds the job completed and succeeds.
    transform_results::handle(&deps, invocation(&state))
        .await
        .expect("repeatable");
}

#[tokio::test]
async fn a_run_without_a_result_is_missing_result_and_stays_running() {
    let stack = Stack::fresh().await;
    let state = event(FUNCTION, "missing-result.json");
    let (run_id, _) = running_job(&stack, state["run_id"].as_str().expect("run id")).await;
    let error = transform_results::handle(&deps(&stack), invocation(&state))
        .await
        .expect_err("no result");
    assert_eq!(error.error_type, "MissingResult");
    assert!(
        error.error_message.contains(".last_result.json"),
        "{}",
        error.error_message
    );
    let record = stack.store().get(run_id).await.expect("read").expect("there");
    assert_eq!(
        record.status,
        Status::Running,
        "a failed step leaves the status to MarkFailed"
    );
}

#[tokio::test]
async fn transform_refuses_a_state_without_a_run_id() {
    let stack = Stack::fresh().await;
    let answer = transform_results::handle(
        &deps(&stack),
        invocation(&event(FUNCTION, "invalid-missing-run-id.json")),
    )
    .await;
    assert_invalid_input(answer, "run_id");
}
