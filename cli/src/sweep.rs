//! Sweeps: `tradai sweep STRATEGY --param name=v1,v2,… [--param name=lo..hi --samples N] [--estimate] [--watch]`
//! submits one (`POST /sweeps`), `--walk-forward windows=K,train_days=N,test_days=M` a walk-forward in place of the
//! space, `tradai sweep-status ID [--watch]` reports one with its leaderboard,
//! `tradai sweep-cancel ID` cancels one. Watching redraws the children's progress and the best so far until the
//! sweep ends, then prints the leaderboard as a table; the exit code says how it ended.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Map, Value, json};

use crate::backtests::{SubmitArgs, code_of};
use crate::table::{Table, pairs};
use crate::{Context, Failure, exit};

/// How often a watched sweep is asked for.
const POLL: Duration = Duration::from_secs(1);
/// How many leaderboard rows the table shows.
const SHOWN_ROWS: usize = 20;

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The backtest every child runs (the fields of `tradai submit`).
    #[command(flatten)]
    pub base: SubmitArgs,
    /// A parameter and its values: `name=v1,v2,…` (a grid), or `name=lo..hi` with --samples (random samples).
    /// Names as Freqtrade places them: `buy_rsi`, `space.name`, or `stoploss` and the other config settings.
    /// Repeatable.
    #[arg(
        long = "param",
        value_name = "NAME=VALUES",
        required_unless_present = "walk_forward",
        conflicts_with = "walk_forward"
    )]
    pub params: Vec<String>,
    /// A walk-forward instead of a space: `windows=K,train_days=N,test_days=M[,epochs=E][,loss=CLASS]`. Each window
    /// hyperopts the strategy's parameters on its training days, then backtests the best on the test days after.
    #[arg(long, value_name = "windows=K,train_days=N,test_days=M")]
    pub walk_forward: Option<String>,
    /// Draw this many distinct random combinations from the ranges (and lists) instead of the whole grid.
    #[arg(long, conflicts_with = "walk_forward")]
    pub samples: Option<u32>,
    /// The seed of --samples (the same seed draws the same combinations).
    #[arg(long, requires = "samples")]
    pub seed: Option<u64>,
    /// The summary metric the leaderboard ranks by (default sharpe).
    #[arg(long)]
    pub rank_by: Option<String>,
    /// Children running at once (default 10).
    #[arg(long)]
    pub max_concurrency: Option<u32>,
    /// The share of children, in percent, that may fail before the sweep fails (default 0).
    #[arg(long)]
    pub tolerate: Option<f64>,
    /// Only say what the sweep would cost and take; run nothing.
    #[arg(long, conflicts_with = "watch")]
    pub estimate: bool,
}

#[derive(Debug, Args)]
pub struct SweepStatusArgs {
    pub sweep_id: String,
    /// Show progress until the sweep ends.
    #[arg(long)]
    pub watch: bool,
}

/// A `--param` value: JSON when it parses as JSON (numbers, booleans), else text.
fn value(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|_| Value::String(text.trim().to_owned()))
}

/// `lo..hi` as a range: whole numbers, or decimals rounded to the most places either end is written with.
fn range(name: &str, low: &str, high: &str) -> Result<Value, Failure> {
    let bad = || Failure::bad_input(format!("--param {name}={low}..{high}: low and high must be numbers"));
    if let (Ok(low), Ok(high)) = (low.trim().parse::<i64>(), high.trim().parse::<i64>()) {
        return Ok(json!({"low": low, "high": high}));
    }
    let places = |text: &str| text.trim().split_once('.').map_or(0, |(_, fraction)| fraction.len());
    let decimals = places(low).max(places(high)).max(1);
    let (low, high) = (
        low.trim().parse::<f64>().map_err(|_| bad())?,
        high.trim().parse::<f64>().map_err(|_| bad())?,
    );
    Ok(json!({"low": low, "high": high, "type": "decimal", "decimals": decimals}))
}

