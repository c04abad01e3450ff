//! Backtests: submit (and watch), status, list, cancel, result.

use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};

use crate::table::{Table, pairs};
use crate::{Context, Failure, exit, overrides, watch};

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The registered strategy's name.
    pub strategy: String,
    /// A version number of the strategy.
    #[arg(long, conflicts_with = "alias")]
    pub version: Option<u32>,
    /// An alias of the strategy (default `production` when no version is given).
    #[arg(long)]
    pub alias: Option<String>,
    /// The pairs, comma-separated (`BTC/USDT,ETH/USDT`).
    #[arg(long, value_delimiter = ',', required = true)]
    pub pairs: Vec<String>,
    /// The candle timeframe (`5m`, `1h`, …).
    #[arg(long, required = true)]
    pub timeframe: String,
    /// The first day (YYYY-MM-DD).
    #[arg(long, required = true)]
    pub from: String,
    /// The last day (YYYY-MM-DD), after --from.
    #[arg(long, required = true)]
    pub to: String,
    /// A config key over the strategy's base config: `key=value`, dotted keys nest (`exchange.name=kraken`),
    /// values are JSON when they parse as JSON. Repeatable.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// The MLflow experiment (default `backtests/STRATEGY`).
    #[arg(long)]
    pub experiment: Option<String>,
    /// Show progress until the run ends, then its summary; the exit code says how it ended.
    #[arg(long, conflicts_with = "quiet")]
    pub watch: bool,
    /// Print only the run id (for scripts: `run=$(tradai submit … -q)`).
    #[arg(long, short)]
    pub quiet: bool,
    /// Run the engine even when a completed run had exactly these inputs (by default it answers).
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The run whose inputs to run again.
    pub run_id: String,
    /// Show progress until the re-run ends, then its summary; the exit code says how it ended.
    #[arg(long, conflicts_with = "quiet")]
    pub watch: bool,
    /// Print only the new run's id.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only backtests in this status.
    #[arg(long)]
    pub status: Option<String>,
    /// Only backtests this IAM principal submitted.
    #[arg(long)]
    pub submitted_by: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

/// The request `tradai submit` sends.
pub fn request(args: &SubmitArgs) -> Result<Value, Failure> {
    let overrides = overrides::parse(&args.overrides).map_err(Failure::bad_input)?;
    let version = match (&args.version, &args.alias) {
        (Some(number), _) => json!(number),
        (None, Some(alias)) => json!(alias),
        (None, None) => json!("production"),
    };
    let mut body = json!({
        "strategy_name": args.strategy,
        "strategy_version": version,
        "config": {
            "timeframe": args.timeframe,
            "symbols": args.pairs,
            "start_date": args.from,
            "end_date": args.to,
            "config_overrides": overrides,
        },
    });
    if let Some(experiment) = &args.experiment {
        body["experiment_name"] = json!(experiment);
    }
    if args.no_cache {
        body["no_cache"] = json!(true);
    }
    Ok(body)
}

pub async fn submit(context: &Context, args: SubmitArgs) -> Result<u8, Failure> {
    let body = request(&args)?;
    let accepted = context.api.post("/backtest", &body).await?;
    started(context, &accepted, args.watch, args.quiet).await
}

/// `tradai rerun RUN_ID`: a new run of exactly the inputs `RUN_ID` ran (its manifest), without the cache.
pub async fn rerun(context: &Context, args: RerunArgs) -> Result<u8, Failure> {
    let path = format!("/backtest/{}/rerun", crate::api::encode(&args.run_id));
    let accepted = context.api.post(&path, &json!({})).await?;
    started(context, &accepted, args.watch, args.quiet).await
}

/// What a command that started a run prints: the run id, or its progress to the end (`watch`).
async fn started(context: &Context, accepted: &Value, watch: bool, quiet: bool) -> Result<u8, Failure> {
    let run_id = accepted["run_id"].as_str().unwrap_or_default().to_owned();
    if watch {
        if !context.json {
            eprintln!("submitted {run_id}");
        }
        return watch::watch(context, &run_id).await;
    }
    if quiet {
        println!("{run_id}");
        return Ok(exit::OK);
    }
    context.print(accepted, || {
        format!(
            "submitted {run_id} ({})\nwatch it: tradai watch {run_id}",
            accepted["status"].as_str().unwrap_or("PENDING")
        )
    });
    Ok(exit::OK)
}

