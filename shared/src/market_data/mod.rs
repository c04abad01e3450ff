//! The market-data catalog: candles in Freqtrade's own Parquet layout under `MARKET_DATA_S3_URI`
//! (`{exchange}/{BASE}_{QUOTE}-{timeframe}.parquet`, futures under `{exchange}/futures/`), described from each
//! file's Parquet footer alone (row count, first and last candle from the `date` column's statistics), read with
//! ranged GETs: a catalog never downloads a data file.

pub mod candles;
pub mod delete;
mod footer;
mod freshness;
mod layout;
pub mod upload;

pub use footer::{Footer, FooterError, read_footer};
pub use freshness::{
    DEFAULT_EXCHANGE, DEFAULT_MAX_AGE_HOURS, FreshnessReport, FreshnessRequest, SymbolFreshness, check_freshness,
    list_datasets,
};
pub use layout::{DataLocation, Dataset, TradingMode, dataset_key, is_exchange_id, markets_key, parse_dataset_key};
