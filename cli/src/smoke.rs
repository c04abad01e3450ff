//! `tradai smoke`: the check a person runs after every deploy (and `make test` runs on the local stack) — health
//! and readiness, the sample strategy's image in ECR and registered, sample candles pushed through pre-signed
//! uploads, a backtest run to COMPLETED by the real engine, its result and chart, the same backtest answered from
//! the cache, a cancel, and the smoke's data taken out again. Every check is printed as it ends; the exit code is 0
//! only when all passed.
//!
//! The smoke never touches a user's data: its candles are of pairs no exchange lists ([`PAIRS`]), their markets are
//! merged into the exchange's snapshot and taken out again, and its backtests go to an MLflow experiment of their
//! own ([`EXPERIMENT`]). It registers the sample strategy without moving any alias (registering the same release
//! again is answered with its version).

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use clap::Args;
use serde_json::{Value, json};
use tradai::market_data::candles::Candles;

use crate::push::{CandleFile, MarketsChange, MarketsOutcome, upload};
use crate::register::Manifest;
use crate::{Context, Failure, exit};

/// The smoke's pairs: bases no exchange lists, so their candles and markets are the smoke's alone.
pub const PAIRS: [&str; 2] = ["SMOKEA/USDT", "SMOKEB/USDT"];
/// The smoke's timeframe.
pub const TIMEFRAME: &str = "5m";
/// The MLflow experiment of the smoke's backtests.
pub const EXPERIMENT: &str = "tradai-smoke";
/// Days of candles pushed: the two days backtested and the strategy's warm-up before them.
const CANDLE_DAYS: i64 = 4;
/// Days backtested, ending today.
const BACKTEST_DAYS: i64 = 2;
/// How often a run's status is asked.
const POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Args)]
pub struct SmokeArgs {
    /// The sample strategy's folder: its code, config and `strategy.yaml`.
    #[arg(long, default_value = "container/engine")]
    pub strategy: PathBuf,
    /// The exchange whose store folder and markets snapshot the smoke's candles go to.
    #[arg(long, default_value = "binance")]
    pub exchange: String,
    /// The strategy's image, already in ECR: no image is built. Without it the local stack's image is pushed from
    /// the folder, and a deployed stage (`--stage`) gets one built with Docker from `container/` and pushed.
    #[arg(long)]
    pub image: Option<String>,
    /// How long a backtest may take before the smoke gives up on it.
    #[arg(long, default_value_t = 30)]
    pub timeout_minutes: u64,
    /// Leave the smoke's candles and markets in the store.
    #[arg(long)]
    pub keep_data: bool,
}

/// One check: its name, whether it passed, what it found, how long it took.
#[derive(Debug, Clone)]
struct Check {
    name: &'static str,
    passed: bool,
    detail: String,
    seconds: f64,
}

/// The checks so far, each printed as it ends (on stderr: stdout is `--json`'s answer).
struct Report {
    checks: Vec<Check>,
    json: bool,
}

impl Report {
    /// Runs `check`, records and prints its outcome; answers its value when it passed.
    async fn run<T>(
        &mut self,
        name: &'static str,
        check: impl Future<Output = Result<(T, String), String>>,
    ) -> Option<T> {
        let started = Instant::now();
        let outcome = check.await;
        let seconds = started.elapsed().as_secs_f64();
        let (value, passed, detail) = match outcome {
            Ok((value, detail)) => (Some(value), true, detail),
            Err(detail) => (None, false, detail),
        };
        if !self.json {
            eprintln!(
                "{} {name:<10} {seconds:>6.1} s  {detail}",
                if passed { "ok  " } else { "FAIL" }
            );
        }
        self.checks.push(Check {
            name,
            passed,
            detail,
            seconds,
        });
        value
    }

    fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    fn to_json(&self) -> Value {
        json!({"passed": self.passed(), "checks": self.checks.iter().map(|check| json!({"name": check.name,
            "passed": check.passed, "detail": check.detail, "seconds": (check.seconds * 10.0).round() / 10.0}))
            .collect::<Vec<_>>()})
    }
}

/// A failure's words, for a check's detail.
fn said(failure: Failure) -> String {
    failure.message
}

