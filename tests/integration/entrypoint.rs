//! The strategy container's entrypoint against the stand-in, with small engine stand-ins (shell scripts) that
//! behave as Freqtrade does: write its result files, fail with an error line, ignore or honour SIGTERM.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use entrypoint::{Deps, EntrypointSettings, Outcome, exit, run};
use tradai::backtest::{BacktestRequest, RunId, Status, WorkflowRecord};
use tradai::mlflow::{MlflowClient, MlflowOptions};
use tradai::objects::S3Objects;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;
use tradai::store::{Transition, WorkflowStore};
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

const SUCCEEDS: &str = r#"echo "freqtrade - INFO - Backtesting with data from 2024-01-01"
cp "$(dirname "$0")/result.zip" "$1/backtest-result-2026-11-24_06-00-00.zip"
echo '{"EmaCross": {"run_id": "x", "timeframe": "5m"}}' > "$1/backtest-result-2026-11-24_06-00-00.meta.json"
echo '{"latest_backtest": "backtest-result-2026-11-24_06-00-00.zip"}' > "$1/.last_result.json""#;
const FAILS: &str = r#"echo "freqtrade - INFO - Loading data" 
echo "2026-11-24 06:00:00,000 - freqtrade - ERROR - No data found. Terminating." >&2
exit 1"#;
const FAILS_QUIETLY: &str = r#"echo "2026-11-24 06:00:00,000 - freqtrade - ERROR - Configuration error: bad timerange" >&2
exit 0"#;
const WRITES_NOTHING: &str = "echo done";
const RUNS_LONG: &str = "trap 'exit 143' TERM\nsleep 30 &\nwait $!";

/// A job waiting to run, and the entrypoint settings for it with `engine` as its engine script.
async fn waiting_job(stack: &Stack, engine: &str, extra: &[(&str, &str)]) -> (RunId, EntrypointSettings, PathBuf) {
    let (run_id, vars, folder) = waiting_job_environment(stack, engine, extra).await;
    (
        run_id,
        EntrypointSettings::from_env(&Env::from_vars(vars.clone())).expect("valid settings"),
        folder,
    )
}

/// A job waiting to run, and the entrypoint's environment for it with `engine` as its engine script.
async fn waiting_job_environment(
    stack: &Stack,
    engine: &str,
    extra: &[(&str, &str)],
) -> (RunId, HashMap<String, String>, PathBuf) {
    let folder = tradai_tests::project_root().join(format!(".stand-ins/entrypoint-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(folder.join("result.zip"), result_zip()).expect("result zip");
    let script = folder.join("engine.sh");
    std::fs::write(&script, format!("#!/bin/sh\n{engine}\n")).expect("engine script");
    let body = br#"{"strategy_name":"EmaCross","strategy_version":3,"config":{"timeframe":"5m",
        "symbols":["BTC/USDT"],"start_date":"2024-01-01","end_date":"2024-03-01"}}"#;
    let request = BacktestRequest::from_json(body, Timestamp::now().date()).expect("valid");
    let record = WorkflowRecord::new(RunId::new(), request, Status::Queued, Timestamp::now());
    stack.store().create(&record).await.expect("created");
    let command = serde_json::json!(["sh", script.display().to_string(), "{backtest_directory}"]).to_string();
    let mut vars: HashMap<String, String> = [
        ("RUN_ID", record.run_id.to_string()),
        ("STRATEGY", "EmaCross".to_owned()),
        ("TIMEFRAME", "5m".to_owned()),
        ("TIMERANGE", "20240101-20240301".to_owned()),
        ("PAIRS", "BTC/USDT".to_owned()),
        ("WORKFLOW_STATE_TABLE", stack.table.clone()),
        ("ENGINE_COMMAND", command),
        ("WORK_DIR", folder.join("work").display().to_string()),
        ("HEARTBEAT_SECONDS", "0.2".to_owned()),
        ("STOP_GRACE_SECONDS", "5".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    (record.run_id, vars, folder)
}

/// What the entrypoint works with here: the stand-in's job table and S3, and MLflow when given.
fn deps(stack: &Stack, mlflow: Option<MlflowClient>) -> Deps<DynamoDbStore, MlflowClient, S3Objects> {
    Deps {
        store: stack.store(),
        mlflow,
        objects: S3Objects::new(stack.s3.clone(), ""),
    }
}

/// A result zip as Freqtrade writes it: `<base>.json` with the strategy's metrics, beside its config copy.
fn result_zip() -> Vec<u8> {
    use std::io::Write;
    let result = serde_json::json!({
        "strategy": {"EmaCross": {
            "total_trades": 404, "wins": 230, "losses": 170, "draws": 4, "winrate": 0.569,
            "profit_total": 0.0712, "profit_total_abs": 71.2, "profit_factor": 1.31, "max_drawdown_account": 0.043,
            "max_drawdown_abs": "43.1", "sharpe": 1.8, "sortino": 2.4, "calmar": 9.7, "backtest_days": 55,
            "starting_balance": 1000, "final_balance": 1071.2, "pairlist": ["BTC/USDT"]}},
        "strategy_comparison": [{"key": "EmaCross", "trades": 404}]
    });
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("backtest-result-2026-11-24_06-00-00_config.json", options)
        .expect("entry");
    zip.write_all(b"{}").expect("written");
    zip.start_file("backtest-result-2026-11-24_06-00-00.json", options)
        .expect("entry");
    zip.write_all(result.to_string().as_bytes()).expect("written");
    zip.finish().expect("zip").into_inner()
}

async fn status(stack: &Stack, run_id: RunId) -> WorkflowRecord {
    stack.store().get(run_id).await.expect("read").expect("stored")
}

#[tokio::test]
async fn a_successful_run_completes_the_job_it_claimed() {
    let stack = Stack::fresh().await;
    let (run_id, settings, folder) = waiting_job(&stack, SUCCEEDS, &[]).await;
    let outcome = run(&settings, &deps(&stack, None), std::future::pending()).await;
    let Outcome::Completed { result_file } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(result_file.ends_with("backtest-result-2026-11-24_06-00-00.zip"));
    assert_eq!(outcome.exit_code(), exit::OK);
    let record = status(&stack, run_id).await;
    assert_eq!(record.status, Status::Completed);
    assert_eq!(
        record.result.expect("result")["result_file"],
        "backtest-result-2026-11-24_06-00-00.zip"
    );
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test]
async fn under_the_workflow_the_job_stays_running_for_the_next_step() {
    let stack = Stack::fresh().await;
    let (run_id, settings, folder) = waiting_job(&stack, SUCCEEDS, &[("LAUNCHED_BY", "workflow")]).await;
    let outcome = run(&settings, &deps(&stack, None), std::future::pending()).await;
    assert!(matches!(outcome, Outcome::Completed { .. }), "{outcome:?}");
    assert_eq!(status(&stack, run_id).await.status, Status::Running);
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test]
async fn an_engine_that_exits_1_fails_the_job_with_its_last_error_line() {
    let stack = Stack::fresh().await;
    let (run_id, settings, folder) = waiting_job(&stack, FAILS, &[]).await;
    let outcome = run(&settings, &deps(&stack, None), std::future::pending()).await;
    assert_eq!(outcome.exit_code(), exit::ENGINE, "{outcome:?}");
    let record = status(&stack, run_id).await;
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.failed_step.as_deref(), Some("RunBacktest"));
    let error = record.error.expect("a reason");
    assert!(
        error.starts_with("the engine exited with 1: ") && error.contains("No data found. Terminating."),
        "{error}"
    );
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test]
async fn freqtrades_exit_0_failures_and_missing_results_are_failures() {
    let stack = Stack::fresh().await;
    for (engine, code, phrase) in [
        (FAILS_QUIETLY, exit::ENGINE, "Configuration error: bad timerange"),
        (WRITES_NOTHING, exit::RESULT, "no result"),
    ] {
        let (run_id, settings, folder) = waiting_job(&stack, engine, &[]).await;
        let outcome = run(&settings, &deps(&stack, None), std::future::pending()).await;
        assert_eq!(outcome.exit_code(), code, "{outcome:?}");
        let record = status(&stack, run_id).await;
        assert_eq!(record.status, Status::Failed);
        assert!(
            record.error.as_deref().is_some_and(|e| e.contains(phrase)),
            "{:?}",
            record.error
        );
        std::fs::remove_dir_all(folder).ok();
    }
}

#[tokio::test]
async fn sigterm_mid_run_stops_the_engine_and_never_leaves_the_job_running() {
    let stack = Stack::fresh().await;
    // Started by the workflow, the job is released for its re-run (a Spot reclaim) or its failure path; started
    // by anything else, nothing would come after, so it fails.
    for (extra, ended, error) in [
        (&[][..], Status::Failed, Some("interrupted")),
        (&[("LAUNCHED_BY", "workflow")][..], Status::Queued, None),
    ] {
        let (run_id, settings, folder) = waiting_job(&stack, RUNS_LONG, extra).await;
        let started = Instant::now();
        let shutdown = tokio::time::sleep(Duration::from_millis(500));
        let outcome = run(&settings, &deps(&stack, None), shutdown).await;
        assert_eq!(outcome, Outcome::Interrupted);
        assert_eq!(outcome.exit_code(), exit::INTERRUPTED);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "stopped in {:?}, well within 120 s",
            started.elapsed()
        );
        let record = status(&stack, run_id).await;
        assert_eq!((record.status, record.error.as_deref()), (ended, error), "{extra:?}");
        std::fs::remove_dir_all(folder).ok();
    }
}

