//! The `tradai` binary end to end, as a quant developer types it, against the local HTTP API of the tests' local
//! deployment (recorded as the local stack, as `tradai up` records itself): a Freqtrade data folder pushed (Parquet
//! and JSON candles, the markets snapshot), a strategy of their own registered from its folder (pushed as the local
//! image), backtested with real Freqtrade and watched to COMPLETED with trades; an
//! unregistered version watched to FAILED with its exit code; a run cancelled mid-way is CANCELLED. The completed
//! run's container output is read back with `tradai logs`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tradai_cli::exit;
use tradai_tests::deployment::{self, own_strategy, stack_record};
use tradai_tests::project_root;

/// The bases of each real-Freqtrade test's own two pairs (`tradai_tests::candles::MARKETS` lists them): the tests
/// share one deployment's market data, and a pair one test pushed would be another's to overwrite.
const CLI_BASES: [&str; 2] = ["CLIA", "CLIB"];
const SWEEP_BASES: [&str; 2] = ["SWEEPA", "SWEEPB"];
const WALK_BASES: [&str; 2] = ["WALKA", "WALKB"];

/// `bases` as pairs against USDT.
fn pairs_of(bases: [&str; 2]) -> [String; 2] {
    bases.map(|base| format!("{base}/USDT"))
}

/// What one `tradai` command did.
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Ran {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {self}"))
    }
}

/// A `tradai --json smoke` report's checks: (name, passed), in order.
pub(crate) fn checks_of(report: &Value) -> Vec<(&str, bool)> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|check| (check["name"].as_str().expect("a name"), check["passed"] == true))
        .collect()
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `tradai --state STATE ARGS`, not told of any API by the environment.
pub(crate) fn tradai_command(state: &Path, args: &[&str]) -> tokio::process::Command {
    let binary = tradai_local::debug_binary("tradai");
    assert!(binary.exists(), "build the CLI first: cargo build -p tradai-cli");
    let mut command = tokio::process::Command::new(binary);
    command
        .arg("--state")
        .arg(state)
        .args(args)
        .env_remove("TRADAI_API_URL")
        .env_remove("TRADAI_STAGE");
    command
}

/// Runs `command` to its end.
pub(crate) async fn ran(mut command: tokio::process::Command) -> Ran {
    let output = command.output().await.expect("tradai runs");
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn tradai(state: &Path, args: &[&str]) -> Ran {
    ran(tradai_command(state, args)).await
}

/// A state folder `.stand-ins/{folder}-{id}` recording the stack, with the sample strategy registered through the
/// CLI as `{prefix}{id}` and, when `data` says, its days of generated candles of its two bases pushed: the start of
/// each sweep test. Answers the folder
/// and the strategy's name.
async fn registered_strategy(
    local: &tradai_local::Deployment,
    folder: &str,
    prefix: &str,
    data: Option<(usize, [&str; 2])>,
) -> (PathBuf, String) {
    let id = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let state: PathBuf = project_root().join(format!(".stand-ins/{folder}-{id}"));
    stack_record(local, &state);
    let name = format!("{prefix}{id}");
    let strategy = state.join("strategy");
    own_strategy(&strategy, &name);
    if let Some((days, bases)) = data {
        let data = state.join("data");
        tradai_tests::candles::sample_folder_of(&data, days, bases).expect("a data folder");
        let data_arg = data.display().to_string();
        let pushed = tradai(&state, &["data", "push", &data_arg, "--exchange", "binance"]).await;
        assert_eq!(pushed.code, 0, "{pushed}");
    }
    let strategy_arg = strategy.display().to_string();
    let registered = tradai(&state, &["--json", "strategy", "register", &strategy_arg]).await;
    assert_eq!(registered.code, 0, "{registered}");
    assert!(
        registered.json()["tags"]["parameters"]
            .as_str()
            .is_some_and(|declared| declared.contains("buy_ema_fast")),
        "strategy.yaml's parameters are declared: {registered}"
    );
    (state, name)
}

/// `tradai submit` of `name` on `pairs` (comma-separated) from `from` to `to`, with `version`'s arguments.
fn submit_args<'a>(
    name: &'a str,
    pairs: &'a str,
    (from, to): (&'a str, &'a str),
    version: &'a [&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "--json",
        "submit",
        name,
        "--pairs",
        pairs,
        "--timeframe",
        "5m",
        "--from",
        from,
        "--to",
        to,
        "--override",
        "max_open_trades=2",
    ];
    args.extend_from_slice(version);
    args
}

