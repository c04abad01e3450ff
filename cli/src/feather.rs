//! Freqtrade's Feather candle files (its default data format: pandas' `to_feather`, Arrow IPC with LZ4), read into
//! the candles the store keeps: `date` a timestamp of any unit, the price columns float64; rows with a null dropped.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use tradai::market_data::candles::{CandleError, Candles, PRICE_COLUMNS};

fn error(message: impl Into<String>) -> CandleError {
    CandleError(message.into())
}

/// The candles of a Feather file.
pub fn read(bytes: Vec<u8>) -> Result<Candles, CandleError> {
    let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None)
        .map_err(|e| error(format!("not a Feather (Arrow IPC) file: {e}")))?;
    let mut candles = Candles::default();
    for batch in reader {
        let batch = batch.map_err(|e| error(format!("cannot read a record batch: {e}")))?;
        append(&batch, &mut candles)?;
    }
    candles.checked()
}

fn append(batch: &RecordBatch, candles: &mut Candles) -> Result<(), CandleError> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| error(format!("no `{name}` column")))
    };
    let date = column("date")?;
    let dates: Vec<Option<i64>> = match date.data_type() {
        DataType::Timestamp(unit, _) => {
            let (values, per_ms): (Vec<Option<i64>>, i64) = match unit {
                TimeUnit::Second => (date.as_primitive::<TimestampSecondType>().iter().collect(), -1_000),
                TimeUnit::Millisecond => (date.as_primitive::<TimestampMillisecondType>().iter().collect(), 1),
                TimeUnit::Microsecond => (date.as_primitive::<TimestampMicrosecondType>().iter().collect(), 1_000),
                TimeUnit::Nanosecond => (
                    date.as_primitive::<TimestampNanosecondType>().iter().collect(),
                    1_000_000,
                ),
            };
            values
                .into_iter()
                .map(|value| value.map(|value| if per_ms < 0 { value * -per_ms } else { value / per_ms }))
                .collect()
        }
        other => return Err(error(format!("`date` is {other}, not a timestamp"))),
    };
    let mut prices = Vec::with_capacity(PRICE_COLUMNS.len());
    for name in PRICE_COLUMNS {
        let values = column(name)?;
        if values.data_type() != &DataType::Float64 {
            return Err(error(format!("`{name}` is {}, not float64", values.data_type())));
        }
        prices.push(values.as_primitive::<Float64Type>());
    }
    for (row, date) in dates.into_iter().enumerate() {
        let values: Option<Vec<f64>> = prices
            .iter()
            .map(|column| (!column.is_null(row)).then(|| column.value(row)))
            .collect();
        if let (Some(date), Some(values)) = (date, values) {
            candles.push(date, [values[0], values[1], values[2], values[3], values[4]]);
        }
    }
    Ok(())
}
