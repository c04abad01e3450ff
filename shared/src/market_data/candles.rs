//! Candles as the market-data store keeps them: Parquet with `date` (milliseconds, UTC — Freqtrade cannot load a
//! timestamp without a zone) and float64 `open`, `high`, `low`, `close`, `volume`, rows sorted by date, with the
//! column statistics the footer reader uses. Read from Freqtrade's own data files: its JSON (`[[ms, o, h, l, c, v],
//! …]`) or Parquet of any timestamp unit and nullability.

use std::sync::Arc;

use parquet::basic::{LogicalType, TimeUnit, Type as PhysicalType};
use parquet::column::reader::ColumnReader;
use parquet::data_type::{DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

/// The price and volume columns, in the order they are stored.
pub const PRICE_COLUMNS: [&str; 5] = ["open", "high", "low", "close", "volume"];

/// Candles column by column, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candles {
    pub date_ms: Vec<i64>,
    /// `open`, `high`, `low`, `close`, `volume`, each as long as `date_ms`.
    pub prices: [Vec<f64>; 5],
}

/// A candle file that cannot be read, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CandleError(pub String);

fn error(message: impl Into<String>) -> CandleError {
    CandleError(message.into())
}

impl Candles {
    pub fn len(&self) -> usize {
        self.date_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.date_ms.is_empty()
    }

    /// Adds one candle.
    pub fn push(&mut self, date_ms: i64, prices: [f64; 5]) {
        self.date_ms.push(date_ms);
        for (column, value) in self.prices.iter_mut().zip(prices) {
            column.push(value);
        }
    }

    /// The candles sorted by date; duplicates or no candles at all are refused.
    pub fn checked(mut self) -> Result<Candles, CandleError> {
        if self.is_empty() {
            return Err(error("the file has no candles"));
        }
        if self.date_ms.windows(2).any(|pair| pair[0] > pair[1]) {
            let mut order: Vec<usize> = (0..self.len()).collect();
            order.sort_by_key(|index| self.date_ms[*index]);
            self.date_ms = order.iter().map(|index| self.date_ms[*index]).collect();
            for column in &mut self.prices {
                *column = order.iter().map(|index| column[*index]).collect();
            }
        }
        if let Some(pair) = self.date_ms.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(error(format!("two candles open at {} ms", pair[0])));
        }
        Ok(self)
    }

    /// Freqtrade's JSON candles: an array of `[date_ms, open, high, low, close, volume]`.
    pub fn from_json(bytes: &[u8]) -> Result<Candles, CandleError> {
        let rows: Vec<Vec<serde_json::Value>> =
            serde_json::from_slice(bytes).map_err(|e| error(format!("not Freqtrade's JSON candles: {e}")))?;
        let mut candles = Candles::default();
        for (index, row) in rows.iter().enumerate() {
            let number = |column: usize| row.get(column).and_then(serde_json::Value::as_f64);
            let date = row.first().and_then(serde_json::Value::as_i64);
            match (date, number(1), number(2), number(3), number(4), number(5)) {
                (Some(date), Some(open), Some(high), Some(low), Some(close), Some(volume)) => {
                    candles.push(date, [open, high, low, close, volume]);
                }
                _ => {
                    return Err(error(format!(
                        "row {index} is not [date_ms, open, high, low, close, volume]"
                    )));
                }
            }
        }
        candles.checked()
    }

    /// Parquet candles: `date` an INT64 timestamp (milliseconds, micro- or nanoseconds) and the price columns as
    /// doubles; rows with a null in any of them are dropped.
    pub fn from_parquet(bytes: Vec<u8>) -> Result<Candles, CandleError> {
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes))
            .map_err(|e| error(format!("not a Parquet file: {e}")))?;
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let index_of = |name: &str| {
            (0..schema.num_columns())
                .find(|index| schema.column(*index).name() == name)
                .ok_or_else(|| error(format!("no `{name}` column")))
        };
        let date_column = index_of("date")?;
        let descriptor = schema.column(date_column);
        if descriptor.physical_type() != PhysicalType::INT64 {
            return Err(error("`date` is not an INT64 timestamp"));
        }
        let per_ms = match descriptor.logical_type_ref() {
            Some(LogicalType::Timestamp(timestamp)) => match timestamp.unit {
                TimeUnit::MILLIS => 1,
                TimeUnit::MICROS => 1_000,
                TimeUnit::NANOS => 1_000_000,
            },
            _ => return Err(error("`date` is not a timestamp")),
        };
        let price_columns = PRICE_COLUMNS
            .iter()
            .map(|name| index_of(name))
            .collect::<Result<Vec<_>, _>>()?;
        let mut candles = Candles::default();
        for group in 0..reader.num_row_groups() {
            let row_group = reader
                .get_row_group(group)
                .map_err(|e| error(format!("row group {group}: {e}")))?;
            let rows = usize::try_from(row_group.metadata().num_rows()).unwrap_or_default();
            let dates = read_int64(row_group.get_column_reader(date_column), rows)?;
            let mut prices = Vec::with_capacity(5);
            for column in &price_columns {
                prices.push(read_double(row_group.get_column_reader(*column), rows)?);
            }
            for row in 0..rows {
                let values: Option<Vec<f64>> = prices.iter().map(|column| column[row]).collect();
                if let (Some(date), Some(values)) = (dates[row], values) {
                    candles.push(date / per_ms, [values[0], values[1], values[2], values[3], values[4]]);
                }
            }
        }
        candles.checked()
    }

    /// The candles as the store keeps them.
    pub fn to_parquet(&self) -> Result<Vec<u8>, CandleError> {
        let failed = |e: parquet::errors::ParquetError| error(format!("cannot write Parquet: {e}"));
        let schema = parse_message_type(
            "message schema { REQUIRED INT64 date (TIMESTAMP(MILLIS,true)); REQUIRED DOUBLE open; \
             REQUIRED DOUBLE high; REQUIRED DOUBLE low; REQUIRED DOUBLE close; REQUIRED DOUBLE volume; }",
        )
        .map_err(failed)?;
        let properties = Arc::new(WriterProperties::builder().build());
        let mut writer = SerializedFileWriter::new(Vec::new(), Arc::new(schema), properties).map_err(failed)?;
        // One row group per 100 000 candles: about a year of 5m candles, a few footer entries for a long history.
        for start in (0..self.len()).step_by(100_000) {
            let end = (start + 100_000).min(self.len());
            let mut group = writer.next_row_group().map_err(failed)?;
            let mut column = group
                .next_column()
                .map_err(failed)?
                .ok_or_else(|| error("no date column"))?;
            column
                .typed::<Int64Type>()
                .write_batch(&self.date_ms[start..end], None, None)
                .map_err(failed)?;
            column.close().map_err(failed)?;
            for values in &self.prices {
                let mut column = group
                    .next_column()
                    .map_err(failed)?
                    .ok_or_else(|| error("a missing column"))?;
                column
                    .typed::<DoubleType>()
                    .write_batch(&values[start..end], None, None)
                    .map_err(failed)?;
                column.close().map_err(failed)?;
            }
            group.close().map_err(failed)?;
        }
        writer.into_inner().map_err(failed)
    }
}

