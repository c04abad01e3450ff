//! `tradai diff A B`: what differs between two runs (`GET /backtests/diff`), section by section, and the metrics
//! side by side with their deltas.

use clap::Args;
use serde_json::Value;

use crate::table::Table;
use crate::{Context, Failure, exit};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first run.
    pub a: String,
    /// The second run.
    pub b: String,
}

pub async fn diff(context: &Context, args: DiffArgs) -> Result<u8, Failure> {
    let query = [("a", args.a.clone()), ("b", args.b.clone())];
    let diff = context.api.get("/backtests/diff", &query).await?;
    context.print(&diff, || describe(&diff));
    Ok(exit::OK)
}

/// A diff as text: the verdict, every section with changes, and the metrics.
pub fn describe(diff: &Value) -> String {
    let mut text = format!(
        "a {}\nb {}\n{}\n",
        diff["a"].as_str().unwrap_or_default(),
        diff["b"].as_str().unwrap_or_default(),
        if diff["same_inputs"] == true {
            "the same inputs (one fingerprint)"
        } else {
            "the inputs differ"
        }
    );
    for (title, key) in [
        ("code", "code"),
        ("run", "run"),
        ("config", "parameters"),
        ("strategy parameters", "strategy_parameters"),
        ("engine", "engine"),
    ] {
        let changes = diff[key].as_array().cloned().unwrap_or_default();
        if changes.is_empty() {
            continue;
        }
        let mut table = Table::new(&["path", "a", "b"]);
        for change in &changes {
            table.row(vec![
                change["path"].as_str().unwrap_or_default().to_owned(),
                shown(&change["a"]),
                shown(&change["b"]),
            ]);
        }
        text.push_str(&format!("\n{title}\n{}", table.render()));
    }
    let files = diff["data"].as_array().cloned().unwrap_or_default();
    if !files.is_empty() {
        let mut table = Table::new(&["pair", "file", "a", "b", "candles"]);
        for file in &files {
            table.row(vec![
                file["pair"].as_str().unwrap_or("(markets)").to_owned(),
                file["key"].as_str().unwrap_or_default().to_owned(),
                version(&file["a"]),
                version(&file["b"]),
                candles(&file["candles"]),
            ]);
        }
        text.push_str(&format!("\ndata\n{}", table.render()));
    }
    let metrics = diff["metrics"].as_array().cloned().unwrap_or_default();
    if !metrics.is_empty() {
        let mut table = Table::new(&["metric", "a", "b", "delta"]);
        for metric in &metrics {
            let number = |key: &str| {
                metric[key]
                    .as_f64()
                    .map_or_else(|| "-".to_owned(), |n| format!("{n:.4}"))
            };
            table.row(vec![
                metric["name"].as_str().unwrap_or_default().to_owned(),
                number("a"),
                number("b"),
                metric["delta"]
                    .as_f64()
                    .map_or_else(|| "-".to_owned(), |n| format!("{n:+.4}")),
            ]);
        }
        text.push_str(&format!("\nmetrics\n{}", table.render()));
    }
    text
}

/// A value of one side: none, a text as it is, anything else as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A file as one run read it: its version (or its hash where the bucket keeps none), or none.
fn version(file: &Value) -> String {
    if file.is_null() {
        return "-".to_owned();
    }
    file["version_id"]
        .as_str()
        .or_else(|| file["sha256"].as_str())
        .map(|id| id.chars().take(12).collect())
        .unwrap_or_default()
}

/// How the candles differ: the counts, and the span of dates.
fn candles(candles: &Value) -> String {
    if candles.is_null() {
        return "-".to_owned();
    }
    let count = |key: &str| candles[key].as_u64().unwrap_or(0);
    let day = |key: &str| {
        candles[key]
            .as_str()
            .map(|at| at.get(..16).unwrap_or(at).replace('T', " "))
    };
    let span = match (day("first"), day("last")) {
        (Some(first), Some(last)) => format!(", {first} … {last}"),
        _ => String::new(),
    };
    format!(
        "{} changed, {} only in a, {} only in b{span}",
        count("changed"),
        count("only_a"),
        count("only_b")
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_diff_reads_as_its_changes_the_files_dates_and_the_deltas() {
        let diff = json!({"a": "run-a", "b": "run-b", "same_inputs": false, "code": [], "run": [],
            "parameters": [{"path": "$.max_open_trades", "a": 2, "b": 3}], "strategy_parameters": [],
            "engine": [], "data": [{"key": "ohlcv/binance/BTC_USDT-5m.parquet", "pair": "BTC/USDT",
                "a": {"key": "k", "version_id": "v1", "sha256": "sha256:aa", "size": 1},
                "b": {"key": "k", "version_id": "v2", "sha256": "sha256:bb", "size": 2},
                "candles": {"changed": 1, "only_a": 0, "only_b": 288, "first": "2026-03-01T00:00:00.000000Z",
                    "last": "2026-03-01T23:55:00.000000Z"}}],
            "metrics": [{"name": "total_trades", "a": 8.0, "b": 11.0, "delta": 3.0}]});
        let text = describe(&diff);
        assert!(text.contains("the inputs differ"), "{text}");
        assert!(
            text.contains("$.max_open_trades") && text.contains(" 2 ") && text.contains(" 3"),
            "{text}"
        );
        assert!(
            text.contains("BTC/USDT") && text.contains("v1") && text.contains("v2"),
            "{text}"
        );
        assert!(
            text.contains("1 changed, 0 only in a, 288 only in b, 2026-03-01 00:00 … 2026-03-01 23:55"),
            "{text}"
        );
        assert!(text.contains("total_trades") && text.contains("+3.0000"), "{text}");
        assert!(!text.contains("\ncode\n"), "no section without changes: {text}");
    }
}