#[tokio::test]
async fn a_cancel_seen_by_the_heartbeat_stops_the_engine_and_leaves_the_job_cancelled() {
    let stack = Stack::fresh().await;
    let (run_id, settings, folder) = waiting_job(&stack, RUNS_LONG, &[]).await;
    let store = stack.store();
    let canceller = async {
        // Wait until the job runs, then cancel it as cancel-backtest does.
        while status(&stack, run_id).await.status != Status::Running {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let cancel = Transition::new(Status::Running, Status::Cancelled, Timestamp::now());
        store.transition(run_id, &cancel).await.expect("cancelled");
    };
    let started = Instant::now();
    let deps = deps(&stack, None);
    let (outcome, ()) = tokio::join!(run(&settings, &deps, std::future::pending()), canceller);
    assert_eq!(outcome, Outcome::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(status(&stack, run_id).await.status, Status::Cancelled);
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test]
async fn a_second_start_for_the_same_job_does_nothing() {
    let stack = Stack::fresh().await;
    let (run_id, settings, folder) = waiting_job(&stack, SUCCEEDS, &[]).await;
    let start = Transition::new(Status::Queued, Status::Running, Timestamp::now());
    stack
        .store()
        .transition(run_id, &start)
        .await
        .expect("the first start claimed it");
    let before = status(&stack, run_id).await;
    let outcome = run(&settings, &deps(&stack, None), std::future::pending()).await;
    assert_eq!(
        outcome,
        Outcome::NothingToDo {
            status: Some(Status::Running)
        }
    );
    assert_eq!(
        outcome.exit_code(),
        exit::NOT_CLAIMED,
        "never taken for a run that produced a result"
    );
    assert_eq!(status(&stack, run_id).await, before, "nothing written");
    assert!(
        !folder.join("work").join(run_id.to_string()).exists(),
        "the engine never started"
    );
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test]
async fn an_unreachable_mlflow_fails_the_job_after_a_bounded_wait() {
    let stack = Stack::fresh().await;
    let port = tradai_tests::free_port();
    let uri = format!("http://127.0.0.1:{port}");
    let (run_id, settings, folder) = waiting_job(
        &stack,
        SUCCEEDS,
        &[("MLFLOW_TRACKING_URI", &uri), ("MLFLOW_WAIT_SECONDS", "2")],
    )
    .await;
    let mut options = MlflowOptions::new(&uri);
    options.breaker_threshold = 1000;
    let mlflow = MlflowClient::new(options).expect("client");
    let started = Instant::now();
    let outcome = run(&settings, &deps(&stack, Some(mlflow)), std::future::pending()).await;
    assert_eq!(outcome.exit_code(), exit::DEPENDENCY, "{outcome:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "bounded: {:?}",
        started.elapsed()
    );
    let record = status(&stack, run_id).await;
    assert_eq!(record.status, Status::Failed);
    assert!(
        record
            .error
            .as_deref()
            .is_some_and(|e| e.contains("MLflow") && e.contains(&uri)),
        "{:?}",
        record.error
    );
    std::fs::remove_dir_all(folder).ok();
}

/// The grace period the test jobs are given (`STOP_GRACE_SECONDS` of [`waiting_job_environment`]).
const GRACE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn sigterm_while_waiting_for_mlflow_stops_within_the_grace_period() {
    let stack = Stack::fresh().await;
    let uri = format!("http://127.0.0.1:{}", tradai_tests::free_port());
    // Launched directly, nothing would come after: FAILED. Launched by the workflow, the job stays QUEUED for it to
    // re-run or fail. Cancelled meanwhile, it stays CANCELLED.
    for (launched_by, cancelled, ended, outcome) in [
        ("direct", false, Status::Failed, Outcome::Interrupted),
        ("workflow", false, Status::Queued, Outcome::Interrupted),
        ("direct", true, Status::Cancelled, Outcome::Cancelled),
    ] {
        let extra = [
            ("MLFLOW_TRACKING_URI", uri.as_str()),
            ("MLFLOW_WAIT_SECONDS", "60"),
            ("LAUNCHED_BY", launched_by),
        ];
        let (run_id, settings, folder) = waiting_job(&stack, SUCCEEDS, &extra).await;
        if cancelled {
            let cancel = Transition::new(Status::Queued, Status::Cancelled, Timestamp::now());
            stack.store().transition(run_id, &cancel).await.expect("cancelled");
        }
        let mut options = MlflowOptions::new(&uri);
        options.breaker_threshold = 1000;
        let mlflow = MlflowClient::new(options).expect("client");
        let started = Instant::now();
        let shutdown = tokio::time::sleep(Duration::from_millis(500));
        let answer = run(&settings, &deps(&stack, Some(mlflow)), shutdown).await;
        assert_eq!(answer, outcome, "{launched_by}, cancelled: {cancelled}");
        assert!(started.elapsed() < GRACE, "stopped after {:?}", started.elapsed());
        let record = status(&stack, run_id).await;
        assert_eq!(
            record.status, ended,
            "{launched_by}, cancelled: {cancelled}: {record:?}"
        );
        if ended == Status::Failed {
            assert_eq!(record.error.as_deref(), Some("interrupted"));
        }
        std::fs::remove_dir_all(folder).ok();
    }
}

#[tokio::test]
async fn sigterm_during_the_download_stops_within_the_grace_period() {
    let stack = Stack::fresh().await;
    // The market data lives behind a network that takes the connection and never answers.
    let (endpoint, _) = tradai_tests::proxy::silent_server().await;
    let aws = tradai::aws::sdk_config(&tradai::settings::AwsSettings {
        endpoint_url: Some(endpoint),
        ..Default::default()
    })
    .await;
    let (run_id, settings, folder) = waiting_job(
        &stack,
        SUCCEEDS,
        &[("MARKET_DATA_S3_URI", "s3://tradai-market-data/ohlcv")],
    )
    .await;
    let deps = Deps {
        store: stack.store(),
        mlflow: None::<MlflowClient>,
        objects: tradai::aws::s3_objects(&aws, ""),
    };
    let started = Instant::now();
    let shutdown = tokio::time::sleep(Duration::from_millis(500));
    let outcome = run(&settings, &deps, shutdown).await;
    assert_eq!(outcome, Outcome::Interrupted);
    assert_eq!(outcome.exit_code(), exit::INTERRUPTED);
    assert!(started.elapsed() < GRACE, "stopped after {:?}", started.elapsed());
    let record = status(&stack, run_id).await;
    assert_eq!(
        (record.status, record.error.as_deref()),
        (Status::Failed, Some("interrupted")),
        "claimed, then interrupted mid-download"
    );
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test]
async fn a_run_leaves_its_mlflow_run_and_its_raw_result_in_s3() {
    let stack = Stack::fresh().await;
    let uri = tradai_tests::mlflow::endpoint().to_owned();
    let results_bucket = format!("tradai-results-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    stack
        .s3
        .create_bucket()
        .bucket(&results_bucket)
        .send()
        .await
        .expect("results bucket");
    let experiment = format!("backtests/{}", tradai_tests::mlflow::unique_name("EmaCross"));
    // Launched directly (no CONFIG_PATH), the container prepares its config from the version's base config.
    let base = stack
        .put_config(
            &format!("strategies/EmaCross/{}.yaml", uuid::Uuid::new_v4().simple()),
            b"stake_currency: USDT\nstake_amount: 100\nexchange:\n  name: binance\n".to_vec(),
        )
        .await;
    let versions = tradai_tests::mlflow::register("EmaCross", &[&[("config_path", base.as_str())]], &[]).await;
    let version = versions[0].to_string();
    let (run_id, settings, folder) = waiting_job(
        &stack,
        SUCCEEDS,
        &[
            ("MLFLOW_TRACKING_URI", &uri),
            ("S3_RESULTS_BUCKET", &results_bucket),
            ("EXPERIMENT_NAME", &experiment),
            ("STRATEGY_VERSION", &version),
            (
                "CONFIG_OVERRIDES",
                r#"{"stake_amount": 250, "exchange": {"ccxt_config": {"timeout": 3000}}}"#,
            ),
        ],
    )
    .await;
    let mlflow = MlflowClient::new(MlflowOptions::new(&uri)).expect("client");
    let outcome = run(&settings, &deps(&stack, Some(mlflow)), std::future::pending()).await;
    assert!(matches!(outcome, Outcome::Completed { .. }), "{outcome:?}");
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(folder.join("work").join(run_id.to_string()).join("config.json")).expect("the config"),
    )
    .expect("JSON, as Freqtrade reads it");
    assert_eq!(config["stake_amount"], 250, "{config}");
    assert_eq!(config["exchange"]["name"], "binance");
    assert_eq!(config["exchange"]["ccxt_config"]["timeout"], 3000);
    assert_eq!(config["exchange"]["pair_whitelist"], serde_json::json!(["BTC/USDT"]));
    assert_eq!(config["strategy_version"], versions[0]);

    let record = status(&stack, run_id).await;
    assert_eq!(record.status, Status::Completed);
    let mlflow_run = record.mlflow_run_id.clone().expect("the MLflow run is recorded");
    assert!(record.mlflow_experiment_id.is_some());

    let http = reqwest::Client::new();
    let answer: serde_json::Value = http
        .get(format!("{uri}/api/2.0/mlflow/runs/get"))
        .query(&[("run_id", mlflow_run.as_str())])
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["run"]["info"]["status"], "FINISHED");
    assert_eq!(answer["run"]["info"]["run_name"], run_id.to_string());
    let data = &answer["run"]["data"];
    let param = |key: &str| {
        data["params"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["key"] == key))
            .map(|p| p["value"].clone())
    };
    assert_eq!(param("strategy"), Some(serde_json::json!("EmaCross")));
    assert_eq!(param("strategy_version"), Some(serde_json::json!(version)));
    let metric = |key: &str| {
        data["metrics"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["key"] == key))
            .map(|m| m["value"].clone())
    };
    assert_eq!(metric("total_trades"), Some(serde_json::json!(404.0)));
    assert_eq!(metric("sharpe"), Some(serde_json::json!(1.8)));
    let artifacts: serde_json::Value = http
        .get(format!("{uri}/api/2.0/mlflow/artifacts/list"))
        .query(&[("run_id", mlflow_run.as_str()), ("path", "backtest")])
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        artifacts["files"][0]["path"], "backtest/backtest-result-2026-11-24_06-00-00.zip",
        "{artifacts}"
    );

    let listed = stack
        .s3
        .list_objects_v2()
        .bucket(&results_bucket)
        .prefix(format!("results/{run_id}/"))
        .send()
        .await;
    let mut keys: Vec<String> = listed
        .expect("listed")
        .contents()
        .iter()
        .filter_map(|object| object.key().map(str::to_owned))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("results/{run_id}/.last_result.json"),
            format!("results/{run_id}/backtest-result-2026-11-24_06-00-00.meta.json"),
            format!("results/{run_id}/backtest-result-2026-11-24_06-00-00.zip"),
        ]
    );
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test]
async fn mlflow_going_down_before_a_good_run_finishes_leaves_the_result_in_s3_and_the_job_completed() {
    let stack = Stack::fresh().await;
    let proxy = tradai_tests::proxy::Proxy::start(tradai_tests::mlflow::endpoint().trim_start_matches("http://")).await;
    let base = stack
        .put_config(
            &format!("strategies/EmaCross/{}.yaml", uuid::Uuid::new_v4().simple()),
            b"stake_currency: USDT\nexchange:\n  name: binance\n".to_vec(),
        )
        .await;
    let versions = tradai_tests::mlflow::register("EmaCross", &[&[("config_path", base.as_str())]], &[]).await;
    let version = versions[0].to_string();
    // The engine finishes only once the test has cut MLflow off.
    let engine = format!("while [ ! -f \"$(dirname \"$0\")/go\" ]; do sleep 0.1; done\n{SUCCEEDS}");
    let (run_id, settings, folder) = waiting_job(
        &stack,
        &engine,
        &[
            ("MLFLOW_TRACKING_URI", &proxy.url),
            ("S3_RESULTS_BUCKET", &stack.results_bucket),
            ("STRATEGY_VERSION", &version),
        ],
    )
    .await;
    let mlflow = MlflowClient::new(settings.mlflow.clone().expect("MLflow is configured")).expect("client");
    let deps = deps(&stack, Some(mlflow));
    let config = folder.join("work").join(run_id.to_string()).join("config.json");
    let cut = async {
        // Once the config is prepared (through MLflow), MLflow goes down; then the engine finishes.
        let started = Instant::now();
        while !config.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the run never prepared its config"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        proxy.cut();
        std::fs::write(folder.join("go"), b"").expect("go");
    };
    let (outcome, ()) = tokio::join!(run(&settings, &deps, std::future::pending()), cut);
    let record = completed_with_a_tracking_gap(&stack, run_id, &outcome).await;
    assert_eq!(record.mlflow_run_id, None);
    let keys = stack
        .keys_in(&stack.results_bucket, &format!("results/{run_id}/"))
        .await;
    assert!(
        keys.contains(&format!("results/{run_id}/backtest-result-2026-11-24_06-00-00.zip")),
        "the result is in S3: {keys:?}"
    );
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test]
async fn the_config_and_market_data_are_fetched_into_freqtrades_layout() {
    let stack = Stack::fresh().await;
    // An engine that checks its inputs are where Freqtrade looks for them, then succeeds.
    let checks = r#"test -f "$2" || { echo "ERROR: no config at $2" >&2; exit 1; }
test -f "$3/BTC_USDT-5m.parquet" || { echo "ERROR: no candles in $3" >&2; exit 1; }
test -f "$3/markets.json" || { echo "ERROR: no markets in $3" >&2; exit 1; }
"#;
    let engine = format!("{checks}{SUCCEEDS}");
    // A YAML config (as a release may write it) reaches Freqtrade as the JSON it reads.
    let config_uri = stack
        .put_config(
            "temp/run/config.yaml",
            b"stake_currency: USDT\nexchange: {name: binance}\n".to_vec(),
        )
        .await;
    let candles = tradai_tests::candles::CandleFile::ending_at(Timestamp::now(), chrono::TimeDelta::minutes(5), 50);
    stack
        .put_market_data("ohlcv/binance/BTC_USDT-5m.parquet", candles.to_parquet())
        .await;
    stack
        .put_market_data("ohlcv/binance/markets.json", b"[]".to_vec())
        .await;
    let market = format!("s3://{}/ohlcv", stack.market_data_bucket);
    let (run_id, mut settings, folder) = waiting_job(
        &stack,
        &engine,
        &[("CONFIG_PATH", &config_uri), ("MARKET_DATA_S3_URI", &market)],
    )
    .await;
    settings
        .engine_command
        .extend(["{config}".to_owned(), "{datadir}".to_owned()]);
    let outcome = run(&settings, &deps(&stack, None), std::future::pending()).await;
    assert!(matches!(outcome, Outcome::Completed { .. }), "{outcome:?}");
    assert_eq!(status(&stack, run_id).await.status, Status::Completed);
    let written = std::fs::read(folder.join("work").join(run_id.to_string()).join("config.json")).expect("config");
    let written: serde_json::Value = serde_json::from_slice(&written).expect("JSON");
    assert_eq!(
        written,
        serde_json::json!({"stake_currency": "USDT", "exchange": {"name": "binance"}})
    );

    // A pair without candles fails the job before the engine runs, naming what is missing.
    let (run_id, mut settings, _) = waiting_job(
        &stack,
        &engine,
        &[("MARKET_DATA_S3_URI", &market), ("PAIRS", "ETH/USDT")],
    )
    .await;
    settings
        .engine_command
        .extend(["{config}".to_owned(), "{datadir}".to_owned()]);
    let outcome = run(&settings, &deps(&stack, None), std::future::pending()).await;
    assert_eq!(outcome.exit_code(), exit::INPUTS, "{outcome:?}");
    let record = status(&stack, run_id).await;
    assert!(
        record
            .error
            .as_deref()
            .is_some_and(|e| e.contains("no 5m market data for ETH/USDT")),
        "{:?}",
        record.error
    );
    std::fs::remove_dir_all(folder).ok();
}