pub async fn smoke(context: &Context, args: SmokeArgs) -> Result<u8, Failure> {
    let manifest = crate::register::manifest(&args.strategy)?;
    let name = manifest
        .name
        .clone()
        .ok_or_else(|| Failure::bad_input(format!("{}: strategy.yaml names no strategy", args.strategy.display())))?;
    let mut report = Report {
        checks: Vec::new(),
        json: context.json,
    };
    let started = Instant::now();

    // Nothing else is tried when the API is not there; the data is cleaned up once a push was tried.
    let healthy = report.run("health", health(context)).await.is_some();
    if healthy && steps(context, &args, manifest, &name, &mut report).await && !args.keep_data {
        report.run("cleanup", cleanup(context, &args.exchange)).await;
    }
    let summary = report.to_json();
    context.print(&summary, || {
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| check.name)
            .collect();
        if failed.is_empty() {
            format!(
                "smoke passed: {} checks in {:.0} s",
                report.checks.len(),
                started.elapsed().as_secs_f64()
            )
        } else {
            format!("smoke FAILED: {}", failed.join(", "))
        }
    });
    Ok(match (healthy, report.passed()) {
        (false, _) => exit::UNREACHABLE,
        (true, true) => exit::OK,
        (true, false) => exit::ERROR,
    })
}

/// Every check after health, in order, each only when what it needs passed; answers whether candles were pushed
/// (or tried), so there is data to clean up.
async fn steps(context: &Context, args: &SmokeArgs, manifest: Manifest, name: &str, report: &mut Report) -> bool {
    if report.run("ready", ready(context)).await.is_none() {
        return false;
    }
    let Some(image) = report.run("image", image(context, args, name)).await else {
        return false;
    };
    let Some(version) = report.run("register", register(context, args, manifest, &image)).await else {
        return false;
    };
    if report.run("candles", candles(context, &args.exchange)).await.is_none() {
        return true;
    }
    let timeout = Duration::from_secs(args.timeout_minutes.saturating_mul(60));
    let request = backtest_request(name, version, &args.exchange);
    if let Some(run_id) = report.run("backtest", backtest(context, &request, timeout)).await {
        report.run("result", result(context, &run_id)).await;
        report.run("cache", cached(context, &request, &run_id, timeout)).await;
        report.run("cancel", cancel(context, &request, timeout)).await;
    }
    true
}

async fn health(context: &Context) -> Result<((), String), String> {
    let answer = context
        .api
        .get("/health", &[])
        .await
        .map_err(|error| error.to_string())?;
    Ok(((), answer["status"].as_str().unwrap_or("answered").to_owned()))
}

async fn ready(context: &Context) -> Result<((), String), String> {
    let answer = match context.api.get("/ready", &[]).await {
        Ok(answer) => answer,
        Err(error) => return Err(error.body().map_or_else(|| error.to_string(), not_ready)),
    };
    if answer["status"] == "ready" {
        let checks = answer["checks"].as_object().map_or(0, serde_json::Map::len);
        Ok(((), format!("{checks} dependencies answer")))
    } else {
        Err(not_ready(&answer))
    }
}

/// Which of a readiness answer's checks failed.
fn not_ready(answer: &Value) -> String {
    let failing: Vec<String> = answer["checks"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, check)| check["ok"] != true)
        .map(|(name, check)| format!("{name}: {}", check["error"].as_str().unwrap_or("not ok")))
        .collect();
    format!("not ready: {}", failing.join("; "))
}

/// The sample strategy's image: given, pushed from the folder to the local stack, or built and pushed to a
/// deployed stage's ECR.
async fn image(context: &Context, args: &SmokeArgs, name: &str) -> Result<(String, String), String> {
    if let Some(image) = &args.image {
        return Ok((image.clone(), "given".to_owned()));
    }
    if let Some(local) = &context.local {
        let image = crate::register::push_local(local, &args.strategy, name)
            .await
            .map_err(said)?;
        return Ok((image.clone(), format!("pushed to the local ECR: {image}")));
    }
    let Some(stage) = &context.stage else {
        return Err(
            "a deployed stage's image is built with Docker: pass --stage (the stage tradai deploy saved), or --image"
                .to_owned(),
        );
    };
    let image = crate::deploy::sample_strategy_image(stage, &args.strategy, name)
        .await
        .map_err(said)?;
    Ok((image.clone(), format!("in ECR: {image}")))
}

/// The sample strategy's release registered (no alias moved); answers its version.
async fn register(
    context: &Context,
    args: &SmokeArgs,
    manifest: Manifest,
    image: &str,
) -> Result<(u64, String), String> {
    let release_args = crate::register::RegisterArgs {
        dir: args.strategy.clone(),
        name: None,
        image: Some(image.to_owned()),
        config: None,
        timeframe: None,
        pairs: None,
        warmup_days: None,
        description: None,
        alias: None,
    };
    let mut body = crate::register::release(&release_args, manifest, None).map_err(said)?;
    if let Some(release) = body.as_object_mut() {
        release.remove("alias");
    }
    let registered = context
        .api
        .post("/strategies", &body)
        .await
        .map_err(|error| error.to_string())?;
    let version = registered["version"]
        .as_u64()
        .ok_or_else(|| format!("the registration answered no version: {registered}"))?;
    let how = if registered["created"] == true {
        "registered"
    } else {
        "already registered"
    };
    Ok((
        version,
        format!("{how}: {} version {version}", body["name"].as_str().unwrap_or_default()),
    ))
}

