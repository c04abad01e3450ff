//! `transform-results` — the workflow's TransformResults step (Step Functions → Lambda).
//! Input: the workflow state after RunBacktest (`run_id`). Output: the state with `summary` (trades, win rate,
//! profit, drawdown, Sharpe, Sortino, Calmar, profit factor, duration, and where summary.json and equity.svg are).
//! Errors: `InvalidInput`, `MissingResult`, `InvalidResult`, `JobEnded` (cancelled meanwhile),
//! `TransientDependency` (S3, DynamoDB or MLflow; the state machine retries).
//! Environment: S3_RESULTS_BUCKET (required), WORKFLOW_STATE_TABLE, MLFLOW_TRACKING_URI (artifacts; optional),
//! MLFLOW_TRACKING_USERNAME/PASSWORD, AWS_ENDPOINT_URL.
//! IAM: s3:GetObject and s3:PutObject on results/* of the results bucket; dynamodb:GetItem and UpdateItem on the
//! table.

use tradai::mlflow::MlflowClient;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;
use transform_results::{Deps, Settings, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        results: tradai::aws::s3_objects(&aws, &settings.results_bucket),
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
        tracker: settings.mlflow.map(MlflowClient::new).transpose()?,
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