/// The exit code a job's status ends a command with.
pub fn code_of(status: &str) -> u8 {
    match status {
        "FAILED" => exit::FAILED,
        "CANCELLED" => exit::CANCELLED,
        _ => exit::OK,
    }
}

pub async fn status(context: &Context, run_id: &str) -> Result<u8, Failure> {
    let report = fetch(context, run_id).await?;
    context.print(&report, || describe(&report));
    Ok(code_of(report["status"].as_str().unwrap_or_default()))
}

/// The status report of `run_id`.
pub async fn fetch(context: &Context, run_id: &str) -> Result<Value, Failure> {
    Ok(context
        .api
        .get(&format!("/backtest/{}/status", crate::api::encode(run_id)), &[])
        .await?)
}

/// A status report as `key value` lines.
pub fn describe(report: &Value) -> String {
    let text = |key: &str| report[key].as_str().map(str::to_owned);
    let mut rows = vec![
        ("run", text("run_id").unwrap_or_default()),
        ("status", text("status").unwrap_or_default()),
        (
            "strategy",
            format!(
                "{} {}",
                text("strategy_name").unwrap_or_default(),
                version_of(&report["strategy_version"])
            ),
        ),
        ("created", text("created_at").unwrap_or_default()),
        ("updated", text("updated_at").unwrap_or_default()),
    ];
    for (label, key) in [
        ("error", "error"),
        ("failed step", "failed_step"),
        ("submitted by", "submitted_by"),
        ("cancelled by", "cancelled_by"),
        ("answered from", "cached_from"),
        ("mlflow", "mlflow_url"),
    ] {
        if let Some(value) = text(key) {
            rows.push((label, value));
        }
    }
    pairs(&rows)
}

fn version_of(version: &Value) -> String {
    match version {
        Value::Number(number) => format!("v{number}"),
        Value::String(alias) => format!("@{alias}"),
        _ => String::new(),
    }
}

pub async fn list(context: &Context, args: ListArgs) -> Result<u8, Failure> {
    let mut query = vec![("limit", args.limit.to_string())];
    if let Some(status) = args.status {
        query.push(("status", status.to_uppercase()));
    }
    if let Some(principal) = args.submitted_by {
        query.push(("submitted_by", principal));
    }
    let listing = context.api.get("/backtests", &query).await?;
    context.print(&listing, || {
        let mut table = Table::new(&["run", "status", "strategy", "created"]);
        for job in listing["backtests"].as_array().into_iter().flatten() {
            table.row(vec![
                job["run_id"].as_str().unwrap_or_default().to_owned(),
                job["status"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "{} {}",
                    job["strategy_name"].as_str().unwrap_or_default(),
                    version_of(&job["strategy_version"])
                ),
                job["created_at"].as_str().unwrap_or_default().to_owned(),
            ]);
        }
        if table.is_empty() {
            "no backtests".to_owned()
        } else {
            table.render()
        }
    });
    Ok(exit::OK)
}

pub async fn cancel(context: &Context, run_id: &str) -> Result<u8, Failure> {
    let answer = context
        .api
        .post(&format!("/backtest/{}/cancel", crate::api::encode(run_id)), &json!({}))
        .await?;
    context.print(&answer, || {
        format!(
            "cancelled {run_id} (was {}{})",
            answer["previous_status"].as_str().unwrap_or("?"),
            if answer["stop_requested"] == true {
                "; its task is being stopped"
            } else {
                ""
            }
        )
    });
    Ok(exit::OK)
}

#[derive(Debug, Args)]
pub struct ResultArgs {
    pub run_id: String,
    /// Where the equity chart (SVG) is written; default `<run id>-equity.svg` in the current folder.
    #[arg(long, value_name = "FILE", conflicts_with = "no_chart")]
    pub chart: Option<PathBuf>,
    /// Do not write the equity chart.
    #[arg(long)]
    pub no_chart: bool,
}

