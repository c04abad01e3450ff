//! Where Freqtrade keeps candles, and how a key names its exchange, pair and timeframe.

use serde::Serialize;

use crate::backtest::{Symbol, Timeframe};
use crate::time::Timestamp;

/// A bucket and a key prefix, from an `s3://bucket/prefix` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLocation {
    pub bucket: String,
    /// Empty, or ending in `/`.
    pub prefix: String,
}

impl DataLocation {
    /// Parses `s3://bucket[/prefix]`.
    pub fn parse(uri: &str) -> Result<Self, String> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{uri:?} is not an s3:// URI"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(format!("{bucket:?} is not an S3 bucket name"));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix,
        })
    }

    /// `s3://bucket/key`.
    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// Spot candles, or futures candles (Freqtrade keeps them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TradingMode {
    Spot,
    Futures,
}

/// One data file of the catalog, as its key and listing describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dataset {
    pub exchange: String,
    pub symbol: String,
    pub timeframe: String,
    pub trading_mode: TradingMode,
    pub key: String,
    pub size_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<Timestamp>,
}

/// The key of `symbol`'s `timeframe` candles on `exchange`: `BTC/USDT` → `binance/BTC_USDT-5m.parquet`,
/// `BTC/USDT:USDT` → `binance/futures/BTC_USDT_USDT-5m-futures.parquet`.
pub fn dataset_key(location: &DataLocation, exchange: &str, symbol: &Symbol, timeframe: Timeframe) -> String {
    let pair = symbol.as_str().replace(['/', ':'], "_");
    if symbol.as_str().contains(':') {
        format!(
            "{}{exchange}/futures/{pair}-{timeframe}-futures.parquet",
            location.prefix
        )
    } else {
        format!("{}{exchange}/{pair}-{timeframe}.parquet", location.prefix)
    }
}

/// Whether `exchange` can name an exchange's folder: a lower-case ccxt id (`binance`, `gate_io`), at most 32
/// characters.
pub fn is_exchange_id(exchange: &str) -> bool {
    (1..=32).contains(&exchange.len())
        && exchange
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The key of `exchange`'s markets snapshot (`markets.json`, what the offline engine loads instead of asking the
/// exchange).
pub fn markets_key(location: &DataLocation, exchange: &str) -> String {
    format!("{}{exchange}/markets.json", location.prefix)
}

/// The exchange, symbol, timeframe and mode a key names, if it is a candle file of this layout.
pub fn parse_dataset_key(location: &DataLocation, key: &str) -> Option<(String, String, String, TradingMode)> {
    let relative = key.strip_prefix(&location.prefix)?;
    let stem = relative.strip_suffix(".parquet")?;
    let (exchange, rest) = stem.split_once('/')?;
    let (mode, file) = match rest.strip_prefix("futures/") {
        Some(file) => (TradingMode::Futures, file.strip_suffix("-futures")?),
        None => (TradingMode::Spot, rest),
    };
    let (pair, timeframe) = file.rsplit_once('-')?;
    Timeframe::try_from(timeframe.to_owned()).ok()?;
    let parts: Vec<&str> = pair.split('_').collect();
    let symbol = match (mode, parts.as_slice()) {
        (TradingMode::Spot, [base, quote]) => format!("{base}/{quote}"),
        (TradingMode::Futures, [base, quote, settle]) => format!("{base}/{quote}:{settle}"),
        _ => return None,
    };
    Some((exchange.to_owned(), symbol, timeframe.to_owned(), mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbol(text: &str) -> Symbol {
        Symbol::try_from(text.to_owned()).expect("valid symbol")
    }

    #[test]
    fn keys_follow_freqtrades_layout_and_parse_back() {
        let location = DataLocation::parse("s3://tradai-market-data/ohlcv/").expect("valid");
        let spot = dataset_key(&location, "binance", &symbol("BTC/USDT"), Timeframe::M5);
        assert_eq!(spot, "ohlcv/binance/BTC_USDT-5m.parquet");
        let futures = dataset_key(&location, "binance", &symbol("ETH/USDT:USDT"), Timeframe::H1);
        assert_eq!(futures, "ohlcv/binance/futures/ETH_USDT_USDT-1h-futures.parquet");
        assert_eq!(
            parse_dataset_key(&location, &spot),
            Some(("binance".into(), "BTC/USDT".into(), "5m".into(), TradingMode::Spot))
        );
        assert_eq!(
            parse_dataset_key(&location, &futures),
            Some((
                "binance".into(),
                "ETH/USDT:USDT".into(),
                "1h".into(),
                TradingMode::Futures
            ))
        );
        assert_eq!(parse_dataset_key(&location, "ohlcv/binance/markets.json"), None);
        assert_eq!(parse_dataset_key(&location, "ohlcv/binance/BTC_USDT-7m.parquet"), None);
    }

    #[test]
    fn locations_are_checked() {
        assert_eq!(DataLocation::parse("s3://bucket").expect("valid").prefix, "");
        assert_eq!(DataLocation::parse("s3://bucket/a/b").expect("valid").prefix, "a/b/");
        assert!(DataLocation::parse("https://bucket/a").is_err());
        assert!(DataLocation::parse("s3://Bad_Bucket/a").is_err());
    }
}