/// The entrypoint binary started with `vars` (and the stand-in's endpoint and dummy credentials), once it claimed
/// job `run_id`.
async fn claimed_by_the_binary(stack: &Stack, run_id: RunId, vars: HashMap<String, String>) -> tokio::process::Child {
    let target =
        std::env::var("CARGO_TARGET_DIR").map_or_else(|_| tradai_tests::project_root().join("target"), Into::into);
    let binary = target.join("debug/tradai-entrypoint");
    assert!(
        binary.exists(),
        "build the entrypoint first: cargo build -p tradai-entrypoint (make test does)"
    );
    let process = tokio::process::Command::new(&binary)
        .env_clear()
        .envs(vars)
        .env("AWS_ENDPOINT_URL", tradai_tests::moto::endpoint())
        .env("AWS_REGION", tradai_tests::moto::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the entrypoint starts");
    let started = Instant::now();
    while status(stack, run_id).await.status != Status::Running {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the entrypoint never claimed the job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    process
}

#[tokio::test]
async fn the_binary_answers_a_real_sigterm_within_the_stop_timeout() {
    let stack = Stack::fresh().await;
    let (run_id, vars, folder) = waiting_job_environment(&stack, RUNS_LONG, &[]).await;
    let mut process = claimed_by_the_binary(&stack, run_id, vars).await;
    let pid = process.id().expect("a pid").to_string();
    let signalled = Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), process.wait())
        .await
        .expect("exits")
        .expect("status");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        signalled.elapsed()
    );
    assert_eq!(exit.code(), Some(exit::INTERRUPTED));
    let record = status(&stack, run_id).await;
    assert_eq!(
        (record.status, record.error.as_deref()),
        (Status::Failed, Some("interrupted"))
    );
    std::fs::remove_dir_all(folder).ok();
}

