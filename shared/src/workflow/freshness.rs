//! CheckDataFreshness: the run's pairs must have recent candles (from the data files' Parquet footers), unless the
//! run says `allow_stale`. Stale or missing data fails the step with `StaleMarketData`, naming the pairs. A re-run
//! is not checked: it reads the object versions its original's manifest pins.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ErrorType, StepError};
use crate::backtest::{RunId, Symbol, Timeframe};
use crate::market_data::{DataLocation, FreshnessReport, FreshnessRequest, SymbolFreshness, check_freshness};
use crate::objects::{ObjectStore, s3_object};
use crate::time::Timestamp;

/// What the step reads: the run's pairs and timeframe, and how fresh their data must be.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FreshnessCheck {
    pub run_id: RunId,
    pub config: RunData,
    /// The exchange whose candles the run reads (binance when absent).
    #[serde(default)]
    pub exchange: Option<String>,
    /// How old the newest candle may be (24 h when absent).
    #[serde(default)]
    pub max_age_hours: Option<f64>,
    /// Run on stale data, with a warning, instead of failing.
    #[serde(default)]
    pub allow_stale: bool,
    /// What ValidateStrategy found of the strategy's base config.
    #[serde(default)]
    pub strategy: Option<BaseConfigExchange>,
}

/// The exchange the strategy's base config names (`$.strategy.exchange`, set by ValidateStrategy).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BaseConfigExchange {
    #[serde(default)]
    pub exchange: Option<String>,
}

/// The part of the job's config that names its data.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunData {
    pub symbols: Vec<Symbol>,
    pub timeframe: Timeframe,
    /// The overrides the run's engine gets: their `exchange.name`, when set, is the exchange it reads.
    #[serde(default)]
    pub config_overrides: serde_json::Map<String, serde_json::Value>,
    /// A re-run reads the object versions its original's manifest pins: how recent the data is now does not
    /// matter to it.
    #[serde(default)]
    pub rerun_of: Option<RunId>,
}

impl FreshnessCheck {
    /// The exchange whose candles the run reads, as PrepareConfig will merge it: the state's own `exchange`, else
    /// the one its overrides choose, else the one its base config names.
    pub fn exchange(&self) -> Option<String> {
        let chosen = self
            .config
            .config_overrides
            .get("exchange")
            .and_then(|exchange| exchange.get("name"));
        self.exchange
            .clone()
            .or_else(|| chosen.and_then(serde_json::Value::as_str).map(str::to_ascii_lowercase))
            .or_else(|| self.strategy.as_ref().and_then(|strategy| strategy.exchange.clone()))
    }
}

/// What the step adds to the state: the report, or for a re-run the run whose pinned data it reads.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Checked {
    Checked { data_freshness: FreshnessReport },
    Pinned { data_pinned_by: RunId },
}

impl Checked {
    /// The report (none for a re-run, which checks nothing).
    pub fn report(&self) -> Option<&FreshnessReport> {
        match self {
            Self::Checked { data_freshness } => Some(data_freshness),
            Self::Pinned { .. } => None,
        }
    }
}

/// What a later step reads of this step's answer (`$.data_freshness`): the object version of each file checked,
/// so that PrepareConfig plans the run on the versions it was checked against, however many uploads land between
/// the two steps.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CheckedVersions {
    #[serde(default)]
    symbols: BTreeMap<String, CheckedFile>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct CheckedFile {
    key: String,
    #[serde(default)]
    version_id: Option<String>,
}

impl CheckedVersions {
    /// The version checked of each file in `location`'s bucket, by object key (files read without a version, as
    /// in a bucket that keeps none, are left out).
    pub fn by_key(&self, location: &DataLocation) -> BTreeMap<String, String> {
        self.symbols
            .values()
            .filter_map(|file| {
                let (bucket, key) = s3_object(&file.key)?;
                let version = file.version_id.clone()?;
                (bucket == location.bucket).then(|| (key.to_owned(), version))
            })
            .collect()
    }
}

