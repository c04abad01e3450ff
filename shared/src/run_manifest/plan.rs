//! Planning a run's manifest before the engine starts: the config as it shapes the computation, and the market
//! data pinned as it is now (each object's current version, content hash and size).

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

use super::DataFile;
use crate::backtest::{RunId, Symbol, Timeframe};
use crate::config::deep_merge;
use crate::market_data::{DataLocation, dataset_key, markets_key};
use crate::objects::{HashedObject, ObjectError, ObjectStore};

/// The config keys that name a run instead of shaping what it computes: left out of the manifest's config, so that
/// two runs of the same inputs have one fingerprint, and set by [`identify`] for each run that reads it.
pub const RUN_IDENTITY_KEYS: &[&str] = &["run_id", "experiment_name"];

/// Sets what names run `run_id` of `experiment_name` (the [`RUN_IDENTITY_KEYS`]) in its engine `config`.
pub fn identify(config: &mut Value, run_id: RunId, experiment_name: &str) {
    deep_merge(config, &json!({"run_id": run_id, "experiment_name": experiment_name}));
}

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

/// Where the hashes of object versions are kept: the content of an object version never changes, so a version
/// is read and hashed once, and every later plan reads its hash from here (`{prefix}{bucket}/{key}@{version_id}`).
pub const HASH_MEMO_PREFIX: &str = "object-hashes/";

/// What the memo keeps of one object version.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Memo {
    sha256: String,
    size: u64,
}

