//! Data freshness: for each requested pair, how old its newest candle is, from the data file's footer.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::footer::{FooterError, read_footer};
use super::layout::{DataLocation, Dataset, dataset_key, is_exchange_id, parse_dataset_key};
use crate::backtest::{Symbol, Timeframe};
use crate::objects::{ObjectError, ObjectStore};
use crate::time::Timestamp;
use crate::validation::{FieldError, ValidationErrors, check, parse_json, required, symbols};

/// The exchange assumed when a request names none.
pub const DEFAULT_EXCHANGE: &str = "binance";
/// How old the newest candle may be, in hours, when a request does not say.
pub const DEFAULT_MAX_AGE_HOURS: f64 = 24.0;
const MAX_AGE_LIMIT_HOURS: f64 = 24.0 * 366.0;
/// How many footers are read at once.
const CONCURRENT_READS: usize = 16;

/// A validated freshness question.
#[derive(Debug, Clone, PartialEq)]
pub struct FreshnessRequest {
    pub symbols: Vec<Symbol>,
    pub timeframe: Timeframe,
    pub exchange: String,
    pub max_age_hours: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    symbols: Option<Vec<String>>,
    timeframe: Option<String>,
    exchange: Option<String>,
    max_age_hours: Option<f64>,
}

impl FreshnessRequest {
    /// Parses and validates `{symbols, timeframe, exchange?, max_age_hours?}`.
    pub fn from_json(body: &[u8]) -> Result<Self, ValidationErrors> {
        let raw: RawRequest = parse_json(body)?;
        let mut errors = Vec::new();
        let symbols =
            required(&mut errors, "symbols", raw.symbols).and_then(|list| symbols(&mut errors, "symbols", list));
        let timeframe = required(&mut errors, "timeframe", raw.timeframe)
            .and_then(|text| check(&mut errors, "timeframe", Timeframe::try_from(text)));
        match (symbols, timeframe) {
            (Some(symbols), Some(timeframe)) if errors.is_empty() => {
                Self::new(symbols, timeframe, raw.exchange, raw.max_age_hours)
            }
            _ => {
                let rest = Self::limits(raw.exchange, raw.max_age_hours).err();
                errors.extend(rest.map(|rest| rest.0).unwrap_or_default());
                Err(ValidationErrors(errors))
            }
        }
    }

    /// The question for pairs and a timeframe already parsed; the exchange defaults to binance and the age limit
    /// to 24 h.
    pub fn new(
        symbols: Vec<Symbol>,
        timeframe: Timeframe,
        exchange: Option<String>,
        max_age_hours: Option<f64>,
    ) -> Result<Self, ValidationErrors> {
        let (exchange, max_age_hours) = Self::limits(exchange, max_age_hours)?;
        Ok(Self {
            symbols,
            timeframe,
            exchange,
            max_age_hours,
        })
    }

    fn limits(exchange: Option<String>, max_age_hours: Option<f64>) -> Result<(String, f64), ValidationErrors> {
        let mut errors = Vec::new();
        let exchange = exchange.unwrap_or_else(|| DEFAULT_EXCHANGE.to_owned());
        if !is_exchange_id(&exchange) {
            errors.push(FieldError::new(
                "exchange",
                "exchange must be a lower-case exchange id such as binance",
            ));
        }
        let max_age_hours = max_age_hours.unwrap_or(DEFAULT_MAX_AGE_HOURS);
        if !(max_age_hours > 0.0 && max_age_hours <= MAX_AGE_LIMIT_HOURS) {
            errors.push(FieldError::new(
                "max_age_hours",
                format!("max_age_hours must be more than 0 and at most {MAX_AGE_LIMIT_HOURS}"),
            ));
        }
        if errors.is_empty() {
            Ok((exchange, max_age_hours))
        } else {
            Err(ValidationErrors(errors))
        }
    }
}

/// One pair's answer: what its data file says, or why there is no answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SymbolFreshness {
    Known {
        first_candle: Option<Timestamp>,
        last_candle: Option<Timestamp>,
        age_hours: Option<f64>,
        is_fresh: bool,
        row_count: u64,
        last_modified: Option<Timestamp>,
        key: String,
        /// The version read, in a versioned bucket: a run checked against it runs on it (PrepareConfig pins it).
        #[serde(skip_serializing_if = "Option::is_none")]
        version_id: Option<String>,
    },
    Unknown {
        error: String,
        is_fresh: bool,
        key: String,
    },
}

impl SymbolFreshness {
    pub fn is_fresh(&self) -> bool {
        match self {
            SymbolFreshness::Known { is_fresh, .. } | SymbolFreshness::Unknown { is_fresh, .. } => *is_fresh,
        }
    }
}

/// The answer to a freshness question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FreshnessReport {
    pub exchange: String,
    pub timeframe: Timeframe,
    pub max_age_hours: f64,
    pub checked_at: Timestamp,
    pub all_fresh: bool,
    pub symbols: BTreeMap<String, SymbolFreshness>,
}