/// The `space` of the request from the `--param`s: a grid of lists, or with `samples` random ranges.
pub fn space(params: &[String], samples: Option<u32>, seed: Option<u64>) -> Result<Value, Failure> {
    let mut grid = Map::new();
    let mut ranges = Map::new();
    for param in params {
        let (name, values) = param
            .split_once('=')
            .filter(|(name, values)| !name.trim().is_empty() && !values.trim().is_empty())
            .ok_or_else(|| Failure::bad_input(format!("--param {param}: write NAME=v1,v2,… or NAME=lo..hi")))?;
        let name = name.trim().to_owned();
        if let Some((low, high)) = values.split_once("..") {
            ranges.insert(name, range(param, low, high)?);
        } else {
            let listed: Vec<Value> = values.split(',').map(value).collect();
            ranges.insert(name.clone(), json!({"choices": listed}));
            grid.insert(name, Value::Array(listed));
        }
    }
    match samples {
        Some(samples) => {
            let mut random = json!({"samples": samples, "ranges": ranges});
            if let Some(seed) = seed {
                random["seed"] = json!(seed);
            }
            Ok(json!({"random": random}))
        }
        None if grid.len() == ranges.len() => Ok(json!({"grid": grid})),
        None => Err(Failure::bad_input(
            "--param NAME=lo..hi draws random samples: give --samples N (or list the values for a grid)",
        )),
    }
}

/// `--walk-forward windows=3,train_days=20,test_days=5,epochs=30,loss=SortinoHyperOptLoss` as the request's
/// `walk_forward` (numbers as numbers; the API checks the names and values).
pub fn walk_forward(text: &str) -> Result<Value, Failure> {
    let mut plan = Map::new();
    for setting in text.split(',') {
        let (name, value) = setting
            .split_once('=')
            .map(|(name, value)| (name.trim(), value.trim()))
            .filter(|(name, value)| !name.is_empty() && !value.is_empty())
            .ok_or_else(|| {
                Failure::bad_input(format!(
                    "--walk-forward {text}: write windows=K,train_days=N,test_days=M[,epochs=E][,loss=CLASS]"
                ))
            })?;
        plan.insert(name.to_owned(), self::value(value));
    }
    Ok(Value::Object(plan))
}

/// The request `tradai sweep` sends.
pub fn request(args: &SweepArgs) -> Result<Value, Failure> {
    let mut body = crate::backtests::request(&args.base)?;
    match &args.walk_forward {
        Some(plan) => body["walk_forward"] = walk_forward(plan)?,
        None => body["space"] = space(&args.params, args.samples, args.seed)?,
    }
    if let Some(rank_by) = &args.rank_by {
        body["rank_by"] = json!(rank_by);
    }
    if let Some(concurrency) = args.max_concurrency {
        body["max_concurrency"] = json!(concurrency);
    }
    if let Some(tolerated) = args.tolerate {
        body["tolerated_failure_percentage"] = json!(tolerated);
    }
    if args.estimate {
        body["dry_run"] = json!(true);
    }
    Ok(body)
}

pub async fn sweep(context: &Context, args: SweepArgs) -> Result<u8, Failure> {
    let body = request(&args)?;
    let planned = context.api.post("/sweeps", &body).await?;
    if args.estimate {
        context.print(&planned, || estimate(&planned));
        return Ok(exit::OK);
    }
    let sweep_id = planned["sweep_id"].as_str().unwrap_or_default().to_owned();
    if args.base.quiet {
        println!("{sweep_id}");
        return Ok(exit::OK);
    }
    if args.base.watch {
        if !context.json {
            eprintln!("submitted sweep {sweep_id}: {}", estimate_line(&planned));
        }
        return watch(context, &sweep_id).await;
    }
    context.print(&planned, || {
        format!(
            "submitted sweep {sweep_id}: {}\nwatch it: tradai sweep-status {sweep_id} --watch",
            estimate_line(&planned)
        )
    });
    Ok(exit::OK)
}

