//! Planning a run's manifest before the engine starts: the config as it shapes the computation, and the market
//! data pinned as it is now (each object's current version, content hash and size).

use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::DataFile;
use crate::backtest::{Symbol, Timeframe};
use crate::market_data::{DataLocation, dataset_key, markets_key};
use crate::objects::{HashedObject, ObjectError, ObjectStore};

/// The config keys that name a run instead of shaping what it computes: left out of the manifest's config, so that
/// two runs of the same inputs have one fingerprint (and a re-run sets its own).
pub const RUN_IDENTITY_KEYS: &[&str] = &["run_id", "experiment_name"];

/// How many objects are hashed at once.
const CONCURRENCY: usize = 8;

/// `config` without the keys that name the run.
pub fn planned_config(config: &Value) -> Value {
    let mut planned = config.clone();
    if let Some(map) = planned.as_object_mut() {
        for key in RUN_IDENTITY_KEYS {
            map.remove(*key);
        }
    }
    planned
}

/// Market data a run cannot be planned without.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("no {timeframe} candles for {pair} at {uri}")]
    Missing {
        pair: String,
        timeframe: Timeframe,
        uri: String,
    },
    #[error("the market data could not be read")]
    Unreadable(#[from] ObjectError),
}

/// Each pair's candle file in `data` (the market-data bucket at `location`) and the exchange's markets snapshot
/// when there is one, pinned: current version, SHA-256 and size. The files are read whole, a few at a time.
pub async fn pin_market_data(
    data: &impl ObjectStore,
    location: &DataLocation,
    exchange: &str,
    pairs: &[Symbol],
    timeframe: Timeframe,
) -> Result<(Vec<DataFile>, Option<DataFile>), PinError> {
    let files = futures::stream::iter(pairs)
        .map(|pair| async move {
            let key = dataset_key(location, exchange, pair, timeframe);
            match data.hash(&key).await? {
                Some(hashed) => Ok(pinned(key, Some(pair.as_str()), hashed)),
                None => Err(PinError::Missing {
                    pair: pair.as_str().to_owned(),
                    timeframe,
                    uri: location.uri(&key),
                }),
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let key = markets_key(location, exchange);
    let markets = data.hash(&key).await?.map(|hashed| pinned(key, None, hashed));
    Ok((files, markets))
}

fn pinned(key: String, pair: Option<&str>, hashed: HashedObject) -> DataFile {
    DataFile {
        key,
        pair: pair.map(str::to_owned),
        version_id: hashed.version_id,
        sha256: hashed.sha256,
        size: hashed.size,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::objects::MemoryObjects;
    use crate::run_manifest::sha256_of;

    fn pair(text: &str) -> Symbol {
        Symbol::try_from(text.to_owned()).expect("a symbol")
    }

    #[test]
    fn the_planned_config_leaves_out_only_what_names_the_run() {
        let config = json!({"run_id": "r1", "experiment_name": "q1", "stake_amount": 100, "strategy_version": 3});
        assert_eq!(
            planned_config(&config),
            json!({"stake_amount": 100, "strategy_version": 3})
        );
    }

    #[tokio::test]
    async fn each_pairs_file_and_the_markets_snapshot_are_pinned_and_a_missing_one_is_named() {
        let data = MemoryObjects::new("data");
        let location = DataLocation::parse("s3://data/ohlcv").expect("location");
        let timeframe = Timeframe::try_from("5m".to_owned()).expect("timeframe");
        data.put("ohlcv/binance/BTC_USDT-5m.parquet", b"btc".to_vec())
            .await
            .expect("put");
        data.put("ohlcv/binance/ETH_USDT-5m.parquet", b"eth".to_vec())
            .await
            .expect("put");
        let (files, markets) = pin_market_data(
            &data,
            &location,
            "binance",
            &[pair("ETH/USDT"), pair("BTC/USDT")],
            timeframe,
        )
        .await
        .expect("pinned");
        assert_eq!(files.len(), 2);
        assert_eq!(
            (files[0].pair.as_deref(), files[0].sha256.clone(), files[0].size),
            (Some("ETH/USDT"), sha256_of(b"eth"), 3)
        );
        assert!(files.iter().all(|file| file.version_id.is_some()));
        assert_eq!(markets, None, "no snapshot, none pinned");

        data.put("ohlcv/binance/markets.json", b"{}".to_vec())
            .await
            .expect("put");
        let error = pin_market_data(
            &data,
            &location,
            "binance",
            &[pair("BTC/USDT"), pair("SOL/USDT")],
            timeframe,
        )
        .await
        .expect_err("SOL has no candles");
        assert_eq!(
            error.to_string(),
            "no 5m candles for SOL/USDT at s3://data/ohlcv/binance/SOL_USDT-5m.parquet"
        );
        let (_, markets) = pin_market_data(&data, &location, "binance", &[pair("BTC/USDT")], timeframe)
            .await
            .expect("pinned");
        assert_eq!(
            markets.map(|file| (file.key, file.pair)),
            Some(("ohlcv/binance/markets.json".into(), None))
        );
    }
}
