//! PrepareConfig: the base config with the run's overrides and fields, written as JSON (valid YAML) to
//! `temp/{run_id}/config.yaml`, and the container's environment the entrypoint accepts; the run's manifest pins the
//! candle files by version and hash, and a job of inputs a COMPLETED run had is answered from it; a base config
//! that is not there is `MissingConfig`; a state without a valid run or strategy is `InvalidInput`.

use std::collections::BTreeMap;

use serde_json::Value;
use tradai::backtest::Status;
use tradai::executor::ContainerContext;
use tradai::objects::{ObjectStore, S3Objects};
use tradai::store::{DynamoDbStore, RecordUpdate, Transition, WorkflowStore};
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{assert_invalid_input, invocation, sample_job, state};

const FUNCTION: &str = "prepare-config";

/// A stack with the sample events' base config, and the step's deps on it.
async fn prepared_stack() -> (Stack, prepare_config::Deps<S3Objects, DynamoDbStore>) {
    let stack = Stack::fresh().await;
    let base = "# EmaCross base config\nstake_currency: USDT\nstake_amount: 100\nmax_open_trades: 2\n\
                exchange:\n  name: binance\n  pair_whitelist: [XRP/USDT]\n  ccxt_config: {enableRateLimit: true}\n\
                entry_pricing: {price_side: same}\nexit_pricing: {price_side: same}\n";
    stack
        .put_config("strategies/EmaCross/base.yaml", base.as_bytes().to_vec())
        .await;
    stack.put_candles(&["BTC/USDT", "ETH/USDT"], 1, 64).await;
    let context = ContainerContext {
        workflow_table: stack.table.clone(),
        mlflow_tracking_uri: Some("http://mlflow.tradai.local:5000".into()),
        results_bucket: Some(stack.results_bucket.clone()),
        market_data_uri: Some(format!("s3://{}/ohlcv", stack.market_data_bucket)),
    };
    let deps = prepare_config::Deps {
        configs: S3Objects::new(stack.s3.clone(), &stack.config_bucket),
        results: stack.results(),
        jobs: stack.store(),
        context,
        task_prefix: "strategy-".into(),
    };
    (stack, deps)
}

#[tokio::test]
async fn the_merged_config_and_the_containers_environment_are_prepared() {
    let (stack, deps) = prepared_stack().await;
    for name in ["valid.json", "valid-with-overrides.json"] {
        let state = state(FUNCTION, name, &stack);
        let output = prepare_config::handle(&deps, invocation(&state))
            .await
            .expect("prepared");
        let run_id = state["run_id"].as_str().expect("run id");
        let prepared = &output["prepared"];
        let key = format!("temp/{run_id}/config.yaml");
        assert_eq!(prepared["config_path"], format!("s3://{}/{key}", stack.config_bucket));
        assert_eq!(prepared["strategy_version"], 3, "the pinned version, not the alias");
        assert_eq!(prepared["task_definition"], "strategy-EmaCross");
        assert_eq!(prepared["ecr_url"], state["strategy"]["ecr_url"]);
        let written = deps
            .configs
            .get(&key)
            .await
            .expect("read")
            .expect("the merged config is there");
        let config = tradai::config::parse_document(&written).expect("YAML");
        let as_json: Value = serde_json::from_slice(&written).expect("and JSON, for Freqtrade");
        assert_eq!(config, as_json);
        assert_eq!(config["run_id"], run_id);
        assert_eq!(config["strategy_version"], 3);
        assert_eq!(
            config["exchange"]["pair_whitelist"],
            serde_json::json!(["BTC/USDT", "ETH/USDT"])
        );
        assert_eq!(config["exchange"]["ccxt_config"]["enableRateLimit"], true);
        assert_eq!(config["dataformat_ohlcv"], "parquet");
        let overridden = state["config"].get("config_overrides").is_some();
        assert_eq!(config["stake_amount"], if overridden { 250 } else { 100 }, "{name}");
        let environment: BTreeMap<String, String> = prepared["environment"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|pair| {
                (
                    pair["Name"].as_str().expect("Name").to_owned(),
                    pair["Value"].as_str().expect("Value").to_owned(),
                )
            })
            .collect();
        assert_eq!(environment["RUN_ID"], run_id);
        assert_eq!(environment["STRATEGY_VERSION"], "3");
        assert_eq!(
            environment["CONFIG_PATH"],
            prepared["config_path"].as_str().expect("path")
        );
        assert_eq!(environment["WORKFLOW_STATE_TABLE"], stack.table);
        assert_eq!(environment["LAUNCHED_BY"], "workflow");
        assert_eq!(environment["TIMERANGE"], "20260105-20260301");
        assert_eq!(
            environment["RUN_MANIFEST"],
            format!("s3://{}/results/{run_id}/manifest.json", stack.results_bucket)
        );
        // What the container reads is what the executors give: the entrypoint accepts it.
        let vars = tradai::settings::Env::from_vars(environment);
        let settings = entrypoint::EntrypointSettings::from_env(&vars).expect("the entrypoint's environment");
        assert!(settings.workflow_managed);
        assert_eq!(settings.pairs, ["BTC/USDT", "ETH/USDT"]);
    }
}