pub async fn result(context: &Context, args: ResultArgs) -> Result<u8, Failure> {
    let run_id = args.run_id.as_str();
    let report = fetch(context, run_id).await?;
    let status = report["status"].as_str().unwrap_or_default().to_owned();
    if report["result"].is_null() {
        context.print(&report, || {
            format!("{run_id} is {status}: no result yet\n{}", describe(&report))
        });
        return Ok(match status.as_str() {
            "FAILED" | "CANCELLED" => code_of(&status),
            _ => exit::BAD_INPUT,
        });
    }
    let chart = match (&report["files"]["chart"], args.no_chart) {
        (Value::String(url), false) => {
            let file = args
                .chart
                .unwrap_or_else(|| PathBuf::from(format!("{run_id}-equity.svg")));
            let bytes = context.api.download(url).await?;
            std::fs::write(&file, bytes)
                .map_err(|error| Failure::new(exit::ERROR, format!("cannot write {}: {error}", file.display())))?;
            Some(file)
        }
        _ => None,
    };
    context.print(&report, || {
        let mut text = summary(&report);
        if let Some(file) = &chart {
            text.push_str(&format!("\nchart written to {}", file.display()));
        }
        text
    });
    Ok(code_of(&status))
}

/// A finished run's summary as an aligned table, with where its files and MLflow run are.
pub fn summary(report: &Value) -> String {
    let result = &report["result"];
    let number = |key: &str| result[key].as_f64();
    let fixed =
        |key: &str, digits: usize| number(key).map_or_else(|| "-".to_owned(), |value| format!("{value:.digits$}"));
    let percent = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |value| format!("{value:.2}%"));
    let mut table = Table::new(&["metric", "value"]);
    let rows = [
        ("trades", fixed("total_trades", 0)),
        (
            "wins / draws / losses",
            format!("{} / {} / {}", fixed("wins", 0), fixed("draws", 0), fixed("losses", 0)),
        ),
        ("win rate", percent(number("win_rate").map(|rate| rate * 100.0))),
        ("profit", percent(number("profit_total_pct"))),
        ("profit (stake)", fixed("profit_total_abs", 2)),
        ("starting balance", fixed("starting_balance", 2)),
        ("final balance", fixed("final_balance", 2)),
        ("max drawdown", percent(number("max_drawdown_pct"))),
        ("max drawdown (stake)", fixed("max_drawdown_abs", 2)),
        ("sharpe", fixed("sharpe", 2)),
        ("sortino", fixed("sortino", 2)),
        ("calmar", fixed("calmar", 2)),
        ("profit factor", fixed("profit_factor", 2)),
        ("avg trade (min)", fixed("avg_trade_duration_minutes", 0)),
        (
            "period",
            format!(
                "{} → {} ({} days)",
                result["backtest_start"].as_str().unwrap_or("?"),
                result["backtest_end"].as_str().unwrap_or("?"),
                fixed("backtest_days", 0)
            ),
        ),
    ];
    for (metric, value) in rows {
        table.row(vec![metric.to_owned(), value]);
    }
    let mut out = format!(
        "{} {} — {}\n\n{}",
        report["strategy_name"].as_str().unwrap_or_default(),
        version_of(&report["strategy_version"]),
        report["status"].as_str().unwrap_or_default(),
        table.render()
    );
    let mut per_pair = Table::new(&[
        "pair",
        "trades",
        "win rate",
        "profit",
        "profit (stake)",
        "avg trade (min)",
    ]);
    for pair in result["per_pair"].as_array().into_iter().flatten() {
        let number = |key: &str| pair[key].as_f64().unwrap_or_default();
        per_pair.row(vec![
            pair["pair"].as_str().unwrap_or_default().to_owned(),
            format!("{:.0}", number("trades")),
            format!("{:.2}%", number("win_rate") * 100.0),
            format!("{:.2}%", number("profit_pct")),
            format!("{:.2}", number("profit_abs")),
            format!("{:.0}", number("avg_trade_duration_minutes")),
        ]);
    }
    if !per_pair.is_empty() {
        out.push_str(&format!("\n\n{}\n", per_pair.render()));
    }
    for (label, key) in [("summary", "summary_uri"), ("equity chart", "equity_chart_uri")] {
        if let Some(uri) = result[key].as_str() {
            out.push_str(&format!("\n{label}: {uri}"));
        }
    }
    if let Some(url) = report["mlflow_url"].as_str() {
        out.push_str(&format!("\nmlflow: {url}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> SubmitArgs {
        use clap::Parser;
        let mut line = vec![
            "tradai",
            "submit",
            "EmaCross",
            "--pairs",
            "BTC/USDT",
            "--timeframe",
            "5m",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
        ];
        line.extend_from_slice(extra);
        match crate::Cli::parse_from(line).command {
            crate::Command::Submit(args) => args,
            _ => unreachable!("a submit"),
        }
    }

    #[test]
    fn a_submission_is_the_routes_request() {
        let body = request(&args(&["--version", "3", "--override", "exchange.name=kraken"])).expect("a request");
        assert_eq!(
            body,
            json!({"strategy_name": "EmaCross", "strategy_version": 3,
                "config": {"timeframe": "5m", "symbols": ["BTC/USDT"], "start_date": "2026-01-01",
                    "end_date": "2026-01-31", "config_overrides": {"exchange": {"name": "kraken"}}}})
        );
        assert_eq!(
            request(&args(&[])).expect("a request")["strategy_version"],
            "production"
        );
    }

    #[test]
    fn a_run_that_did_not_complete_has_its_own_exit_code() {
        assert_eq!(code_of("COMPLETED"), exit::OK);
        assert_eq!(code_of("FAILED"), exit::FAILED);
        assert_eq!(code_of("CANCELLED"), exit::CANCELLED);
    }

    #[test]
    fn the_summary_is_a_table_of_the_numbers() {
        let report = json!({"strategy_name": "EmaCross", "strategy_version": 2, "status": "COMPLETED",
            "result": {"total_trades": 12, "wins": 7, "draws": 1, "losses": 4, "win_rate": 0.5833,
                "profit_total_pct": 3.2512, "max_drawdown_pct": 1.5, "sharpe": 1.234,
                "backtest_start": "2026-01-01", "backtest_end": "2026-01-31", "backtest_days": 30,
                "per_pair": [{"pair": "BTC/USDT", "trades": 8, "win_rate": 0.625, "profit_pct": 4.1, "profit_abs": 41.0,
                    "avg_trade_duration_minutes": 55.0}],
                "equity_chart_uri": "s3://results/results/r/equity.svg"},
            "mlflow_url": "http://127.0.0.1:5000/#/experiments/1/runs/abc"});
        let text = summary(&report);
        let value = |metric: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(metric).filter(|rest| rest.starts_with("  ")))
                .map(str::trim)
                .unwrap_or_else(|| panic!("no {metric} row in\n{text}"))
        };
        assert_eq!(value("trades"), "12");
        assert_eq!(value("wins / draws / losses"), "7 / 1 / 4");
        assert_eq!(value("win rate"), "58.33%");
        assert_eq!(value("profit"), "3.25%");
        assert_eq!(value("sortino"), "-", "a number the result lacks is a dash");
        let columns: Vec<usize> = text
            .lines()
            .skip_while(|line| !line.starts_with("metric"))
            .take_while(|line| !line.is_empty())
            .filter_map(|line| {
                line.find("  ")
                    .map(|start| start + line[start..].len() - line[start..].trim_start().len())
            })
            .collect();
        assert!(
            columns.windows(2).all(|pair| pair[0] == pair[1]),
            "values in one column:\n{text}"
        );
        assert!(
            text.contains("equity chart: s3://results/results/r/equity.svg"),
            "{text}"
        );
        assert!(text.contains("mlflow: http://127.0.0.1:5000/"), "{text}");
    }
}
