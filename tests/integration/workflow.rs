//! The backtest workflow as deployed (`statemachine/backtest.asl.json` with the template's substitutions), executed
//! by moto's Step Functions engine behind the local router: the step functions run as real binaries under
//! `cargo lambda watch`, RunBacktest as the real entrypoint started by the local ECS. Each run is submitted through
//! the `stepfunctions` executor, as on AWS, and checked for the job's final status and error, the SNS message,
//! the MLflow run and what is left in S3.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use tradai::backtest::{BacktestRequest, RunId, Status, WorkflowRecord};
use tradai::executor::{Launcher, SqsQueue, StepFunctions};
use tradai::jobs::Submission;
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;
use tradai_local::Deployment;
use tradai_local::template::crate_of;
use tradai_tests::candles::own_pair;
use tradai_tests::deployment::{self, DeploymentStack, deploy_strategy};
use tradai_tests::freqtrade;
use tradai_tests::stack::Stack;
use tradai_tests::template::{properties, template};

/// A stand-in engine that behaves as Freqtrade does on success: the result zip, its meta file, the pointer.
pub(crate) const SUCCEEDS: &str = r#"echo "freqtrade - INFO - Backtesting with data from 2026-01-05"
cp "$(dirname "$0")/result.zip" "$1/backtest-result-2026-11-24_06-00-00.zip"
echo '{}' > "$1/backtest-result-2026-11-24_06-00-00.meta.json"
echo '{"latest_backtest": "backtest-result-2026-11-24_06-00-00.zip"}' > "$1/.last_result.json""#;
const FAILS: &str = r#"echo "2026-11-24 06:00:00,000 - freqtrade - ERROR - No data found. Terminating." >&2
exit 1"#;
const RUNS_LONG: &str = "trap 'exit 143' TERM\nsleep 60 &\nwait $!";
/// Before `SUCCEEDS`: until the test leaves a `reclaimed` file beside the script, the engine says it started and
/// runs until SIGTERM; the run after that succeeds.
const RUNS_UNTIL_RECLAIMED: &str = r#"if [ ! -e "$(dirname "$0")/reclaimed" ]; then
  touch "$(dirname "$0")/started"
  trap 'exit 143' TERM
  sleep 60 &
  wait $!
  exit 1
fi"#;

/// One workflow run's strategy: registered in MLflow, its image in ECR, its base config in S3, its task definition
/// in ECS running `engine`, and a queue subscribed to its notifications (filtered on its name).
struct Strategy {
    name: String,
    folder: PathBuf,
    inbox: String,
}

async fn strategy(local: &Deployment, stack: &Stack, engine: &str) -> Strategy {
    let base = b"stake_currency: USDT\nstake_amount: 100\nmax_open_trades: 2\nexchange:\n  name: binance\n";
    strategy_on(local, stack, engine, base).await
}

