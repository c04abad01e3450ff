//! Freqtrade's backtest result (ENGINE.md): `.last_result.json` names a zip holding `<base>.json`, whose
//! `strategy.<Name>` object carries the metrics and the trades. Types are not uniform (strings for some numbers,
//! integer 0 with zero trades), so everything is read defensively. The strategy container reads the result to log
//! it to MLflow; TransformResults reads it again from S3 to summarise it.

pub(crate) mod chart;
mod summary;

use std::collections::BTreeMap;

use serde_json::Value;

pub use chart::equity_svg;
pub use summary::{EquityPoint, PairSummary, Summary, summarize};

/// The metrics MLflow gets, by their Freqtrade names.
pub const METRICS: &[&str] = &[
    "total_trades",
    "wins",
    "losses",
    "draws",
    "winrate",
    "profit_total",
    "profit_total_abs",
    "profit_factor",
    "max_drawdown_account",
    "max_drawdown_abs",
    "sharpe",
    "sortino",
    "calmar",
    "cagr",
    "sqn",
    "expectancy",
    "backtest_days",
    "starting_balance",
    "final_balance",
];

/// The pointer file Freqtrade writes beside its results.
pub const LAST_RESULT: &str = ".last_result.json";

/// The files TransformResults writes beside the engine's output: the summary, the equity chart, the per-pair table.
pub const SUMMARY_FILE: &str = "summary.json";
pub const CHART_FILE: &str = "equity.svg";
pub const PAIRS_FILE: &str = "pairs.csv";
/// What a hyperopt run leaves beside its epochs: its best epoch on its own (mode, params, metrics, ...), which the
/// job records as its result.
pub const BEST_EPOCH_FILE: &str = "best_epoch.json";

/// Where run `run_id`'s results are in the results bucket: `results/{run_id}/`.
pub fn results_folder(run_id: crate::backtest::RunId) -> String {
    format!("results/{run_id}")
}

/// A result that cannot be read; the message is one line, fit for a job's `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResultError(pub String);

fn error(message: impl Into<String>) -> ResultError {
    ResultError(message.into())
}

/// One strategy's section of a backtest result: its fields, and its trades read down to what a summary needs.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyResult {
    pub strategy: String,
    section: Value,
    trades: Vec<RawTrade>,
}

/// A trade as the result holds it: only the fields a summary reads are kept (the others, and their nested
/// orders, are skipped while parsing, so a result of 100 000 trades costs a few megabytes, not its JSON tree).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct RawTrade {
    #[serde(default)]
    pair: Value,
    #[serde(default)]
    close_timestamp: Value,
    #[serde(default)]
    profit_abs: Value,
    #[serde(default)]
    trade_duration: Value,
}

/// A strategy section: every field but `trades` kept as it is, the trades as [`RawTrade`]s.
struct RawSection {
    fields: serde_json::Map<String, Value>,
    trades: Vec<RawTrade>,
}

impl<'de> serde::Deserialize<'de> for RawSection {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = RawSection;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a strategy's result object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawSection, A::Error> {
                let mut section = RawSection {
                    fields: serde_json::Map::new(),
                    trades: Vec::new(),
                };
                while let Some(key) = map.next_key::<String>()? {
                    if key == "trades" {
                        section.trades = map.next_value()?;
                    } else {
                        section.fields.insert(key, map.next_value()?);
                    }
                }
                Ok(section)
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// The top of a result document: `strategy` (by name); `strategy_comparison` and the rest are skipped.
#[derive(serde::Deserialize)]
struct Document {
    #[serde(default)]
    strategy: std::collections::HashMap<String, RawSection>,
}

/// One closed trade, as the summary needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    /// The pair traded (empty when the result does not say).
    pub pair: String,
    /// When the trade closed, in milliseconds since the epoch.
    pub close_ms: i64,
    pub profit_abs: f64,
    pub duration_minutes: f64,
}

/// The file `.last_result.json` names (`{"latest_backtest": "backtest-result-<ts>.zip"}`).
pub fn latest_backtest(pointer: &[u8]) -> Result<String, ResultError> {
    pointed_file(pointer, "latest_backtest")
}

/// The file a Freqtrade pointer (`.last_result.json`) names under `key`: a bare name in the pointer's own folder.
pub fn pointed_file(pointer: &[u8], key: &str) -> Result<String, ResultError> {
    serde_json::from_slice::<Value>(pointer)
        .ok()
        .and_then(|value| value[key].as_str().map(str::to_owned))
        .filter(|name| !name.is_empty() && !name.contains(['/', '\\']) && name != "..")
        .ok_or_else(|| {
            error(format!(
                "{LAST_RESULT} names no {key}: {}",
                String::from_utf8_lossy(pointer).trim()
            ))
        })
}

/// Reads a result file's bytes (a Freqtrade `.zip` when `zipped`, else the bare `.json`) for `strategy`. The JSON
/// is read as a stream out of the zip, never held whole.
pub fn parse_result(bytes: &[u8], zipped: bool, strategy: &str) -> Result<StrategyResult, ResultError> {
    let not_json = |e: serde_json::Error| error(format!("the result is not JSON: {e}"));
    let mut document: Document = if zipped {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| error(format!("the result zip is unreadable: {e}")))?;
        let name = result_entry(&archive)?;
        let entry = archive
            .by_name(&name)
            .map_err(|e| error(format!("cannot open {name} in the zip: {e}")))?;
        serde_json::from_reader(std::io::BufReader::with_capacity(1 << 16, entry)).map_err(not_json)?
    } else {
        serde_json::from_slice(bytes).map_err(not_json)?
    };
    match document.strategy.remove(strategy) {
        Some(section) => Ok(StrategyResult {
            strategy: strategy.to_owned(),
            section: Value::Object(section.fields),
            trades: section.trades,
        }),
        None => {
            let mut found: Vec<&String> = document.strategy.keys().collect();
            found.sort();
            Err(error(format!(
                "the result has no section for strategy {strategy} (found {found:?})"
            )))
        }
    }
}

