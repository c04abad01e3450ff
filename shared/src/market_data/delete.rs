//! Deleting candle files (and an exchange's markets snapshot) from the market-data store, by what they are rather
//! than by key: `exchange`, the `pairs` and their `timeframe`, or the snapshot. The store keeps versions, so a
//! deletion hides the current version only: every run that pinned an older one still reads it (re-runs, diffs)
//! until the bucket's lifecycle expires it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{DataLocation, dataset_key, is_exchange_id, markets_key};
use crate::backtest::{Symbol, Timeframe};
use crate::objects::{ObjectError, ObjectStore};
use crate::validation::{FieldError, ValidationErrors};

/// The most pairs one request may name.
pub const MAX_PAIRS: usize = 500;

/// What to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequest {
    pub exchange: String,
    /// The candle files of these pairs at `timeframe`.
    pub pairs: Vec<Symbol>,
    pub timeframe: Option<Timeframe>,
    /// The exchange's markets snapshot too.
    pub markets: bool,
}

/// What was deleted, and what was asked for but not there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deleted {
    pub exchange: String,
    pub deleted: Vec<String>,
    pub missing: Vec<String>,
}

impl DeleteRequest {
    /// The request a query string names: `exchange` (required), `pairs` (comma-separated) with their `timeframe`,
    /// `markets` (`true` or `false`); each problem names its parameter.
    pub fn from_query(query: &BTreeMap<String, String>) -> Result<DeleteRequest, ValidationErrors> {
        let mut errors = Vec::new();
        let exchange = query.get("exchange").cloned().unwrap_or_default();
        if !is_exchange_id(&exchange) {
            errors.push(FieldError::new("exchange", "a lower-case exchange id such as binance"));
        }
        let mut pairs = Vec::new();
        let mut seen = BTreeSet::new();
        for text in query.get("pairs").into_iter().flat_map(|pairs| pairs.split(',')) {
            match Symbol::try_from(text.trim().to_owned()) {
                Ok(pair) if seen.insert(pair.as_str().to_owned()) => pairs.push(pair),
                Ok(pair) => errors.push(FieldError::new("pairs", format!("{pair} is named twice"))),
                Err(problem) => errors.push(FieldError::new("pairs", problem)),
            }
        }
        if pairs.len() > MAX_PAIRS {
            errors.push(FieldError::new("pairs", format!("at most {MAX_PAIRS} pairs a request")));
        }
        let timeframe = match query.get("timeframe") {
            Some(text) => match Timeframe::try_from(text.clone()) {
                Ok(timeframe) => Some(timeframe),
                Err(problem) => {
                    errors.push(FieldError::new("timeframe", problem));
                    None
                }
            },
            None => None,
        };
        let markets = match query.get("markets").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                errors.push(FieldError::new("markets", "true or false"));
                false
            }
        };
        match (query.contains_key("pairs"), query.contains_key("timeframe")) {
            (true, false) => errors.push(FieldError::new("timeframe", "required with pairs")),
            (false, true) => errors.push(FieldError::new("pairs", "required with timeframe")),
            (false, false) if !markets => errors.push(FieldError::new(
                "pairs",
                "name the pairs (with their timeframe) or markets=true",
            )),
            _ => {}
        }
        if errors.is_empty() {
            Ok(DeleteRequest {
                exchange,
                pairs,
                timeframe,
                markets,
            })
        } else {
            Err(ValidationErrors(errors))
        }
    }

    /// The keys the request names, under `location`.
    pub fn keys(&self, location: &DataLocation) -> Vec<String> {
        let mut keys: Vec<String> = match self.timeframe {
            Some(timeframe) => self
                .pairs
                .iter()
                .map(|pair| dataset_key(location, &self.exchange, pair, timeframe))
                .collect(),
            None => Vec::new(),
        };
        if self.markets {
            keys.push(markets_key(location, &self.exchange));
        }
        keys
    }
}

/// Deletes what `request` names that is there; answers which keys were deleted and which were not there.
pub async fn delete_datasets(
    store: &impl ObjectStore,
    location: &DataLocation,
    request: &DeleteRequest,
) -> Result<Deleted, ObjectError> {
    let existing: BTreeSet<String> = store
        .list(&format!("{}{}/", location.prefix, request.exchange))
        .await?
        .into_iter()
        .map(|object| object.key)
        .collect();
    let (deleted, missing): (Vec<String>, Vec<String>) = request
        .keys(location)
        .into_iter()
        .partition(|key| existing.contains(key));
    store.delete(&deleted).await?;
    Ok(Deleted {
        exchange: request.exchange.clone(),
        deleted,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::MemoryObjects;

    fn query(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn fields(query: &BTreeMap<String, String>) -> Vec<String> {
        match DeleteRequest::from_query(query) {
            Ok(request) => panic!("accepted {request:?}"),
            Err(errors) => errors.errors().iter().map(|error| error.field.clone()).collect(),
        }
    }

    #[test]
    fn each_bad_parameter_is_named() {
        assert_eq!(fields(&query(&[("exchange", "Binance!")])), ["exchange", "pairs"]);
        assert_eq!(
            fields(&query(&[("exchange", "binance"), ("pairs", "BTC/USDT,BTC/USDT,nope")])),
            ["pairs", "pairs", "timeframe"]
        );
        assert_eq!(
            fields(&query(&[
                ("exchange", "binance"),
                ("timeframe", "7m"),
                ("markets", "yes")
            ])),
            ["timeframe", "markets", "pairs"]
        );
    }

    #[tokio::test]
    async fn the_named_files_are_deleted_and_older_versions_stay_readable() {
        let location = DataLocation::parse("s3://market/ohlcv").expect("a location");
        let store = MemoryObjects::new("market");
        let kept = "ohlcv/binance/BTC_USDT-5m.parquet";
        let gone = "ohlcv/binance/SMOKEA_USDT-5m.parquet";
        let other_exchange = "ohlcv/kraken/SMOKEA_USDT-5m.parquet";
        for key in [kept, gone, other_exchange, "ohlcv/binance/markets.json"] {
            store.put(key, b"candles".to_vec()).await.expect("put");
        }
        let version = store.head(gone).await.expect("head").expect("there").version_id;
        let request = DeleteRequest::from_query(&query(&[
            ("exchange", "binance"),
            ("pairs", "SMOKEA/USDT, SMOKEB/USDT"),
            ("timeframe", "5m"),
            ("markets", "true"),
        ]))
        .expect("a request");
        let deleted = delete_datasets(&store, &location, &request).await.expect("deleted");
        assert_eq!(deleted.deleted, [gone, "ohlcv/binance/markets.json"]);
        assert_eq!(deleted.missing, ["ohlcv/binance/SMOKEB_USDT-5m.parquet"]);
        let left: Vec<String> = store
            .list("ohlcv/")
            .await
            .expect("listed")
            .into_iter()
            .map(|object| object.key)
            .collect();
        assert_eq!(left, [kept, other_exchange]);
        assert_eq!(
            store.get_version(gone, version.as_deref()).await.expect("read"),
            Some(b"candles".to_vec()),
            "a run that pinned the version still reads it"
        );
        let again = delete_datasets(&store, &location, &request).await.expect("deleted");
        assert!(again.deleted.is_empty(), "deleting again deletes nothing: {again:?}");
    }
}