/// Each pair's candle file in `data` (the market-data bucket at `location`) and the exchange's markets snapshot
/// when there is one, pinned: version, SHA-256 and size. A file whose version the run was checked against
/// (`checked`, by key) is pinned at that version, however many uploads landed since; any other at its current
/// version. A version hashed before is answered from `memo` (a small GET); a version not seen yet is read whole as
/// it streams, and its hash kept in `memo`. A few objects at a time.
pub async fn pin_market_data(
    data: &impl ObjectStore,
    memo: &impl ObjectStore,
    location: &DataLocation,
    exchange: &str,
    (pairs, timeframe): (&[Symbol], Timeframe),
    checked: &BTreeMap<String, String>,
) -> Result<(Vec<DataFile>, Option<DataFile>), PinError> {
    let files = futures::stream::iter(pairs)
        .map(|pair| async move {
            let key = dataset_key(location, exchange, pair, timeframe);
            let version = checked.get(&key).map(String::as_str);
            match pin(data, memo, &key, version).await? {
                Some(hashed) => Ok(pinned(key, Some(pair.as_str()), hashed)),
                None => Err(PinError::Missing {
                    pair: pair.as_str().to_owned(),
                    timeframe,
                    uri: match version {
                        Some(version) => format!("{} version {version}", location.uri(&key)),
                        None => location.uri(&key),
                    },
                }),
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let key = markets_key(location, exchange);
    let markets = pin(data, memo, &key, None)
        .await?
        .map(|hashed| pinned(key, None, hashed));
    Ok((files, markets))
}

/// Version `checked` of object `key` (its current version for `None`) with its hash: from `memo` when that
/// version was hashed before, else read.
async fn pin(
    data: &impl ObjectStore,
    memo: &impl ObjectStore,
    key: &str,
    checked: Option<&str>,
) -> Result<Option<HashedObject>, ObjectError> {
    let version = match checked {
        Some(version) => Some(version.to_owned()),
        None => match data.head(key).await? {
            Some(info) => info.version_id,
            None => return Ok(None),
        },
    };
    let memo_key = |version: &str| format!("{HASH_MEMO_PREFIX}{}/{key}@{version}", data.bucket());
    if let Some(version) = &version
        && let Some(kept) = memo.get(&memo_key(version)).await?
        && let Ok(kept) = serde_json::from_slice::<Memo>(&kept)
    {
        return Ok(Some(HashedObject {
            version_id: Some(version.clone()),
            sha256: kept.sha256,
            size: kept.size,
        }));
    }
    let Some(hashed) = data.hash(key, version.as_deref()).await? else {
        return Ok(None);
    };
    if let Some(version) = &hashed.version_id {
        let kept = Memo {
            sha256: hashed.sha256.clone(),
            size: hashed.size,
        };
        let bytes = serde_json::to_vec(&kept).expect("a memo is JSON");
        memo.put(&memo_key(version), bytes).await?;
    }
    Ok(Some(hashed))
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
    fn the_planned_config_leaves_out_only_what_names_the_run_and_identify_sets_it_again() {
        let run_id = RunId::new();
        let config = json!({"run_id": run_id, "experiment_name": "q1", "stake_amount": 100, "strategy_version": 3});
        let planned = planned_config(&config);
        assert_eq!(planned, json!({"stake_amount": 100, "strategy_version": 3}));
        let mut identified = planned.clone();
        identify(&mut identified, run_id, "q1");
        assert_eq!(identified, config);
        let set: Vec<&str> = identified
            .as_object()
            .expect("a map")
            .keys()
            .map(String::as_str)
            .filter(|key| !planned.as_object().expect("a map").contains_key(*key))
            .collect();
        assert_eq!(
            set.len(),
            RUN_IDENTITY_KEYS.len(),
            "identify sets exactly the keys planned_config leaves out: {set:?}"
        );
        assert!(set.iter().all(|key| RUN_IDENTITY_KEYS.contains(key)), "{set:?}");
    }

    #[tokio::test]
    async fn each_pairs_file_and_the_markets_snapshot_are_pinned_and_a_missing_one_is_named() {
        let data = MemoryObjects::new("data");
        let memo = data.in_bucket("results");
        let location = DataLocation::parse("s3://data/ohlcv").expect("location");
        let timeframe = Timeframe::try_from("5m".to_owned()).expect("timeframe");
        let pin = |pairs: Vec<Symbol>| {
            let (data, memo, location) = (data.clone(), memo.clone(), location.clone());
            let checked = BTreeMap::new();
            async move { pin_market_data(&data, &memo, &location, "binance", (&pairs, timeframe), &checked).await }
        };
        data.put("ohlcv/binance/BTC_USDT-5m.parquet", b"btc".to_vec())
            .await
            .expect("put");
        data.put("ohlcv/binance/ETH_USDT-5m.parquet", b"eth".to_vec())
            .await
            .expect("put");
        let (files, markets) = pin(vec![pair("ETH/USDT"), pair("BTC/USDT")]).await.expect("pinned");
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
        let error = pin(vec![pair("BTC/USDT"), pair("SOL/USDT")])
            .await
            .expect_err("SOL has no candles");
        assert_eq!(
            error.to_string(),
            "no 5m candles for SOL/USDT at s3://data/ohlcv/binance/SOL_USDT-5m.parquet"
        );
        let (_, markets) = pin(vec![pair("BTC/USDT")]).await.expect("pinned");
        assert_eq!(
            markets.map(|file| (file.key, file.pair)),
            Some(("ohlcv/binance/markets.json".into(), None))
        );
    }

    #[tokio::test]
    async fn a_version_is_hashed_once_and_its_hash_read_from_the_memo_after() {
        let data = MemoryObjects::new("data");
        let memo = data.in_bucket("results");
        let location = DataLocation::parse("s3://data/ohlcv").expect("location");
        let key = "ohlcv/binance/BTC_USDT-5m.parquet";
        let pin = || {
            let (data, memo, location) = (data.clone(), memo.clone(), location.clone());
            async move {
                let (pairs, checked) = ([pair("BTC/USDT")], BTreeMap::new());
                let pinned = pin_market_data(&data, &memo, &location, "binance", (&pairs, Timeframe::M5), &checked);
                let (files, _) = pinned.await.expect("pinned");
                files.into_iter().next().expect("one file")
            }
        };
        data.put(key, b"candles".to_vec()).await.expect("put");
        let first = pin().await;
        let version = first.version_id.clone().expect("versioned");
        let kept = format!("{HASH_MEMO_PREFIX}data/{key}@{version}");
        assert_eq!(memo.keys(), std::slice::from_ref(&kept), "the version's hash is kept");
        // What the memo says is what the plan takes: the version is not read again. (Were the memo wrong, the
        // container's check of the bytes against the manifest would refuse the run.)
        let said = json!({"sha256": sha256_of(b"as the memo says"), "size": 7});
        memo.put(&kept, said.to_string().into_bytes()).await.expect("put");
        assert_eq!(pin().await.sha256, sha256_of(b"as the memo says"));
        // A new upload is a new version, read and hashed afresh.
        data.put(key, b"candles, a gap filled".to_vec()).await.expect("put");
        let again = pin().await;
        assert_ne!(again.version_id, first.version_id);
        assert_eq!(again.sha256, sha256_of(b"candles, a gap filled"));
    }

    #[tokio::test]
    async fn a_file_is_pinned_at_the_version_the_run_was_checked_against_not_a_newer_upload() {
        let data = MemoryObjects::new("data");
        let memo = data.in_bucket("results");
        let location = DataLocation::parse("s3://data/ohlcv").expect("location");
        let (btc, eth) = ("ohlcv/binance/BTC_USDT-5m.parquet", "ohlcv/binance/ETH_USDT-5m.parquet");
        data.put(btc, b"thirty days".to_vec()).await.expect("put");
        data.put(eth, b"eth".to_vec()).await.expect("put");
        let checked_version = data.head(btc).await.expect("head").and_then(|info| info.version_id);
        let checked_version = checked_version.expect("versioned");
        // Another upload lands between the freshness check and the plan.
        data.put(btc, b"one day".to_vec()).await.expect("put");
        let checked = BTreeMap::from([(btc.to_owned(), checked_version.clone())]);
        let pairs = [pair("BTC/USDT"), pair("ETH/USDT")];
        let pin = |checked: BTreeMap<String, String>| {
            let (data, memo, location, pairs) = (data.clone(), memo.clone(), location.clone(), pairs.clone());
            async move { pin_market_data(&data, &memo, &location, "binance", (&pairs, Timeframe::M5), &checked).await }
        };
        let (files, _) = pin(checked.clone()).await.expect("pinned");
        assert_eq!(
            (files[0].version_id.as_deref(), files[0].sha256.clone()),
            (Some(checked_version.as_str()), sha256_of(b"thirty days")),
            "the checked version, not the newer upload"
        );
        assert_eq!(
            files[1].sha256,
            sha256_of(b"eth"),
            "a file not checked is pinned as it is now"
        );
        let (again, _) = pin(checked).await.expect("pinned from the memo");
        assert_eq!(again, files, "the memo answers the checked version alike");

        let gone = BTreeMap::from([(btc.to_owned(), "v999".to_owned())]);
        let error = pin(gone).await.expect_err("that version is gone");
        assert_eq!(
            error.to_string(),
            "no 5m candles for BTC/USDT at s3://data/ohlcv/binance/BTC_USDT-5m.parquet version v999"
        );
    }
}
