//! `tradai-entrypoint` — the strategy container's entrypoint (ECS Fargate, or a local process).
//! Input: the container environment of the original design (RUN_ID, STRATEGY, TIMEFRAME, TIMERANGE, PAIRS,
//! STRATEGY_VERSION, EXPERIMENT_NAME, S3_RESULTS_BUCKET, MARKET_DATA_S3_URI, EXCHANGE, DYNAMODB_TABLE / WORKFLOW_STATE_TABLE, MLFLOW_TRACKING_URI, CONFIG_PATH, TRADING_MODE) plus
//! ENGINE_COMMAND, HEARTBEAT_SECONDS, MLFLOW_WAIT_SECONDS, STOP_GRACE_SECONDS, WORK_DIR, LAUNCHED_BY.
//! Output: the job's status in DynamoDB; the exit code says how the run ended (see `entrypoint::exit`).
//! IAM (task role): dynamodb:GetItem and dynamodb:UpdateItem on the job table; s3:PutObject on
//! `results/*` of the results bucket; s3:GetObject on the config and market-data prefixes.

use entrypoint::{EntrypointSettings, exit, run};
use tradai::mlflow::{MlflowClient, MlflowOptions};
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() {
    tradai::telemetry::init();
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
    let shutdown = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
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
