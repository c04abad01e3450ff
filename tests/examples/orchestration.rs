//! The local orchestration overhead (bench/orchestration): N backtests submitted one after another through the
//! local HTTP API, each run by the deployed state machine with a stand-in engine that writes a finished result at
//! once, timed from submit to COMPLETED as the status route reports it, and split by state from the execution's
//! history. Prints markdown tables for bench/RESULTS.md.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tradai_local::{Deployment, DeploymentOptions};
use tradai_tests::deployment::{DeploymentStack, deploy_strategy};

const SUCCEEDS: &str = r#"cp "$(dirname "$0")/result.zip" "$1/backtest-result-2026-11-24_06-00-00.zip"
echo '{}' > "$1/backtest-result-2026-11-24_06-00-00.meta.json"
echo '{"latest_backtest": "backtest-result-2026-11-24_06-00-00.zip"}' > "$1/.last_result.json""#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(10);
    let local = Deployment::start(DeploymentOptions::new(tradai_tests::mlflow::endpoint())).await?;
    let stack = local.stack().await;
    let name = format!("Bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let folder = tradai_tests::project_root().join(format!(".stand-ins/bench-{name}"));
    std::fs::create_dir_all(&folder)?;
    let result = tradai_tests::freqtrade::result_json(&name, &[(1, 40.0), (2, -10.0), (3, 25.0)]);
    std::fs::write(folder.join("result.zip"), tradai_tests::freqtrade::result_zip(&result))?;
    let script = folder.join("engine.sh");
    std::fs::write(&script, format!("#!/bin/sh\n{SUCCEEDS}\n"))?;
    let command = json!(["sh", script.display().to_string(), "{backtest_directory}"]).to_string();
    let environment = [
        ("ENGINE_COMMAND", command),
        ("WORK_DIR", folder.join("work").display().to_string()),
    ];
    deploy_strategy(
        &stack,
        &name,
        b"stake_currency: USDT\nexchange:\n  name: binance\n",
        &environment,
    )
    .await;
    stack.put_candles(&["BTC/USDT"], 0, 300).await;

    let http = reqwest::Client::new();
    let sfn = local.sfn().await;
    let mut totals = Vec::new();
    let mut by_state: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let today = chrono::Utc::now().date_naive();
    // One warm-up run: the first invocation of each function starts its process under cargo lambda watch.
    for run in 0..=runs {
        // no_cache: every run is the same request, which the result cache would answer without the engine.
        let body = json!({"strategy_name": name, "strategy_version": "production", "no_cache": true,
            "config": {"timeframe": "5m",
            "symbols": ["BTC/USDT"], "start_date": (today - chrono::TimeDelta::days(1)).to_string(),
            "end_date": today.to_string()}});
        let started = Instant::now();
        let submitted: Value = http
            .post(format!("{}/backtest", local.api_url))
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        let run_id = submitted["run_id"].as_str().ok_or("no run_id")?.to_owned();
        let status = loop {
            let job: Value = http
                .get(format!("{}/backtest/{run_id}/status", local.api_url))
                .send()
                .await?
                .json()
                .await?;
            let status = job["status"].as_str().unwrap_or_default().to_owned();
            if ["COMPLETED", "FAILED", "CANCELLED"].contains(&status.as_str()) {
                break status;
            }
            if started.elapsed() > Duration::from_secs(300) {
                return Err(format!("{run_id} did not end within 300 s").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let total = started.elapsed().as_secs_f64();
        if status != "COMPLETED" {
            return Err(format!("{run_id} ended {status}").into());
        }
        let execution = format!(
            "{}:{run_id}",
            local.state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
        );
        let history = sfn.get_execution_history().execution_arn(&execution).send().await?;
        let events = history.events();
        let mut entered: Option<(String, f64)> = None;
        let mut durations = Vec::new();
        for event in events {
            let at = event.timestamp().as_secs_f64();
            if let Some(state) = event.state_entered_event_details() {
                if let Some((previous, since)) = entered.take() {
                    durations.push((previous, at - since));
                }
                entered = Some((state.name().to_owned(), at));
            } else if event.r#type().as_str() == "ExecutionSucceeded"
                && let Some((previous, since)) = entered.take()
            {
                durations.push((previous, at - since));
            }
        }
        eprintln!("run {run}: {total:.2} s ({status})");
        if run == 0 {
            continue;
        }
        totals.push(total);
        for (state, seconds) in durations {
            if !order.contains(&state) {
                order.push(state.clone());
            }
            by_state.entry(state).or_default().push(seconds);
        }
    }
    let mut sorted = totals.clone();
    let median_total = tradai_tests::median(&mut sorted);
    println!("| runs | median submit → COMPLETED s | min s | max s |");
    println!("|---|---|---|---|");
    println!(
        "| {runs} | {median_total:.2} | {:.2} | {:.2} |",
        sorted.first().copied().unwrap_or(f64::NAN),
        sorted.last().copied().unwrap_or(f64::NAN)
    );
    println!();
    println!("| state | median s |");
    println!("|---|---|");
    let mut accounted = 0.0;
    for state in &order {
        let mut values = by_state.get(state).cloned().unwrap_or_default();
        let value = tradai_tests::median(&mut values);
        accounted += value;
        println!("| {state} | {value:.2} |");
    }
    println!(
        "| (before the execution's first state and after its last) | {:.2} |",
        median_total - accounted
    );
    std::fs::remove_dir_all(&folder).ok();
    Ok(())
}
