//! The market-data catalog: candles in Freqtrade's own Parquet layout under `MARKET_DATA_S3_URI`
//! (`{exchange}/{BASE}_{QUOTE}-{timeframe}.parquet`, futures under `{exchange}/futures/`), described from each
//! file's Parquet footer alone (row count, first and last candle from the `date` column's statistics), read with
//! ranged GETs: a catalog never downloads a data file.

mod footer;
mod freshness;
mod layout;
mod s3;

use std::future::Future;
use std::ops::Range;

pub use footer::{Footer, FooterError, read_footer};
pub use freshness::{
    DEFAULT_EXCHANGE, DEFAULT_MAX_AGE_HOURS, FreshnessReport, FreshnessRequest, SymbolFreshness, check_freshness,
    list_datasets,
};
pub use layout::{DataLocation, Dataset, TradingMode, dataset_key, parse_dataset_key, s3_object};
pub use s3::S3Objects;

use crate::time::Timestamp;

/// What a store says about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<Timestamp>,
}

/// The last bytes of an object, and the object's size and age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    pub bytes: Vec<u8>,
    pub info: ObjectInfo,
}

/// Objects read by range: the only access the catalog needs.
pub trait ObjectStore: Send + Sync {
    /// The last `length` bytes of object `key` (all of it when shorter), or `None` when there is no such object.
    fn tail(&self, key: &str, length: u64) -> impl Future<Output = Result<Option<Tail>, ObjectError>> + Send;

    /// Bytes `range` of object `key`.
    fn range(&self, key: &str, range: Range<u64>) -> impl Future<Output = Result<Vec<u8>, ObjectError>> + Send;

    /// Every object under `prefix`.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<ObjectInfo>, ObjectError>> + Send;
}

/// The object store did not answer.
#[derive(Debug, thiserror::Error)]
#[error("the object store could not be read")]
pub struct ObjectError(#[source] pub Box<dyn std::error::Error + Send + Sync>);