/// [`strategy`], with the base config `base`.
async fn strategy_on(local: &Deployment, stack: &Stack, engine: &str, base: &[u8]) -> Strategy {
    let name = format!("Wf{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let folder = tradai_tests::project_root().join(format!(".stand-ins/workflow-{name}"));
    std::fs::create_dir_all(&folder).expect("folder");
    let result = freqtrade::result_json(&name, &[(1, 40.0), (2, -10.0), (3, 25.0)]);
    std::fs::write(folder.join("result.zip"), freqtrade::result_zip(&result)).expect("result");
    let script = folder.join("engine.sh");
    std::fs::write(&script, format!("#!/bin/sh\n{engine}\n")).expect("engine");

    let command = serde_json::json!(["sh", script.display().to_string(), "{backtest_directory}"]).to_string();
    let environment = [
        ("ENGINE_COMMAND", command),
        ("WORK_DIR", folder.join("work").display().to_string()),
        ("HEARTBEAT_SECONDS", "1".to_owned()),
        ("STOP_GRACE_SECONDS", "5".to_owned()),
        ("MLFLOW_WAIT_SECONDS", "30".to_owned()),
    ];
    deploy_strategy(stack, &name, base, &environment).await;

    let inbox = stack
        .sqs
        .create_queue()
        .queue_name(format!("inbox-{name}"))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue URL");
    aws_sdk_sns::Client::new(&stack.sdk)
        .subscribe()
        .topic_arn(&local.topic_arn)
        .protocol("sqs")
        .endpoint(format!("arn:aws:sqs:us-east-1:123456789012:inbox-{name}"))
        .attributes("FilterPolicy", serde_json::json!({ "strategy": [name] }).to_string())
        .send()
        .await
        .expect("subscribed");
    Strategy { name, folder, inbox }
}

/// Submits a backtest of `strategy` on `pair` through the `stepfunctions` executor; answers its run id.
async fn submit(local: &Deployment, stack: &Stack, strategy: &str, pair: &str) -> RunId {
    let launcher = StepFunctions::new(local.sfn().await, &local.state_machine_arn);
    submit_to(&launcher, stack, strategy, pair).await
}

/// Submits a backtest of `strategy` on `pair` through `launcher`; answers its run id.
async fn submit_to(launcher: &impl Launcher, stack: &Stack, strategy: &str, pair: &str) -> RunId {
    let body = serde_json::json!({"strategy_name": strategy, "strategy_version": "production",
        "config": {"timeframe": "5m", "symbols": [pair], "start_date": "2026-01-05", "end_date": "2026-02-04",
        "config_overrides": {"max_open_trades": 1}}});
    let request = BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("valid");
    tradai::jobs::submit(&stack.store(), launcher, Submission::new(request))
        .await
        .expect("submitted")
        .run_id
}

fn execution_arn(local: &Deployment, run_id: RunId) -> String {
    format!(
        "{}:{run_id}",
        local.state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// Waits for the execution of `run_id` to end; answers its status.
pub(crate) async fn finished(local: &Deployment, run_id: RunId) -> String {
    let sfn = local.sfn().await;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        // Through the queue the execution starts a moment after the submission: until then it is not there.
        let described = sfn
            .describe_execution()
            .execution_arn(execution_arn(local, run_id))
            .send()
            .await;
        if let Ok(described) = described
            && described.status.as_str() != "RUNNING"
        {
            return described.status.as_str().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "execution {run_id} still running after 240 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn record(stack: &Stack, run_id: RunId) -> WorkflowRecord {
    stack.store().get(run_id).await.expect("read").expect("the job")
}

/// The one notification the strategy's subscriber got: (status attribute, message).
async fn notification(stack: &Stack, strategy: &Strategy) -> (String, Value) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let messages = stack.messages(&strategy.inbox).await;
        if let Some(message) = messages.first() {
            assert_eq!(messages.len(), 1, "one notification per run");
            let envelope: Value = serde_json::from_str(message.body().expect("body")).expect("SNS envelope");
            let status = envelope["MessageAttributes"]["status"]["Value"]
                .as_str()
                .expect("status")
                .to_owned();
            let body = serde_json::from_str(envelope["Message"].as_str().expect("message")).expect("JSON");
            return (status, body);
        }
        assert!(Instant::now() < deadline, "no notification for {}", strategy.name);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The runs MLflow has for the strategy's experiment.
async fn mlflow_runs(strategy: &str) -> Vec<Value> {
    tradai_tests::mlflow::runs(&format!("backtests/{strategy}")).await
}

async fn temporaries(stack: &Stack, run_id: RunId) -> Vec<String> {
    stack.keys_in(&stack.config_bucket, &format!("temp/{run_id}/")).await
}

/// A run of a freshly deployed strategy whose engine is `engine`, on `pair` with candles `age_hours` old, submitted.
pub(crate) struct Run {
    pub(crate) local: &'static Deployment,
    stack: Stack,
    strategy: Strategy,
    pub(crate) run_id: RunId,
}

pub(crate) async fn start_run(engine: &str, pair: &str, age_hours: i64) -> Run {
    let local = deployment::shared();
    let stack = local.stack().await;
    let strategy = strategy(local, &stack, engine).await;
    run_of(local, stack, strategy, pair, age_hours).await
}

/// A run of `strategy` on `pair` with candles `age_hours` old, submitted.
async fn run_of(local: &'static Deployment, stack: Stack, strategy: Strategy, pair: &str, age_hours: i64) -> Run {
    stack.put_candles(&[pair], age_hours, 300).await;
    let run_id = submit(local, &stack, &strategy.name, pair).await;
    Run {
        local,
        stack,
        strategy,
        run_id,
    }
}

#[tokio::test]
async fn a_backtest_runs_through_every_step_to_completed() {
    let run = start_run(SUCCEEDS, &own_pair(), 1).await;
    let (local, stack, strategy, run_id) = (run.local, &run.stack, &run.strategy, run.run_id);

    assert_eq!(finished(local, run_id).await, "SUCCEEDED");
    let job = record(stack, run_id).await;
    assert_eq!(job.status, Status::Completed, "{job:?}");
    let result = job.result.expect("the summary");
    assert_eq!(result["total_trades"], 3);
    assert_eq!(result["profit_total_abs"], 55.0);
    let (status, message) = notification(stack, strategy).await;
    assert_eq!(status, "COMPLETED");
    assert_eq!(message["run_id"], run_id.to_string());
    assert_eq!(message["summary"]["total_trades"], 3);
    let runs = mlflow_runs(&strategy.name).await;
    assert_eq!(runs.len(), 1, "one MLflow run");
    let mlflow_run = runs[0]["info"]["run_id"].as_str().expect("run id");
    assert_eq!(runs[0]["info"]["status"], "FINISHED");
    assert_eq!(job.mlflow_run_id.as_deref(), Some(mlflow_run));
    let mut artifacts = tradai_tests::mlflow::artifacts(mlflow_run, "summary").await;
    artifacts.sort();
    assert_eq!(
        artifacts,
        ["summary/equity.svg", "summary/pairs.csv", "summary/summary.json"]
    );
    assert!(
        tradai_tests::mlflow::artifacts(mlflow_run, "")
            .await
            .contains(&"manifest.json".to_owned()),
        "the run's manifest is kept in MLflow"
    );
    let results = stack
        .keys_in(&stack.results_bucket, &format!("results/{run_id}/"))
        .await;
    for file in [
        "summary.json",
        "equity.svg",
        "pairs.csv",
        ".last_result.json",
        "manifest.json",
    ] {
        assert!(results.contains(&format!("results/{run_id}/{file}")), "{results:?}");
    }
    assert!(temporaries(stack, run_id).await.is_empty(), "temp/{run_id}/ is removed");
    std::fs::remove_dir_all(&strategy.folder).ok();
}

#[tokio::test]
async fn without_spot_capacity_the_backtest_runs_on_regular_fargate() {
    let local = deployment::shared();
    let stack = local.stack().await;
    let strategy = strategy(local, &stack, SUCCEEDS).await;
    local.ecs.exhaust_spot_for(&format!("strategy-{}", strategy.name));
    let pair = own_pair();
    stack.put_candles(&[&pair], 1, 300).await;
    let run_id = submit(local, &stack, &strategy.name, &pair).await;

    assert_eq!(finished(local, run_id).await, "SUCCEEDED");
    assert_eq!(record(&stack, run_id).await.status, Status::Completed);
    let entered = states_entered(local, run_id).await;
    let spot = entered
        .iter()
        .position(|state| state == "RunBacktest")
        .expect("Spot tried first");
    let fargate = entered
        .iter()
        .position(|state| state == "RunBacktestOnFargate")
        .expect("then Fargate");
    assert!(spot < fargate, "{entered:?}");
    let (status, _) = notification(&stack, &strategy).await;
    assert_eq!(status, "COMPLETED");
    assert_eq!(mlflow_runs(&strategy.name).await.len(), 1, "one MLflow run");
    assert!(temporaries(&stack, run_id).await.is_empty());
    std::fs::remove_dir_all(&strategy.folder).ok();
}

/// The names of the states the execution of `run_id` entered, in order.
async fn states_entered(local: &Deployment, run_id: RunId) -> Vec<String> {
    let history = local
        .sfn()
        .await
        .get_execution_history()
        .execution_arn(execution_arn(local, run_id))
        .send()
        .await
        .expect("history");
    history
        .events()
        .iter()
        .filter_map(|event| event.state_entered_event_details())
        .map(|details| details.name().to_owned())
        .collect()
}

/// The same request again is answered from the first run: COMPLETED from PrepareConfig with no RunBacktest (no
/// container), its result, files and MLflow run the first's, marked `cached_from`; with `no_cache` the engine runs.
#[tokio::test]
async fn the_same_inputs_again_are_answered_from_the_first_run_without_a_container() {
    // A pair no other test uploads candles for: the deployment's market data is shared, and a new upload of the
    // same pair would rightly be other inputs.
    const PAIR: &str = "CACHED/USDT";
    let run = start_run(SUCCEEDS, PAIR, 1).await;
    let (local, stack, strategy, first) = (run.local, &run.stack, &run.strategy, run.run_id);
    assert_eq!(finished(local, first).await, "SUCCEEDED");
    let original = record(stack, first).await;

    let again = submit(local, stack, &strategy.name, PAIR).await;
    assert_eq!(finished(local, again).await, "SUCCEEDED");
    let answered = record(stack, again).await;
    assert_eq!(
        (answered.status, answered.cached_from),
        (Status::Completed, Some(first)),
        "{answered:?}"
    );
    assert_eq!(answered.result, original.result);
    assert_eq!(
        answered.mlflow_run_id, original.mlflow_run_id,
        "the first run's MLflow run"
    );
    assert_eq!(answered.fingerprint, original.fingerprint);
    assert!(original.started_at.is_some(), "the first run's container claimed it");
    assert_eq!(answered.started_at, None, "no container claimed the second");
    let states = states_entered(local, again).await;
    assert!(states.contains(&"AnsweredFromCache".to_owned()), "{states:?}");
    assert!(
        !states.iter().any(|state| state.starts_with("RunBacktest")),
        "{states:?}"
    );
    assert!(states.contains(&"NotifyCompletion".to_owned()), "{states:?}");
    assert!(temporaries(stack, again).await.is_empty(), "temp/{again}/ is removed");
    assert_eq!(mlflow_runs(&strategy.name).await.len(), 1, "no second MLflow run");

    let launcher = StepFunctions::new(local.sfn().await, &local.state_machine_arn);
    let body = serde_json::json!({"strategy_name": strategy.name, "strategy_version": "production",
        "no_cache": true, "config": {"timeframe": "5m", "symbols": [PAIR], "start_date": "2026-01-05",
        "end_date": "2026-02-04", "config_overrides": {"max_open_trades": 1}}});
    let request = BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("valid");
    let fresh = tradai::jobs::submit(&stack.store(), &launcher, Submission::new(request))
        .await
        .expect("submitted")
        .run_id;
    assert_eq!(finished(local, fresh).await, "SUCCEEDED");
    let fresh = record(stack, fresh).await;
    assert_eq!((fresh.status, fresh.cached_from), (Status::Completed, None));
    assert_eq!(fresh.fingerprint, original.fingerprint, "the same inputs, run again");
    assert!(fresh.started_at.is_some(), "a container ran the engine");
    assert_eq!(mlflow_runs(&strategy.name).await.len(), 2);
    std::fs::remove_dir_all(&strategy.folder).ok();
}

#[tokio::test]
async fn a_spot_interruption_reruns_the_backtest_once_on_regular_fargate_and_it_completes() {
    let run = start_run(&format!("{RUNS_UNTIL_RECLAIMED}\n{SUCCEEDS}"), &own_pair(), 1).await;
    let (local, stack, strategy, run_id) = (run.local, &run.stack, &run.strategy, run.run_id);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !strategy.folder.join("started").exists() {
        assert!(Instant::now() < deadline, "the engine never started on Spot");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(record(stack, run_id).await.status, Status::Running);
    std::fs::write(strategy.folder.join("reclaimed"), "").expect("marker");
    assert!(local.ecs.reclaim_spot(&run_id.to_string()), "a Spot task to reclaim");

    assert_eq!(finished(local, run_id).await, "SUCCEEDED");
    let job = record(stack, run_id).await;
    assert_eq!(job.status, Status::Completed, "{job:?}");
    assert_eq!(job.result.expect("the summary")["total_trades"], 3);
    let tasks = local.ecs.tasks_for(&run_id.to_string());
    let stopped = |provider: &str, code: &str| (provider.to_owned(), Some(code.to_owned()));
    assert_eq!(
        tasks,
        [
            stopped("FARGATE_SPOT", "SpotInterruption"),
            stopped("FARGATE", "EssentialContainerExited")
        ],
        "reclaimed on Spot, then run once on regular Fargate"
    );
    let entered = states_entered(local, run_id).await;
    let from_spot: Vec<&str> = entered
        .iter()
        .map(String::as_str)
        .skip_while(|state| *state != "RunBacktest")
        .take(5)
        .collect();
    assert_eq!(
        from_spot,
        [
            "RunBacktest",
            "ReadStoppedTask",
            "WhyRunBacktestStopped",
            "RunBacktestOnFargate",
            "BacktestExited"
        ]
    );
    let (status, _) = notification(stack, strategy).await;
    assert_eq!(status, "COMPLETED");
    assert_eq!(mlflow_runs(&strategy.name).await.len(), 1, "one MLflow run");
    std::fs::remove_dir_all(&strategy.folder).ok();
}

#[tokio::test]
async fn a_run_task_whose_answer_was_lost_is_retried_by_its_client_token_and_starts_one_task() {
    let local = deployment::shared();
    let stack = local.stack().await;
    let strategy = strategy(local, &stack, SUCCEEDS).await;
    local
        .ecs
        .lose_next_run_task_answer_for(&format!("strategy-{}", strategy.name));
    let pair = own_pair();
    stack.put_candles(&[&pair], 1, 300).await;
    let run_id = submit(local, &stack, &strategy.name, &pair).await;

    assert_eq!(finished(local, run_id).await, "SUCCEEDED");
    assert_eq!(record(&stack, run_id).await.status, Status::Completed);
    assert_eq!(
        local.ecs.tasks_for(&run_id.to_string()),
        [("FARGATE_SPOT".to_owned(), Some("EssentialContainerExited".to_owned()))],
        "the retry found the task its lost answer had started"
    );
    let entered = states_entered(local, run_id).await;
    assert!(
        !entered.iter().any(|state| state == "RunBacktestOnFargate"),
        "{entered:?}"
    );
    std::fs::remove_dir_all(&strategy.folder).ok();
}

/// Asserts the failure path: FAILED with `error` (a part of it) at `step`, the notification, temp/ gone.
async fn assert_failed(run: &Run, step: &str, error: &str) {
    let (local, stack, strategy, run_id) = (run.local, &run.stack, &run.strategy, run.run_id);
    assert_eq!(finished(local, run_id).await, "FAILED");
    let job = record(stack, run_id).await;
    assert_eq!(job.status, Status::Failed, "{job:?}");
    assert_eq!(job.failed_step.as_deref(), Some(step), "{job:?}");
    let recorded = job.error.clone().unwrap_or_default();
    assert!(recorded.contains(error), "{recorded:?} does not say {error:?}");
    let (status, message) = notification(stack, strategy).await;
    assert_eq!(status, "FAILED");
    assert_eq!(message["failed_step"], step);
    assert_eq!(
        message["error"],
        recorded.as_str(),
        "the notification says what the job says"
    );
    assert!(temporaries(stack, run_id).await.is_empty(), "temp/{run_id}/ is removed");
}

#[tokio::test]
async fn an_unregistered_strategy_fails_validation() {
    let local = deployment::shared();
    let stack = local.stack().await;
    let registered = strategy(local, &stack, SUCCEEDS).await;
    // A name MLflow does not know, whose notifications the same subscriber gets.
    let unknown = Strategy {
        name: registered.name.clone(),
        ..registered
    };
    let body = serde_json::json!({"strategy_name": unknown.name, "strategy_version": 7, "config": {"timeframe": "5m",
        "symbols": ["BTC/USDT"], "start_date": "2026-01-05", "end_date": "2026-02-04"}});
    let request = BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("valid");
    let launcher = StepFunctions::new(local.sfn().await, &local.state_machine_arn);
    let run_id = tradai::jobs::submit(&stack.store(), &launcher, Submission::new(request))
        .await
        .expect("submitted")
        .run_id;
    let run = Run {
        local,
        stack,
        strategy: unknown,
        run_id,
    };
    let unknown = &run.strategy;
    assert_failed(&run, "ValidateStrategy", "version 7 is not registered").await;
    assert!(
        mlflow_runs(&unknown.name).await.is_empty(),
        "no engine ran, so no MLflow run"
    );
    std::fs::remove_dir_all(&unknown.folder).ok();
}

#[tokio::test]
async fn stale_market_data_fails_the_freshness_check() {
    let pair = own_pair();
    let run = start_run(SUCCEEDS, &pair, 72).await;
    let strategy = &run.strategy;
    assert_failed(&run, "CheckDataFreshness", &format!("{pair} last candle 72.0 h old")).await;
    assert!(mlflow_runs(&strategy.name).await.is_empty());
    std::fs::remove_dir_all(&strategy.folder).ok();
}

#[tokio::test]
async fn the_freshness_check_reads_the_exchange_the_base_config_names() {
    let local = deployment::shared();
    let stack = local.stack().await;
    // Fresh candles on binance, none on kraken, which the strategy's base config trades on.
    let base = b"stake_currency: USDT\nstake_amount: 100\nexchange:\n  name: Kraken\n";
    let strategy = strategy_on(local, &stack, SUCCEEDS, base).await;
    let pair = own_pair();
    let run = run_of(local, stack, strategy, &pair, 1).await;
    assert_failed(&run, "CheckDataFreshness", &format!("{pair}: no 5m data on kraken")).await;
    std::fs::remove_dir_all(&run.strategy.folder).ok();
}

#[tokio::test]
async fn an_engine_that_exits_1_fails_the_run_with_its_error_line() {
    let run = start_run(FAILS, &own_pair(), 1).await;
    let (local, strategy, run_id) = (run.local, &run.strategy, run.run_id);
    assert_failed(&run, "RunBacktest", "No data found. Terminating.").await;
    let history = local
        .sfn()
        .await
        .get_execution_history()
        .execution_arn(execution_arn(local, run_id))
        .send()
        .await
        .expect("history");
    let failed_task = history
        .events()
        .iter()
        .find_map(|event| event.task_failed_event_details())
        .expect("RunBacktest failed as a task");
    assert_eq!(failed_task.error(), Some("States.TaskFailed"));
    // As on AWS, the Cause is the stopped task: the entrypoint's exit code says the engine failed.
    let task: Value = serde_json::from_str(failed_task.cause().expect("a cause")).expect("the task as JSON");
    assert_eq!(task["Containers"][0]["ExitCode"], entrypoint::exit::ENGINE, "{task}");
    assert_eq!(task["StopCode"], "EssentialContainerExited");
    assert!(
        mlflow_runs(&strategy.name).await.is_empty(),
        "the engine failed before any result was logged"
    );
    std::fs::remove_dir_all(&strategy.folder).ok();
}

#[tokio::test]
async fn a_result_that_cannot_be_summarised_fails_transform_results() {
    let local = deployment::shared();
    let stack = local.stack().await;
    // A result the container can log (it has metrics) but no summary can be made of: no starting balance.
    let strategy = strategy(local, &stack, SUCCEEDS).await;
    let mut result = freqtrade::result_json(&strategy.name, &[(1, 40.0)]);
    result["strategy"][&strategy.name]
        .as_object_mut()
        .expect("the section")
        .remove("starting_balance");
    std::fs::write(strategy.folder.join("result.zip"), freqtrade::result_zip(&result)).expect("result");
    let run = run_of(local, stack, strategy, &own_pair(), 1).await;
    assert_failed(&run, "TransformResults", "no positive starting_balance").await;
    let runs = mlflow_runs(&run.strategy.name).await;
    assert_eq!(runs.len(), 1, "the container logged its run before the summary failed");
    std::fs::remove_dir_all(&run.strategy.folder).ok();
}

#[tokio::test]
async fn a_cancel_mid_run_stops_the_execution_and_the_container() {
    let run = start_run(RUNS_LONG, &own_pair(), 1).await;
    let (local, stack, strategy, run_id) = (run.local, &run.stack, &run.strategy, run.run_id);
    let deadline = Instant::now() + Duration::from_secs(120);
    while record(stack, run_id).await.status != Status::Running {
        assert!(Instant::now() < deadline, "the container never claimed the job");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stopper = tradai::executor::AwsStopper::new(
        local.sfn().await,
        aws_sdk_ecs::Client::new(&stack.sdk),
        Some(local.cluster_arn.clone()),
    );
    let cancelled = tradai::jobs::cancel(&stack.store(), &stopper, run_id, None)
        .await
        .expect("cancelled");
    assert!(cancelled.stop_requested);
    let stopped = Instant::now();
    assert_eq!(finished(local, run_id).await, "ABORTED");
    // The container got SIGTERM with the execution's stop, and stopped the engine well within ECS's 120 s.
    while local.ecs.running_for(&run_id.to_string()) {
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "the container did not stop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let job = record(stack, run_id).await;
    assert_eq!(job.status, Status::Cancelled, "{job:?}");
    // The rules on executions that end outside their failure path notify and clean up (EventBridge: asynchronously).
    let (status, message) = notification(stack, strategy).await;
    assert_eq!(status, "CANCELLED");
    assert_eq!(message["run_id"], run_id.to_string());
    let runs = mlflow_runs(&strategy.name).await;
    assert!(runs.is_empty(), "the engine was stopped before any result: {runs:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !temporaries(stack, run_id).await.is_empty() {
        assert!(Instant::now() < deadline, "temp/{run_id}/ is left after the abort");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    std::fs::remove_dir_all(&strategy.folder).ok();
}

/// Every `${...}` of every definition has its substitution in the template, every substitution is used, and
/// every Lambda task names a function the template deploys.
#[test]
fn definitions_and_template_agree() {
    let machine = properties("BacktestStateMachine");
    let path = tradai_tests::project_root().join(machine["DefinitionUri"].as_str().expect("DefinitionUri"));
    let text = std::fs::read_to_string(&path).expect("definition");
    let used: std::collections::BTreeSet<String> = text
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect();
    let substituted: std::collections::BTreeSet<String> = machine["DefinitionSubstitutions"]
        .as_object()
        .expect("DefinitionSubstitutions")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        used,
        substituted,
        "{} and template.yaml disagree on substitutions",
        path.display()
    );

    let definition: Value = serde_json::from_str(&text).expect("the definition is JSON");
    let mut invoked = BTreeMap::new();
    for (state, body) in definition["States"].as_object().expect("States") {
        if body["Resource"] == "arn:aws:states:::lambda:invoke" {
            let function = body["Parameters"]["FunctionName"].as_str().expect("FunctionName");
            let name = function.trim_start_matches("${").trim_end_matches('}');
            let logical_id = machine["DefinitionSubstitutions"][name]["Fn::GetAtt"][0]
                .as_str()
                .unwrap_or_else(|| panic!("{state}: {function} is not a function's ARN"));
            assert_eq!(
                template()["Resources"][logical_id]["Type"],
                "AWS::Serverless::Function",
                "{state} invokes {logical_id}, which the template does not deploy"
            );
            let crate_dir = tradai_tests::project_root()
                .join("functions")
                .join(crate_of(logical_id));
            assert!(crate_dir.is_dir(), "{state}: no crate {}", crate_dir.display());
            invoked.insert(state.clone(), logical_id.to_owned());
        }
    }
    assert!(invoked.len() >= 7, "{invoked:?}");
}

#[tokio::test]
async fn in_sqs_mode_the_queue_consumer_starts_the_workflow_and_the_backtest_completes() {
    let local = deployment::shared();
    let stack = local.stack().await;
    let strategy = strategy(local, &stack, SUCCEEDS).await;
    let pair = own_pair();
    stack.put_candles(&[&pair], 1, 300).await;
    let queue = SqsQueue::new(stack.sqs.clone(), &stack.queue_url);
    let run_id = submit_to(&queue, &stack, &strategy.name, &pair).await;

    assert_eq!(finished(local, run_id).await, "SUCCEEDED");
    let job = record(&stack, run_id).await;
    assert_eq!(job.status, Status::Completed, "{job:?}");
    assert_eq!(job.result.expect("the summary")["total_trades"], 3);
    assert_eq!(
        job.execution_arn.as_deref(),
        Some(execution_arn(local, run_id).as_str()),
        "the consumer recorded the execution it started"
    );
    let (status, _) = notification(&stack, &strategy).await;
    assert_eq!(status, "COMPLETED");
    std::fs::remove_dir_all(&strategy.folder).ok();
}

#[tokio::test]
async fn an_execution_stopped_from_outside_before_its_container_starts_fails_its_job() {
    let run = start_run(RUNS_LONG, &own_pair(), 1).await;
    let (local, stack, strategy, run_id) = (run.local, &run.stack, &run.strategy, run.run_id);
    // Not a cancel: someone stops the execution in the console while its first steps run.
    local
        .sfn()
        .await
        .stop_execution()
        .execution_arn(execution_arn(local, run_id))
        .send()
        .await
        .expect("stopped");
    assert_eq!(finished(local, run_id).await, "ABORTED");
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let job = record(stack, run_id).await;
        if job.status.is_terminal() {
            break job;
        }
        assert!(Instant::now() < deadline, "the job was left {}", job.status);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(job.status, Status::Failed, "{job:?}");
    let error = job.error.unwrap_or_default();
    // Stopped before RunBacktest (the usual case here) the rule fails it; had its container started, it would
    // have recorded its own interruption.
    assert!(
        error == "the workflow execution ended ABORTED" || error == "interrupted",
        "{error}"
    );
    std::fs::remove_dir_all(&strategy.folder).ok();
}
