//! `tradai-entrypoint` — the strategy container's entrypoint (ECS Fargate, or a local process).
//! Input: the container environment of the original design (RUN_ID, STRATEGY, TIMEFRAME, TIMERANGE, PAIRS,
//! STRATEGY_VERSION, EXPERIMENT_NAME, S3_RESULTS_BUCKET, MARKET_DATA_S3_URI, EXCHANGE, DYNAMODB_TABLE / WORKFLOW_STATE_TABLE, MLFLOW_TRACKING_URI, CONFIG_PATH, TRADING_MODE) plus
//! ENGINE_COMMAND, HEARTBEAT_SECONDS, MLFLOW_WAIT_SECONDS, STOP_GRACE_SECONDS, WORK_DIR, LAUNCHED_BY; for
//! TRADING_MODE=hyperopt also HYPEROPT_EPOCHS, HYPEROPT_LOSS, HYPEROPT_RANDOM_STATE.
//! With TRADING_MODE=live or dry_run it trades instead: STRATEGY_NAME + STRATEGY_STAGE (an alias) → the version's
//! `config_path` tag → the config from S3 → CONFIG_OVERRIDES merged over it → the engine's trade mode (TRADE_COMMAND),
//! serving GET /health on HEALTH_PORT (8080) while it runs.
//! Output: the job's status in DynamoDB; the exit code says how the run ended (see `entrypoint::exit`).
//! IAM (task role): dynamodb:GetItem and dynamodb:UpdateItem on the job table; s3:PutObject on
//! `results/*` of the results bucket; s3:GetObject on the config and market-data prefixes.

use entrypoint::{EntrypointSettings, exit, run};
use tradai::mlflow::{MlflowClient, MlflowOptions};
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() {
    tradai::telemetry::init();
    let mode = std::env::var("TRADING_MODE").unwrap_or_default();
    if mode == "live" || mode == "dry_run" {
        std::process::exit(trade_main().await);
    }
    let settings = match EntrypointSettings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            std::process::exit(exit::CONFIGURATION);
        }
    };
    let aws = aws_config_from_env().await;
    let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table);
    let mlflow = match settings
        .mlflow_tracking_uri
        .as_deref()
        .map(|uri| MlflowClient::new(MlflowOptions::new(uri)))
    {
        Some(Ok(client)) => Some(client),
        Some(Err(error)) => {
            tracing::error!(error = %tradai::report::chain(&error), "cannot build the MLflow client");
            std::process::exit(exit::CONFIGURATION);
        }
        None => None,
    };
    let shutdown = terminated();
    let results = settings
        .results_bucket
        .as_deref()
        .map(|bucket| tradai::market_data::S3Objects::new(tradai::aws::s3_client(&aws), bucket));
    let inputs = entrypoint::S3Inputs(tradai::aws::s3_client(&aws));
    let outcome = run(
        &settings,
        &store,
        mlflow.as_ref(),
        Some(&inputs),
        results.as_ref(),
        shutdown,
    )
    .await;
    std::process::exit(outcome.exit_code());
}

/// Live and dry-run: MLflow-centric loading, the engine's trade mode, /health on HEALTH_PORT.
async fn trade_main() -> i32 {
    let settings = match entrypoint::trade::TradeSettings::from_map(&std::env::vars().collect()) {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return exit::CONFIGURATION;
        }
    };
    let Some(uri) = std::env::var("MLFLOW_TRACKING_URI").ok().filter(|uri| !uri.is_empty()) else {
        tracing::error!("environment variable MLFLOW_TRACKING_URI: required to load the strategy");
        return exit::CONFIGURATION;
    };
    let registry = match MlflowClient::new(MlflowOptions::new(uri)) {
        Ok(registry) => registry,
        Err(error) => {
            tracing::error!(error = %tradai::report::chain(&error), "cannot build the MLflow client");
            return exit::CONFIGURATION;
        }
    };
    let aws = aws_config_from_env().await;
    let inputs = entrypoint::S3Inputs(tradai::aws::s3_client(&aws));
    entrypoint::trade::trade(&settings, &registry, &inputs, terminated()).await
}

/// Completes when the process receives SIGTERM.
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut terminate) => {
            terminate.recv().await;
        }
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM");
            std::future::pending::<()>().await;
        }
    }
}

async fn aws_config_from_env() -> aws_config::SdkConfig {
    let settings = tradai::settings::Settings::from_lookup(|name| match name {
        // The entrypoint needs only the endpoint override; executor settings are the launcher's business.
        "AWS_ENDPOINT_URL" => std::env::var(name).ok(),
        _ => None,
    });
    match settings {
        Ok(settings) => tradai::aws::sdk_config(&settings).await,
        Err(_) => aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
    }
}
