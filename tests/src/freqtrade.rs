//! Freqtrade's backtest result format (ENGINE.md), written by the tests: the zip holding `<base>.json` beside its
//! config copy, and the `.last_result.json` pointer. The trades are given; the totals are Freqtrade's own names.

use std::io::Write;

use serde_json::{Value, json};

/// The base name every written result has.
pub const BASE: &str = "backtest-result-2026-11-24_06-00-00";
const DAY_MS: i64 = 86_400_000;
/// The backtest's first candle: 2026-01-05T00:00:00Z.
pub const START_MS: i64 = 1_767_571_200_000;

/// A result of `strategy` with one trade per `(close_day, profit_abs)`, days counted from [`START_MS`], over a
/// 30-day backtest starting with 1000 USDT.
pub fn result_json(strategy: &str, trades: &[(i64, f64)]) -> Value {
    let trades: Vec<Value> = trades
        .iter()
        .map(|(day, profit)| {
            let close = START_MS + day * DAY_MS;
            json!({"pair": "BTC/USDT", "open_timestamp": close - 3_600_000, "close_timestamp": close,
                "profit_abs": profit, "profit_ratio": profit / 100.0, "stake_amount": 100.0, "trade_duration": 60,
                "exit_reason": "exit_signal"})
        })
        .collect();
    let total: f64 = trades.iter().filter_map(|t| t["profit_abs"].as_f64()).sum();
    json!({"strategy": {strategy: {"total_trades": trades.len(), "profit_total_abs": total,
        "profit_total": total / 1000.0, "starting_balance": 1000, "final_balance": 1000.0 + total,
        "backtest_start_ts": START_MS, "backtest_end_ts": START_MS + 30 * DAY_MS, "backtest_days": 30,
        "max_drawdown_abs": "0", "pairlist": ["BTC/USDT"], "trades": trades}},
        "strategy_comparison": [{"key": strategy, "trades": trades.len()}]})
}

/// `result` zipped as Freqtrade zips it.
pub fn result_zip(result: &Value) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file(format!("{BASE}_config.json"), options).expect("entry");
    zip.write_all(b"{}").expect("written");
    zip.start_file(format!("{BASE}.json"), options).expect("entry");
    zip.write_all(result.to_string().as_bytes()).expect("written");
    zip.finish().expect("zip").into_inner()
}

/// The pointer Freqtrade writes beside the zip.
pub fn last_result() -> Vec<u8> {
    json!({"latest_backtest": format!("{BASE}.zip")})
        .to_string()
        .into_bytes()
}
