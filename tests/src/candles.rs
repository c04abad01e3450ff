//! Candle files as Freqtrade reads them, made here: Parquet with `date` (timestamp, UTC) and float64 `open`,
//! `high`, `low`, `close`, `volume`, rows sorted by date, with column statistics.

use std::sync::Arc;

use chrono::TimeDelta;
use parquet::data_type::{DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use tradai::time::Timestamp;

/// The close of candle `i`: a slow cycle, a fast wiggle and a little deterministic noise, so an EMA cross both
/// wins and loses.
fn price(i: usize) -> f64 {
    let x = i as f64;
    let noise = ((i.wrapping_mul(2_654_435_761) % 1000) as f64 / 500.0) - 1.0;
    100.0 + (x / 50.0).sin() * 3.0 + (x / 2.0).sin() * 0.8 + noise * 0.5
}

/// How a test wants its file.
#[derive(Debug, Clone)]
pub struct CandleFile {
    /// The first candle's open time.
    pub start: Timestamp,
    /// Time between candles.
    pub interval: TimeDelta,
    pub rows: usize,
    /// Rows per row group (each adds footer metadata).
    pub rows_per_group: usize,
    /// False writes a timestamp without time zone, which Freqtrade cannot load.
    pub utc: bool,
}

impl CandleFile {
    /// `rows` candles `interval` apart, ending with one that opened at `last` (to the millisecond, as stored).
    pub fn ending_at(last: Timestamp, interval: TimeDelta, rows: usize) -> Self {
        let last = Timestamp::from_epoch_millis(last.epoch_millis()).expect("a representable time");
        let span = interval * i32::try_from(rows.saturating_sub(1)).expect("a test-sized file");
        Self {
            start: last.minus(span),
            interval,
            rows,
            rows_per_group: 100_000,
            utc: true,
        }
    }

    /// The open time of the last candle.
    pub fn last(&self) -> Timestamp {
        self.start
            .plus(self.interval * i32::try_from(self.rows.saturating_sub(1)).expect("a test-sized file"))
    }

    /// The candles as Freqtrade's JSON data files hold them: `[[date_ms, open, high, low, close, volume], …]`.
    pub fn to_json(&self) -> Vec<u8> {
        let step = self.interval.num_milliseconds();
        let first = self.start.epoch_millis();
        let rows: Vec<serde_json::Value> = (0..self.rows)
            .map(|i| {
                let close = price(i);
                serde_json::json!([
                    first + step * i as i64,
                    close - 0.2,
                    close + 0.15,
                    close - 0.25,
                    close,
                    10.0 + (i % 7) as f64
                ])
            })
            .collect();
        serde_json::to_vec(&rows).expect("JSON")
    }

    /// The file's bytes.
    pub fn to_parquet(&self) -> Vec<u8> {
        let schema = format!(
            "message schema {{ REQUIRED INT64 date (TIMESTAMP(MILLIS,{})); REQUIRED DOUBLE open; \
             REQUIRED DOUBLE high; REQUIRED DOUBLE low; REQUIRED DOUBLE close; REQUIRED DOUBLE volume; }}",
            self.utc
        );
        let schema = Arc::new(parse_message_type(&schema).expect("a valid schema"));
        let properties = Arc::new(WriterProperties::builder().build());
        let mut writer = SerializedFileWriter::new(Vec::new(), schema, properties).expect("writer");
        let step = self.interval.num_milliseconds();
        let first = self.start.epoch_millis();
        let mut row = 0;
        while row < self.rows {
            let end = (row + self.rows_per_group.max(1)).min(self.rows);
            let dates: Vec<i64> = (row..end).map(|i| first + step * i as i64).collect();
            let close: Vec<f64> = (row..end).map(price).collect();
            let open: Vec<f64> = close.iter().map(|c| c - 0.2).collect();
            let high: Vec<f64> = close.iter().map(|c| c + 0.15).collect();
            let low: Vec<f64> = close.iter().map(|c| c - 0.25).collect();
            let volume: Vec<f64> = (row..end).map(|i| 10.0 + (i % 7) as f64).collect();
            let mut group = writer.next_row_group().expect("row group");
            let mut column = group.next_column().expect("column").expect("date");
            column
                .typed::<Int64Type>()
                .write_batch(&dates, None, None)
                .expect("dates");
            column.close().expect("closed");
            for values in [&open, &high, &low, &close, &volume] {
                let mut column = group.next_column().expect("column").expect("price column");
                column
                    .typed::<DoubleType>()
                    .write_batch(values, None, None)
                    .expect("values");
                column.close().expect("closed");
            }
            group.close().expect("row group closed");
            row = end;
        }
        writer.into_inner().expect("file")
    }
}

/// A spot market of `base`/USDT as an exchange's `markets.json` snapshot lists it.
pub fn market(base: &str) -> serde_json::Value {
    serde_json::json!({"id": format!("{base}USDT"), "symbol": format!("{base}/USDT"), "base": base, "quote": "USDT",
        "type": "spot", "spot": true, "active": true, "taker": 0.001, "maker": 0.001,
        "precision": {"amount": 0.00001, "price": 0.01}, "limits": {"amount": {"min": 0.00001}, "cost": {"min": 5.0}}})
}

/// The markets every test's snapshot lists: the tests share one local deployment, so every push writes the same
/// `markets.json` (the same bytes, so no run's inputs change by it), whichever pairs it brings candles for. Each test
/// that runs real Freqtrade reads candles of its own bases here: two tests writing one pair's file would each run on
/// whatever the other pushed last (BTC and ETH are the demo's).
pub const MARKETS: &[&str] = &[
    "BTC", "ETH", "CLIA", "CLIB", "SWEEPA", "SWEEPB", "WALKA", "WALKB", "RERUNA", "RERUNB",
];

/// The exchange's markets snapshot with every one of [`MARKETS`].
pub fn markets_json() -> String {
    serde_json::Value::from(MARKETS.iter().map(|base| market(base)).collect::<Vec<_>>()).to_string()
}

/// A pair no other test writes candles for (`T` and ten hex digits `/USDT`), for a test whose engine does not
/// read the exchange's markets.
pub fn own_pair() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("T{}/USDT", id[..10].to_ascii_uppercase())
}

/// A Freqtrade data folder in `folder`: `days` of 5m candles up to now for BTC/USDT (Parquet) and ETH/USDT (JSON),
/// and the exchange's `markets.json`.
pub fn sample_folder(folder: &std::path::Path, days: usize) -> std::io::Result<()> {
    sample_folder_of(folder, days, ["BTC", "ETH"])
}

/// A Freqtrade data folder in `folder`: `days` of 5m candles up to now for the first base against USDT (Parquet)
/// and the second (JSON), and the exchange's `markets.json`.
pub fn sample_folder_of(folder: &std::path::Path, days: usize, [parquet, json]: [&str; 2]) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    let file = CandleFile::ending_at(Timestamp::now(), TimeDelta::minutes(5), days * 288);
    std::fs::write(folder.join(format!("{parquet}_USDT-5m.parquet")), file.to_parquet())?;
    std::fs::write(folder.join(format!("{json}_USDT-5m.json")), file.to_json())?;
    std::fs::write(folder.join("markets.json"), markets_json())
}
