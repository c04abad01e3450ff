//! bench/reproducibility: on the local stack with real Freqtrade, for 2 and for 50 pairs of a year of 5m candles,
//! (1) what planning a run's manifest costs — hashing every candle file where it is kept (`pin_market_data` against
//! the S3 stand-in), and the SHA-256 alone in memory — against the engine's own time on the same data, and (2) a
//! fresh run's submit → COMPLETED against a cache hit's (the same request again). Prints markdown tables for
//! bench/RESULTS.md.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tradai::backtest::{Symbol, Timeframe};
use tradai::market_data::DataLocation;
use tradai::run_manifest::plan::pin_market_data;
use tradai_local::{Deployment, DeploymentOptions};
use tradai_tests::candles::{CandleFile, market};

/// A year of 5m candles.
const YEAR_OF_5M: usize = 365 * 288;

/// Runs the debug `tradai` against the stack `state` records.
fn tradai(state: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let output = std::process::Command::new(tradai_local::debug_binary("tradai"))
        .arg("--state")
        .arg(state)
        .args(args)
        .env_remove("TRADAI_API_URL")
        .output()?;
    if !output.status.success() {
        return Err(format!("tradai {args:?}: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Submits `body` through the local API and polls the status every 50 ms until it ends: (seconds, the report).
async fn run(local: &Deployment, body: &Value) -> Result<(f64, Value), Box<dyn std::error::Error>> {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let submitted: Value = http
        .post(format!("{}/backtest", local.api_url))
        .json(body)
        .send()
        .await?
        .json()
        .await?;
    let run_id = submitted["run_id"].as_str().ok_or("no run_id")?.to_owned();
    loop {
        let report: Value = http
            .get(format!("{}/backtest/{run_id}/status", local.api_url))
            .send()
            .await?
            .json()
            .await?;
        match report["status"].as_str().unwrap_or_default() {
            "COMPLETED" => return Ok((started.elapsed().as_secs_f64(), report)),
            "FAILED" | "CANCELLED" => return Err(format!("{run_id} ended: {report}").into()),
            _ if started.elapsed() > Duration::from_secs(1800) => return Err(format!("{run_id} still runs").into()),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let given: Vec<usize> = std::env::args().skip(1).filter_map(|n| n.parse().ok()).collect();
    let counts = if given.is_empty() { vec![2, 50] } else { given };
    let local = Deployment::start(DeploymentOptions::new(tradai_tests::mlflow::endpoint())).await?;
    let id = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let state = tradai_tests::project_root().join(format!(".stand-ins/bench-reproducibility-{id}"));
    tradai_tests::deployment::stack_record(&local, &state);

    // The sample strategy as one of its own, registered through the CLI (its folder pushed as the local image).
    let name = format!("EmaBench{id}");
    let strategy = state.join("strategy");
    tradai_tests::deployment::own_strategy(&strategy, &name);
    tradai(&state, &["strategy", "register", &strategy.display().to_string()])?;

    let sdk = local.sdk_config().await;
    let location = DataLocation::parse(&local.resources.market_data_uri()).map_err(|e| e.to_string())?;
    let data = tradai::aws::s3_objects(&sdk, &location.bucket);
    let file = CandleFile::ending_at(
        tradai::time::Timestamp::now(),
        chrono::TimeDelta::minutes(5),
        YEAR_OF_5M,
    );
    let bytes = file.to_parquet();
    let today = chrono::Utc::now().date_naive();
    let mut manifest_rows = Vec::new();
    let mut cache_rows = Vec::new();
    for count in counts {
        let bases: Vec<String> = (0..count).map(|i| format!("B{i:02}X")).collect();
        let folder = state.join(format!("data-{count}"));
        std::fs::create_dir_all(&folder)?;
        for base in &bases {
            std::fs::write(folder.join(format!("{base}_USDT-5m.parquet")), &bytes)?;
        }
        let markets: Vec<Value> = bases.iter().map(|base| market(base)).collect();
        std::fs::write(folder.join("markets.json"), serde_json::to_vec(&markets)?)?;
        tradai(
            &state,
            &["data", "push", &folder.display().to_string(), "--exchange", "binance"],
        )?;
        let pairs: Vec<String> = bases.iter().map(|base| format!("{base}/USDT")).collect();
        let symbols: Vec<Symbol> = pairs
            .iter()
            .map(|pair| Symbol::try_from(pair.clone()))
            .collect::<Result<_, _>>()?;

        // (1) The manifest's data, five times each (the median): first seen, every file read and hashed where it is
        // kept (a fresh memo each time); then seen before, each version's hash read from the results bucket's memo.
        let memo = tradai::aws::s3_objects(&sdk, &local.resources.results_bucket);
        let mut first_seen = Vec::new();
        let mut seen_before = Vec::new();
        let (query, checked) = ((&symbols[..], Timeframe::M5), std::collections::BTreeMap::new());
        for _ in 0..5 {
            let fresh_memo = tradai::objects::MemoryObjects::new("memo");
            let started = Instant::now();
            let (files, _) = pin_market_data(&data, &fresh_memo, &location, "binance", query, &checked).await?;
            first_seen.push(started.elapsed().as_secs_f64());
            assert_eq!(files.len(), count);
        }
        pin_market_data(&data, &memo, &location, "binance", query, &checked).await?;
        for _ in 0..5 {
            let started = Instant::now();
            pin_market_data(&data, &memo, &location, "binance", query, &checked).await?;
            seen_before.push(started.elapsed().as_secs_f64());
        }
        let started = Instant::now();
        for _ in 0..count {
            std::hint::black_box(Sha256::digest(&bytes));
        }
        let sha_only = started.elapsed().as_secs_f64();

        // (2) A fresh run (no_cache: the engine runs), then the same request answered from the cache, three times.
        let body = |no_cache: bool| {
            json!({"strategy_name": name, "strategy_version": "production", "no_cache": no_cache,
                "config": {"timeframe": "5m", "symbols": pairs, "start_date": (today - chrono::TimeDelta::days(364)).to_string(),
                "end_date": today.to_string()}})
        };
        let (fresh, report) = run(&local, &body(true)).await?;
        let engine = report["result"]["engine_seconds"].as_f64().unwrap_or(f64::NAN);
        let trades = report["result"]["total_trades"].as_u64().unwrap_or(0);
        let mut hits = Vec::new();
        for _ in 0..3 {
            let (seconds, answered) = run(&local, &body(false)).await?;
            if answered["cached_from"].is_null() {
                return Err(format!("not answered from the cache: {answered}").into());
            }
            hits.push(seconds);
        }
        let size_mib = (bytes.len() * count) as f64 / (1024.0 * 1024.0);
        let pin = tradai_tests::median(&mut first_seen);
        let memo_pin = tradai_tests::median(&mut seen_before);
        manifest_rows.push(format!(
            "| {count} | {size_mib:.1} | {pin:.2} | {sha_only:.2} | {memo_pin:.3} | {engine:.0} | {:.1}% | {:.2}% |",
            100.0 * pin / engine,
            100.0 * memo_pin / engine
        ));
        let hit = tradai_tests::median(&mut hits);
        cache_rows.push(format!(
            "| {count} | {trades} | {fresh:.1} | {hit:.2} | {:.0}× |",
            fresh / hit
        ));
        eprintln!(
            "{count} pairs: pin {pin:.2} s (memo {memo_pin:.3} s), sha {sha_only:.2} s, engine {engine:.0} s, \
             fresh {fresh:.1} s, hit {hit:.2} s"
        );
    }
    println!(
        "| pairs | candle data MiB | manifest, files first seen s | SHA-256 alone s | manifest, versions seen before s \
         | engine s | first seen / engine | seen before / engine |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in manifest_rows {
        println!("{row}");
    }
    println!();
    println!(
        "| pairs | trades | fresh run submit → COMPLETED s | cache hit submit → COMPLETED s (median of 3) | faster |"
    );
    println!("|---|---|---|---|---|");
    for row in cache_rows {
        println!("{row}");
    }
    std::fs::remove_dir_all(&state).ok();
    Ok(())
}