/// The errors this step raises.
pub const RAISES: &[ErrorType] = &[
    ErrorType::StaleMarketData,
    ErrorType::InvalidInput,
    ErrorType::TransientDependency,
];

/// Checks the run's data in `objects` under `location` as of `now`.
pub async fn check_data_freshness(
    objects: &impl ObjectStore,
    location: &DataLocation,
    check: &FreshnessCheck,
    now: Timestamp,
) -> Result<Checked, StepError> {
    if let Some(original) = check.config.rerun_of {
        tracing::info!(run_id = %check.run_id, %original, "a re-run reads its original's pinned data: not checked");
        return Ok(Checked::Pinned {
            data_pinned_by: original,
        });
    }
    let question = FreshnessRequest::new(
        check.config.symbols.clone(),
        check.config.timeframe,
        check.exchange(),
        check.max_age_hours,
    )
    .map_err(|errors| StepError::invalid_input(format!("config: {errors}")))?;
    let report = check_freshness(objects, location, &question, now)
        .await
        .map_err(|error| StepError::transient("reading the market data", error))?;
    if !report.all_fresh {
        let problems: Vec<String> = report
            .symbols
            .iter()
            .filter(|(_, answer)| !answer.is_fresh())
            .map(|(pair, answer)| match answer {
                SymbolFreshness::Known { age_hours, .. } => format!(
                    "{pair} last candle {} h old",
                    age_hours.map_or_else(|| "?".to_owned(), |age| format!("{age:.1}"))
                ),
                SymbolFreshness::Unknown { error, .. } => format!("{pair}: {error}"),
            })
            .collect();
        let message = format!(
            "stale market data (limit {} h): {}",
            question.max_age_hours,
            problems.join("; ")
        );
        if !check.allow_stale {
            return Err(StepError::StaleMarketData(message));
        }
        tracing::warn!(run_id = %check.run_id, %message, "continuing on stale data: the run allows it");
    }
    Ok(Checked::Checked { data_freshness: report })
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::objects::MemoryObjects;

    fn check(allow_stale: bool) -> FreshnessCheck {
        FreshnessCheck {
            run_id: RunId::new(),
            config: RunData {
                symbols: vec![Symbol::try_from("BTC/USDT".to_owned()).expect("pair")],
                timeframe: Timeframe::M5,
                config_overrides: serde_json::Map::new(),
                rerun_of: None,
            },
            exchange: None,
            max_age_hours: None,
            allow_stale,
            strategy: None,
        }
    }

    #[tokio::test]
    async fn a_rerun_reads_pinned_data_and_is_not_checked() {
        let objects = MemoryObjects::new("data");
        let location = DataLocation::parse("s3://data/ohlcv").expect("location");
        let mut rerun = check(false);
        let original = RunId::new();
        rerun.config.rerun_of = Some(original);
        let checked = check_data_freshness(&objects, &location, &rerun, Timestamp::now())
            .await
            .expect("not checked: no data is there, and none needs to be fresh");
        assert_eq!(checked.report(), None);
        assert_eq!(
            serde_json::to_value(&checked).expect("JSON"),
            serde_json::json!({"data_pinned_by": original})
        );
    }

    #[tokio::test]
    async fn missing_data_is_stale_unless_the_run_allows_it() {
        let objects = MemoryObjects::new("data");
        let location = DataLocation::parse("s3://data/ohlcv").expect("location");
        let error = check_data_freshness(&objects, &location, &check(false), Timestamp::now())
            .await
            .expect_err("no data");
        assert_eq!(error.error_type(), ErrorType::StaleMarketData);
        assert!(error.to_string().contains("BTC/USDT: no 5m data on binance"), "{error}");
        let checked = check_data_freshness(&objects, &location, &check(true), Timestamp::now())
            .await
            .expect("allowed");
        assert!(!checked.report().expect("a report").all_fresh);
    }

    #[tokio::test]
    async fn an_unreadable_file_is_stale_and_a_bad_limit_is_invalid_input() {
        let objects = MemoryObjects::new("data");
        objects
            .put("ohlcv/binance/BTC_USDT-5m.parquet", b"not parquet".to_vec())
            .await
            .expect("put");
        let location = DataLocation::parse("s3://data/ohlcv").expect("location");
        let now = Timestamp::now().minus(TimeDelta::zero());
        let error = check_data_freshness(&objects, &location, &check(false), now)
            .await
            .expect_err("unreadable");
        assert_eq!(error.error_type(), ErrorType::StaleMarketData);
        let mut negative = check(false);
        negative.max_age_hours = Some(-1.0);
        let error = check_data_freshness(&objects, &location, &negative, now)
            .await
            .expect_err("refused");
        assert_eq!(error.error_type(), ErrorType::InvalidInput);
        assert!(error.to_string().contains("max_age_hours"), "{error}");
        assert!(RAISES.contains(&error.error_type()));
    }

    #[tokio::test]
    async fn the_exchange_the_overrides_choose_is_the_one_checked() {
        let objects = MemoryObjects::new("data");
        let location = DataLocation::parse("s3://data/ohlcv").expect("location");
        let mut kraken = check(false);
        kraken.config.config_overrides = serde_json::json!({"exchange": {"name": "kraken"}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let error = check_data_freshness(&objects, &location, &kraken, Timestamp::now())
            .await
            .expect_err("no data");
        assert!(error.to_string().contains("no 5m data on kraken"), "{error}");
    }

    #[tokio::test]
    async fn the_base_configs_exchange_is_checked_unless_the_overrides_choose_another() {
        let objects = MemoryObjects::new("data");
        let location = DataLocation::parse("s3://data/ohlcv").expect("location");
        let mut from_base = check(false);
        from_base.strategy = Some(BaseConfigExchange {
            exchange: Some("kraken".into()),
        });
        assert_eq!(from_base.exchange().as_deref(), Some("kraken"));
        let error = check_data_freshness(&objects, &location, &from_base, Timestamp::now())
            .await
            .expect_err("no data");
        assert!(error.to_string().contains("no 5m data on kraken"), "{error}");

        let mut overridden = from_base.clone();
        overridden.config.config_overrides = serde_json::json!({"exchange": {"name": "bybit"}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            overridden.exchange().as_deref(),
            Some("bybit"),
            "the overrides win, as in the merge"
        );
        assert_eq!(check(false).exchange(), None, "neither: the market data's default");
    }

    #[tokio::test]
    async fn the_version_checked_of_each_file_is_what_a_later_step_reads() {
        let objects = MemoryObjects::new("data");
        let location = DataLocation::parse("s3://data/ohlcv").expect("location");
        let mut candles = crate::market_data::candles::Candles::default();
        let now = Timestamp::now();
        for step in 0..12 {
            candles.push(now.epoch_millis() - (12 - step) * 300_000, [1.0, 2.0, 0.5, 1.5, 10.0]);
        }
        let key = "ohlcv/binance/BTC_USDT-5m.parquet";
        objects
            .put(key, candles.to_parquet().expect("parquet"))
            .await
            .expect("put");
        let version = objects.head(key).await.expect("head").and_then(|info| info.version_id);
        let checked = check_data_freshness(&objects, &location, &check(false), now)
            .await
            .expect("fresh");
        let state = serde_json::to_value(&checked).expect("JSON");
        let read: CheckedVersions = serde_json::from_value(state["data_freshness"].clone()).expect("read back");
        assert_eq!(
            read.by_key(&location),
            BTreeMap::from([(key.to_owned(), version.expect("versioned"))])
        );
        let elsewhere = DataLocation::parse("s3://other/ohlcv").expect("location");
        assert!(
            read.by_key(&elsewhere).is_empty(),
            "another bucket's file is not this one"
        );
        assert!(CheckedVersions::default().by_key(&location).is_empty());
    }
}
