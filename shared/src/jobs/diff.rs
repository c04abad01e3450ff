//! "Why did my results change?": what differs between two runs, from their manifests and records — the code
//! (strategy version, image, digest), the run (dates, pairs, timeframe), the engine config by JSON path with both
//! values, the strategy's parameter file, the data (which candle files and pairs, and over which dates, read from
//! both object versions), the engine the containers observed, and the metric deltas.

use serde::Serialize;
use serde_json::{Value, json};

use super::planned::{PlannedError, planned_run};
use crate::backtest::{RunId, WorkflowRecord};
use crate::market_data::candles::Candles;
use crate::objects::{ObjectError, ObjectStore};
use crate::run_manifest::diff::{CandleChanges, FileChange, ValueChange, candle_changes, file_changes, value_changes};
use crate::run_manifest::{DataFile, RunManifest};
use crate::store::WorkflowStore;

/// The summary metrics a diff compares, in the order it shows them.
pub const METRICS: &[&str] = &[
    "total_trades",
    "profit_total_pct",
    "profit_total_abs",
    "win_rate",
    "max_drawdown_pct",
    "sharpe",
    "sortino",
    "calmar",
    "profit_factor",
    "final_balance",
];

/// What differs between runs `a` and `b`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDiff {
    pub a: RunId,
    pub b: RunId,
    /// The runs had one fingerprint: the same code read the same bytes with the same config.
    pub same_inputs: bool,
    /// `$.version`, `$.image`, `$.digest`.
    pub code: Vec<ValueChange>,
    /// `$.timerange`, `$.pairs`, `$.timeframe`.
    pub run: Vec<ValueChange>,
    /// The engine config, by path (`$.max_open_trades`, `$.exchange.pair_whitelist[1]`).
    pub parameters: Vec<ValueChange>,
    /// The strategy's parameter file (`$.buy.buy_ema_fast`).
    pub strategy_parameters: Vec<ValueChange>,
    /// Candle files (and the markets snapshot) with other contents, or read by one run only.
    pub data: Vec<DataChange>,
    /// What the containers observed (`$.engine`, `$.entrypoint`), when both did.
    pub engine: Vec<ValueChange>,
    pub metrics: Vec<MetricDelta>,
}

/// One input file that differs, and for a candle file both runs read, how its candles differ by date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataChange {
    #[serde(flatten)]
    pub file: FileChange,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candles: Option<CandleChanges>,
}

/// One metric of both runs' summaries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricDelta {
    pub name: &'static str,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// `b - a`, when both have it.
    pub delta: Option<f64>,
}

/// Compares runs `a` and `b`: their records in `store`, their manifests in `results`, and the candle files both
/// read in `market_data` (the market-data bucket, at each run's pinned version).
pub async fn diff(
    store: &impl WorkflowStore,
    results: &impl ObjectStore,
    market_data: &impl ObjectStore,
    a: RunId,
    b: RunId,
) -> Result<RunDiff, PlannedError> {
    let (record_a, manifest_a) = planned_run(store, results, a).await?;
    let (record_b, manifest_b) = planned_run(store, results, b).await?;
    let mut data = Vec::new();
    let markets = |manifest: &RunManifest| manifest.markets.iter().cloned().collect::<Vec<_>>();
    let files = file_changes(&manifest_a.data, &manifest_b.data)
        .into_iter()
        .chain(file_changes(&markets(&manifest_a), &markets(&manifest_b)));
    for file in files {
        let candles = match (&file.pair, &file.a, &file.b) {
            (Some(_), Some(in_a), Some(in_b)) => candles_of(market_data, in_a)
                .await?
                .zip(candles_of(market_data, in_b).await?)
                .map(|(a, b)| candle_changes(&a, &b)),
            _ => None,
        };
        data.push(DataChange { file, candles });
    }
    let run = |manifest: &RunManifest| json!({"timerange": manifest.timerange, "pairs": manifest.pairs, "timeframe": manifest.timeframe});
    Ok(RunDiff {
        a,
        b,
        same_inputs: manifest_a.fingerprint() == manifest_b.fingerprint(),
        code: value_changes(&value(&manifest_a.strategy), &value(&manifest_b.strategy)),
        run: value_changes(&run(&manifest_a), &run(&manifest_b)),
        parameters: value_changes(&manifest_a.config.document, &manifest_b.config.document),
        strategy_parameters: value_changes(
            manifest_a.parameters.as_ref().unwrap_or(&Value::Null),
            manifest_b.parameters.as_ref().unwrap_or(&Value::Null),
        ),
        data,
        engine: match (&manifest_a.observed, &manifest_b.observed) {
            (Some(in_a), Some(in_b)) => value_changes(&value(in_a), &value(in_b)),
            _ => Vec::new(),
        },
        metrics: metric_deltas(&record_a, &record_b),
    })
}