/// Column values of a row group, `None` where null.
fn read_int64(
    reader: Result<ColumnReader, parquet::errors::ParquetError>,
    rows: usize,
) -> Result<Vec<Option<i64>>, CandleError> {
    match reader.map_err(|e| error(e.to_string()))? {
        ColumnReader::Int64ColumnReader(mut reader) => read_all(&mut reader, rows),
        _ => Err(error("`date` is not INT64")),
    }
}

fn read_double(
    reader: Result<ColumnReader, parquet::errors::ParquetError>,
    rows: usize,
) -> Result<Vec<Option<f64>>, CandleError> {
    match reader.map_err(|e| error(e.to_string()))? {
        ColumnReader::DoubleColumnReader(mut reader) => read_all(&mut reader, rows),
        _ => Err(error("a price column is not DOUBLE")),
    }
}

/// The `rows` values of one column chunk, `None` where null.
fn read_all<T: parquet::data_type::DataType>(
    reader: &mut parquet::column::reader::ColumnReaderImpl<T>,
    rows: usize,
) -> Result<Vec<Option<T::T>>, CandleError>
where
    T::T: Copy,
{
    let (mut values, mut levels) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    reader
        .read_records(rows, Some(&mut levels), None, &mut values)
        .map_err(|e| error(e.to_string()))?;
    Ok(spread(values, &levels, rows))
}

/// Values read densely, spread over `rows` by their definition levels (a required column has none).
fn spread<T: Copy>(values: Vec<T>, levels: &[i16], rows: usize) -> Vec<Option<T>> {
    if levels.is_empty() {
        return values.into_iter().map(Some).collect();
    }
    let mut values = values.into_iter();
    levels
        .iter()
        .take(rows)
        .map(|level| if *level > 0 { values.next() } else { None })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Candles {
        let mut candles = Candles::default();
        for i in 0..500_i64 {
            let close = 100.0 + (i as f64 / 10.0).sin();
            candles.push(
                1_767_571_200_000 + i * 300_000,
                [close - 0.1, close + 0.2, close - 0.3, close, 5.0],
            );
        }
        candles
    }

    #[test]
    fn parquet_written_reads_back_the_same() {
        let candles = sample();
        let bytes = candles.to_parquet().expect("written");
        assert_eq!(Candles::from_parquet(bytes).expect("read"), candles);
    }

    #[test]
    fn freqtrade_json_reads_sorted_and_malformed_rows_are_named() {
        let json = br#"[[1767571500000, 1, 2, 0.5, 1.5, 10], [1767571200000, 1, 2, 0.5, 1.2, 11.5]]"#;
        let candles = Candles::from_json(json).expect("read");
        assert_eq!(candles.date_ms, [1_767_571_200_000, 1_767_571_500_000]);
        assert_eq!(candles.prices[3], [1.2, 1.5]);
        let bad = Candles::from_json(br#"[[1767571200000, 1, 2]]"#).expect_err("refused");
        assert!(bad.0.contains("row 0"), "{bad}");
        let twice = Candles::from_json(br#"[[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]"#).expect_err("refused");
        assert!(twice.0.contains("two candles"), "{twice}");
        assert!(Candles::from_json(b"[]").is_err());
    }

    #[test]
    fn a_parquet_file_without_the_columns_is_refused() {
        assert!(Candles::from_parquet(b"not parquet".to_vec()).is_err_and(|e| e.0.contains("not a Parquet")));
    }
}
