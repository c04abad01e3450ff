//! Freqtrade's backtest result (ENGINE.md): `.last_result.json` names a zip holding `<base>.json`, whose
//! `strategy.<Name>` object carries the metrics and the trades. Types are not uniform (strings for some numbers,
//! integer 0 with zero trades), so everything is read defensively. The strategy container reads the result to log
//! it to MLflow; TransformResults reads it again from S3 to summarise it.

mod chart;
mod summary;

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

pub use chart::equity_svg;
pub use summary::{EquityPoint, Summary, summarize};

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

/// A result that cannot be read; the message is one line, fit for a job's `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResultError(pub String);

fn error(message: impl Into<String>) -> ResultError {
    ResultError(message.into())
}

/// One strategy's section of a backtest result.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyResult {
    pub strategy: String,
    section: Value,
}

/// One closed trade, as the summary needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    /// When the trade closed, in milliseconds since the epoch.
    pub close_ms: i64,
    pub profit_abs: f64,
    pub duration_minutes: f64,
}

/// The file `.last_result.json` names (`{"latest_backtest": "backtest-result-<ts>.zip"}`).
pub fn latest_backtest(pointer: &[u8]) -> Result<String, ResultError> {
    serde_json::from_slice::<Value>(pointer)
        .ok()
        .and_then(|value| value["latest_backtest"].as_str().map(str::to_owned))
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| {
            error(format!(
                "{LAST_RESULT} names no latest_backtest: {}",
                String::from_utf8_lossy(pointer).trim()
            ))
        })
}

/// Reads a result file's bytes (a Freqtrade `.zip` when `zipped`, else the bare `.json`) for `strategy`.
pub fn parse_result(bytes: &[u8], zipped: bool, strategy: &str) -> Result<StrategyResult, ResultError> {
    let owned;
    let json = if zipped {
        owned = json_in_zip(bytes)?;
        &owned[..]
    } else {
        bytes
    };
    let mut document: Value =
        serde_json::from_slice(json).map_err(|e| error(format!("the result is not JSON: {e}")))?;
    let section = document["strategy"]
        .get_mut(strategy)
        .map(Value::take)
        .filter(Value::is_object);
    match section {
        Some(section) => Ok(StrategyResult {
            strategy: strategy.to_owned(),
            section,
        }),
        None => {
            let found: Vec<&String> = document["strategy"]
                .as_object()
                .map(|s| s.keys().collect())
                .unwrap_or_default();
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
        let Some(trades) = self.section["trades"].as_array() else {
            return Ok(Vec::new());
        };
        trades
            .iter()
            .enumerate()
            .map(|(index, trade)| {
                let field = |name: &str| {
                    number(&trade[name]).ok_or_else(|| error(format!("trade {index} has no numeric {name}")))
                };
                Ok(Trade {
                    close_ms: field("close_timestamp")? as i64,
                    profit_abs: field("profit_abs")?,
                    duration_minutes: number(&trade["trade_duration"]).unwrap_or(0.0),
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

/// The one `.json` in the zip that is the result (not `_config.json`, not the `.meta.json`).
fn json_in_zip(bytes: &[u8]) -> Result<Vec<u8>, ResultError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| error(format!("the result zip is unreadable: {e}")))?;
    let name = (0..archive.len())
        .filter_map(|index| archive.name_for_index(index).map(str::to_owned))
        .find(|name| name.ends_with(".json") && !name.ends_with("_config.json") && !name.ends_with(".meta.json"))
        .ok_or_else(|| error("the result zip holds no result JSON"))?;
    let mut file = archive
        .by_name(&name)
        .map_err(|e| error(format!("cannot open {name} in the zip: {e}")))?;
    let mut json = Vec::new();
    file.read_to_end(&mut json)
        .map_err(|e| error(format!("cannot read {name} in the zip: {e}")))?;
    Ok(json)
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