#[tokio::test]
async fn a_base_config_that_is_not_there_is_missing_config() {
    let (stack, deps) = prepared_stack().await;
    let state = state(FUNCTION, "missing-config.json", &stack);
    let error = prepare_config::handle(&deps, invocation(&state))
        .await
        .expect_err("refused");
    assert_eq!(error.error_type, "MissingConfig");
    assert!(error.error_message.contains("removed.yaml"), "{}", error.error_message);
}

#[tokio::test]
async fn a_state_without_a_valid_run_or_strategy_is_invalid_input() {
    let (stack, deps) = prepared_stack().await;
    for (name, field) in [
        ("invalid-missing-strategy.json", "strategy"),
        ("invalid-malformed-run-id.json", "run"),
    ] {
        let answer = prepare_config::handle(&deps, invocation(&state(FUNCTION, name, &stack))).await;
        assert_invalid_input(answer, field);
    }
}

/// A walk-forward's out-of-sample run (`out-of-sample.json`) runs with the best parameters its in-sample hyperopt
/// recorded, read from the job table; before that hyperopt completed, the step refuses naming it.
#[tokio::test]
async fn an_out_of_sample_run_gets_its_hyperopts_best_parameters_from_the_job_table() {
    let (stack, deps) = prepared_stack().await;
    let state = state(FUNCTION, "out-of-sample.json", &stack);
    let from = state["config"]["parameters_from"].as_str().expect("parameters_from");
    let hyperopt = sample_job(&stack, from, Status::Running).await;
    let early = prepare_config::handle(&deps, invocation(&state)).await;
    assert_invalid_input(early, "RUNNING, not COMPLETED");

    let best = serde_json::json!({"mode": "hyperopt", "best_epoch": 4, "epochs": 10,
        "params": {"buy.buy_ema_fast": 9, "buy.buy_ema_slow": 26}, "metrics": {"total_trades": 12}});
    let done = Transition::new(Status::Running, Status::Completed, Timestamp::now()).with(RecordUpdate {
        result: Some(best),
        ..RecordUpdate::default()
    });
    stack.store().transition(hyperopt, &done).await.expect("completed");
    let output = prepare_config::handle(&deps, invocation(&state))
        .await
        .expect("prepared");
    let parameters = output["prepared"]["environment"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|pair| pair["Name"] == "STRATEGY_PARAMETERS")
        .and_then(|pair| pair["Value"].as_str())
        .map(|text| serde_json::from_str::<Value>(text).expect("JSON"));
    assert_eq!(
        parameters,
        Some(serde_json::json!({"buy": {"buy_ema_fast": 9, "buy_ema_slow": 26}})),
        "{output}"
    );
}

