//! Sweeps as deployed: `statemachine/sweep.asl.json` with the template's substitutions, executed by moto's Step
//! Functions engine (its Distributed Map, and `startExecution.sync:2` with the launcher's casing patch) behind the
//! local router; every child is an execution of the backtest workflow whose RunBacktest is the real entrypoint,
//! started by the local ECS. Submitted, read and cancelled through the local HTTP API as a client would, and
//! checked against the children's own records, never only the workflow's status.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tradai::backtest::Status;
use tradai::store::WorkflowStore;
use tradai::sweep::{SweepId, SweepStore};
use tradai_local::Deployment;
use tradai_tests::deployment::{self, DeploymentStack, call, deploy_strategy};
use tradai_tests::freqtrade;
use tradai_tests::stack::Stack;

/// A stand-in engine that reads the parameter file the entrypoint wrote beside the strategy (`$2/<Name>.json`) and
/// answers the result made for its `buy_ema_fast`; a `fail-<fast>-<slow>` file beside it makes that combination
/// fail as Freqtrade does, and `slow` makes every run take a while (until it is stopped).
const BY_PARAMETERS: &str = r#"here="$(dirname "$0")"
file="$(ls "$2"/*.json)"
fast=$(sed -n 's/.*"buy_ema_fast": *\([0-9]*\).*/\1/p' "$file")
slow=$(sed -n 's/.*"buy_ema_slow": *\([0-9]*\).*/\1/p' "$file")
if [ -e "$here/slow" ]; then trap 'exit 143' TERM; sleep 60 & wait $!; fi
if [ -e "$here/fail-$fast-$slow" ]; then
  echo "2026-11-24 06:00:00,000 - freqtrade - ERROR - asked to fail for $fast/$slow" >&2
  exit 1
fi
cp "$here/result-$fast.zip" "$1/backtest-result-2026-11-24_06-00-00.zip"
echo '{}' > "$1/backtest-result-2026-11-24_06-00-00.meta.json"
echo '{"latest_backtest": "backtest-result-2026-11-24_06-00-00.zip"}' > "$1/.last_result.json""#;

/// Closed trades (day, profit) per `buy_ema_fast` of the 3 × 2 grid: 8 does best, 12 worst.
const RESULTS: &[(u32, &[(i64, f64)])] = &[
    (5, &[(1, 10.0), (2, -5.0), (3, 4.0)]),
    (8, &[(1, 40.0), (2, -10.0), (3, 25.0)]),
    (12, &[(1, 5.0), (2, -20.0), (3, 2.0)]),
];

/// A strategy whose task runs [`BY_PARAMETERS`], declaring EmaCross's parameters, with fresh candles.
struct SweptStrategy {
    name: String,
    folder: PathBuf,
    /// The pair whose candles it reads, its own.
    pair: String,
}

async fn swept_strategy(stack: &Stack) -> SweptStrategy {
    let name = format!("Sw{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let folder = tradai_tests::project_root().join(format!(".stand-ins/sweep-{name}"));
    let strategies = folder.join("strategies");
    std::fs::create_dir_all(&strategies).expect("folder");
    std::fs::write(
        strategies.join(format!("{name}.py")),
        format!("class {name}(IStrategy):\n    pass\n"),
    )
    .expect("strategy");
    for (fast, trades) in RESULTS {
        let result = freqtrade::result_json(&name, trades);
        std::fs::write(
            folder.join(format!("result-{fast}.zip")),
            freqtrade::result_zip(&result),
        )
        .expect("result");
    }
    let script = folder.join("engine.sh");
    std::fs::write(&script, format!("#!/bin/sh\n{BY_PARAMETERS}\n")).expect("engine");
    let command = json!([
        "sh",
        script.display().to_string(),
        "{backtest_directory}",
        "{strategy_path}"
    ])
    .to_string();
    let environment = [
        ("ENGINE_COMMAND", command),
        ("STRATEGY_PATH", strategies.display().to_string()),
        ("WORK_DIR", folder.join("work").display().to_string()),
        ("HEARTBEAT_SECONDS", "1".to_owned()),
        ("STOP_GRACE_SECONDS", "5".to_owned()),
        ("MLFLOW_WAIT_SECONDS", "30".to_owned()),
    ];
    let base = b"stake_currency: USDT\nstake_amount: 100\nmax_open_trades: 2\nexchange:\n  name: binance\n";
    let image = deploy_strategy(stack, &name, base, &environment).await;
    // The release's declaration, as POST /strategies keeps it, on the version production names.
    let config = format!("s3://{}/strategies/{name}/base.yaml", stack.config_bucket);
    let declared = r#"{"buy_ema_fast":{"high":15,"low":4},"buy_ema_slow":{"high":50,"low":16}}"#;
    let tags: &[(&str, &str)] = &[("ecr_url", &image), ("config_path", &config), ("parameters", declared)];
    let versions = tradai_tests::mlflow::register(&name, &[tags], &[]).await;
    tradai_tests::mlflow::register(&name, &[], &[("production", versions[0])]).await;
    let pair = tradai_tests::candles::own_pair();
    stack.put_candles(&[&pair], 1, 300).await;
    SweptStrategy { name, folder, pair }
}

/// POST /sweeps of the 3 × 2 grid of `strategy` with `tolerated` percent of failures; answers the sweep id.
async fn submit(strategy: &SweptStrategy, tolerated: u32) -> SweepId {
    let body = json!({"strategy_name": strategy.name, "strategy_version": "production",
        "config": {"timeframe": "5m", "symbols": [strategy.pair], "start_date": "2026-01-05", "end_date": "2026-02-04"},
        "space": {"grid": {"buy_ema_fast": [5, 8, 12], "buy_ema_slow": [21, 30]}},
        "max_concurrency": 3, "tolerated_failure_percentage": tolerated});
    let (status, answer) = call(reqwest::Method::POST, "/sweeps", Some(body)).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["runs"], 6);
    answer["sweep_id"].as_str().expect("an id").parse().expect("a sweep id")
}

