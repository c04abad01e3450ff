//! `rerun-backtest` — POST /backtest/{run_id}/rerun (API Gateway HTTP API, payload 2.0).
//! Input: the run id path parameter; header `Idempotency-Key` (optional, as submit-backtest: the same key for the
//! same original answers with the first re-run, for another original 422). Output: 202 `{run_id, status,
//! status_url, rerun_of}`: a new job pinned to the original's manifest (`results/{run_id}/manifest.json`: version,
//! image digest, config, object versions), run without the result cache; 400 malformed run id or key; 404
//! unknown; 409 when the run has no manifest (its inputs were never planned) or is a hyperopt (seeded by its run
//! id); 503 when DynamoDB, S3 or the executor is unavailable.
//! Environment: WORKFLOW_STATE_TABLE, IDEMPOTENCY_TABLE, S3_RESULTS_BUCKET, EXECUTOR_MODE and what it needs (as
//! submit-backtest), ENVIRONMENT (the stage of the BacktestsSubmitted metric), AWS_ENDPOINT_URL (local stack only).
//! IAM: dynamodb:GetItem, dynamodb:PutItem and dynamodb:UpdateItem on the job table; dynamodb:PutItem,
//! dynamodb:GetItem and dynamodb:DeleteItem on the idempotency table; s3:GetObject on results/*; sqs:SendMessage
//! on the queue (sqs mode).

use rerun_backtest::{Deps, Settings, handle};
use tradai::executor::Executor;
use tradai::idempotency::DynamoDbKeys;
use tradai::jobs::Launch;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let Settings { launch, results_bucket } = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&launch.aws).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        launch: Launch {
            store: DynamoDbStore::new(dynamodb.clone(), &launch.workflow_table),
            launcher: Executor::new(&launch.executor, launch.context, &aws),
            keys: DynamoDbKeys::new(dynamodb, &launch.idempotency_table),
            metrics: tradai::metrics::BacktestMetrics::stdout(launch.environment),
        },
        results: tradai::aws::s3_objects(&aws, &results_bucket),
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