/// The manifest pins what the run will read, by version and content hash, and the job records its fingerprint; a
/// second job of the same inputs is answered from the first once it COMPLETED (through the table's fingerprint
/// index), unless it asks for `no_cache`; a new version of one candle file is other inputs.
#[tokio::test]
async fn the_manifest_pins_the_inputs_and_a_job_of_inputs_already_run_is_answered_from_that_run() {
    let (stack, deps) = prepared_stack().await;
    let first = state(FUNCTION, "valid.json", &stack);
    let first_id = sample_job(&stack, first["run_id"].as_str().expect("run id"), Status::Queued).await;
    let output = prepare_config::handle(&deps, invocation(&first))
        .await
        .expect("prepared");
    assert_eq!(
        output["prepared"].get("cached_from"),
        None,
        "nothing ran these inputs before"
    );
    let manifest: tradai::run_manifest::RunManifest = serde_json::from_slice(
        &deps
            .results
            .get(&format!("results/{first_id}/manifest.json"))
            .await
            .expect("read")
            .expect("the manifest is written"),
    )
    .expect("a manifest");
    assert_eq!(manifest.strategy.digest, first["strategy"]["image_digest"]);
    assert_eq!(manifest.pairs, ["BTC/USDT", "ETH/USDT"]);
    let btc = &manifest.data[0];
    assert_eq!(btc.pair.as_deref(), Some("BTC/USDT"));
    let current = stack
        .s3
        .head_object()
        .bucket(&stack.market_data_bucket)
        .key(&btc.key)
        .send()
        .await
        .expect("head");
    assert_eq!(
        btc.version_id.as_deref(),
        current.version_id(),
        "the current version is pinned"
    );
    assert_eq!(
        manifest.config.document.get("run_id"),
        None,
        "what names the run is not an input"
    );
    let fingerprint = manifest.fingerprint();
    assert_eq!(output["prepared"]["fingerprint"], fingerprint.to_string());
    let record = stack.store().get(first_id).await.expect("read").expect("there");
    assert_eq!(record.fingerprint, Some(fingerprint.clone()));

    // The first run completes; a second job of the same request is answered from it.
    let summary = serde_json::json!({"total_trades": 5, "profit_total_pct": 1.25});
    for (from, to) in [(Status::Queued, Status::Running), (Status::Running, Status::Completed)] {
        let moved = Transition::new(from, to, Timestamp::now()).with(RecordUpdate {
            result: (to == Status::Completed).then(|| summary.clone()),
            mlflow_run_id: Some("mlflow-run-of-the-first".into()),
            ..RecordUpdate::default()
        });
        stack.store().transition(first_id, &moved).await.expect("moved");
    }
    let again = |no_cache: bool| {
        let mut state = first.clone();
        let run_id = tradai::backtest::RunId::new();
        state["run_id"] = serde_json::json!(run_id);
        if no_cache {
            state["config"]["no_cache"] = serde_json::json!(true);
        }
        (run_id, state)
    };
    let (second_id, second) = again(false);
    sample_job(&stack, &second_id.to_string(), Status::Queued).await;
    let output = prepare_config::handle(&deps, invocation(&second))
        .await
        .expect("prepared");
    assert_eq!(output["prepared"]["cached_from"], first_id.to_string(), "{output}");
    assert_eq!(output["summary"], summary);
    let answered = stack.store().get(second_id).await.expect("read").expect("there");
    assert_eq!(
        (
            answered.status,
            answered.cached_from,
            answered.result.as_ref(),
            answered.mlflow_run_id.as_deref()
        ),
        (
            Status::Completed,
            Some(first_id),
            Some(&summary),
            Some("mlflow-run-of-the-first")
        )
    );

    let (fresh_id, fresh) = again(true);
    sample_job(&stack, &fresh_id.to_string(), Status::Queued).await;
    let output = prepare_config::handle(&deps, invocation(&fresh))
        .await
        .expect("prepared");
    assert_eq!(output["prepared"].get("cached_from"), None, "no_cache runs the engine");
    assert_eq!(
        output["prepared"]["fingerprint"],
        fingerprint.to_string(),
        "of the same inputs"
    );

    // One candle file uploaded again with other bytes is a new version: other inputs, no answer.
    stack.put_candles(&["ETH/USDT"], 2, 64).await;
    let (changed_id, changed) = again(false);
    sample_job(&stack, &changed_id.to_string(), Status::Queued).await;
    let output = prepare_config::handle(&deps, invocation(&changed))
        .await
        .expect("prepared");
    assert_eq!(output["prepared"].get("cached_from"), None, "{output}");
    assert_ne!(output["prepared"]["fingerprint"], fingerprint.to_string());
}