/// Waits for the sweep's execution to end; answers its status.
async fn finished(local: &Deployment, sweep_id: SweepId) -> String {
    let sfn = local.sfn().await;
    let execution = format!(
        "{}:{sweep_id}",
        local
            .sweep_state_machine_arn
            .replacen(":stateMachine:", ":execution:", 1)
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let described = sfn.describe_execution().execution_arn(&execution).send().await;
        if let Ok(described) = described
            && described.status.as_str() != "RUNNING"
        {
            tracing::info!(%sweep_id, status = %described.status.as_str(), error = ?described.error, cause = ?described.cause,
                "the sweep's execution ended");
            return described.status.as_str().to_owned();
        }
        assert!(Instant::now() < deadline, "sweep {sweep_id} still running after 300 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn report(sweep_id: SweepId) -> Value {
    let (status, report) = call(reqwest::Method::GET, &format!("/sweeps/{sweep_id}"), None).await;
    assert_eq!(status, 200, "{report}");
    report
}

#[tokio::test]
async fn a_grid_runs_every_child_through_the_backtest_workflow_and_ranks_them_as_their_own_summaries_say() {
    let local = deployment::shared();
    let stack = local.stack().await;
    let strategy = swept_strategy(&stack).await;
    let sweep_id = submit(&strategy, 0).await;
    assert_eq!(finished(local, sweep_id).await, "SUCCEEDED");

    let report = report(sweep_id).await;
    assert_eq!(report["status"], "COMPLETED", "{report}");
    assert_eq!(report["progress"]["completed"], 6, "{report}");
    let children = stack
        .store()
        .get_many(&(0..6).map(|index| sweep_id.child(index)).collect::<Vec<_>>())
        .await
        .expect("read");
    assert!(
        children.iter().all(|child| child.status == Status::Completed),
        "{children:?}"
    );
    let rows = report["leaderboard"]["rows"].as_array().expect("rows");
    for row in rows {
        let child = children
            .iter()
            .find(|child| child.run_id.to_string() == row["run_id"].as_str().unwrap_or_default())
            .expect("every row is a child");
        let summary = child.result.as_ref().expect("a summary");
        for metric in ["sharpe", "profit_total_abs", "total_trades", "max_drawdown_pct"] {
            // Equal to the last digit JSON carries (serde_json's default parser may round the last bit).
            let (shown, own) = (row["metrics"][metric].as_f64(), summary[metric].as_f64());
            let close = matches!((shown, own), (Some(a), Some(b)) if (a - b).abs() <= 1e-12 * b.abs().max(1.0));
            assert!(close, "{metric} of {}: {shown:?} shown, {own:?} its own", child.run_id);
        }
        assert_eq!(
            row["parameters"],
            serde_json::to_value(&child.config.parameters).expect("JSON"),
            "the row's parameters are the child's"
        );
    }
    // buy_ema_fast 8 made the best trades; of its two children the first in the grid is marked.
    let best = sweep_id.child(2).to_string();
    assert_eq!(report["leaderboard"]["best"], best.as_str(), "{report}");
    assert_eq!(
        (rows[0]["run_id"].as_str(), rows[0]["best"].as_bool()),
        (Some(best.as_str()), Some(true))
    );
    assert_eq!(rows[0]["parameters"], json!({"buy_ema_fast": 8, "buy_ema_slow": 21}));
    // MLflow: a parent run with the six children's runs nested under it.
    let parent = report["mlflow_run_id"].as_str().expect("a parent run").to_owned();
    let experiment = format!("backtests/{}", strategy.name);
    let nested = tradai_tests::mlflow::nested_runs(&experiment, &parent).await;
    assert_eq!(nested.len(), 6, "the children are nested under the parent run {parent}");
    for file in ["leaderboard.json", "leaderboard.svg"] {
        let keys = stack
            .keys_in(&stack.results_bucket, &format!("sweeps/{sweep_id}/"))
            .await;
        assert!(keys.contains(&format!("sweeps/{sweep_id}/{file}")), "{keys:?}");
    }
    std::fs::remove_dir_all(&strategy.folder).ok();
}

#[tokio::test]
async fn a_failing_child_within_the_tolerance_is_named_and_beyond_it_fails_the_sweep_saying_why() {
    let local = deployment::shared();
    let stack = local.stack().await;
    let strategy = swept_strategy(&stack).await;
    std::fs::write(strategy.folder.join("fail-12-30"), "").expect("marker");

    let tolerated = submit(&strategy, 20).await;
    assert_eq!(finished(local, tolerated).await, "SUCCEEDED");
    let report = report(tolerated).await;
    assert_eq!(report["status"], "COMPLETED", "{report}");
    assert_eq!(
        (
            report["progress"]["completed"].as_u64(),
            report["progress"]["failed"].as_u64()
        ),
        (Some(5), Some(1))
    );
    let failed = tolerated.child(5).to_string();
    assert_eq!(report["failures"][0]["run_id"], failed.as_str(), "{report}");
    assert_eq!(report["failures"][0]["failed_step"], "RunBacktest");

    let beyond = submit(&strategy, 10).await;
    assert_eq!(finished(local, beyond).await, "FAILED");
    let report = self::report(beyond).await;
    assert_eq!(report["status"], "FAILED", "{report}");
    let reason = report["error"].as_str().expect("a reason");
    assert!(
        reason.starts_with("1 of 6 children did not complete (16.7%), more than the tolerated 10%"),
        "{reason}"
    );
    assert!(reason.contains(&beyond.child(5).to_string()), "{reason}");
    let record = stack.sweeps().get(beyond).await.expect("read").expect("there");
    assert_eq!(record.status, Status::Failed);
    std::fs::remove_dir_all(&strategy.folder).ok();
}

#[tokio::test]
async fn a_cancelled_sweep_leaves_every_child_cancelled() {
    let local = deployment::shared();
    let stack = local.stack().await;
    let strategy = swept_strategy(&stack).await;
    std::fs::write(strategy.folder.join("slow"), "").expect("marker");
    let sweep_id = submit(&strategy, 0).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while report(sweep_id).await["progress"]["running"].as_u64().unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "no child started");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, cancelled) = call(reqwest::Method::POST, &format!("/sweeps/{sweep_id}/cancel"), None).await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("CANCELLED")),
        "{cancelled}"
    );
    assert_eq!(cancelled["children_cancelled"], 6, "every child was unfinished");
    assert_eq!(finished(local, sweep_id).await, "ABORTED");
    let report = report(sweep_id).await;
    assert_eq!(
        (report["status"].as_str(), report["progress"]["cancelled"].as_u64()),
        (Some("CANCELLED"), Some(6)),
        "{report}"
    );
    // Nothing runs on: every child stays CANCELLED and its container is stopped.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let children = stack
            .store()
            .get_many(&(0..6).map(|index| sweep_id.child(index)).collect::<Vec<_>>())
            .await
            .expect("read");
        assert!(
            children.iter().all(|child| child.status == Status::Cancelled),
            "{children:?}"
        );
        let running = (0..6).any(|index| local.ecs.running_for(&sweep_id.child(index).to_string()));
        if !running {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a child's container still runs 60 s after the cancel"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    std::fs::remove_dir_all(&strategy.folder).ok();
}
