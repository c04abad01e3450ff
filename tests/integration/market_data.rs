//! The market-data catalog against the stand-in's S3, on Parquet files made here: footers only, never whole files.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::TimeDelta;
use tradai::backtest::{Symbol, Timeframe};
use tradai::market_data::{
    FreshnessRequest, SymbolFreshness, check_freshness, dataset_key, list_datasets, read_footer,
};
use tradai::objects::{HashedObject, ObjectError, ObjectInfo, ObjectStore, Tail};
use tradai::time::Timestamp;
use tradai_tests::candles::CandleFile;
use tradai_tests::stack::Stack;

/// The real S3 adapter, counting the bytes it hands out.
struct Counting<S> {
    inner: S,
    bytes: Arc<AtomicU64>,
}

impl<S: ObjectStore> ObjectStore for Counting<S> {
    fn bucket(&self) -> &str {
        self.inner.bucket()
    }

    fn in_bucket(&self, bucket: &str) -> Self {
        Counting {
            inner: self.inner.in_bucket(bucket),
            bytes: self.bytes.clone(),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        let bytes = self.inner.get(key).await?;
        let read = bytes.as_ref().map_or(0, Vec::len) as u64;
        self.bytes.fetch_add(read, Ordering::SeqCst);
        Ok(bytes)
    }

    async fn get_version(&self, key: &str, version_id: Option<&str>) -> Result<Option<Vec<u8>>, ObjectError> {
        let bytes = self.inner.get_version(key, version_id).await?;
        self.bytes
            .fetch_add(bytes.as_ref().map_or(0, Vec::len) as u64, Ordering::SeqCst);
        Ok(bytes)
    }

    async fn hash(&self, key: &str, version_id: Option<&str>) -> Result<Option<HashedObject>, ObjectError> {
        let hashed = self.inner.hash(key, version_id).await?;
        self.bytes
            .fetch_add(hashed.as_ref().map_or(0, |object| object.size), Ordering::SeqCst);
        Ok(hashed)
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        self.inner.put(key, bytes).await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        self.inner.head(key).await
    }

    async fn delete(&self, keys: &[String]) -> Result<(), ObjectError> {
        self.inner.delete(keys).await
    }

    async fn tail(&self, key: &str, length: u64) -> Result<Option<Tail>, ObjectError> {
        let tail = self.inner.tail(key, length).await?;
        if let Some(tail) = &tail {
            self.bytes.fetch_add(tail.bytes.len() as u64, Ordering::SeqCst);
        }
        Ok(tail)
    }

    async fn range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, ObjectError> {
        let bytes = self.inner.range(key, range).await?;
        self.bytes.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        Ok(bytes)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ObjectError> {
        self.inner.list(prefix).await
    }
}

fn symbol(text: &str) -> Symbol {
    Symbol::try_from(text.to_owned()).expect("valid symbol")
}

#[tokio::test]
async fn a_large_file_is_described_from_its_footer_alone() {
    let stack = Stack::fresh().await;
    let last = Timestamp::now().minus(TimeDelta::minutes(30));
    let file = CandleFile {
        rows_per_group: 50_000,
        ..CandleFile::ending_at(last, TimeDelta::minutes(1), 400_000)
    };
    let bytes = file.to_parquet();
    let size = bytes.len() as u64;
    assert!(size > 15_000_000, "a large file: {size} bytes");
    let key = dataset_key(&stack.market_data, "binance", &symbol("BTC/USDT"), Timeframe::M1);
    stack.put_market_data(&key, bytes).await;

    let counter = Arc::new(AtomicU64::new(0));
    let store = Counting {
        inner: stack.market_objects(),
        bytes: counter.clone(),
    };
    let footer = read_footer(&store, &key).await.expect("readable").expect("exists");
    assert_eq!(footer.row_count, 400_000);
    assert_eq!(footer.first_candle, Some(file.start));
    assert_eq!(footer.last_candle, Some(file.last()));
    assert_eq!(footer.object.size, size);
    let read = counter.load(Ordering::SeqCst);
    assert_eq!(read, footer.bytes_read);
    assert!(read <= 64 * 1024, "read {read} of {size} bytes");
}

#[tokio::test]
async fn a_footer_longer_than_the_first_read_takes_a_second_ranged_read() {
    let stack = Stack::fresh().await;
    let last = Timestamp::now().minus(TimeDelta::hours(2));
    // Many small row groups: a footer of several hundred kilobytes.
    let file = CandleFile {
        rows_per_group: 4,
        ..CandleFile::ending_at(last, TimeDelta::hours(1), 6_000)
    };
    let key = dataset_key(&stack.market_data, "binance", &symbol("ETH/USDT:USDT"), Timeframe::H1);
    stack.put_market_data(&key, file.to_parquet()).await;

    let counter = Arc::new(AtomicU64::new(0));
    let store = Counting {
        inner: stack.market_objects(),
        bytes: counter.clone(),
    };
    let footer = read_footer(&store, &key).await.expect("readable").expect("exists");
    assert_eq!(
        (footer.row_count, footer.first_candle, footer.last_candle),
        (6_000, Some(file.start), Some(file.last()))
    );
    assert!(
        footer.bytes_read > 64 * 1024,
        "needed more than the first read: {}",
        footer.bytes_read
    );
    assert!(footer.bytes_read < footer.object.size, "still not the whole file");
    assert_eq!(counter.load(Ordering::SeqCst), footer.bytes_read);
}

#[tokio::test]
async fn freshness_reports_fresh_stale_missing_and_unreadable_pairs() {
    let stack = Stack::fresh().await;
    let now = Timestamp::now();
    let put = |name: &str, file: Vec<u8>| {
        let key = dataset_key(&stack.market_data, "binance", &symbol(name), Timeframe::M5);
        (key, file)
    };
    let files = [
        put(
            "BTC/USDT",
            CandleFile::ending_at(now.minus(TimeDelta::hours(1)), TimeDelta::minutes(5), 2_000).to_parquet(),
        ),
        put(
            "ETH/USDT",
            CandleFile::ending_at(now.minus(TimeDelta::hours(72)), TimeDelta::minutes(5), 2_000).to_parquet(),
        ),
        put(
            "XRP/USDT",
            CandleFile {
                utc: false,
                ..CandleFile::ending_at(now, TimeDelta::minutes(5), 100)
            }
            .to_parquet(),
        ),
        put("ADA/USDT", b"not parquet at all".to_vec()),
    ];
    for (key, bytes) in files {
        stack.put_market_data(&key, bytes).await;
    }
    let body = br#"{"symbols":["BTC/USDT","ETH/USDT","SOL/USDT","XRP/USDT","ADA/USDT"],"timeframe":"5m"}"#;
    let request = FreshnessRequest::from_json(body).expect("valid");
    let report = check_freshness(&stack.market_objects(), &stack.market_data, &request, now)
        .await
        .expect("report");
    assert!(!report.all_fresh);
    let SymbolFreshness::Known {
        is_fresh,
        age_hours,
        row_count,
        ..
    } = &report.symbols["BTC/USDT"]
    else {
        panic!("BTC/USDT: {:?}", report.symbols["BTC/USDT"]);
    };
    assert!(*is_fresh);
    assert_eq!((*age_hours, *row_count), (Some(1.0), 2_000));
    let SymbolFreshness::Known {
        is_fresh, age_hours, ..
    } = &report.symbols["ETH/USDT"]
    else {
        panic!("ETH")
    };
    assert_eq!((*is_fresh, *age_hours), (false, Some(72.0)));
    for (pair, reason) in [
        ("SOL/USDT", "no 5m data"),
        ("XRP/USDT", "without time zone"),
        ("ADA/USDT", "Parquet"),
    ] {
        match &report.symbols[pair] {
            SymbolFreshness::Unknown {
                error, is_fresh: false, ..
            } => {
                assert!(error.contains(reason), "{pair}: {error}");
            }
            other => panic!("{pair}: {other:?}"),
        }
    }

    let fresh_only = FreshnessRequest::from_json(br#"{"symbols":["BTC/USDT"],"timeframe":"5m"}"#).expect("valid");
    let report = check_freshness(&stack.market_objects(), &stack.market_data, &fresh_only, now)
        .await
        .expect("ok");
    assert!(report.all_fresh);
}

#[tokio::test]
async fn datasets_are_listed_from_keys_without_reading_files() {
    let stack = Stack::fresh().await;
    let small = CandleFile::ending_at(Timestamp::now(), TimeDelta::hours(1), 10).to_parquet();
    for key in [
        "ohlcv/binance/BTC_USDT-1h.parquet",
        "ohlcv/binance/futures/BTC_USDT_USDT-1h-futures.parquet",
        "ohlcv/kraken/ETH_EUR-1d.parquet",
        "ohlcv/binance/markets.json",
        "elsewhere/binance/BTC_USDT-1h.parquet",
    ] {
        stack.put_market_data(key, small.clone()).await;
    }
    let datasets = list_datasets(&stack.market_objects(), &stack.market_data)
        .await
        .expect("listing");
    let found: Vec<(&str, &str, &str)> = datasets
        .iter()
        .map(|d| (d.exchange.as_str(), d.symbol.as_str(), d.timeframe.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("binance", "BTC/USDT", "1h"),
            ("binance", "BTC/USDT:USDT", "1h"),
            ("kraken", "ETH/EUR", "1d")
        ]
    );
    assert!(
        datasets
            .iter()
            .all(|d| d.size_bytes == small.len() as u64 && d.last_modified.is_some())
    );
}

/// A run's manifest pins a candle file by version: the market-data bucket is versioned as the template has it, a
/// file uploaded again gets a new version, and the old version's bytes stay readable by its id.
#[tokio::test]
async fn every_version_of_a_candle_file_is_hashed_and_read_back_by_its_id() {
    let stack = Stack::fresh().await;
    let data = tradai::aws::s3_objects(&stack.sdk, &stack.market_data_bucket);
    let key = "ohlcv/binance/BTC_USDT-5m.parquet";
    let (first, second) = (vec![7u8; 3 * 1024 * 1024 + 17], b"a gap filled".to_vec());
    data.put(key, first.clone()).await.expect("put");
    let pinned = data.hash(key, None).await.expect("hash").expect("there");
    assert_eq!(
        (pinned.sha256.as_str(), pinned.size),
        (tradai::run_manifest::sha256_of(&first).as_str(), first.len() as u64),
        "a multi-megabyte object is hashed as it streams"
    );
    let version = pinned
        .version_id
        .clone()
        .expect("the market-data bucket keeps versions");
    data.put(key, second.clone()).await.expect("put again");
    let current = data.hash(key, None).await.expect("hash").expect("there");
    assert_ne!(current.version_id.as_deref(), Some(version.as_str()));
    assert_eq!(current.sha256, tradai::run_manifest::sha256_of(&second));
    assert_eq!(data.get_version(key, Some(&version)).await.expect("get"), Some(first));
    assert_eq!(
        data.hash(key, Some(&version)).await.expect("hash"),
        Some(pinned),
        "an older version is hashed by its id"
    );
    assert_eq!(data.get_version(key, None).await.expect("get"), Some(second));
    assert_eq!(
        data.get_version(key, Some("3HL4kqtJvjVBH40Nrjfkd")).await.expect("get"),
        None
    );
    assert_eq!(data.hash("ohlcv/binance/none.parquet", None).await.expect("hash"), None);
    assert_eq!(data.hash(key, Some("3HL4kqtJvjVBH40Nrjfkd")).await.expect("hash"), None);
}