/// `value` as JSON (a manifest's parts always are).
fn value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The candles of `file` at its pinned version, when that version is still there and reads as candles.
async fn candles_of(market_data: &impl ObjectStore, file: &DataFile) -> Result<Option<Candles>, ObjectError> {
    let Some(bytes) = market_data.get_version(&file.key, file.version_id.as_deref()).await? else {
        return Ok(None);
    };
    Ok(Candles::from_parquet(bytes)
        .inspect_err(|error| tracing::warn!(key = %file.key, %error, "a pinned candle file does not read"))
        .ok())
}

/// Each of [`METRICS`] in both runs' recorded summaries, and how much it moved.
fn metric_deltas(a: &WorkflowRecord, b: &WorkflowRecord) -> Vec<MetricDelta> {
    let number = |record: &WorkflowRecord, name: &str| record.result.as_ref().and_then(|result| result[name].as_f64());
    METRICS
        .iter()
        .map(|name| {
            let (in_a, in_b) = (number(a, name), number(b, name));
            MetricDelta {
                name,
                a: in_a,
                b: in_b,
                delta: in_a.zip(in_b).map(|(a, b)| b - a),
            }
        })
        .filter(|delta| delta.a.is_some() || delta.b.is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::Status;
    use crate::objects::MemoryObjects;
    use crate::run_manifest::manifest_key;
    use crate::run_manifest::{ConfigPin, sha256_of};
    use crate::store::MemoryStore;
    use crate::workflow::fakes::sample_record;

    /// The market data, results and jobs of two runs.
    struct World {
        store: MemoryStore,
        results: MemoryObjects,
        data: MemoryObjects,
    }

    impl World {
        fn new() -> Self {
            let results = MemoryObjects::new("results");
            Self {
                store: MemoryStore::new(),
                data: results.in_bucket("data"),
                results,
            }
        }

        /// Candles at 5-minute steps `0..count`, all at `close` except `at` (when given) at `close + 1`.
        async fn upload(&self, key: &str, count: i64, changed_at: Option<i64>) -> DataFile {
            let mut candles = Candles::default();
            for step in 0..count {
                let close = if Some(step) == changed_at { 2.0 } else { 1.0 };
                candles.push(1_767_225_600_000 + step * 300_000, [1.0, 2.0, 0.5, close, 10.0]);
            }
            let bytes = candles.to_parquet().expect("parquet");
            self.data.put(key, bytes.clone()).await.expect("put");
            let hashed = self.data.hash(key, None).await.expect("hash").expect("there");
            DataFile {
                key: key.to_owned(),
                pair: Some("BTC/USDT".into()),
                version_id: hashed.version_id,
                sha256: sha256_of(&bytes),
                size: hashed.size,
            }
        }

        /// A COMPLETED run with `summary`, of `manifest`.
        async fn run(&self, manifest: &RunManifest, summary: Value) -> RunId {
            let mut record = sample_record(Status::Completed);
            record.result = Some(summary);
            self.store.create(&record).await.expect("recorded");
            let bytes = serde_json::to_vec(manifest).expect("JSON");
            self.results
                .put(&manifest_key(record.run_id), bytes)
                .await
                .expect("put");
            record.run_id
        }
    }

    fn manifest(config: Value, data: Vec<DataFile>) -> RunManifest {
        serde_json::from_value(json!({
            "strategy": {"name": "EmaCross", "version": 3, "image": "i:3", "digest": "sha256:aa"},
            "config": ConfigPin::new(config), "data": data, "timerange": "20260101-20260102",
            "pairs": ["BTC/USDT"], "timeframe": "5m"}))
        .expect("a manifest")
    }

    #[tokio::test]
    async fn runs_differing_in_one_override_show_exactly_that_path_and_the_metric_deltas() {
        let world = World::new();
        let file = world.upload("ohlcv/binance/BTC_USDT-5m.parquet", 12, None).await;
        let a = world
            .run(
                &manifest(json!({"max_open_trades": 2, "stake_amount": 100}), vec![file.clone()]),
                json!({"total_trades": 10, "profit_total_pct": 4.0}),
            )
            .await;
        let b = world
            .run(
                &manifest(json!({"max_open_trades": 3, "stake_amount": 100}), vec![file]),
                json!({"total_trades": 12, "profit_total_pct": 3.5}),
            )
            .await;
        let diff = diff(&world.store, &world.results, &world.data, a, b)
            .await
            .expect("compared");
        assert!(!diff.same_inputs);
        assert_eq!(
            serde_json::to_value(&diff.parameters).expect("JSON"),
            json!([{"path": "$.max_open_trades", "a": 2, "b": 3}])
        );
        assert!(diff.code.is_empty() && diff.run.is_empty() && diff.data.is_empty() && diff.engine.is_empty());
        let moved: Vec<(&str, Option<f64>)> = diff.metrics.iter().map(|metric| (metric.name, metric.delta)).collect();
        assert_eq!(moved, [("total_trades", Some(2.0)), ("profit_total_pct", Some(-0.5))]);
    }

    #[tokio::test]
    async fn a_candle_file_uploaded_again_is_named_with_its_pair_and_the_dates_it_changed_over() {
        let world = World::new();
        let key = "ohlcv/binance/BTC_USDT-5m.parquet";
        let before = world.upload(key, 12, None).await;
        let after = world.upload(key, 14, Some(3)).await;
        let config = json!({"max_open_trades": 2});
        let a = world
            .run(&manifest(config.clone(), vec![before.clone()]), json!({}))
            .await;
        let b = world.run(&manifest(config, vec![after.clone()]), json!({})).await;
        let diff = diff(&world.store, &world.results, &world.data, a, b)
            .await
            .expect("compared");
        assert!(!diff.same_inputs && diff.parameters.is_empty());
        let [change] = diff.data.as_slice() else {
            panic!("one file: {:?}", diff.data);
        };
        assert_eq!(
            (change.file.key.as_str(), change.file.pair.as_deref()),
            (key, Some("BTC/USDT"))
        );
        assert_eq!(
            (change.file.a.as_ref(), change.file.b.as_ref()),
            (Some(&before), Some(&after)),
            "both versions"
        );
        let candles = change.candles.as_ref().expect("read from both versions");
        assert_eq!((candles.changed, candles.only_a, candles.only_b), (1, 0, 2));
        assert_eq!(
            candles.first.map(|at| at.to_string()),
            Some("2026-01-01T00:15:00.000000Z".to_owned())
        );
        assert_eq!(
            candles.last.map(|at| at.to_string()),
            Some("2026-01-01T01:05:00.000000Z".to_owned())
        );

        let same = diff_of(&world, a, a).await;
        assert!(same.same_inputs && same.data.is_empty());
    }

    async fn diff_of(world: &World, a: RunId, b: RunId) -> RunDiff {
        diff(&world.store, &world.results, &world.data, a, b)
            .await
            .expect("compared")
    }

    #[tokio::test]
    async fn an_unknown_or_unplanned_run_is_named() {
        let world = World::new();
        let unplanned = sample_record(Status::Failed);
        world.store.create(&unplanned).await.expect("recorded");
        let unknown = RunId::new();
        let error = diff(&world.store, &world.results, &world.data, unknown, unplanned.run_id)
            .await
            .expect_err("refused");
        assert!(
            matches!(error, PlannedError::NotFound(run) if run == unknown),
            "{error}"
        );
        let error = diff(
            &world.store,
            &world.results,
            &world.data,
            unplanned.run_id,
            unplanned.run_id,
        )
        .await
        .expect_err("refused");
        assert!(error.to_string().contains("has no manifest"), "{error}");
    }
}