/// Strategy code runs inside the engine: what the engine sees of the container's environment names no credentials
/// and no AWS address (the task role's credentials URI, the keys, the endpoint, the table), only what Python and
/// Freqtrade need, a bot's `FREQTRADE__*` keys among them.
#[tokio::test]
async fn the_engine_sees_no_credentials_of_the_container() {
    let stack = Stack::fresh().await;
    let engine = format!("env > \"$(dirname \"$0\")/engine-env.txt\"\n{RUNS_LONG}");
    let (run_id, mut vars, folder) = waiting_job_environment(&stack, &engine, &[]).await;
    vars.insert(
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI".to_owned(),
        "/v2/credentials/0b1c2d3e".to_owned(),
    );
    vars.insert("FREQTRADE__EXCHANGE__KEY".to_owned(), "a-bots-key".to_owned());
    let mut process = claimed_by_the_binary(&stack, run_id, vars).await;
    let written = folder.join("engine-env.txt");
    let started = Instant::now();
    while !written.exists() {
        assert!(started.elapsed() < Duration::from_secs(20), "the engine never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = std::fs::read_to_string(&written).expect("the engine's environment");
    let names: Vec<&str> = seen
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .collect();
    for secret in [
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "WORKFLOW_STATE_TABLE",
        "RUN_ID",
    ] {
        assert!(!names.contains(&secret), "the engine sees {secret}: {names:?}");
    }
    assert!(names.contains(&"PATH"), "{names:?}");
    assert!(seen.contains("FREQTRADE__EXCHANGE__KEY=a-bots-key"), "{names:?}");
    process.start_kill().expect("stopped");
    process.wait().await.expect("exits");
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test]
async fn a_container_killed_with_sigkill_is_failed_by_the_orphan_scan_naming_its_last_heartbeat() {
    let stack = Stack::fresh().await;
    let (run_id, vars, folder) = waiting_job_environment(&stack, RUNS_LONG, &[]).await;
    let process = claimed_by_the_binary(&stack, run_id, vars).await;
    let pid = process.id().expect("a pid").to_string();
    // SIGKILL: no handler runs, nothing is recorded; the engine's own process group goes with it, as in a task.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let engine = folder.join("engine.sh").display().to_string();
    let _engine_killed = std::process::Command::new("pkill")
        .args(["-KILL", "-f", &engine])
        .status();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let last = status(&stack, run_id).await;
    assert_eq!(last.status, Status::Running, "left RUNNING by the dead container");

    // 91 minutes later, the heartbeat is stale and nothing runs the job (local mode records no task).
    let later = Timestamp::now().plus(chrono::TimeDelta::minutes(91));
    let limits = tradai::jobs::OrphanLimits {
        max_running: chrono::TimeDelta::minutes(90),
        max_queued: chrono::TimeDelta::minutes(60),
    };
    let inspector = tradai::executor::AwsInspector::new(
        aws_sdk_sfn::Client::new(&stack.sdk),
        aws_sdk_ecs::Client::new(&stack.sdk),
        None,
    );
    let (report, _) = tradai::jobs::scan(&stack.store(), &inspector, limits, later)
        .await
        .expect("scanned");
    assert_eq!(report.jobs_marked_failed, [run_id]);
    let record = status(&stack, run_id).await;
    assert_eq!(record.status, Status::Failed);
    let error = record.error.unwrap_or_default();
    assert!(
        error.starts_with(&format!("orphaned: no heartbeat since {}", last.updated_at)),
        "{error}"
    );
    std::fs::remove_dir_all(folder).ok();
}

/// The job of a good run whose MLflow went away: COMPLETED, the gap recorded.
async fn completed_with_a_tracking_gap(stack: &Stack, run_id: RunId, outcome: &Outcome) -> WorkflowRecord {
    assert!(matches!(outcome, Outcome::Completed { .. }), "{outcome:?}");
    let record = status(stack, run_id).await;
    assert_eq!(
        record.status,
        Status::Completed,
        "a good run is not failed for its tracking"
    );
    assert!(
        record
            .tracking_error
            .as_deref()
            .is_some_and(|error| error.contains("MLflow")),
        "the gap is recorded: {:?}",
        record.tracking_error
    );
    record
}

/// Whether a run's recorded result has trades.
fn traded(result: &serde_json::Value) -> bool {
    result["metrics"]["total_trades"]
        .as_f64()
        .is_some_and(|trades| trades > 0.0)
}

/// A job for real Freqtrade (its own virtualenv in .stand-ins/freqtrade), offline: candles made here in its Parquet
/// layout, the exchange's markets from a snapshot (container/engine/freqtrade_offline.py), a pandas-only strategy,
/// run by the default engine command of the mode (`TRADING_MODE` in `extra`) with `extra` variables.
async fn real_freqtrade_job(stack: &Stack, extra: &[(&str, &str)]) -> (RunId, EntrypointSettings, PathBuf) {
    let root = tradai_tests::project_root();
    let python = root.join(".stand-ins/freqtrade/bin/python");
    assert!(
        python.exists(),
        "Freqtrade is not installed: run `make stand-ins` (make test does)"
    );

    let start: Timestamp = "2026-01-01T00:00:00Z".parse().expect("a time");
    for pair in ["BTC_USDT", "ETH_USDT"] {
        let candles = tradai_tests::candles::CandleFile {
            start,
            interval: chrono::TimeDelta::minutes(5),
            rows: 9_000,
            rows_per_group: 100_000,
            utc: true,
        };
        stack
            .put_market_data(&format!("ohlcv/binance/{pair}-5m.parquet"), candles.to_parquet())
            .await;
    }
    let market = |base: &str| {
        serde_json::json!({"id": format!("{base}USDT"), "symbol": format!("{base}/USDT"), "base": base, "quote": "USDT",
            "type": "spot", "spot": true, "active": true, "taker": 0.001, "maker": 0.001,
            "precision": {"amount": 0.00001, "price": 0.01}, "limits": {"amount": {"min": 0.00001}, "cost": {"min": 5.0}}})
    };
    let markets = serde_json::json!([market("BTC"), market("ETH")]).to_string();
    stack
        .put_market_data("ohlcv/binance/markets.json", markets.into_bytes())
        .await;
    let config = serde_json::json!({"stake_currency": "USDT", "stake_amount": 100, "max_open_trades": 2,
        "dry_run": true, "dry_run_wallet": 1000, "dataformat_ohlcv": "parquet",
        "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT", "ETH/USDT"]},
        "pairlists": [{"method": "StaticPairList"}], "entry_pricing": {"price_side": "same"},
        "exit_pricing": {"price_side": "same"}});
    let config_uri = stack
        .put_config("temp/run/config.json", config.to_string().into_bytes())
        .await;
    // The mode's default command, started by the Freqtrade of the stand-ins through the offline-markets launcher
    // (the image's ENGINE_LAUNCHER), with the strategy folder where the image's STRATEGY_PATH would say.
    let engine = root.join("container/engine");
    let launcher = serde_json::json!([
        python.display().to_string(),
        engine.join("freqtrade_offline.py").display().to_string()
    ])
    .to_string();
    let strategy_path = engine.display().to_string();
    let market_uri = format!("s3://{}/ohlcv", stack.market_data_bucket);
    let mut variables = vec![
        ("ENGINE_LAUNCHER", launcher.as_str()),
        ("STRATEGY_PATH", strategy_path.as_str()),
        ("CONFIG_PATH", config_uri.as_str()),
        ("MARKET_DATA_S3_URI", market_uri.as_str()),
        ("PAIRS", "BTC/USDT,ETH/USDT"),
        ("TIMERANGE", "20260105-20260130"),
    ];
    variables.extend_from_slice(extra);
    let (run_id, mut vars, folder) = waiting_job_environment(stack, "exit 1", &variables).await;
    vars.remove("ENGINE_COMMAND");
    let settings = EntrypointSettings::from_env(&Env::from_vars(vars)).expect("valid settings");
    (run_id, settings, folder)
}

