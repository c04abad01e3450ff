//! `get-backtest-status` — GET /backtest/{run_id}/status (API Gateway HTTP API, payload 2.0).
//! Input: the run id path parameter. Output: 200 `{run_id, status, strategy_name, strategy_version,
//! experiment_name, created_at, updated_at, step?, result?, mlflow_url?, files?, error?, failed_step?}`; 400 for a
//! malformed run id; 404 for an unknown one; 503 when DynamoDB is unavailable.
//! Environment: WORKFLOW_STATE_TABLE, S3_RESULTS_BUCKET (links to result files), MLFLOW_TRACKING_URI (links),
//! AWS_ENDPOINT_URL (local stack only).
//! IAM: dynamodb:GetItem on the table, states:GetExecutionHistory on the workflow's executions, s3:GetObject on
//! `results/*` (the links are signed with the function's role).

use get_backtest_status::{Deps, Settings, handle};
use tradai::executor::StepFunctionsProgress;
use tradai::objects::S3Objects;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.jobs.aws).await;
    let deps = Deps {
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.jobs.workflow_table),
        mlflow_ui: settings.jobs.mlflow_ui,
        progress: StepFunctionsProgress::new(aws_sdk_sfn::Client::new(&aws)),
        files: S3Objects::new(tradai::aws::s3_client(&aws), &settings.results_bucket),
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
