//! A 100-child sweep on the local stack (bench/sweep): a 10 × 10 grid submitted through the local HTTP API, run by
//! the deployed sweep state machine (moto's Distributed Map, each child the backtest workflow with the real
//! entrypoint) with a stand-in engine that takes ENGINE_SECONDS and writes a finished result. Measured from the
//! children's executions (ListExecutions of the backtest workflow): how long each took beyond the engine, and how
//! many ran at once against MaxConcurrency. Then, on paper with tradai::sweep::estimate (docs/COST.md's prices),
//! a 1 000-combination sweep on AWS against the same backtests one at a time on one host. Prints markdown for
//! bench/RESULTS.md.
//!
//! Usage: sweep [MAX_CONCURRENCY (10)] [ENGINE_SECONDS (2)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tradai::sweep::{EngineTime, SweepShape, estimate};
use tradai_local::{Deployment, DeploymentOptions};
use tradai_tests::deployment::{DeploymentStack, deploy_strategy};

fn engine(seconds: f64) -> String {
    format!(
        r#"sleep {seconds}
cp "$(dirname "$0")/result.zip" "$1/backtest-result-2026-11-24_06-00-00.zip"
echo '{{}}' > "$1/backtest-result-2026-11-24_06-00-00.meta.json"
echo '{{"latest_backtest": "backtest-result-2026-11-24_06-00-00.zip"}}' > "$1/.last_result.json""#
    )
}

fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let concurrency: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let engine_seconds: f64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(2.0);
    let local = Deployment::start(DeploymentOptions::new(tradai_tests::mlflow::endpoint())).await?;
    let stack = local.stack().await;
    let name = format!("BenchSweep{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let folder = tradai_tests::project_root().join(format!(".stand-ins/bench-{name}"));
    let strategies = folder.join("strategies");
    std::fs::create_dir_all(&strategies)?;
    std::fs::write(
        strategies.join(format!("{name}.py")),
        format!("class {name}(IStrategy):\n    pass\n"),
    )?;
    let result = tradai_tests::freqtrade::result_json(&name, &[(1, 40.0), (2, -10.0), (3, 25.0)]);
    std::fs::write(folder.join("result.zip"), tradai_tests::freqtrade::result_zip(&result))?;
    let script = folder.join("engine.sh");
    std::fs::write(&script, format!("#!/bin/sh\n{}\n", engine(engine_seconds)))?;
    let command = json!(["sh", script.display().to_string(), "{backtest_directory}"]).to_string();
    let environment = [
        ("ENGINE_COMMAND", command),
        ("STRATEGY_PATH", strategies.display().to_string()),
        ("WORK_DIR", folder.join("work").display().to_string()),
    ];
    let base = b"stake_currency: USDT\nexchange:\n  name: binance\n";
    let image = deploy_strategy(&stack, &name, base, &environment).await;
    let config = format!("s3://{}/strategies/{name}/base.yaml", stack.config_bucket);
    let declared = r#"{"buy_ema_fast":{"high":15,"low":4},"buy_ema_slow":{"high":50,"low":16}}"#;
    let tags: &[(&str, &str)] = &[("ecr_url", &image), ("config_path", &config), ("parameters", declared)];
    let versions = tradai_tests::mlflow::register(&name, &[tags], &[]).await;
    tradai_tests::mlflow::register(&name, &[], &[("production", versions[0])]).await;
    stack.put_candles(&["BTC/USDT"], 0, 300).await;

    let http = reqwest::Client::new();
    let today = chrono::Utc::now().date_naive();
    let body = json!({"strategy_name": name, "strategy_version": "production", "config": {"timeframe": "5m",
        "symbols": ["BTC/USDT"], "start_date": (today - chrono::TimeDelta::days(1)).to_string(),
        "end_date": today.to_string()},
        "space": {"grid": {"buy_ema_fast": (4..14).collect::<Vec<u32>>(), "buy_ema_slow": (16..26).collect::<Vec<u32>>()}},
        "max_concurrency": concurrency, "tolerated_failure_percentage": 0});
    let started = Instant::now();
    let submitted: Value = http
        .post(format!("{}/sweeps", local.api_url))
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let sweep_id = submitted["sweep_id"]
        .as_str()
        .ok_or_else(|| format!("not submitted: {submitted}"))?
        .to_owned();
    let report = loop {
        let report: Value = http
            .get(format!("{}/sweeps/{sweep_id}", local.api_url))
            .send()
            .await?
            .json()
            .await?;
        if ["COMPLETED", "FAILED", "CANCELLED"].contains(&report["status"].as_str().unwrap_or_default()) {
            break report;
        }
        if started.elapsed() > Duration::from_secs(1800) {
            return Err("the sweep did not end within 30 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let wall = started.elapsed().as_secs_f64();
    if report["status"] != "COMPLETED" || report["progress"]["completed"] != 100 {
        return Err(format!("the sweep ended {}: {}", report["status"], report["progress"]).into());
    }

    // The children's executions, from the backtest workflow's own record of them.
    let sfn = local.sfn().await;
    let mut spans: Vec<(f64, f64)> = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(&local.state_machine_arn)
            .set_next_token(token)
            .send()
            .await?;
        for execution in page.executions() {
            if let Some(stop) = execution.stop_date() {
                spans.push((execution.start_date().as_secs_f64(), stop.as_secs_f64()));
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let durations: Vec<f64> = spans.iter().map(|(start, stop)| stop - start).collect();
    let mut edges: Vec<(f64, i32)> = spans
        .iter()
        .flat_map(|(start, stop)| [(*start, 1), (*stop, -1)])
        .collect();
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut running, mut reached) = (0, 0);
    for (_, step) in edges {
        running += step;
        reached = reached.max(running);
    }
    let first = spans.iter().map(|span| span.0).fold(f64::INFINITY, f64::min);
    let last = spans.iter().map(|span| span.1).fold(f64::NEG_INFINITY, f64::max);

    println!(
        "| children | MaxConcurrency | reached | engine s | submit → COMPLETED s | first child start → last child end s | child median s | child p90 s | beyond the engine, median s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {concurrency} | {reached} | {engine_seconds} | {wall:.1} | {:.1} | {:.2} | {:.2} | {:.2} |",
        spans.len(),
        last - first,
        quantile(&durations, 0.5),
        quantile(&durations, 0.9),
        quantile(&durations, 0.5) - engine_seconds
    );

    // On paper: 1 000 combinations of docs/COST.md's realistic backtest (10 pairs, a year of 5m candles, 1 vCPU /
    // 2 GB), on AWS at two concurrencies, against one host running them one after another.
    let candle_pairs = 10 * 365 * 288;
    let engine = EngineTime::Assumed;
    println!();
    println!("| 1 000 combinations | engine s per child | wall | cost USD |");
    println!("|---|---|---|---|");
    for max_concurrency in [100, 500] {
        let shape = SweepShape {
            children: 1000,
            candle_pairs,
            max_concurrency,
            task_cpu: 1024,
            task_memory_mib: 2048,
        };
        let estimate = estimate(shape, engine);
        println!(
            "| AWS, MaxConcurrency {max_concurrency} | {:.0} | {:.1} h | {:.2} |",
            estimate.engine_seconds_per_child,
            estimate.wall_seconds / 3600.0,
            estimate.cost_usd
        );
    }
    let one = estimate(
        SweepShape {
            children: 1,
            candle_pairs,
            max_concurrency: 1,
            task_cpu: 1024,
            task_memory_mib: 2048,
        },
        engine,
    );
    let host_hours = 1000.0 * one.engine_seconds_per_child / 3600.0;
    // An m7i.large (2 vCPU, 8 GiB; Freqtrade's backtest uses one core) on demand in us-east-1: $0.1008 an hour.
    println!(
        "| one host, one at a time (m7i.large on demand, $0.1008/h) | {:.0} | {host_hours:.1} h | {:.2} |",
        one.engine_seconds_per_child,
        host_hours * 0.1008
    );
    std::fs::remove_dir_all(&folder).ok();
    Ok(())
}