/// A ccxt spot market of `pair` as an exchange's snapshot lists it.
fn market(pair: &str) -> Value {
    let (base, quote) = pair.split_once('/').unwrap_or((pair, "USDT"));
    json!({"id": format!("{base}{quote}"), "symbol": pair, "base": base, "quote": quote, "type": "spot",
        "spot": true, "active": true, "taker": 0.001, "maker": 0.001,
        "precision": {"amount": 0.00001, "price": 0.01}, "limits": {"amount": {"min": 0.00001}, "cost": {"min": 5.0}}})
}

/// [`CANDLE_DAYS`] of 5m candles up to now: a slow cycle, a faster wiggle and deterministic noise, shifted per
/// pair, so two EMAs cross both ways.
fn sample_candles(shift: usize) -> Candles {
    let step = TimeDelta::minutes(5);
    let rows = usize::try_from(CANDLE_DAYS * 288).unwrap_or(1152);
    let now = Utc::now().timestamp_millis();
    let last = now - now % step.num_milliseconds();
    let first = last - step.num_milliseconds() * (rows as i64 - 1);
    let mut candles = Candles::default();
    for row in 0..rows {
        let i = row + shift;
        let x = i as f64;
        let noise = ((i.wrapping_mul(2_654_435_761) % 1000) as f64 / 500.0) - 1.0;
        let close = 100.0 + (x / 50.0).sin() * 3.0 + (x / 2.0).sin() * 0.8 + noise * 0.5;
        candles.push(
            first + step.num_milliseconds() * row as i64,
            [close - 0.2, close + 0.15, close - 0.25, close, 10.0 + (i % 7) as f64],
        );
    }
    candles
}

async fn candles(context: &Context, exchange: &str) -> Result<((), String), String> {
    let mut files = Vec::new();
    for (index, pair) in PAIRS.iter().enumerate() {
        files.push(CandleFile::new(pair, TIMEFRAME, sample_candles(index * 97)).map_err(said)?);
    }
    let markets = Value::Array(PAIRS.iter().map(|pair| market(pair)).collect());
    let (keys, outcome) = upload(&context.api, exchange, &files, MarketsChange::Merge(markets))
        .await
        .map_err(said)?;
    let markets = match outcome {
        MarketsOutcome::Written(key) => format!("their markets merged into {key}"),
        _ => "their markets already in the snapshot".to_owned(),
    };
    Ok((
        (),
        format!("{} files of {CANDLE_DAYS} days pushed ({})", keys.len(), markets),
    ))
}

/// The smoke's backtest of `version`: the last [`BACKTEST_DAYS`] days of its pairs, the engine always run.
fn backtest_request(name: &str, version: u64, exchange: &str) -> Value {
    let today = Utc::now().date_naive();
    let from = today - TimeDelta::days(BACKTEST_DAYS);
    json!({"strategy_name": name, "strategy_version": version, "experiment_name": EXPERIMENT, "no_cache": true,
        "config": {"timeframe": TIMEFRAME, "symbols": PAIRS, "start_date": from.to_string(),
            "end_date": today.to_string(), "config_overrides": {"exchange": {"name": exchange}}}})
}

/// Submits `request`; answers the run id.
async fn submit(context: &Context, request: &Value) -> Result<String, String> {
    let accepted = context
        .api
        .post("/backtest", request)
        .await
        .map_err(|error| error.to_string())?;
    accepted["run_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the submission answered no run id: {accepted}"))
}