/// `6 runs of version 3, about $0.01 and 3 min`.
fn estimate_line(planned: &Value) -> String {
    let estimate = &planned["estimate"];
    format!(
        "{} runs of version {}, about ${:.2} and {}",
        planned["runs"],
        planned["strategy_version"],
        estimate["cost_usd"].as_f64().unwrap_or_default(),
        duration(estimate["wall_seconds"].as_f64().unwrap_or_default())
    )
}

/// The estimate as `key value` lines.
fn estimate(planned: &Value) -> String {
    let estimate = &planned["estimate"];
    let number = |key: &str| estimate[key].as_f64().unwrap_or_default();
    let engine = match estimate["engine"]["source"].as_str() {
        Some("measured") => format!("measured over {} past runs", estimate["engine"]["runs"]),
        _ => "assumed (no past run of the strategy)".to_owned(),
    };
    pairs(&[
        ("runs", planned["runs"].to_string()),
        ("version", planned["strategy_version"].to_string()),
        (
            "engine per child",
            format!("{:.0} s, {engine}", number("engine_seconds_per_child")),
        ),
        (
            "billed per task",
            format!("{:.0} s", number("billed_task_seconds_per_child")),
        ),
        (
            "Fargate Spot",
            format!(
                "{:.0} vCPU-s, {:.0} GB-s",
                number("fargate_spot_vcpu_seconds"),
                number("fargate_spot_gb_seconds")
            ),
        ),
        ("state transitions", estimate["state_transitions"].to_string()),
        ("cost", format!("${:.4}", number("cost_usd"))),
        ("wall time", duration(number("wall_seconds"))),
    ])
}