/// Real Freqtrade hyperopt (10 epochs of the strategy's buy and sell spaces), through the entrypoint with MLflow
/// and the results bucket: the best epoch is recorded, logged and uploaded, and nothing is left beside the strategy.
#[tokio::test]
async fn real_freqtrade_hyperopts_offline_through_the_entrypoint() {
    let stack = Stack::fresh().await;
    let (run_id, settings, folder) = real_freqtrade_job(
        &stack,
        &[
            ("TRADING_MODE", "hyperopt"),
            ("S3_RESULTS_BUCKET", &stack.results_bucket),
            ("HYPEROPT_EPOCHS", "10"),
            ("HYPEROPT_RANDOM_STATE", "42"),
        ],
    )
    .await;
    let tracker = MlflowClient::new(MlflowOptions::new(tradai_tests::mlflow::endpoint())).expect("client");
    let outcome = run(&settings, &deps(&stack, Some(tracker)), std::future::pending()).await;
    assert!(matches!(outcome, Outcome::Completed { .. }), "{outcome:?}");
    let record = status(&stack, run_id).await;
    assert_eq!(record.status, Status::Completed);
    let result = record.result.expect("a result");
    assert_eq!(result["mode"], "hyperopt");
    assert_eq!(result["epochs"], 10, "{result}");
    assert!(
        result["best_epoch"]
            .as_u64()
            .is_some_and(|epoch| (1..=10).contains(&epoch)),
        "{result}"
    );
    assert!(result["params"]["buy.buy_ema_fast"].is_number(), "{result}");
    assert!(traded(&result), "{result}");

    let keys = stack
        .keys_in(&stack.results_bucket, &format!("results/{run_id}/"))
        .await;
    assert!(keys.iter().any(|key| key.ends_with(".fthypt")), "{keys:?}");
    assert!(keys.iter().any(|key| key.ends_with("/best_epoch.json")), "{keys:?}");
    assert!(
        !keys.iter().any(|key| key.ends_with(".pkl")),
        "the preprocessed candles are not kept: {keys:?}"
    );
    let mlflow_run = record.mlflow_run_id.expect("an MLflow run");
    let artifacts = tradai_tests::mlflow::artifacts(&mlflow_run, "hyperopt").await;
    assert!(artifacts.iter().any(|path| path.ends_with(".fthypt")), "{artifacts:?}");
    let engine = tradai_tests::project_root().join("container/engine");
    assert!(
        !engine.join("EmaCross.json").exists(),
        "hyperopt wrote parameters beside the strategy"
    );
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test]
async fn mlflow_going_down_while_real_freqtrade_runs_leaves_the_result_in_s3_and_the_job_completed() {
    let stack = Stack::fresh().await;
    let proxy = tradai_tests::proxy::Proxy::start(tradai_tests::mlflow::endpoint().trim_start_matches("http://")).await;
    let extra = [
        ("MLFLOW_TRACKING_URI", proxy.url.as_str()),
        ("S3_RESULTS_BUCKET", stack.results_bucket.as_str()),
    ];
    let (run_id, settings, folder) = real_freqtrade_job(&stack, &extra).await;
    let mlflow = MlflowClient::new(settings.mlflow.clone().expect("MLflow is configured")).expect("client");
    let deps = deps(&stack, Some(mlflow));
    let cut = async {
        // MLflow answered the container's wait; once the job runs, Freqtrade is at work and MLflow goes down.
        let started = Instant::now();
        while status(&stack, run_id).await.status != Status::Running {
            assert!(started.elapsed() < Duration::from_secs(60), "the job never ran");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        proxy.cut();
    };
    let (outcome, ()) = tokio::join!(run(&settings, &deps, std::future::pending()), cut);
    let record = completed_with_a_tracking_gap(&stack, run_id, &outcome).await;
    let result = record.result.expect("Freqtrade's result");
    assert!(traded(&result), "{result}");
    let keys = stack
        .keys_in(&stack.results_bucket, &format!("results/{run_id}/"))
        .await;
    assert!(
        keys.contains(&format!("results/{run_id}/.last_result.json")),
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|key| key.ends_with(".zip")),
        "the result is in S3: {keys:?}"
    );
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test]
async fn real_freqtrade_backtests_offline_through_the_entrypoint() {
    let stack = Stack::fresh().await;
    let (run_id, settings, folder) = real_freqtrade_job(&stack, &[]).await;
    let started = Instant::now();
    let outcome = run(&settings, &deps(&stack, None), std::future::pending()).await;
    assert!(matches!(outcome, Outcome::Completed { .. }), "{outcome:?}");
    let record = status(&stack, run_id).await;
    assert_eq!(record.status, Status::Completed);
    let result = record.result.expect("a result");
    assert!(traded(&result), "{result}");
    assert!(result["metrics"]["profit_total"].is_number(), "{result}");
    assert_eq!(
        result["pairlist"],
        serde_json::json!(["BTC/USDT", "ETH/USDT"]),
        "both pairs were traded"
    );
    assert!(started.elapsed() < Duration::from_secs(120), "{:?}", started.elapsed());

    // TransformResults' summary of this real result holds to Freqtrade's own numbers in it.
    let Outcome::Completed { result_file } = &outcome else {
        unreachable!("checked above")
    };
    let bytes = std::fs::read(result_file).expect("the result zip");
    let parsed = tradai::results::parse_result(&bytes, true, "EmaCross").expect("a Freqtrade result");
    let summary = tradai::results::summarize(&parsed).expect("a summary");
    let theirs = parsed.metrics();
    let close = |ours: f64, name: &str| {
        let freqtrade = theirs[name];
        assert!(
            (ours - freqtrade).abs() <= 1e-6 * freqtrade.abs().max(1.0),
            "{name}: ours {ours}, Freqtrade's {freqtrade}"
        );
    };
    assert!(
        summary.wins > 0 && summary.losses > 0,
        "the data makes winners and losers: {summary:?}"
    );
    close(summary.total_trades as f64, "total_trades");
    close(summary.wins as f64, "wins");
    close(summary.losses as f64, "losses");
    close(summary.win_rate, "winrate");
    close(summary.profit_total_abs, "profit_total_abs");
    close(summary.profit_total_pct / 100.0, "profit_total");
    close(summary.profit_factor, "profit_factor");
    close(summary.max_drawdown_abs, "max_drawdown_abs");
    close(summary.max_drawdown_pct / 100.0, "max_drawdown_account");
    close(summary.sharpe, "sharpe");
    close(summary.sortino, "sortino");
    close(summary.calmar, "calmar");
    close(summary.backtest_days as f64, "backtest_days");
    std::fs::remove_dir_all(folder).ok();
}

