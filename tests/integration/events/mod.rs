//! Every file in `events/` goes through its function's handler against the stand-ins: one module per function,
//! each behaviour a test named for it. A sample event that no test of its function names fails
//! `every_event_file_is_exercised`.

mod cancel_backtest;
mod cancel_sweep;
mod check_data_freshness;
mod cleanup_resources;
mod data_freshness;
mod data_uploads;
mod delete_datasets;
mod diff_backtests;
mod finish_sweep;
mod get_backtest_logs;
mod get_backtest_status;
mod get_strategy;
mod get_sweep;
mod health;
mod list_backtests;
mod list_datasets;
mod list_strategies;
mod mark_failed;
mod notify_completion;
mod orphan_scanner;
mod prepare_config;
mod ready;
mod register_strategy;
mod rerun_backtest;
mod rotate_secret;
mod sqs_consumer;
mod submit_backtest;
mod submit_sweep;
mod transform_results;
mod validate_strategy;

use std::path::PathBuf;

use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::Value;
use tradai::backtest::{BacktestRequest, RunId, Status, WorkflowRecord};
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;
use tradai_tests::project_root;
use tradai_tests::stack::Stack;

/// `events/{function}/{name}`, which must exist.
fn path(function: &str, name: &str) -> PathBuf {
    let path = project_root().join("events").join(function).join(name);
    assert!(path.is_file(), "no sample event {}", path.display());
    path
}

/// The sample event `events/{function}/{name}` as JSON.
fn event(function: &str, name: &str) -> Value {
    let text = std::fs::read_to_string(path(function, name)).expect("event file");
    serde_json::from_str(&text).expect("event is JSON")
}

/// The IAM principal an event's request context says API Gateway authenticated, if any.
fn caller_of(event: &Value) -> Option<String> {
    event["requestContext"]["authorizer"]["iam"]["userArn"]
        .as_str()
        .map(str::to_owned)
}

/// The sample API Gateway event `events/{function}/{name}` as the request lambda_http hands a handler.
fn request(function: &str, name: &str) -> lambda_http::Request {
    tradai_tests::events::request(&path(function, name))
}

/// The run id the sample API Gateway event `events/{function}/{name}` names in its path.
fn run_id_of(function: &str, name: &str) -> RunId {
    event(function, name)["pathParameters"]["run_id"]
        .as_str()
        .expect("a run id parameter")
        .parse()
        .expect("a valid run id")
}

/// The sample workflow state `events/{function}/{name}`, its configs bucket (the dev stage's) replaced by the
/// test stack's.
fn state(function: &str, name: &str, stack: &Stack) -> Value {
    let text = std::fs::read_to_string(path(function, name)).expect("event file");
    serde_json::from_str(&text.replace("tradai-configs-dev", &stack.config_bucket)).expect("event is JSON")
}

/// A workflow state as Step Functions invokes a step with it.
fn invocation(state: &Value) -> LambdaEvent<Value> {
    LambdaEvent::new(state.clone(), Context::default())
}

/// Asserts `answer` is the `InvalidInput` failure naming `field`.
fn assert_invalid_input(answer: Result<Value, Diagnostic>, field: &str) {
    let error = answer.expect_err("refused");
    assert_eq!(error.error_type, "InvalidInput");
    assert!(error.error_message.contains(field), "{}", error.error_message);
}

/// A job of the sample events' strategy (EmaCross version 3, two pairs), recorded in `status` under `run_id`.
async fn sample_job(stack: &Stack, run_id: &str, status: Status) -> RunId {
    let body = br#"{"strategy_name":"EmaCross","strategy_version":3,"config":{"timeframe":"5m",
        "symbols":["BTC/USDT","ETH/USDT"],"start_date":"2026-01-05","end_date":"2026-03-01"}}"#;
    let request = BacktestRequest::from_json(body, Timestamp::now().date()).expect("valid");
    let run_id: RunId = run_id.parse().expect("a run id");
    let record = WorkflowRecord::new(run_id, request, status, Timestamp::now());
    stack.store().create(&record).await.expect("created");
    run_id
}

