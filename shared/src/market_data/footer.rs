//! A Parquet file described from its footer alone: the last bytes hold the metadata length and the magic, the
//! metadata before them holds the row count and each row group's min/max of the `date` column.

use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};
use parquet::file::statistics::Statistics;

use crate::objects::{ObjectError, ObjectInfo, ObjectStore};
use crate::time::Timestamp;

/// How much of a file's end the first read fetches: enough for the footer of any candle file we have seen, so
/// one ranged GET usually suffices.
pub const FIRST_READ_BYTES: u64 = 64 * 1024;
const FOOTER_BYTES: usize = 8;

/// What a data file's footer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    pub row_count: u64,
    /// The first and last candle's open time (`date` min and max).
    pub first_candle: Option<Timestamp>,
    pub last_candle: Option<Timestamp>,
    /// The object as the store describes it.
    pub object: ObjectInfo,
    /// How many bytes were fetched to learn all this.
    pub bytes_read: u64,
}

/// Why a footer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FooterError {
    #[error("not a readable Parquet file: {0}")]
    NotParquet(String),
    #[error("the file has no `date` column of timestamps")]
    NoDateColumn,
    #[error("the `date` column is a timestamp without time zone; Freqtrade needs UTC timestamps")]
    NaiveDates,
    #[error("the file records no min/max statistics for its `date` column")]
    NoStatistics,
    #[error(transparent)]
    Store(#[from] ObjectError),
}

/// The footer of object `key`, or `None` when there is no such object.
pub async fn read_footer(store: &impl ObjectStore, key: &str) -> Result<Option<Footer>, FooterError> {
    let Some(tail) = store.tail(key, FIRST_READ_BYTES).await? else {
        return Ok(None);
    };
    let mut bytes_read = tail.bytes.len() as u64;
    let length = tail.bytes.len();
    if length < FOOTER_BYTES {
        return Err(FooterError::NotParquet(format!("{length} bytes is too short")));
    }
    let last: [u8; FOOTER_BYTES] = tail.bytes[length - FOOTER_BYTES..].try_into().expect("eight bytes");
    let footer = FooterTail::try_from(last).map_err(|error| FooterError::NotParquet(error.to_string()))?;
    if footer.is_encrypted_footer() {
        return Err(FooterError::NotParquet("the footer is encrypted".into()));
    }
    let needed = footer.metadata_length() + FOOTER_BYTES;
    let fetched;
    let metadata = if needed <= length {
        &tail.bytes[length - needed..length - FOOTER_BYTES]
    } else {
        let size = tail.info.size;
        let start = size
            .checked_sub(needed as u64)
            .ok_or_else(|| FooterError::NotParquet("the metadata is longer than the file".into()))?;
        fetched = store.range(key, start..size - FOOTER_BYTES as u64).await?;
        bytes_read += fetched.len() as u64;
        &fetched[..]
    };
    let metadata =
        ParquetMetaDataReader::decode_metadata(metadata).map_err(|error| FooterError::NotParquet(error.to_string()))?;

    let schema = metadata.file_metadata().schema_descr();
    let date = schema
        .columns()
        .iter()
        .position(|column| column.name() == "date")
        .ok_or(FooterError::NoDateColumn)?;
    let unit = match schema.column(date).logical_type_ref() {
        Some(LogicalType::Timestamp(timestamp)) if timestamp.is_adjusted_to_u_t_c => timestamp.unit,
        Some(LogicalType::Timestamp(_)) => return Err(FooterError::NaiveDates),
        _ => return Err(FooterError::NoDateColumn),
    };
    let (mut first, mut last): (Option<i64>, Option<i64>) = (None, None);
    for group in metadata.row_groups() {
        if group.num_rows() == 0 {
            continue;
        }
        let Some(Statistics::Int64(statistics)) = group.column(date).statistics() else {
            return Err(FooterError::NoStatistics);
        };
        let (Some(min), Some(max)) = (statistics.min_opt(), statistics.max_opt()) else {
            return Err(FooterError::NoStatistics);
        };
        first = Some(first.map_or(*min, |first| first.min(*min)));
        last = Some(last.map_or(*max, |last| last.max(*max)));
    }
    let instant = |value: i64| {
        let time = match unit {
            TimeUnit::MILLIS => chrono::DateTime::from_timestamp_millis(value),
            TimeUnit::MICROS => chrono::DateTime::from_timestamp_micros(value),
            TimeUnit::NANOS => Some(chrono::DateTime::from_timestamp_nanos(value)),
        };
        time.map(Timestamp::from)
    };
    Ok(Some(Footer {
        row_count: u64::try_from(metadata.file_metadata().num_rows()).unwrap_or(0),
        first_candle: first.and_then(instant),
        last_candle: last.and_then(instant),
        object: tail.info,
        bytes_read,
    }))
}