impl StrategyResult {
    /// Freqtrade's own metrics (those of [`METRICS`] the result carries as numbers).
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        METRICS
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), self.number(name)?)))
            .collect()
    }

    /// A numeric field of the section, whether written as a number or as text.
    pub fn number(&self, name: &str) -> Option<f64> {
        number(&self.section[name])
    }

    /// The pairs the engine really traded (it drops pairs without data silently).
    pub fn pairlist(&self) -> Vec<String> {
        self.section["pairlist"]
            .as_array()
            .map(|pairs| pairs.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// The closed trades; a trade without a close time or profit is an error, not a silent gap.
    pub fn trades(&self) -> Result<Vec<Trade>, ResultError> {
        self.trades
            .iter()
            .enumerate()
            .map(|(index, trade)| {
                let field = |value: &Value, name: &str| {
                    number(value).ok_or_else(|| error(format!("trade {index} has no numeric {name}")))
                };
                Ok(Trade {
                    pair: trade.pair.as_str().unwrap_or_default().to_owned(),
                    close_ms: field(&trade.close_timestamp, "close_timestamp")? as i64,
                    profit_abs: field(&trade.profit_abs, "profit_abs")?,
                    duration_minutes: number(&trade.trade_duration).unwrap_or(0.0),
                })
            })
            .collect()
    }

    /// The backtest's first and last candle, in milliseconds since the epoch.
    pub fn period_ms(&self) -> Option<(i64, i64)> {
        Some((
            self.number("backtest_start_ts")? as i64,
            self.number("backtest_end_ts")? as i64,
        ))
    }

    /// How long the engine ran, in seconds: Freqtrade's `backtest_run_start_ts` and `backtest_run_end_ts` (epoch
    /// seconds of its own run), when both are there and in order.
    pub fn engine_seconds(&self) -> Option<f64> {
        let (start, end) = (
            self.number("backtest_run_start_ts")?,
            self.number("backtest_run_end_ts")?,
        );
        (end >= start).then_some(end - start)
    }

    /// The wallet the backtest started with.
    pub fn starting_balance(&self) -> Option<f64> {
        self.number("starting_balance").filter(|balance| *balance > 0.0)
    }
}

/// A number, whether written as one or as text; never NaN or infinite.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
    .filter(|number: &f64| number.is_finite())
}

/// The one `.json` in the zip that is the result (not `_config.json`, not the `.meta.json`, not a strategy's
/// parameter file `<base>_<Strategy>.json`, which a hyperopted strategy adds): the one named `<base>.json` after
/// the zip itself, or else the first other `.json`.
fn result_entry(archive: &zip::ZipArchive<std::io::Cursor<&[u8]>>) -> Result<String, ResultError> {
    let names: Vec<&str> = archive.file_names().collect();
    let candidates: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| name.ends_with(".json") && !name.ends_with("_config.json") && !name.ends_with(".meta.json"))
        .collect();
    let shortest = candidates.iter().copied().min_by_key(|name| name.len());
    shortest
        .map(str::to_owned)
        .ok_or_else(|| error("the result zip holds no result JSON"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_are_read_whatever_their_spelling() {
        assert_eq!(number(&json!(3)), Some(3.0));
        assert_eq!(number(&json!("12.5")), Some(12.5));
        assert_eq!(number(&json!(null)), None);
        assert_eq!(number(&json!("n/a")), None);
        assert_eq!(number(&json!("NaN")), None);
    }

    #[test]
    fn a_zero_trade_result_still_reads() {
        let result = json!({"strategy": {"EmaCross": {"total_trades": 0, "profit_total": 0, "max_drawdown_abs": "0",
            "sharpe": -100, "pairlist": ["BTC/USDT"], "trades": []}}});
        let read = parse_result(result.to_string().as_bytes(), false, "EmaCross").expect("readable");
        assert_eq!(read.metrics()["total_trades"], 0.0);
        assert_eq!(read.metrics()["max_drawdown_abs"], 0.0);
        assert_eq!(read.pairlist(), ["BTC/USDT"]);
        assert_eq!(read.trades(), Ok(Vec::new()));
        let other = parse_result(result.to_string().as_bytes(), false, "Other").expect_err("no such strategy");
        assert!(other.0.contains("found [\"EmaCross\"]"), "{other}");
    }

    #[test]
    fn a_trade_without_its_profit_is_an_error() {
        let result = json!({"strategy": {"S": {"trades": [{"close_timestamp": 1, "profit_abs": 1.0},
            {"close_timestamp": 2}]}}});
        let read = parse_result(result.to_string().as_bytes(), false, "S").expect("readable");
        assert_eq!(
            read.trades().expect_err("bad trade").0,
            "trade 1 has no numeric profit_abs"
        );
    }

    #[test]
    fn the_pointer_names_a_file_in_its_folder() {
        assert_eq!(
            latest_backtest(br#"{"latest_backtest": "backtest-result-1.zip"}"#),
            Ok("backtest-result-1.zip".to_owned())
        );
        assert!(latest_backtest(br#"{"latest_backtest": "../etc/passwd"}"#).is_err());
        assert!(latest_backtest(b"{}").is_err());
        assert!(latest_backtest(b"not json").is_err());
    }
}