/// The request of `events/submit-backtest/valid.json`.
fn sample_request() -> BacktestRequest {
    let event = event("submit-backtest", "valid.json");
    let body = event["body"].as_str().expect("body");
    BacktestRequest::from_json(body.as_bytes(), Timestamp::now().date()).expect("valid")
}

/// The sweep the sample sweep events name (`5d2b8c1e-…`): `events/submit-sweep/valid.json`'s 3 × 2 grid of
/// EmaCross version 3, recorded in `status` with its six PENDING children (the map's list is not written).
async fn sample_sweep(stack: &Stack, status: Status, execution_arn: Option<String>) -> tradai::sweep::SweepRecord {
    sample_sweep_at(stack, status, execution_arn, Timestamp::now()).await
}

/// [`sample_sweep`], recorded as created `at`.
async fn sample_sweep_at(
    stack: &Stack,
    status: Status,
    execution_arn: Option<String>,
    at: Timestamp,
) -> tradai::sweep::SweepRecord {
    use tradai::sweep::{EngineTime, Plan, SweepRecord, SweepRequest, SweepShape, SweepStore, estimate};
    let body = event("submit-sweep", "valid.json")["body"]
        .as_str()
        .expect("body")
        .to_owned();
    let request = SweepRequest::from_json(body.as_bytes(), Timestamp::now().date()).expect("a sweep");
    let Plan::Space(space) = &request.plan else {
        panic!("a space")
    };
    let combinations = space.combinations().expect("combinations");
    let shape = SweepShape {
        children: combinations.len(),
        candle_pairs: 14_400,
        max_concurrency: 3,
        task_cpu: 1024,
        task_memory_mib: 2048,
    };
    let sweep_id = event("get-sweep", "valid.json")["pathParameters"]["sweep_id"]
        .as_str()
        .expect("a sweep id")
        .parse()
        .expect("a valid sweep id");
    let estimate = estimate(shape, EngineTime::Assumed);
    let mut sweep = SweepRecord::new(sweep_id, request, 3, combinations.len(), estimate, at);
    sweep.status = status;
    sweep.execution_arn = execution_arn;
    stack.sweeps().create(&sweep).await.expect("recorded");
    for child in tradai::sweep::child_jobs(&sweep, &combinations) {
        stack.store().create(&child).await.expect("child recorded");
    }
    sweep
}

/// Child `index` of `sweep` run to `status`, with a summary of `sharpe` when it completed.
async fn end_child(stack: &Stack, sweep: &tradai::sweep::SweepRecord, index: usize, status: Status, sharpe: f64) {
    use tradai::store::{RecordUpdate, Transition};
    let run_id = sweep.sweep_id.child(index);
    let at = Timestamp::now();
    stack
        .store()
        .transition(run_id, &Transition::new(Status::Pending, Status::Running, at))
        .await
        .expect("running");
    let set = match status {
        Status::Completed => RecordUpdate {
            result: Some(serde_json::json!({"sharpe": sharpe, "total_trades": 12, "profit_total_pct": sharpe * 2.0})),
            ..RecordUpdate::default()
        },
        _ => RecordUpdate::failure("the engine exited with 1", "RunBacktest"),
    };
    stack
        .store()
        .transition(run_id, &Transition::new(Status::Running, status, at).with(set))
        .await
        .expect("ended");
}

/// A client of the stand-in MLflow.
fn registry() -> tradai::mlflow::MlflowClient {
    tradai::mlflow::MlflowClient::new(tradai::mlflow::MlflowOptions::new(tradai_tests::mlflow::endpoint()))
        .expect("client")
}

#[test]
fn every_event_file_is_exercised() {
    for function in tradai_tests::events::functions() {
        let module = project_root()
            .join("tests/integration/events")
            .join(format!("{}.rs", function.replace('-', "_")));
        let source = std::fs::read_to_string(&module)
            .unwrap_or_else(|_| panic!("events/{function}/ has no tests: add {}", module.display()));
        let files = tradai_tests::events::files(&function);
        assert!(!files.is_empty(), "events/{function}/ is empty");
        for file in files {
            let name = tradai_tests::events::name(&file);
            assert!(
                source.contains(&format!("\"{name}\"")),
                "events/{function}/{name} is exercised by no test in {}",
                module.display()
            );
        }
    }
}
