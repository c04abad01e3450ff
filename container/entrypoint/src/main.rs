//! `tradai-entrypoint` — the strategy container's entrypoint (ECS Fargate, or a local process).
//! Input: the container environment of the original design (RUN_ID, STRATEGY, TIMEFRAME, TIMERANGE, PAIRS,
//! STRATEGY_VERSION, EXPERIMENT_NAME, S3_RESULTS_BUCKET, MARKET_DATA_S3_URI, EXCHANGE, DYNAMODB_TABLE /
//! WORKFLOW_STATE_TABLE, MLFLOW_TRACKING_URI, CONFIG_PATH, TRADING_MODE) plus ENGINE_COMMAND, HEARTBEAT_SECONDS,
//! MLFLOW_WAIT_SECONDS, STOP_GRACE_SECONDS, WORK_DIR, LAUNCHED_BY; for TRADING_MODE=hyperopt also HYPEROPT_EPOCHS,
//! HYPEROPT_LOSS, HYPEROPT_RANDOM_STATE.
//! With TRADING_MODE=live or dry_run it trades instead: STRATEGY_NAME + STRATEGY_STAGE (an alias) → the version's
//! `config_path` tag → the config from S3 → CONFIG_OVERRIDES merged over it → the engine's trade mode (TRADE_COMMAND),
//! serving GET /health on HEALTH_PORT (8080) while it runs.
//! Output: the job's status in DynamoDB; the exit code says how the run ended (see `entrypoint::exit`).
//! IAM (task role): dynamodb:GetItem and dynamodb:UpdateItem on the job table; s3:PutObject on
//! `results/*` of the results bucket; s3:GetObject on the config and market-data prefixes.

use std::future::Future;

use entrypoint::settings::Container;
use entrypoint::trade::TradeSettings;
use entrypoint::{Deps, EntrypointSettings, exit, run};
use tradai::mlflow::MlflowClient;
use tradai::report::chain;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() {
    tradai::telemetry::init();
    // The engine runs users' code as our user, with an environment that names no credentials (engine.rs); not
    // dumpable, this process's own environment under /proc (the task role's credentials address, MLflow's password)
    // is readable by root only, not by the engine.
    if let Err(error) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(%error, "could not make the process non-dumpable");
    }
    // Listening from the start: a SIGTERM before the engine runs is a stop, not the end of the process.
    let shutdown = terminated();
    let code = match Container::from_env(&Env::process()) {
        Ok(Container::Run(settings)) => run_job(&settings, shutdown).await,
        Ok(Container::Trade(settings)) => trade(&settings, shutdown).await,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            exit::CONFIGURATION
        }
    };
    std::process::exit(code);
}

/// A backtest or hyperopt of one job.
async fn run_job(settings: &EntrypointSettings, shutdown: impl Future<Output = ()>) -> i32 {
    let mlflow = match settings.mlflow.clone().map(MlflowClient::new).transpose() {
        Ok(mlflow) => mlflow,
        Err(error) => {
            tracing::error!(error = %chain(&error), "cannot build the MLflow client");
            return exit::CONFIGURATION;
        }
    };
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
        mlflow,
        // The run names the bucket of each thing it reads or writes: configs, candles and results.
        objects: tradai::aws::s3_objects(&aws, ""),
    };
    run(settings, &deps, shutdown).await.exit_code()
}

/// Live and dry-run: MLflow-centric loading, the engine's trade mode, /health on HEALTH_PORT.
async fn trade(settings: &TradeSettings, shutdown: impl Future<Output = ()>) -> i32 {
    let registry = match MlflowClient::new(settings.mlflow.clone()) {
        Ok(registry) => registry,
        Err(error) => {
            tracing::error!(error = %chain(&error), "cannot build the MLflow client");
            return exit::CONFIGURATION;
        }
    };
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    // The version's `config_path` names the bucket.
    let objects = tradai::aws::s3_objects(&aws, "");
    entrypoint::trade::trade(settings, &registry, &objects, shutdown).await
}

/// Completes when the process receives SIGTERM; the handler is installed when this is called, not when polled.
fn terminated() -> impl Future<Output = ()> {
    let listener = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        match listener {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    }
}
