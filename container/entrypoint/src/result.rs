//! Freqtrade's backtest result, as ENGINE.md describes it: `.last_result.json` names a zip that holds
//! `<base>.json`, whose `strategy.<Name>` object carries the metrics. Types are not uniform (strings for some
//! numbers, integer 0 with zero trades), so every metric is read defensively.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

/// The metrics a summary and MLflow get, by their Freqtrade names.
const METRICS: &[&str] = &[
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

/// What a backtest result says.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestResult {
    pub strategy: String,
    pub metrics: BTreeMap<String, f64>,
    /// The pairs the engine really traded (it drops pairs without data silently).
    pub pairlist: Vec<String>,
}

/// Reads the result file (`.zip` holding `<base>.json`, or a bare `.json`) for `strategy`.
pub fn read_result(file: &Path, strategy: &str) -> Result<BacktestResult, String> {
    let bytes = std::fs::read(file).map_err(|error| format!("cannot read {}: {error}", file.display()))?;
    let json = if file.extension().is_some_and(|ext| ext == "zip") {
        json_in_zip(&bytes)?
    } else {
        bytes
    };
    let document: Value = serde_json::from_slice(&json).map_err(|error| format!("the result is not JSON: {error}"))?;
    let section = &document["strategy"][strategy];
    if !section.is_object() {
        let found: Vec<&String> = document["strategy"]
            .as_object()
            .map(|s| s.keys().collect())
            .unwrap_or_default();
        return Err(format!(
            "the result has no section for strategy {strategy} (found {found:?})"
        ));
    }
    let metrics = METRICS
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), number(&section[*name])?)))
        .collect();
    let pairlist = section["pairlist"]
        .as_array()
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|pair| pair.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(BacktestResult {
        strategy: strategy.to_owned(),
        metrics,
        pairlist,
    })
}

/// A number, whether written as one or as text.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
    .filter(|number: &f64| number.is_finite())
}

/// The one `.json` in the zip that is the result (not `_config.json`, not the `.meta.json`).
fn json_in_zip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|error| format!("the result zip is unreadable: {error}"))?;
    let name = (0..archive.len())
        .filter_map(|index| archive.name_for_index(index).map(str::to_owned))
        .find(|name| name.ends_with(".json") && !name.ends_with("_config.json") && !name.ends_with(".meta.json"))
        .ok_or_else(|| "the result zip holds no result JSON".to_owned())?;
    let mut file = archive
        .by_name(&name)
        .map_err(|error| format!("cannot open {name} in the zip: {error}"))?;
    let mut json = Vec::new();
    file.read_to_end(&mut json)
        .map_err(|error| format!("cannot read {name} in the zip: {error}"))?;
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
    }

    #[test]
    fn a_zero_trade_result_still_reads() {
        let folder = std::env::temp_dir().join(format!("tradai-result-{}", std::process::id()));
        std::fs::create_dir_all(&folder).expect("folder");
        let file = folder.join("backtest-result.json");
        let result = json!({"strategy": {"EmaCross": {"total_trades": 0, "profit_total": 0, "max_drawdown_abs": "0",
            "sharpe": -100, "pairlist": ["BTC/USDT"]}}});
        std::fs::write(&file, result.to_string()).expect("written");
        let read = read_result(&file, "EmaCross").expect("readable");
        assert_eq!(read.metrics["total_trades"], 0.0);
        assert_eq!(read.metrics["max_drawdown_abs"], 0.0);
        assert_eq!(read.pairlist, ["BTC/USDT"]);
        assert!(read_result(&file, "Other").is_err());
        std::fs::remove_dir_all(folder).ok();
    }
}