/// Answers `request` from the footers of the data files under `location`. A missing or unreadable file makes its
/// pair not fresh, with the reason; only a store that does not answer at all is an error.
pub async fn check_freshness(
    store: &impl ObjectStore,
    location: &DataLocation,
    request: &FreshnessRequest,
    now: Timestamp,
) -> Result<FreshnessReport, ObjectError> {
    // Owned symbols: a stream of futures borrowing from a closure's argument is not `Send` for every lifetime.
    let lookups: Vec<_> = request
        .symbols
        .iter()
        .cloned()
        .map(|symbol| async move {
            let key = dataset_key(location, &request.exchange, &symbol, request.timeframe);
            (symbol.to_string(), one_symbol(store, location, key, request, now).await)
        })
        .collect();
    let answers: Vec<(String, Result<SymbolFreshness, ObjectError>)> = futures::stream::iter(lookups)
        .buffer_unordered(CONCURRENT_READS)
        .collect()
        .await;
    let mut symbols = BTreeMap::new();
    for (symbol, answer) in answers {
        symbols.insert(symbol, answer?);
    }
    let all_fresh = symbols.values().all(SymbolFreshness::is_fresh);
    Ok(FreshnessReport {
        exchange: request.exchange.clone(),
        timeframe: request.timeframe,
        max_age_hours: request.max_age_hours,
        checked_at: now,
        all_fresh,
        symbols,
    })
}

async fn one_symbol(
    store: &impl ObjectStore,
    location: &DataLocation,
    key: String,
    request: &FreshnessRequest,
    now: Timestamp,
) -> Result<SymbolFreshness, ObjectError> {
    let unknown = |error: String, key: String| SymbolFreshness::Unknown {
        error,
        is_fresh: false,
        key,
    };
    let uri = location.uri(&key);
    match read_footer(store, &key).await {
        Ok(Some(footer)) => {
            let age_hours = footer.last_candle.map(|last| {
                let seconds = (now.epoch_millis() - last.epoch_millis()) as f64 / 1000.0;
                (seconds / 36.0).round() / 100.0
            });
            let is_fresh = age_hours.is_some_and(|age| age <= request.max_age_hours) && footer.row_count > 0;
            Ok(SymbolFreshness::Known {
                first_candle: footer.first_candle,
                last_candle: footer.last_candle,
                age_hours,
                is_fresh,
                row_count: footer.row_count,
                last_modified: footer.object.last_modified,
                key: uri,
                version_id: footer.object.version_id,
            })
        }
        Ok(None) => Ok(unknown(
            format!("no {} data on {} at {uri}", request.timeframe, request.exchange),
            uri,
        )),
        Err(FooterError::Store(error)) => Err(error),
        Err(error) => Ok(unknown(error.to_string(), uri)),
    }
}

/// Every candle file under `location`, by key, from the listing alone.
pub async fn list_datasets(store: &impl ObjectStore, location: &DataLocation) -> Result<Vec<Dataset>, ObjectError> {
    let mut datasets: Vec<Dataset> = store
        .list(&location.prefix)
        .await?
        .into_iter()
        .filter_map(|object| {
            let (exchange, symbol, timeframe, trading_mode) = parse_dataset_key(location, &object.key)?;
            Some(Dataset {
                exchange,
                symbol,
                timeframe,
                trading_mode,
                key: object.key,
                size_bytes: object.size,
                last_modified: object.last_modified,
            })
        })
        .collect();
    datasets.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(datasets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> Vec<String> {
        match FreshnessRequest::from_json(body.as_bytes()) {
            Ok(request) => panic!("accepted {request:?}"),
            Err(errors) => errors.errors().iter().map(|e| e.field.clone()).collect(),
        }
    }

    #[test]
    fn defaults_fill_exchange_and_age() {
        let request = FreshnessRequest::from_json(br#"{"symbols":["BTC/USDT"],"timeframe":"1h"}"#).expect("valid");
        assert_eq!((request.exchange.as_str(), request.max_age_hours), ("binance", 24.0));
    }

    #[test]
    fn errors_name_their_fields() {
        assert_eq!(fields(r#"{"symbols":[],"timeframe":"1h"}"#), ["symbols"]);
        assert_eq!(
            fields(r#"{"symbols":["BTC/USDT","x"],"timeframe":"2m"}"#),
            ["symbols[1]", "timeframe"]
        );
        assert_eq!(
            fields(r#"{"symbols":["BTC/USDT"],"timeframe":"1h","max_age_hours":0}"#),
            ["max_age_hours"]
        );
        assert_eq!(
            fields(r#"{"symbols":["BTC/USDT"],"timeframe":"1h","exchange":"Binance!"}"#),
            ["exchange"]
        );
        assert_eq!(
            fields(r#"{"symbols":["BTC/USDT"],"timeframe":"1h","pairs":1}"#),
            ["pairs"]
        );
        assert_eq!(fields(r#"{"timeframe":"1h"}"#), ["symbols"]);
    }
}