/// `45 s`, `3 min`, `2.5 h`.
fn duration(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 5400.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// The sweep report of `sweep_id`.
async fn fetch(context: &Context, sweep_id: &str) -> Result<Value, Failure> {
    Ok(context
        .api
        .get(&format!("/sweeps/{}", crate::api::encode(sweep_id)), &[])
        .await?)
}

pub async fn status(context: &Context, args: SweepStatusArgs) -> Result<u8, Failure> {
    if args.watch {
        return watch(context, &args.sweep_id).await;
    }
    let report = fetch(context, &args.sweep_id).await?;
    context.print(&report, || describe(&report));
    Ok(code_of(report["status"].as_str().unwrap_or_default()))
}

pub async fn cancel(context: &Context, sweep_id: &str) -> Result<u8, Failure> {
    let cancelled = context
        .api
        .post(&format!("/sweeps/{}/cancel", crate::api::encode(sweep_id)), &json!({}))
        .await?;
    context.print(&cancelled, || {
        format!(
            "sweep {sweep_id} is CANCELLED (was {}); {} children cancelled",
            cancelled["previous_status"].as_str().unwrap_or_default(),
            cancelled["children_cancelled"]
        )
    });
    Ok(exit::OK)
}

/// `3/6 done · 2 running · 1 failed · best sharpe 1.23 (buy_ema_fast=8, buy_ema_slow=21)`.
pub fn progress(report: &Value) -> String {
    let progress = &report["progress"];
    let count = |key: &str| progress[key].as_u64().unwrap_or_default();
    let done = count("completed") + count("failed") + count("cancelled");
    let mut line = format!(
        "{done}/{} done · {} running · {} failed",
        report["runs"],
        count("running"),
        count("failed")
    );
    if let Some(best) = report["leaderboard"]["rows"].get(0).filter(|row| row["best"] == true) {
        line.push_str(&format!(
            " · best {} {} ({})",
            report["rank_by"].as_str().unwrap_or_default(),
            number(&best["value"]),
            parameters(&best["parameters"])
        ));
    }
    line
}

fn number(value: &Value) -> String {
    match value.as_f64() {
        Some(number) if number.fract() == 0.0 && number.abs() < 1e15 => format!("{number:.0}"),
        Some(number) => format!("{number:.3}"),
        None => "-".to_owned(),
    }
}

fn parameters(parameters: &Value) -> String {
    parameters
        .as_object()
        .map(|parameters| {
            parameters
                .iter()
                .map(|(name, value)| format!("{name}={}", value_text(value)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn value_text(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}

/// The report: its status line, progress, failures and the leaderboard (or a walk-forward's windows) as a table.
pub fn describe(report: &Value) -> String {
    let windows = report["windows"].as_array();
    let ranked = match windows {
        Some(_) => "walk-forward".to_owned(),
        None => format!("ranked by {}", report["rank_by"].as_str().unwrap_or_default()),
    };
    let mut text = format!(
        "sweep {} {} — {} v{}, {ranked}\n{}\n",
        report["sweep_id"].as_str().unwrap_or_default(),
        report["status"].as_str().unwrap_or_default(),
        report["strategy_name"].as_str().unwrap_or_default(),
        report["strategy_version"],
        progress(report)
    );
    if let Some(error) = report["error"].as_str() {
        text.push_str(&format!("why: {error}\n"));
    }
    match windows {
        Some(windows) => text.push_str(&windows_table(windows)),
        None => text.push_str(&leaderboard_table(report)),
    }
    for failure in report["failures"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\nfailed: child {} ({}) in {}: {}",
            failure["index"],
            failure["run_id"].as_str().unwrap_or_default(),
            failure["failed_step"].as_str().unwrap_or("?"),
            failure["error"].as_str().unwrap_or_default()
        ));
    }
    text
}

/// A walk-forward's windows side by side: the ranges, in-sample against out-of-sample profit per day, Sharpe and
/// trades, their ratio, and the parameters the window's hyperopt found.
fn windows_table(windows: &[Value]) -> String {
    let mut table = Table::new(&[
        "#",
        "train",
        "test",
        "IS %/day",
        "OOS %/day",
        "OOS/IS",
        "IS sharpe",
        "OOS sharpe",
        "OOS trades",
        "status",
        "parameters",
    ]);
    for window in windows {
        let (inside, outside) = (&window["in_sample"], &window["out_of_sample"]);
        let range = |from: &str, to: &str| {
            format!(
                "{}..{}",
                window[from].as_str().unwrap_or_default(),
                window[to].as_str().unwrap_or_default()
            )
        };
        let status = match (inside["status"].as_str(), outside["status"].as_str()) {
            (Some("COMPLETED"), Some(status)) => status.to_owned(),
            (Some(status), _) => format!("hyperopt {status}"),
            _ => "-".to_owned(),
        };
        table.row(vec![
            number(&window["index"]),
            range("train_start", "train_end"),
            range("test_start", "test_end"),
            number(&inside["metrics"]["profit_per_day_pct"]),
            number(&outside["metrics"]["profit_per_day_pct"]),
            number(&window["ratios"]["profit_per_day_pct"]),
            number(&inside["metrics"]["sharpe"]),
            number(&outside["metrics"]["sharpe"]),
            number(&outside["metrics"]["total_trades"]),
            status,
            parameters(&window["parameters"]),
        ]);
    }
    table.render()
}

/// The leaderboard's rows, best first, as a table.
fn leaderboard_table(report: &Value) -> String {
    let mut text = String::new();
    let rows = report["leaderboard"]["rows"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = rows
        .first()
        .and_then(|row| row["parameters"].as_object())
        .map(|parameters| parameters.keys().cloned().collect())
        .unwrap_or_default();
    let rank_by = report["rank_by"].as_str().unwrap_or("sharpe");
    let mut header = vec!["#"];
    header.extend(names.iter().map(String::as_str));
    header.extend([rank_by, "profit %", "trades", "drawdown %", "status", "run"]);
    let mut table = Table::new(&header);
    for row in rows.iter().take(SHOWN_ROWS) {
        let rank = match (row["rank"].as_u64(), row["best"] == true) {
            (Some(rank), true) => format!("{rank}*"),
            (Some(rank), false) => rank.to_string(),
            (None, _) => "-".to_owned(),
        };
        let mut cells = vec![rank];
        cells.extend(names.iter().map(|name| value_text(&row["parameters"][name])));
        cells.extend([
            number(&row["value"]),
            number(&row["metrics"]["profit_total_pct"]),
            number(&row["metrics"]["total_trades"]),
            number(&row["metrics"]["max_drawdown_pct"]),
            row["status"].as_str().unwrap_or_default().to_owned(),
            row["run_id"].as_str().unwrap_or_default().to_owned(),
        ]);
        table.row(cells);
    }
    text.push_str(&table.render());
    if rows.len() > SHOWN_ROWS {
        text.push_str(&format!("\n… and {} more (--json for all)", rows.len() - SHOWN_ROWS));
    }
    text
}

/// Redraws the sweep's progress (one line per change when not on a terminal) until it ends; then the report.
pub async fn watch(context: &Context, sweep_id: &str) -> Result<u8, Failure> {
    let started = Instant::now();
    let live = !context.json && std::io::stderr().is_terminal();
    let mut last = String::new();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let report = loop {
        let report = fetch(context, sweep_id).await?;
        let status = report["status"].as_str().unwrap_or_default().to_owned();
        let line = format!("{status:<9} {}", progress(&report));
        let elapsed = started.elapsed().as_secs();
        if live {
            eprint!("\r\x1b[2K{:02}:{:02}  {line}", elapsed / 60, elapsed % 60);
            let _flushed = std::io::stderr().flush();
        } else if line != last && !context.json {
            eprintln!("{:02}:{:02}  {line}", elapsed / 60, elapsed % 60);
        }
        last = line;
        if matches!(status.as_str(), "COMPLETED" | "FAILED" | "CANCELLED") {
            if live {
                eprintln!();
            }
            break report;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = &mut interrupted => {
                if live {
                    eprintln!();
                }
                eprintln!("stopped watching; sweep {sweep_id} goes on (tradai sweep-status {sweep_id} --watch)");
                return Ok(exit::INTERRUPTED);
            }
        }
    };
    context.print(&report, || describe(&report));
    Ok(code_of(report["status"].as_str().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[&str]) -> Vec<String> {
        list.iter().map(|param| (*param).to_owned()).collect()
    }

    #[test]
    fn lists_make_a_grid_and_ranges_with_samples_a_random_space() {
        assert_eq!(
            space(
                &params(&["buy_ema_fast=5,8,12", "buy.trend=ema,sma", "trailing_stop=true,false"]),
                None,
                None
            )
            .expect("a grid"),
            json!({"grid": {"buy_ema_fast": [5, 8, 12], "buy.trend": ["ema", "sma"], "trailing_stop": [true, false]}})
        );
        assert_eq!(
            space(
                &params(&["buy_rsi=20..40", "stoploss=-0.10..-0.02", "buy.trend=ema,sma"]),
                Some(30),
                Some(7)
            )
            .expect("random"),
            json!({"random": {"samples": 30, "seed": 7, "ranges": {
                "buy_rsi": {"low": 20, "high": 40},
                "stoploss": {"low": -0.1, "high": -0.02, "type": "decimal", "decimals": 2},
                "buy.trend": {"choices": ["ema", "sma"]}}}})
        );
        for (given, says) in [
            (vec!["buy_rsi=20..40"], "--samples"),
            (vec!["buy_rsi"], "NAME=v1"),
            (vec!["=1,2"], "NAME=v1"),
            (vec!["buy_rsi=a..b"], "must be numbers"),
        ] {
            let failure = space(&params(&given), None, None).expect_err("refused");
            assert!(failure.message.contains(says), "{given:?}: {}", failure.message);
            assert_eq!(failure.code, exit::BAD_INPUT);
        }
    }

    #[test]
    fn a_walk_forward_is_its_settings_and_its_report_a_table_of_windows() {
        assert_eq!(
            walk_forward("windows=3, train_days=20,test_days=5,loss=SortinoHyperOptLoss").expect("a plan"),
            json!({"windows": 3, "train_days": 20, "test_days": 5, "loss": "SortinoHyperOptLoss"})
        );
        let failure = walk_forward("windows=3,train_days").expect_err("refused");
        assert_eq!(failure.code, exit::BAD_INPUT);
        let report = json!({"sweep_id": "s", "status": "COMPLETED", "strategy_name": "EmaCross",
            "strategy_version": 3, "runs": 4, "rank_by": "sharpe",
            "progress": {"queued": 0, "running": 0, "completed": 3, "failed": 1, "cancelled": 0},
            "leaderboard": {"rows": []},
            "windows": [
                {"index": 0, "train_start": "2026-01-01", "train_end": "2026-01-21", "test_start": "2026-01-21",
                 "test_end": "2026-01-26", "parameters": {"buy.buy_ema_fast": 9},
                 "in_sample": {"status": "COMPLETED", "metrics": {"profit_per_day_pct": 0.8, "sharpe": 3.1}},
                 "out_of_sample": {"status": "COMPLETED", "metrics": {"profit_per_day_pct": 0.2, "sharpe": 0.9,
                    "total_trades": 7}}, "ratios": {"profit_per_day_pct": 0.25}},
                {"index": 1, "train_start": "2026-01-06", "train_end": "2026-01-26", "test_start": "2026-01-26",
                 "test_end": "2026-01-31", "in_sample": {"status": "FAILED"}, "out_of_sample": {"status": "FAILED"}}],
            "failures": []});
        let text = describe(&report);
        assert!(text.contains("walk-forward"), "{text}");
        assert!(
            text.lines().any(|line| line.starts_with('0')
                && line.contains("2026-01-21..2026-01-26")
                && line.contains("0.250")
                && line.contains("buy.buy_ema_fast=9")),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|line| line.starts_with('1') && line.contains("hyperopt FAILED")),
            "{text}"
        );
    }

    #[test]
    fn the_report_reads_as_progress_and_a_ranked_table() {
        let report = json!({"sweep_id": "s", "status": "RUNNING", "strategy_name": "EmaCross", "strategy_version": 3,
            "runs": 6, "rank_by": "sharpe", "progress": {"queued": 2, "running": 1, "completed": 2, "failed": 1, "cancelled": 0},
            "leaderboard": {"rows": [
                {"rank": 1, "best": true, "value": 1.234, "parameters": {"buy_ema_fast": 8, "buy_ema_slow": 21},
                 "metrics": {"profit_total_pct": 5.5, "total_trades": 12, "max_drawdown_pct": 2.0}, "status": "COMPLETED", "run_id": "r1"},
                {"rank": null, "best": false, "value": null, "parameters": {"buy_ema_fast": 5, "buy_ema_slow": 30},
                 "metrics": {}, "status": "FAILED", "run_id": "r2"}]},
            "failures": [{"index": 1, "run_id": "r2", "failed_step": "RunBacktest", "error": "the engine exited with 1"}]});
        assert_eq!(
            progress(&report),
            "3/6 done · 1 running · 1 failed · best sharpe 1.234 (buy_ema_fast=8, buy_ema_slow=21)"
        );
        let text = describe(&report);
        assert!(text.contains("buy_ema_fast"), "{text}");
        assert!(
            text.lines()
                .any(|line| line.starts_with("1*") && line.contains("1.234") && line.contains("r1")),
            "{text}"
        );
        assert!(
            text.contains("failed: child 1 (r2) in RunBacktest: the engine exited with 1"),
            "{text}"
        );
        assert_eq!(duration(45.0), "45 s");
        assert_eq!(duration(600.0), "10 min");
        assert_eq!(duration(9000.0), "2.5 h");
    }
}