/// Strategy parameters reach real Freqtrade as its parameter file beside a copy of the strategy: the same data
/// trades differently with slower entry EMAs than with the defaults, the file Freqtrade loaded is in the result,
/// and the image's strategy folder is left as it was.
#[tokio::test]
async fn strategy_parameters_reach_real_freqtrade_as_its_parameter_file() {
    let stack = Stack::fresh().await;
    let parameters = [(
        "STRATEGY_PARAMETERS",
        r#"{"buy": {"buy_ema_fast": 4, "buy_ema_slow": 50}}"#,
    )];
    let ((default_run, default_settings, default_folder), (run_id, settings, folder)) =
        tokio::join!(real_freqtrade_job(&stack, &[]), real_freqtrade_job(&stack, &parameters),);
    let deps = deps(&stack, None);
    let (by_default, with_parameters) = tokio::join!(
        run(&default_settings, &deps, std::future::pending()),
        run(&settings, &deps, std::future::pending()),
    );
    for outcome in [&by_default, &with_parameters] {
        assert!(matches!(outcome, Outcome::Completed { .. }), "{outcome:?}");
    }
    let trades = |result: &serde_json::Value| result["metrics"]["total_trades"].as_f64().expect("trades");
    let default_result = status(&stack, default_run).await.result.expect("a result");
    let result = status(&stack, run_id).await.result.expect("a result");
    assert!(traded(&result), "{result}");
    assert_ne!(
        trades(&result),
        trades(&default_result),
        "the parameters changed the trades: {result} / {default_result}"
    );

    let Outcome::Completed { result_file } = &with_parameters else {
        unreachable!("checked above")
    };
    let zip = std::fs::read(result_file).expect("the result zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
    let name = (0..archive.len())
        .filter_map(|index| archive.by_index(index).ok().map(|file| file.name().to_owned()))
        .find(|name| name.ends_with("_EmaCross.json"))
        .expect("Freqtrade kept the parameter file it loaded");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut archive.by_name(&name).expect("the file"), &mut text).expect("read");
    let loaded: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(loaded["strategy_name"], "EmaCross");
    assert_eq!(
        loaded["params"]["buy"],
        serde_json::json!({"buy_ema_fast": 4, "buy_ema_slow": 50})
    );
    assert!(
        !tradai_tests::project_root()
            .join("container/engine/EmaCross.json")
            .exists(),
        "the parameter file was written beside the image's strategy"
    );
    for folder in [default_folder, folder] {
        std::fs::remove_dir_all(folder).ok();
    }
}

