//! `list-backtests` — GET /backtests (API Gateway HTTP API, payload 2.0).
//! Input: query `status` (one of PENDING, QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED; all when absent),
//! `limit` (1 to 100, default 20), `cursor` (the previous page's `next_cursor`).
//! Output: 200 `{backtests: [status report...], next_cursor}` newest first; 400 naming the parameter; 503 when
//! DynamoDB is unavailable.
//! Environment: WORKFLOW_STATE_TABLE, MLFLOW_TRACKING_URI (links), AWS_ENDPOINT_URL (local stack only).
//! IAM: dynamodb:Query on the table's status-created_at-index.

use list_backtests::{Deps, Settings, handle};
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
        mlflow_ui: settings.mlflow_ui,
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
