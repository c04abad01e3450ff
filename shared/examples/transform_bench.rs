//! What TransformResults costs for a result of N trades: reading Freqtrade's result zip, parsing it, summarising
//! the trades and drawing the equity curve, timed over repeated rounds, with the peak memory of the process that
//! does only that. Usage: `transform_bench generate <trades> <file>`, then `transform_bench measure <file>
//! <rounds>`; `bench/transform` runs both for several sizes and prints a table (bench/RESULTS.md).

use std::io::Write;
use std::time::Instant;

use serde_json::{Value, json};

/// A trade as Freqtrade 2026.9 writes it (the same fields, so the result has the real size per trade).
fn trade(index: usize) -> Value {
    let open = 1_767_571_200_000_i64 + index as i64 * 600_000;
    let profit = if index.is_multiple_of(3) { -1.25 } else { 2.0 };
    json!({"pair": if index.is_multiple_of(2) { "BTC/USDT" } else { "ETH/USDT" }, "stake_amount": 100.0,
        "max_stake_amount": 100.0, "amount": 0.00105, "open_date": "2026-01-05 00:00:00+00:00",
        "close_date": "2026-01-05 00:15:00+00:00", "open_rate": 95_000.12, "close_rate": 96_900.5,
        "fee_open": 0.001, "fee_close": 0.001, "trade_duration": 15, "profit_ratio": profit / 100.0,
        "profit_abs": profit, "exit_reason": "roi", "initial_stop_loss_abs": 90_250.1,
        "initial_stop_loss_ratio": -0.05, "stop_loss_abs": 90_250.1, "stop_loss_ratio": -0.05,
        "min_rate": 94_900.0, "max_rate": 97_000.0, "leverage": 1.0, "is_short": false, "open_timestamp": open,
        "close_timestamp": open + 900_000, "enter_tag": "", "is_open": false, "trading_mode": "spot",
        "funding_fees": 0.0, "orders": [{"amount": 0.00105, "safe_price": 95_000.12, "ft_order_side": "buy",
        "order_filled_timestamp": open, "ft_is_entry": true, "ft_order_tag": ""}]})
}

fn result_zip(trades: usize) -> Vec<u8> {
    let trades: Vec<Value> = (0..trades).map(trade).collect();
    let document = json!({"strategy": {"EmaCross": {"total_trades": trades.len(), "starting_balance": 1000,
        "backtest_start_ts": 1_767_571_200_000_i64, "backtest_end_ts": 1_767_571_200_000_i64 + 365 * 86_400_000_i64,
        "pairlist": ["BTC/USDT", "ETH/USDT"], "trades": trades}}});
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("backtest-result.json", options).expect("an entry");
    zip.write_all(document.to_string().as_bytes()).expect("written");
    zip.finish().expect("a zip").into_inner()
}

/// `VmHWM` (the peak resident memory since the last reset) or `VmRSS` (now) of this process, in MiB.
fn memory_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        // Made in a process of its own, so that making the input does not count in the transform's memory.
        ["generate", trades, path] => {
            let trades: usize = trades.parse().expect("a number of trades");
            std::fs::write(path, result_zip(trades)).expect("the result zip is written");
        }
        ["measure", path, rounds] => measure(path, rounds.parse().expect("a number of rounds")),
        _ => panic!("usage: transform_bench generate <trades> <file> | measure <file> <rounds>"),
    }
}

fn measure(path: &str, rounds: usize) {
    let zipped = std::fs::read(path).expect("the result zip");
    let before = memory_mib("VmRSS:");
    let mut times = Vec::with_capacity(rounds);
    let mut summary = None;
    for _ in 0..rounds {
        let started = Instant::now();
        let result = tradai::results::parse_result(&zipped, true, "EmaCross").expect("a result");
        let summarised = tradai::results::summarize(&result).expect("a summary");
        let chart = tradai::results::equity_svg("EmaCross", &summarised.equity);
        let json = serde_json::to_vec_pretty(&summarised).expect("JSON");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        summary = Some((summarised.total_trades, chart.len(), json.len()));
    }
    times.sort_by(f64::total_cmp);
    let (trades, svg_bytes, json_bytes) = summary.expect("at least one round");
    println!(
        "| {trades} | {:.1} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {} | {} |",
        zipped.len() as f64 / 1024.0,
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        before,
        memory_mib("VmHWM:"),
        svg_bytes / 1024,
        json_bytes
    );
}
