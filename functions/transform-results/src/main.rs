//! `transform-results` — the workflow's TransformResults step (Step Functions → Lambda).
//! Input: the workflow state after RunBacktest (`run_id`). Output: the state with `summary` (trades, win rate,
//! profit, drawdown, Sharpe, Sortino, Calmar, profit factor, duration, and where summary.json and equity.svg are).
//! Errors: `InvalidInput`, `MissingResult`, `InvalidResult`, `JobEnded` (cancelled meanwhile),
//! `TransientDependency` (S3, DynamoDB or MLflow; the state machine retries).
//! Environment: S3_RESULTS_BUCKET (required), WORKFLOW_STATE_TABLE, MLFLOW_TRACKING_URI (artifacts; optional),
//! MLFLOW_TRACKING_USERNAME/PASSWORD, AWS_ENDPOINT_URL.
//! IAM: s3:GetObject and s3:PutObject on results/* of the results bucket; dynamodb:GetItem and UpdateItem on the
//! table.

use tradai::market_data::S3Objects;
use tradai::mlflow::MlflowClient;
use tradai::settings::Settings;
use tradai::store::DynamoDbStore;
use transform_results::{Deps, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env()?;
    let results_bucket = settings
        .results_bucket
        .clone()
        .ok_or("environment variable S3_RESULTS_BUCKET: required")?;
    let aws = tradai::aws::sdk_config(&settings).await;
    let tracker = match settings.mlflow_tracking_uri {
        Some(_) => Some(MlflowClient::new(settings.mlflow()?)?),
        None => None,
    };
    let deps = Deps {
        results: S3Objects::new(tradai::aws::s3_client(&aws), &results_bucket),
        results_bucket,
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
        tracker,
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