#[tokio::test]
async fn a_strategy_registered_and_backtested_through_the_cli_completes_fails_or_is_cancelled() {
    let local = deployment::shared();
    let id = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let state: PathBuf = project_root().join(format!(".stand-ins/cli-{id}"));
    stack_record(local, &state);
    let name = format!("EmaCli{id}");
    let folder = state.join("strategy");
    own_strategy(&folder, &name);
    let data = state.join("data");
    tradai_tests::candles::sample_folder_of(&data, 30, CLI_BASES).expect("a data folder");
    let pushed = tradai(
        &state,
        &[
            "--json",
            "data",
            "push",
            &data.display().to_string(),
            "--exchange",
            "binance",
        ],
    )
    .await;
    assert_eq!(pushed.code, 0, "{pushed}");
    let files = pushed.json()["files"].as_array().cloned().unwrap_or_default();
    let pairs = pairs_of(CLI_BASES);
    let joined = pairs.join(",");
    assert_eq!(files.len(), pairs.len(), "{pushed}");
    assert!(files.iter().all(|file| file["candles"] == 30 * 288), "{pushed}");
    let fresh = tradai(&state, &["freshness", &pairs[0], &pairs[1], "--timeframe", "5m"]).await;
    assert!(fresh.code == 0 && fresh.stdout.contains("yes"), "{fresh}");

    let folder_arg = folder.display().to_string();
    let registered = tradai(&state, &["--json", "strategy", "register", &folder_arg]).await;
    assert_eq!(registered.code, 0, "{registered}");
    let release = registered.json();
    assert_eq!(
        (&release["created"], &release["aliases"]),
        (&json!(true), &json!(["production"])),
        "{registered}"
    );
    let again = tradai(&state, &["--json", "strategy", "register", &folder_arg]).await;
    assert_eq!((again.code, &again.json()["created"]), (0, &json!(false)), "{again}");
    let shown = tradai(&state, &["strategy", &name]).await;
    assert!(shown.code == 0 && shown.stdout.contains("production"), "{shown}");

    let today = chrono::Utc::now().date_naive();
    let (from, to) = ((today - chrono::TimeDelta::days(25)).to_string(), today.to_string());
    let watched = tradai(
        &state,
        &[submit_args(&name, &joined, (&from, &to), &[]), vec!["--watch"]].concat(),
    )
    .await;
    assert_eq!(watched.code, i32::from(exit::OK), "{watched}");
    let report = watched.json();
    assert_eq!(report["status"], "COMPLETED", "{watched}");
    assert!(
        report["result"]["total_trades"]
            .as_u64()
            .is_some_and(|trades| trades > 0),
        "{watched}"
    );
    let run_id = report["run_id"].as_str().expect("run_id");
    let chart = state.join("equity.svg");
    let result = tradai(&state, &["result", run_id, "--chart", &chart.display().to_string()]).await;
    assert_eq!(result.code, 0, "{result}");
    let svg = std::fs::read_to_string(&chart).expect("the chart written");
    assert!(
        svg.starts_with("<svg") && svg.contains("drawdown"),
        "the equity chart, downloaded by its link: {svg:.200}"
    );
    assert!(result.stdout.contains("chart written to"), "{result}");
    assert!(
        result.stdout.contains("trades") && result.stdout.contains("max drawdown"),
        "{result}"
    );
    let per_pair = report["result"]["per_pair"].as_array().cloned().unwrap_or_default();
    assert!(!per_pair.is_empty(), "a per-pair table: {watched}");
    let pair = per_pair[0]["pair"].as_str().expect("a pair");
    assert!(
        pairs.iter().any(|own| own == pair) && result.stdout.contains(pair),
        "{result}"
    );
    // What the container printed, shipped to CloudWatch Logs by the task's awslogs configuration.
    let logs = tradai(&state, &["logs", run_id]).await;
    assert_eq!(logs.code, 0, "{logs}");
    assert!(logs.stdout.starts_with("── task "), "{logs}");
    assert!(
        logs.stdout.contains("starting the engine") && logs.stdout.contains("freqtrade - INFO"),
        "the entrypoint's and Freqtrade's own lines: {logs}"
    );
    let followed = tradai(&state, &["--json", "logs", run_id, "--follow"]).await;
    assert_eq!(
        followed.code, 0,
        "an ended run's log is followed to its end: {followed}"
    );
    let lines: Vec<Value> = followed
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
        .collect();
    assert_eq!(
        lines.len(),
        logs.stdout.lines().count() - 1,
        "every line once, in both forms: {followed}"
    );

    let unregistered = tradai(
        &state,
        &[
            submit_args(&name, &joined, (&from, &to), &["--version", "999"]),
            vec!["--watch"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(unregistered.code, i32::from(exit::FAILED), "{unregistered}");
    assert_eq!(unregistered.json()["status"], "FAILED", "{unregistered}");

    // The inputs ran already: without --no-cache the job would be answered at once, with nothing to cancel.
    let submitted = tradai(&state, &submit_args(&name, &joined, (&from, &to), &["--no-cache"])).await;
    assert_eq!(submitted.code, 0, "{submitted}");
    let run_id = submitted.json()["run_id"].as_str().expect("run_id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = tradai(&state, &["--json", "status", &run_id]).await;
        let now = status.json()["status"].as_str().unwrap_or_default().to_owned();
        if now == "QUEUED" || now == "RUNNING" {
            break;
        }
        assert!(now == "PENDING" && Instant::now() < deadline, "not under way: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cancelled = tradai(&state, &["cancel", &run_id]).await;
    assert_eq!(cancelled.code, 0, "{cancelled}");
    let status = tradai(&state, &["status", &run_id]).await;
    assert_eq!(status.code, i32::from(exit::CANCELLED), "{status}");
    assert!(status.stdout.contains("CANCELLED"), "{status}");
    std::fs::remove_dir_all(&state).ok();
}

/// The acceptance's 3 × 2 grid with real Freqtrade on the local stack, through the CLI: the estimate first, then
/// six COMPLETED children whose leaderboard numbers are their own summaries, the best marked, the picture written,
/// and an MLflow parent run with the six children's runs nested under it.
#[tokio::test]
async fn a_grid_swept_through_the_cli_with_real_freqtrade_ranks_six_completed_children() {
    let local = deployment::shared();
    let (state, name) = registered_strategy(local, "cli-sweep", "EmaSweep", Some((30, SWEEP_BASES))).await;
    let pairs = pairs_of(SWEEP_BASES).join(",");

    let today = chrono::Utc::now().date_naive();
    let (from, to) = ((today - chrono::TimeDelta::days(25)).to_string(), today.to_string());
    let sweep = |extra: &'static [&'static str]| {
        let mut args = submit_args(&name, &pairs, (&from, &to), &[]);
        args[1] = "sweep";
        args.extend([
            "--param",
            "buy_ema_fast=5,8,12",
            "--param",
            "buy_ema_slow=21,30",
            "--max-concurrency",
            "3",
        ]);
        args.extend_from_slice(extra);
        args
    };
    let estimated = tradai(&state, &sweep(&["--estimate"])).await;
    assert_eq!(estimated.code, 0, "{estimated}");
    assert_eq!(
        (estimated.json()["runs"].as_u64(), estimated.json()["dry_run"].as_bool()),
        (Some(6), Some(true))
    );
    let watched = tradai(&state, &sweep(&["--watch"])).await;
    assert_eq!(watched.code, i32::from(exit::OK), "{watched}");
    let report = watched.json();
    assert_eq!(report["status"], "COMPLETED", "{watched}");
    assert_eq!(report["progress"]["completed"], 6, "{watched}");
    let rows = report["leaderboard"]["rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 6);
    for row in &rows {
        let run_id = row["run_id"].as_str().expect("a run id");
        let child = tradai(&state, &["--json", "status", run_id]).await.json();
        assert_eq!(child["status"], "COMPLETED", "{child}");
        for metric in ["sharpe", "profit_total_pct", "total_trades", "max_drawdown_pct"] {
            let (shown, own) = (row["metrics"][metric].as_f64(), child["result"][metric].as_f64());
            let close = matches!((shown, own), (Some(a), Some(b)) if (a - b).abs() <= 1e-9 * b.abs().max(1.0));
            assert!(
                close,
                "{metric} of {run_id}: {shown:?} on the leaderboard, {own:?} its own"
            );
        }
    }
    assert_eq!(
        (rows[0]["rank"].as_u64(), rows[0]["best"].as_bool()),
        (Some(1), Some(true)),
        "{watched}"
    );
    let trades: Vec<u64> = rows
        .iter()
        .filter_map(|row| row["metrics"]["total_trades"].as_u64())
        .collect();
    assert!(
        trades.iter().any(|count| *count != trades[0]),
        "the parameters changed the trades: {trades:?}"
    );

    let sweep_id = report["sweep_id"].as_str().expect("a sweep id");
    let human = tradai(&state, &["sweep-status", sweep_id]).await;
    assert!(
        human.code == 0 && human.stdout.contains("buy_ema_fast") && human.stdout.contains("1*"),
        "{human}"
    );
    let parent = report["mlflow_run_id"].as_str().expect("a parent run");
    let nested = tradai_tests::mlflow::nested_runs(&format!("backtests/{name}"), parent)
        .await
        .len();
    assert_eq!(nested, 6, "six children nested under the parent run");
    let artifacts = tradai_tests::mlflow::artifacts(parent, "sweep").await;
    assert!(artifacts.contains(&"sweep/leaderboard.svg".to_owned()), "{artifacts:?}");
    std::fs::remove_dir_all(&state).ok();
}

/// The acceptance's walk-forward with real Freqtrade on the local stack, through the CLI: 3 windows of 6 training and
/// 3 test days over generated candles. Each window's hyperopt runs in the workflow (the container's hyperopt mode)
/// and its out-of-sample backtest runs with the parameters it found; the report puts in-sample beside
/// out-of-sample per window, and the leaderboard file stitches the out-of-sample trades into one curve.
#[tokio::test]
async fn a_walk_forward_with_real_freqtrade_fits_each_window_in_sample_and_stitches_the_out_of_sample_trades() {
    use tradai::objects::ObjectStore;
    use tradai_tests::deployment::DeploymentStack;

    let local = deployment::shared();
    let (state, name) = registered_strategy(local, "cli-walk", "EmaWalk", Some((20, WALK_BASES))).await;
    let pairs = pairs_of(WALK_BASES).join(",");

    let today = chrono::Utc::now().date_naive();
    let (from, to) = ((today - chrono::TimeDelta::days(16)).to_string(), today.to_string());
    let mut args = submit_args(&name, &pairs, (&from, &to), &[]);
    args[1] = "sweep";
    args.extend([
        "--walk-forward",
        "windows=3,train_days=6,test_days=3,epochs=8,loss=OnlyProfitHyperOptLoss",
        "--max-concurrency",
        "3",
        "--watch",
    ]);
    let watched = tradai(&state, &args).await;
    assert_eq!(watched.code, i32::from(exit::OK), "{watched}");
    let report = watched.json();
    assert_eq!(
        (report["status"].as_str(), report["progress"]["completed"].as_u64()),
        (Some("COMPLETED"), Some(6)),
        "{watched}"
    );
    let windows = report["windows"].as_array().cloned().unwrap_or_default();
    assert_eq!(windows.len(), 3, "{watched}");
    for window in &windows {
        let (inside, outside) = (&window["in_sample"], &window["out_of_sample"]);
        assert!(
            window["parameters"]["buy.buy_ema_fast"].is_number(),
            "the window's hyperopt found parameters: {window}"
        );
        let hyperopt = tradai(&state, &["--json", "status", inside["run_id"].as_str().expect("a run")])
            .await
            .json();
        assert_eq!(hyperopt["status"], "COMPLETED", "{hyperopt}");
        assert_eq!(hyperopt["result"]["mode"], "hyperopt", "{hyperopt}");
        assert_eq!(hyperopt["result"]["params"], window["parameters"]);
        let in_profit = hyperopt["result"]["metrics"]["profit_total"]
            .as_f64()
            .map(|ratio| ratio * 100.0);
        let shown = inside["metrics"]["profit_total_pct"].as_f64();
        assert!(
            matches!((shown, in_profit), (Some(a), Some(b)) if (a - b).abs() < 1e-9),
            "in-sample profit {shown:?} against the hyperopt's own {in_profit:?}"
        );
        let backtest = tradai(
            &state,
            &["--json", "status", outside["run_id"].as_str().expect("a run")],
        )
        .await
        .json();
        assert_eq!(backtest["status"], "COMPLETED", "{backtest}");
        for metric in ["sharpe", "profit_total_pct", "total_trades"] {
            assert_eq!(
                outside["metrics"][metric].as_f64(),
                backtest["result"][metric].as_f64(),
                "out-of-sample {metric} of window {}",
                window["index"]
            );
        }
        assert_eq!(
            backtest["result"]["backtest_start"].as_str().map(|start| &start[..10]),
            window["test_start"].as_str(),
            "the out-of-sample backtest ran the window's test days"
        );
    }
    let human = tradai(&state, &["sweep-status", report["sweep_id"].as_str().expect("an id")]).await;
    assert!(
        human.stdout.contains("walk-forward") && human.stdout.contains("OOS %/day"),
        "{human}"
    );

    let stack = local.stack().await;
    let results = tradai::objects::S3Objects::new(stack.s3.clone(), &stack.results_bucket);
    let folder = format!("sweeps/{}", report["sweep_id"].as_str().expect("an id"));
    let board = results
        .get(&format!("{folder}/leaderboard.json"))
        .await
        .expect("read")
        .expect("the walk-forward's file");
    let board: Value = serde_json::from_slice(&board).expect("JSON");
    let stitched = &board["out_of_sample"];
    assert_eq!(stitched["windows"], 3, "{stitched}");
    let equity = stitched["equity"].as_array().cloned().unwrap_or_default();
    let trades: u64 = windows
        .iter()
        .filter_map(|window| window["out_of_sample"]["metrics"]["total_trades"].as_f64())
        .map(|trades| trades as u64)
        .sum();
    assert_eq!(stitched["total_trades"].as_u64(), Some(trades), "{stitched}");
    assert_eq!(
        equity.len() as u64,
        trades + 3,
        "a starting point and a point per trade per window"
    );
    let order: Vec<u64> = equity.iter().filter_map(|point| point["window"].as_u64()).collect();
    assert!(order.windows(2).all(|pair| pair[0] <= pair[1]), "{order:?}");
    assert_eq!(
        equity.last().and_then(|point| point["balance"].as_f64()),
        stitched["final_balance"].as_f64()
    );
    let picture = results
        .get(&format!("{folder}/leaderboard.svg"))
        .await
        .expect("read")
        .expect("the stitched curve");
    assert!(String::from_utf8_lossy(&picture).contains("walk-forward out-of-sample equity"));
    let parent = report["mlflow_run_id"].as_str().expect("a parent run");
    let nested = tradai_tests::mlflow::nested_runs(&format!("backtests/{name}"), parent)
        .await
        .len();
    assert_eq!(nested, 6, "the hyperopts and backtests nested under the parent run");
    std::fs::remove_dir_all(&state).ok();
}

/// A data folder of one pair's 5m candles (Parquet) and a markets snapshot listing only that pair.
fn one_pair_folder(folder: &Path, base: &str) {
    std::fs::create_dir_all(folder).expect("a data folder");
    let file = tradai_tests::candles::CandleFile::ending_at(
        tradai::time::Timestamp::now(),
        chrono::TimeDelta::minutes(5),
        288,
    );
    std::fs::write(folder.join(format!("{base}_USDT-5m.parquet")), file.to_parquet()).expect("candles");
    let markets = json!([tradai_tests::candles::market(base)]).to_string();
    std::fs::write(folder.join("markets.json"), markets).expect("markets");
}

#[tokio::test]
async fn markets_pushed_with_merge_keep_the_exchanges_others_and_data_is_deleted_by_name() {
    let local = deployment::shared();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let state: PathBuf = project_root().join(format!(".stand-ins/cli-data-{}", &id[..8]));
    stack_record(local, &state);
    // An exchange folder of this test's own: the snapshot it edits is no other test's.
    let exchange = format!("t{}", &id[..10]);
    let bases = [
        format!("A{}", id[..6].to_uppercase()),
        format!("B{}", id[..6].to_uppercase()),
    ];
    let push = |base: &str, merge: bool| {
        let folder = state.join(base);
        one_pair_folder(&folder, base);
        let folder = folder.display().to_string();
        let exchange = exchange.clone();
        let state = state.clone();
        async move {
            let mut args = vec!["--json", "data", "push", &folder, "--exchange", &exchange];
            if merge {
                args.push("--merge-markets");
            }
            tradai(&state, &args).await
        }
    };
    let first = push(&bases[0], true).await;
    assert_eq!(first.code, 0, "{first}");
    let second = push(&bases[1], true).await;
    assert_eq!(second.code, 0, "{second}");
    let key = second.json()["markets"]["key"]
        .as_str()
        .expect("a snapshot written")
        .to_owned();
    let s3 = aws_sdk_s3::Client::new(&tradai_local::moto::sdk_config_for(&local.endpoint).await);
    let snapshot = |key: String| {
        let s3 = s3.clone();
        let bucket = local.resources.market_data_bucket.clone();
        async move {
            let object = s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .expect("the snapshot");
            let bytes = object.body.collect().await.expect("its bytes").into_bytes();
            serde_json::from_slice::<Value>(&bytes).expect("JSON")
        }
    };
    let symbols = |markets: &Value| -> Vec<String> {
        markets
            .as_array()
            .expect("a list")
            .iter()
            .map(|market| market["symbol"].as_str().expect("a symbol").to_owned())
            .collect()
    };
    let pairs = bases.clone().map(|base| format!("{base}/USDT"));
    assert_eq!(
        symbols(&snapshot(key.clone()).await),
        pairs,
        "merged, the first pair's market kept"
    );
    let again = push(&bases[1], true).await;
    assert_eq!(again.json()["markets"]["unchanged"], true, "nothing to merge: {again}");
    let replaced = push(&bases[1], false).await;
    assert_eq!(replaced.code, 0, "{replaced}");
    assert_eq!(
        symbols(&snapshot(key.clone()).await),
        pairs[1..],
        "without --merge-markets, replaced"
    );

    let deleted = tradai(
        &state,
        &[
            "--json",
            "data",
            "delete",
            &pairs[0],
            &pairs[1],
            "--timeframe",
            "5m",
            "--exchange",
            &exchange,
            "--markets",
        ],
    )
    .await;
    assert_eq!(deleted.code, 0, "{deleted}");
    assert_eq!(deleted.json()["deleted"].as_array().map(Vec::len), Some(3), "{deleted}");
    let listed = tradai(&state, &["--json", "data", "list", "--exchange", &exchange]).await;
    assert_eq!(listed.json()["datasets"], json!([]), "{listed}");
    let twice = tradai(
        &state,
        &[
            "data",
            "delete",
            &pairs[0],
            "--timeframe",
            "5m",
            "--exchange",
            &exchange,
        ],
    )
    .await;
    assert!(twice.code == 0 && twice.stdout.contains("not there"), "{twice}");
    let refused = tradai(&state, &["data", "delete", "--exchange", "Nope!", "--markets"]).await;
    assert_eq!(refused.code, i32::from(exit::BAD_INPUT), "{refused}");
    assert!(refused.stderr.contains("exchange"), "{refused}");
    std::fs::remove_dir_all(&state).ok();
}

#[tokio::test]
async fn a_smoke_whose_registration_is_refused_fails_naming_that_check_and_pushes_nothing() {
    let local = deployment::shared();
    let state: PathBuf = project_root().join(format!(
        ".stand-ins/cli-smoke-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    stack_record(local, &state);
    let sample = project_root().join("container/engine").display().to_string();
    let missing = "123456789012.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:not-pushed";
    let smoke = tradai(&state, &["--json", "smoke", "--strategy", &sample, "--image", missing]).await;
    assert_eq!(smoke.code, i32::from(exit::ERROR), "{smoke}");
    let report = smoke.json();
    let checks = checks_of(&report);
    assert_eq!(
        checks,
        [("health", true), ("ready", true), ("image", true), ("register", false)],
        "nothing after a failed check that needs it, no cleanup of a push never made: {report}"
    );
    assert_eq!(report["passed"], false);
    assert!(
        report["checks"][3]["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("image")),
        "{report}"
    );
    let unreachable = tradai(
        &state,
        &[
            "smoke",
            "--strategy",
            &sample,
            "--api",
            &format!("http://127.0.0.1:{}", tradai_tests::free_port()),
        ],
    )
    .await;
    assert_eq!(unreachable.code, i32::from(exit::UNREACHABLE), "{unreachable}");
    std::fs::remove_dir_all(&state).ok();
}

#[tokio::test]
async fn without_an_api_the_cli_says_how_to_get_one_and_exits_unreachable() {
    let state = project_root().join(format!(".stand-ins/cli-none-{}", uuid::Uuid::new_v4().simple()));
    let ran = tradai(&state, &["list"]).await;
    assert_eq!(ran.code, i32::from(exit::UNREACHABLE), "{ran}");
    assert!(ran.stderr.contains("tradai up"), "{ran}");
    let port = tradai_tests::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let ran = tradai(
        &state,
        &["--api", &url, "status", "3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10"],
    )
    .await;
    assert_eq!(ran.code, i32::from(exit::UNREACHABLE), "{ran}");
    let ran = tradai(
        &state,
        &[
            "submit",
            "EmaCross",
            "--pairs",
            "BTC/USDT",
            "--timeframe",
            "5m",
            "--from",
            "x",
        ],
    )
    .await;
    assert_eq!(ran.code, i32::from(exit::BAD_INPUT), "a usage error: {ran}");
}

#[tokio::test]
async fn up_detached_serves_the_local_stack_and_passes_the_smoke_until_down_stops_it() {
    let state = project_root().join(format!(".stand-ins/cli-up-{}", uuid::Uuid::new_v4().simple()));
    let up = tradai(&state, &["up", "--detach"]).await;
    assert_eq!(up.code, 0, "{up}");
    let running = tradai_cli::stack::running(&state).expect("the stack is recorded and runs");
    assert!(
        up.stdout.contains(&running.api_url) && up.stdout.contains(&running.mlflow_url),
        "{up}"
    );
    let health = reqwest::get(format!("{}/health", running.api_url))
        .await
        .expect("the API answers");
    assert_eq!(health.status().as_u16(), 200);
    let mlflow = reqwest::get(format!("{}/health", running.mlflow_url))
        .await
        .expect("MLflow answers");
    assert_eq!(mlflow.status().as_u16(), 200);
    let listed = tradai(&state, &["list"]).await;
    assert!(listed.code == 0 && listed.stdout.contains("no backtests"), "{listed}");

    // The post-deploy check, as a person runs it after `tradai up`: every check passes, and its data is gone.
    let sample = project_root().join("container/engine").display().to_string();
    let smoke = tradai(&state, &["--json", "smoke", "--strategy", &sample]).await;
    assert_eq!(smoke.code, 0, "{smoke}");
    let report = smoke.json();
    let checks = checks_of(&report);
    let names = [
        "health", "ready", "image", "register", "candles", "backtest", "result", "cache", "cancel", "cleanup",
    ];
    assert_eq!(checks, names.map(|name| (name, true)), "{report}");
    let data = tradai(&state, &["--json", "data", "list"]).await.json();
    assert_eq!(data["datasets"], json!([]), "the smoke's candles are gone");

    let twice = tradai(&state, &["up", "--detach"]).await;
    assert_eq!(twice.code, i32::from(exit::BAD_INPUT), "{twice}");
    assert!(twice.stderr.contains("already up"), "{twice}");

    let down = tradai(&state, &["down"]).await;
    assert_eq!(down.code, 0, "{down}");
    assert!(tradai_cli::stack::running(&state).is_none(), "stopped");
    let gone = reqwest::get(format!("{}/health", running.api_url)).await;
    assert!(gone.is_err(), "the API is gone: {gone:?}");
    let listed = tradai(&state, &["list"]).await;
    assert_eq!(listed.code, i32::from(exit::UNREACHABLE), "{listed}");
    std::fs::remove_dir_all(&state).ok();
}

/// Writes a Feather candle file with Freqtrade's own data handler (pandas, Arrow IPC, LZ4) into `folder`.
fn freqtrade_feather(folder: &Path) -> PathBuf {
    let python = project_root().join(".stand-ins/freqtrade/bin/python");
    let script = r#"
import sys
from pathlib import Path
import numpy as np, pandas as pd
from freqtrade.data.history.datahandlers.featherdatahandler import FeatherDataHandler
from freqtrade.enums import CandleType
folder = Path(sys.argv[1]); folder.mkdir(parents=True, exist_ok=True)
n = 1000
close = 100.0 + np.sin(np.arange(n) / 20.0)
frame = pd.DataFrame({"date": pd.date_range("2026-01-05", periods=n, freq="5min", tz="UTC"),
    "open": close - 0.1, "high": close + 0.2, "low": close - 0.3, "close": close, "volume": np.full(n, 7.5)})
FeatherDataHandler(folder).ohlcv_store("BTC/USDT", "5m", frame, CandleType.SPOT)
"#;
    let status = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(folder)
        .status()
        .expect("Freqtrade's Python runs");
    assert!(status.success(), "Freqtrade wrote the file");
    folder.join("BTC_USDT-5m.feather")
}

#[test]
fn freqtrades_own_feather_files_read_as_it_wrote_them() {
    let folder = project_root().join(format!(".stand-ins/feather-{}", uuid::Uuid::new_v4().simple()));
    let file = freqtrade_feather(&folder);
    let candles = tradai_cli::feather::read(std::fs::read(&file).expect("the file")).expect("read");
    assert_eq!(candles.len(), 1000);
    assert_eq!(
        candles.date_ms[0], 1_767_571_200_000,
        "2026-01-05T00:00Z in milliseconds"
    );
    assert_eq!(candles.date_ms[999] - candles.date_ms[0], 999 * 300_000);
    assert!((candles.prices[3][0] - 100.0).abs() < 1e-12, "close");
    assert!((candles.prices[1][0] - 100.2).abs() < 1e-12, "high");
    assert!(candles.prices[4].iter().all(|volume| *volume == 7.5));
    let stored = candles.to_parquet().expect("Parquet");
    let again = tradai::market_data::candles::Candles::from_parquet(stored).expect("read back");
    assert_eq!(again, candles, "stored as read");
    let found = tradai_cli::push::scan(&folder).expect("found");
    assert_eq!(
        (found[0].pair.as_str(), found[0].format),
        ("BTC/USDT", tradai_cli::push::Format::Feather)
    );
    std::fs::remove_dir_all(&folder).ok();
}

/// The summary of a report without what names its run (the links to its files) or measures its machine (how long
/// the engine took).
fn numbers(report: &Value) -> Value {
    let mut result = report["result"].clone();
    if let Some(fields) = result.as_object_mut() {
        fields.retain(|key, _| !key.ends_with("_uri") && key != "engine_seconds");
    }
    result
}

/// The acceptance of re-runs with real Freqtrade: a run; then one pair's candle file is uploaded again with other
/// candles and the image tag is moved to an image that cannot run the strategy; the same request is now other inputs (a
/// cache miss, run fresh, and `tradai diff` names that file and pair and the metric deltas), but `tradai rerun` of
/// the first run reads the original object versions and digest, and its summary equals the original's number for
/// number.
#[tokio::test]
async fn a_rerun_after_the_data_and_the_tag_moved_reads_the_original_inputs_and_repeats_the_result() {
    let local = deployment::shared();
    let (state, name) = registered_strategy(local, "rerun", "EmaRerun", None).await;
    // Two pairs of this test's own: the deployment's market data is shared with other tests.
    let (first_pair, second_pair) = ("RERUNA/USDT".to_owned(), "RERUNB/USDT".to_owned());
    let push = |days: usize, pairs: Vec<String>| {
        let state = state.clone();
        async move {
            let folder = state.join(format!("data-{days}-{}", pairs.len()));
            std::fs::create_dir_all(&folder).expect("a data folder");
            let candles = tradai_tests::candles::CandleFile::ending_at(
                tradai::time::Timestamp::now(),
                chrono::TimeDelta::minutes(5),
                days * 288,
            );
            for pair in &pairs {
                let base = pair.trim_end_matches("/USDT");
                std::fs::write(folder.join(format!("{base}_USDT-5m.parquet")), candles.to_parquet()).expect("candles");
            }
            std::fs::write(folder.join("markets.json"), tradai_tests::candles::markets_json()).expect("markets");
            let pushed = tradai(
                &state,
                &["data", "push", &folder.display().to_string(), "--exchange", "binance"],
            )
            .await;
            assert_eq!(pushed.code, 0, "{pushed}");
        }
    };
    push(12, vec![first_pair.clone(), second_pair.clone()]).await;
    let pairs = format!("{first_pair},{second_pair}");
    let today = chrono::Utc::now().date_naive();
    let (from, to) = ((today - chrono::TimeDelta::days(10)).to_string(), today.to_string());
    let submit = |extra: &'static [&'static str]| {
        let mut args = vec![
            "--json",
            "submit",
            name.as_str(),
            "--pairs",
            pairs.as_str(),
            "--timeframe",
            "5m",
        ];
        args.extend([
            "--from",
            from.as_str(),
            "--to",
            to.as_str(),
            "--override",
            "max_open_trades=2",
            "--watch",
        ]);
        args.extend_from_slice(extra);
        args
    };
    let first = tradai(&state, &submit(&[])).await;
    assert_eq!(first.code, i32::from(exit::OK), "{first}");
    let original = first.json();
    assert_eq!(original["status"], "COMPLETED", "{first}");
    let original_id = original["run_id"].as_str().expect("run_id").to_owned();
    let sdk = local.sdk_config().await;
    let results = tradai::objects::S3Objects::new(tradai::aws::s3_client(&sdk), &local.resources.results_bucket);
    let manifest_of = |run_id: String| {
        let results = results.clone();
        async move {
            let bytes = tradai::objects::ObjectStore::get(&results, &format!("results/{run_id}/manifest.json"))
                .await
                .expect("read")
                .expect("a manifest");
            serde_json::from_slice::<tradai::run_manifest::RunManifest>(&bytes).expect("a manifest")
        }
    };
    let planned = manifest_of(original_id.clone()).await;

    // The first pair's candles downloaded again (a day more), and the tag moved to an image without the strategy.
    push(13, vec![first_pair.clone()]).await;
    let image = tradai::images::ImageRef::parse(&planned.strategy.image).expect("an image URL");
    let tradai::images::ImageReference::Tag(tag) = &image.reference else {
        panic!("registered by tag: {}", planned.strategy.image);
    };
    let empty = state.join("no-strategy");
    std::fs::create_dir_all(&empty).expect("a folder");
    tradai_local::images::push(&sdk, &empty, &image.repository, tag)
        .await
        .expect("the tag moved");

    let again = tradai(&state, &submit(&[])).await;
    assert_eq!(
        again.json()["cached_from"],
        Value::Null,
        "new candles are other inputs: {again}"
    );
    assert_eq!(
        again.json()["status"],
        "COMPLETED",
        "the version still runs its digest: {again}"
    );

    let rerun = tradai(&state, &["--json", "rerun", &original_id, "--watch"]).await;
    assert_eq!(rerun.code, i32::from(exit::OK), "{rerun}");
    let repeated = rerun.json();
    assert_eq!(repeated["status"], "COMPLETED", "{rerun}");
    assert_ne!(repeated["run_id"], original["run_id"]);
    assert_eq!(numbers(&repeated), numbers(&original), "number for number");
    let pinned = manifest_of(repeated["run_id"].as_str().expect("run_id").to_owned()).await;
    assert_eq!(pinned.strategy.digest, planned.strategy.digest);
    assert_eq!(pinned.data, planned.data, "the original object versions");
    assert_eq!(pinned.fingerprint(), planned.fingerprint());

    // Why the fresh run differs: that one file and pair, over the dates its candles changed, and the metrics.
    let again_id = again.json()["run_id"].as_str().expect("run_id").to_owned();
    let diff = tradai(&state, &["--json", "diff", &original_id, &again_id]).await;
    assert_eq!(diff.code, 0, "{diff}");
    let diff = diff.json();
    assert_eq!(diff["same_inputs"], false);
    let files = diff["data"].as_array().cloned().unwrap_or_default();
    let changed: Vec<&Value> = files.iter().map(|file| &file["pair"]).collect();
    assert_eq!(
        changed,
        [&json!(first_pair)],
        "only the first pair's file changed: {diff}"
    );
    assert!(
        files[0]["candles"]["first"].is_string(),
        "the dates it changed over: {diff}"
    );
    assert!(diff["parameters"].as_array().is_some_and(Vec::is_empty), "{diff}");
    assert!(
        diff["metrics"].as_array().is_some_and(|metrics| metrics
            .iter()
            .any(|metric| metric["name"] == "total_trades" && metric["delta"].is_number())),
        "{diff}"
    );
    let shown = tradai(&state, &["diff", &original_id, &again_id]).await;
    assert!(
        shown.stdout.contains(&first_pair) && shown.stdout.contains("metrics"),
        "{shown}"
    );
    let same = tradai(
        &state,
        &["--json", "diff", &original_id, repeated["run_id"].as_str().expect("id")],
    )
    .await;
    assert_eq!(same.json()["same_inputs"], true, "{same}");
    std::fs::remove_dir_all(&state).ok();
}
