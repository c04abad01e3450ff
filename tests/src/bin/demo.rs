//! `make demo`: one backtest through the whole workflow on the local stack, as a client sees it on AWS.
//! The strategy (EmaCross, container/engine) is deployed as a release would deploy it; market data for the last
//! 30 days is generated into Freqtrade's Parquet layout; the backtest is submitted through the submit-backtest
//! handler in `stepfunctions` mode; the deployed state machine runs every step as a real binary under
//! `cargo lambda watch` and RunBacktest as the real entrypoint around real Freqtrade; then the status route, the
//! notification, the results in S3 and the MLflow run are shown.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tradai::executor::StepFunctions;
use tradai_tests::deployment::{self, DeploymentStack, deploy_strategy};
use tradai_tests::{events, project_root};

const STRATEGY: &str = "EmaCross";
const PAIRS: [&str; 2] = ["BTC/USDT", "ETH/USDT"];
const BASE_CONFIG: &str = "# EmaCross, as its release deploys it\nstake_currency: USDT\nstake_amount: 100\n\
max_open_trades: 2\ndry_run: true\ndry_run_wallet: 1000\nexchange:\n  name: binance\n\
pairlists:\n  - method: StaticPairList\nentry_pricing:\n  price_side: same\nexit_pricing:\n  price_side: same\n";

fn body_of(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::String(text.clone())),
        other => Value::String(format!("{other:?}")),
    }
}

fn show(title: &str, value: &Value) {
    println!(
        "\n── {title}\n{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn market(base: &str) -> Value {
    json!({"id": format!("{base}USDT"), "symbol": format!("{base}/USDT"), "base": base, "quote": "USDT",
        "type": "spot", "spot": true, "active": true, "taker": 0.001, "maker": 0.001,
        "precision": {"amount": 0.00001, "price": 0.01}, "limits": {"amount": {"min": 0.00001}, "cost": {"min": 5.0}}})
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let root = project_root();
    let started = Instant::now();
    let local = deployment::shared();
    let stack = local.stack().await;
    println!(
        "local stack up in {:.1} s: router {}",
        started.elapsed().as_secs_f64(),
        local.endpoint
    );

    let python = root.join(".stand-ins/freqtrade/bin/python");
    if !python.exists() {
        return Err("Freqtrade is not installed: run `make stand-ins`".into());
    }
    let engine = root.join("container/engine");
    let mut command = vec![
        python.display().to_string(),
        engine.join("freqtrade_offline.py").display().to_string(),
    ];
    command.extend(
        entrypoint::settings::DEFAULT_ENGINE
            .iter()
            .skip(1)
            .map(|part| (*part).to_owned()),
    );
    command.extend(["--strategy-path".to_owned(), engine.display().to_string()]);
    let work = root.join(".stand-ins/demo");
    let environment = [
        ("ENGINE_COMMAND", serde_json::to_string(&command)?),
        ("WORK_DIR", work.display().to_string()),
        ("HEARTBEAT_SECONDS", "5".to_owned()),
    ];
    let image = deploy_strategy(&stack, STRATEGY, BASE_CONFIG.as_bytes(), &environment).await;
    stack.put_candles(&PAIRS, 0, 30 * 288).await;
    stack
        .put_market_data(
            "ohlcv/binance/markets.json",
            json!([market("BTC"), market("ETH")]).to_string().into_bytes(),
        )
        .await;
    println!("deployed {STRATEGY} ({image}), 30 days of 5m candles for {PAIRS:?}");

    let today = chrono::Utc::now().date_naive();
    let start = today - chrono::TimeDelta::days(25);
    let request = std::fs::read_to_string(root.join("events/submit-backtest/valid.json"))?;
    let mut event: Value = serde_json::from_str(&request)?;
    event["body"] = json!(
        json!({"strategy_name": STRATEGY, "strategy_version": "production",
        "config": {"timeframe": "5m", "symbols": PAIRS, "start_date": start.to_string(), "end_date": today.to_string(),
        "config_overrides": {"max_open_trades": 2}}})
        .to_string()
    );
    let submit = submit_backtest::Deps {
        store: stack.store(),
        launcher: StepFunctions::new(local.sfn().await, &local.state_machine_arn),
        keys: stack.keys(),
    };
    let response = submit_backtest::handle(&submit, events::request_from_json(&event.to_string())).await?;
    let accepted = body_of(&response);
    show(&format!("POST /backtest → HTTP {}", response.status()), &accepted);
    let run_id = accepted["run_id"].as_str().ok_or("no run_id")?.to_owned();

    let sfn = local.sfn().await;
    let execution = format!(
        "{}:{run_id}",
        local.state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    );
    println!("\n── the workflow, state by state");
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        let history = sfn.get_execution_history().execution_arn(&execution).send().await?;
        for event in history.events() {
            if let Some(entered) = event.state_entered_event_details()
                && seen.insert(event.id())
            {
                println!("   {:>6.1} s  {}", started.elapsed().as_secs_f64(), entered.name());
            }
        }
        let described = sfn.describe_execution().execution_arn(&execution).send().await?;
        if described.status.as_str() != "RUNNING" {
            break described.status.as_str().to_owned();
        }
        if Instant::now() > deadline {
            return Err("the execution did not end within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    println!("   execution {status}");

    let status_deps = get_backtest_status::Deps {
        store: stack.store(),
        mlflow_ui: Some(tradai_tests::mlflow::endpoint().to_owned()),
    };
    let status_event = std::fs::read_to_string(root.join("events/get-backtest-status/valid.json"))?
        .replace("3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10", &run_id);
    let response = get_backtest_status::handle(&status_deps, events::request_from_json(&status_event)).await?;
    show(
        &format!("GET /backtest/{run_id}/status → HTTP {}", response.status()),
        &body_of(&response),
    );

    let notification = stack
        .messages(&local.inbox_url)
        .await
        .into_iter()
        .filter_map(|message| serde_json::from_str::<Value>(message.body().unwrap_or("null")).ok())
        .filter_map(|envelope| serde_json::from_str::<Value>(envelope["Message"].as_str()?).ok())
        .find(|message| message["run_id"] == run_id.as_str());
    show("SNS notification", &notification.unwrap_or(Value::Null));
    let results = stack
        .keys_in(&stack.results_bucket, &format!("results/{run_id}/"))
        .await;
    show(
        &format!("s3://{}/results/{run_id}/", stack.results_bucket),
        &json!(results),
    );
    let temporaries = stack.keys_in(&stack.config_bucket, &format!("temp/{run_id}/")).await;
    println!("\ntemp/{run_id}/ left behind: {}", temporaries.len());
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    if status == "SUCCEEDED" {
        Ok(())
    } else {
        Err(format!("the workflow ended {status}").into())
    }
}
