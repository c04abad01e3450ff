//! `ready` — GET /ready (API Gateway HTTP API, payload 2.0).
//! Input: none. Output: 200 `{status: "ready", checks: {mlflow, dynamodb, "s3:<bucket>": {ok, latency_ms, error?}}}`
//! or 503 with `status: "not_ready"` and the failing checks' errors; each check has a 2 s timeout, all run at once.
//! Environment: WORKFLOW_STATE_TABLE, MLFLOW_TRACKING_URI (required), MARKET_DATA_S3_URI, S3_CONFIG_BUCKET,
//! S3_RESULTS_BUCKET (each bucket set is checked), AWS_ENDPOINT_URL (local stack only).
//! IAM: dynamodb:GetItem on the table; s3:ListBucket on each bucket (HeadBucket).

use ready::{Deps, Settings, handle};
use tradai::mlflow::MlflowClient;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        mlflow: MlflowClient::new(settings.mlflow)?,
        table: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
        buckets: settings
            .buckets
            .iter()
            .map(|(name, bucket)| (name.clone(), tradai::aws::s3_objects(&aws, bucket)))
            .collect(),
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