#[tokio::test]
async fn dry_run_loads_the_aliased_versions_config_merges_overrides_and_serves_health() {
    let stack = Stack::fresh().await;
    let base = serde_json::json!({"stake_currency": "USDT", "stake_amount": 100, "dry_run": false,
        "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT", "ETH/USDT"]}});
    let config_path = stack
        .put_config("strategies/EmaCross/base.json", base.to_string().into_bytes())
        .await;
    let name = tradai_tests::mlflow::unique_name("Trader");
    let versions = tradai_tests::mlflow::register(&name, &[&[("config_path", config_path.as_str())]], &[]).await;
    tradai_tests::mlflow::register(&name, &[], &[("staging", versions[0])]).await;

    let folder = tradai_tests::project_root().join(format!(".stand-ins/trade-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&folder).expect("folder");
    let seen = folder.join("seen-config.json");
    let script = folder.join("trade.sh");
    // A stand-in for `freqtrade trade`: keeps the config it was given, then trades until stopped.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncp \"$1\" \"{}\"\ntrap 'exit 0' TERM\nsleep 30 &\nwait $!\n",
            seen.display()
        ),
    )
    .expect("script");
    let port = tradai_tests::free_port();
    let vars: HashMap<String, String> = [
        ("TRADING_MODE", "dry_run".to_owned()),
        ("STRATEGY_NAME", name.clone()),
        ("STRATEGY_STAGE", "staging".to_owned()),
        ("MLFLOW_TRACKING_URI", tradai_tests::mlflow::endpoint().to_owned()),
        (
            "CONFIG_OVERRIDES",
            r#"{"stake_amount": 250, "exchange": {"pair_whitelist": ["SOL/USDT"]}}"#.to_owned(),
        ),
        (
            "TRADE_COMMAND",
            serde_json::json!(["sh", script.display().to_string(), "{config}"]).to_string(),
        ),
        ("WORK_DIR", folder.join("work").display().to_string()),
        ("HEALTH_PORT", port.to_string()),
        ("STOP_GRACE_SECONDS", "5".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = entrypoint::trade::TradeSettings::from_env(&Env::from_vars(vars.clone())).expect("valid");
    let registry = MlflowClient::new(MlflowOptions::new(tradai_tests::mlflow::endpoint())).expect("client");

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let prober = async {
        let started = Instant::now();
        let answer = loop {
            let reply = reqwest::get(format!("http://127.0.0.1:{port}/health")).await;
            if let Ok(reply) = reply {
                break reply;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "/health never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let status = answer.status().as_u16();
        let body: serde_json::Value = answer.json().await.expect("JSON");
        while !seen.exists() {
            assert!(started.elapsed() < Duration::from_secs(20), "the engine never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(()).expect("the trader listens");
        (status, body)
    };
    let shutdown = async {
        let _ = stopped.await;
    };
    let objects = S3Objects::new(stack.s3.clone(), "");
    let (code, (status, body)) = tokio::join!(
        entrypoint::trade::trade(&settings, &registry, &objects, shutdown),
        prober
    );
    assert_eq!((status, body["status"].as_str()), (200, Some("healthy")), "{body}");
    assert_eq!(code, exit::INTERRUPTED);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seen).expect("config seen")).expect("JSON");
    assert_eq!(
        config["dry_run"], true,
        "a dry run never trades for real, whatever the config says"
    );
    assert_eq!(config["stake_amount"], 250);
    assert_eq!(
        config["exchange"],
        serde_json::json!({"name": "binance", "pair_whitelist": ["SOL/USDT"]})
    );
    std::fs::remove_dir_all(folder).ok();
}
