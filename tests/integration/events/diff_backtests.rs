//! GET /backtests/diff: two planned runs compared from their records, their manifests in the results bucket and
//! both versions of the candle file they read in the versioned market-data bucket; a missing or malformed run id
//! is 400 naming it, an unknown run 404.

use chrono::TimeDelta;
use serde_json::json;
use tradai::backtest::{RunId, Status, WorkflowRecord};
use tradai::objects::{ObjectStore, S3Objects};
use tradai::run_manifest::{ConfigPin, DataFile, RunManifest, StrategyPin};
use tradai::store::{DynamoDbStore, RecordUpdate, WorkflowStore};
use tradai::time::Timestamp;
use tradai_tests::candles::CandleFile;
use tradai_tests::stack::Stack;

use super::{event, request, sample_request};
use crate::answer::Answer;

const FUNCTION: &str = "diff-backtests";

fn deps(stack: &Stack) -> diff_backtests::Deps<DynamoDbStore, S3Objects> {
    diff_backtests::Deps {
        store: stack.store(),
        results: stack.results(),
        market_data: S3Objects::new(stack.s3.clone(), &stack.market_data_bucket),
    }
}

async fn compare(stack: &Stack, name: &str) -> Answer {
    let answer = Answer::read(
        diff_backtests::handle(&deps(stack), request(FUNCTION, name))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

/// Run `name`'s parameter `which` of the sample event.
fn run_of(name: &str, which: &str) -> RunId {
    event(FUNCTION, name)["queryStringParameters"][which]
        .as_str()
        .expect("a run id")
        .parse()
        .expect("a run id")
}

/// A COMPLETED run of the sample request under `run_id` with `summary`, its manifest pinning `file` and `config`.
async fn planned(stack: &Stack, run_id: RunId, file: DataFile, config: serde_json::Value, summary: serde_json::Value) {
    let record = WorkflowRecord::new(run_id, sample_request(), Status::Queued, Timestamp::now());
    stack.store().create(&record).await.expect("created");
    let done = tradai::store::Transition::new(Status::Queued, Status::Completed, Timestamp::now()).with(RecordUpdate {
        result: Some(summary),
        ..RecordUpdate::default()
    });
    stack.store().transition(run_id, &done).await.expect("completed");
    let manifest = RunManifest {
        strategy: StrategyPin {
            name: "EmaCross".into(),
            version: 3,
            image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:3".into(),
            digest: "sha256:5b0e".into(),
        },
        config: ConfigPin::new(config),
        data: vec![file],
        markets: None,
        timerange: "20260105-20260301".into(),
        pairs: vec!["BTC/USDT".into()],
        timeframe: "5m".into(),
        parameters: None,
        hyperopt: None,
        observed: None,
    };
    let bytes = serde_json::to_vec(&manifest).expect("JSON");
    stack
        .results()
        .put(&format!("results/{run_id}/manifest.json"), bytes)
        .await
        .expect("manifest written");
}

/// `rows` candles ending at `last`, uploaded as BTC/USDT's file: the version as a manifest pins it.
async fn upload(stack: &Stack, last: Timestamp, rows: usize) -> DataFile {
    let key = "ohlcv/binance/BTC_USDT-5m.parquet";
    stack
        .put_market_data(
            key,
            CandleFile::ending_at(last, TimeDelta::minutes(5), rows).to_parquet(),
        )
        .await;
    let hashed = S3Objects::new(stack.s3.clone(), &stack.market_data_bucket)
        .hash(key, None)
        .await
        .expect("hashed")
        .expect("there");
    DataFile {
        key: key.into(),
        pair: Some("BTC/USDT".into()),
        version_id: hashed.version_id,
        sha256: hashed.sha256,
        size: hashed.size,
    }
}

#[tokio::test]
async fn two_runs_are_compared_by_config_path_data_file_and_dates_and_metrics() {
    let stack = Stack::fresh().await;
    let last: Timestamp = "2026-02-28T23:55:00Z".parse().expect("a time");
    let before = upload(&stack, last, 288).await;
    // Downloaded again a day later: the same candles, and 288 more.
    let after = upload(&stack, last.plus(TimeDelta::days(1)), 576).await;
    let (a, b) = (run_of("valid.json", "a"), run_of("valid.json", "b"));
    planned(
        &stack,
        a,
        before,
        json!({"max_open_trades": 2}),
        json!({"total_trades": 8, "sharpe": 1.5}),
    )
    .await;
    planned(
        &stack,
        b,
        after,
        json!({"max_open_trades": 3}),
        json!({"total_trades": 11, "sharpe": 1.25}),
    )
    .await;

    let answer = compare(&stack, "valid.json").await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let diff = &answer.json;
    assert_eq!(diff["same_inputs"], false);
    assert_eq!(
        diff["parameters"],
        json!([{"path": "$.max_open_trades", "a": 2, "b": 3}])
    );
    assert_eq!(diff["code"], json!([]));
    let data = diff["data"].as_array().expect("a list");
    assert_eq!(data.len(), 1, "{diff}");
    assert_eq!(
        (&data[0]["key"], &data[0]["pair"]),
        (&json!("ohlcv/binance/BTC_USDT-5m.parquet"), &json!("BTC/USDT"))
    );
    assert_ne!(data[0]["a"]["version_id"], data[0]["b"]["version_id"]);
    assert_eq!(
        data[0]["candles"],
        json!({"changed": 0, "only_a": 0, "only_b": 288, "first": "2026-03-01T00:00:00.000000Z",
            "last": "2026-03-01T23:55:00.000000Z"}),
        "the day added, read from both versions"
    );
    assert_eq!(
        diff["metrics"],
        json!([{"name": "total_trades", "a": 8.0, "b": 11.0, "delta": 3.0},
            {"name": "sharpe", "a": 1.5, "b": 1.25, "delta": -0.25}])
    );
}

#[tokio::test]
async fn a_missing_malformed_or_unknown_run_is_named() {
    let stack = Stack::fresh().await;
    for (name, status, says) in [
        ("invalid-missing-b.json", 400, "b: required"),
        ("invalid-malformed-a.json", 400, "a: "),
        ("unknown-run-id.json", 404, "no backtest"),
    ] {
        let answer = compare(&stack, name).await;
        assert_eq!(answer.status, status, "{name}: {}", answer.json);
        assert!(answer.json.to_string().contains(says), "{name}: {}", answer.json);
    }
}