/// `run_id`'s status report once it has ended (COMPLETED, FAILED, CANCELLED), or an error after `timeout`.
async fn ended(context: &Context, run_id: &str, timeout: Duration) -> Result<Value, String> {
    let started = Instant::now();
    loop {
        let report = crate::backtests::fetch(context, run_id).await.map_err(said)?;
        let status = report["status"].as_str().unwrap_or_default();
        if crate::watch::ended(status) {
            return Ok(report);
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "{run_id} still {status} after {} s (step {})",
                timeout.as_secs(),
                report["step"].as_str().unwrap_or("?")
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Why a run that should have completed did not.
fn not_completed(report: &Value) -> String {
    format!(
        "{} ended {}{}",
        report["run_id"].as_str().unwrap_or_default(),
        report["status"].as_str().unwrap_or("?"),
        report["error"]
            .as_str()
            .map(|error| format!(": {error}"))
            .unwrap_or_default()
    )
}

async fn backtest(context: &Context, request: &Value, timeout: Duration) -> Result<(String, String), String> {
    let run_id = submit(context, request).await?;
    let report = ended(context, &run_id, timeout).await?;
    if report["status"] != "COMPLETED" {
        return Err(not_completed(&report));
    }
    Ok((run_id.clone(), format!("{run_id} COMPLETED")))
}

/// The finished run's metrics and its chart.
async fn result(context: &Context, run_id: &str) -> Result<((), String), String> {
    let report = crate::backtests::fetch(context, run_id).await.map_err(said)?;
    let trades = report["result"]["total_trades"].as_u64().ok_or_else(|| {
        format!(
            "{run_id}'s status has no result with total_trades: {}",
            report["result"]
        )
    })?;
    let chart = report["files"]["chart"]
        .as_str()
        .ok_or_else(|| format!("{run_id}'s status links no chart"))?;
    let bytes = context.api.download(chart).await.map_err(|error| error.to_string())?;
    if !String::from_utf8_lossy(&bytes).contains("<svg") {
        return Err(format!("{run_id}'s chart is not an SVG ({} bytes)", bytes.len()));
    }
    Ok(((), format!("{trades} trades, chart of {} KiB", bytes.len() / 1024)))
}

/// The same inputs again, the cache allowed: answered by the first run, without a container.
async fn cached(context: &Context, request: &Value, first: &str, timeout: Duration) -> Result<((), String), String> {
    let mut again = request.clone();
    again["no_cache"] = json!(false);
    let run_id = submit(context, &again).await?;
    let report = ended(context, &run_id, timeout).await?;
    if report["status"] != "COMPLETED" {
        return Err(not_completed(&report));
    }
    match report["cached_from"].as_str() {
        Some(from) if from == first => Ok(((), format!("{run_id} answered from {first}"))),
        other => Err(format!(
            "{run_id} was not answered from {first} (cached_from: {other:?})"
        )),
    }
}

/// A run cancelled as soon as it is accepted ends CANCELLED.
async fn cancel(context: &Context, request: &Value, timeout: Duration) -> Result<((), String), String> {
    let run_id = submit(context, request).await?;
    context
        .api
        .post(&format!("/backtest/{}/cancel", crate::api::encode(&run_id)), &json!({}))
        .await
        .map_err(|error| error.to_string())?;
    let report = ended(context, &run_id, timeout).await?;
    if report["status"] == "CANCELLED" {
        Ok(((), format!("{run_id} CANCELLED")))
    } else {
        Err(format!(
            "{run_id} ended {} after its cancel was accepted",
            report["status"].as_str().unwrap_or("?")
        ))
    }
}

/// The smoke's candle files deleted and their markets taken out of the snapshot (deleted when none is left).
async fn cleanup(context: &Context, exchange: &str) -> Result<((), String), String> {
    let pairs: Vec<String> = PAIRS.iter().map(|pair| (*pair).to_owned()).collect();
    let deleted = context
        .api
        .send(
            "DELETE",
            "/data/datasets",
            &[
                ("exchange", exchange.to_owned()),
                ("pairs", pairs.join(",")),
                ("timeframe", TIMEFRAME.to_owned()),
            ],
            None,
        )
        .await
        .map_err(|error| error.to_string())?;
    let (_, outcome) = upload(&context.api, exchange, &[], MarketsChange::Remove(pairs))
        .await
        .map_err(said)?;
    let markets = match outcome {
        MarketsOutcome::Written(_) => "their markets taken out of the snapshot",
        MarketsOutcome::Deleted => "the snapshot deleted (only the smoke's markets were in it)",
        MarketsOutcome::Unchanged | MarketsOutcome::Untouched => "no markets of theirs left",
    };
    Ok((
        (),
        format!(
            "{} candle files deleted, {markets}",
            deleted["deleted"].as_array().map_or(0, Vec::len)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_candles_end_now_and_cover_the_backtest_and_its_warm_up() {
        let candles = sample_candles(0);
        assert_eq!(candles.len(), 4 * 288);
        let last = *candles.date_ms.last().expect("candles");
        let age = Utc::now().timestamp_millis() - last;
        assert!((0..300_000).contains(&age), "the last candle opened {age} ms ago");
        let covered_days = (last - candles.date_ms[0]) / 86_400_000;
        assert!(
            covered_days > BACKTEST_DAYS,
            "the backtest and a day of warm-up: {covered_days} days"
        );
        assert_ne!(
            sample_candles(97).prices[3],
            candles.prices[3],
            "each pair its own series"
        );
        assert!(candles.clone().checked().is_ok());
    }

    #[test]
    fn the_backtest_runs_the_smoke_pairs_without_the_cache_in_its_own_experiment() {
        let request = backtest_request("EmaCross", 3, "binance");
        assert_eq!(request["strategy_version"], 3);
        assert_eq!(request["no_cache"], true);
        assert_eq!(request["experiment_name"], EXPERIMENT);
        assert_eq!(request["config"]["symbols"], json!(PAIRS));
        for pair in PAIRS {
            assert_eq!(market(pair)["symbol"], pair);
        }
    }
}
