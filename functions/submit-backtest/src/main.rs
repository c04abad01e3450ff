//! `submit-backtest` — POST /backtest (API Gateway HTTP API, payload 2.0).
//! Input: JSON `{strategy_name, strategy_version, experiment_name?, config: {timeframe, symbols, start_date,
//! end_date, config_overrides?}}`. Output: 202 `{run_id, status, status_url}`; 400 naming the field; 503 when
//! DynamoDB or the executor is unavailable (a job the executor refused is recorded FAILED, never left QUEUED).
//! Header `Idempotency-Key` (optional): the same key and body within 24 h answer with the first job
//! (header `idempotent-replayed: true`); the same key with another body gets 422.
//! Environment: WORKFLOW_STATE_TABLE, IDEMPOTENCY_TABLE, EXECUTOR_MODE (unset → PENDING, `sqs`, `stepfunctions`,
//! `ecs`), BACKTEST_QUEUE_URL (sqs), BACKTEST_WORKFLOW_ARN (stepfunctions), ECS_CLUSTER, ECS_TASK_PREFIX,
//! ECS_SUBNETS, ECS_SECURITY_GROUPS, ECS_CONTAINER_NAME, MLFLOW_TRACKING_URI, S3_RESULTS_BUCKET (ecs),
//! ENVIRONMENT (the stage of the BacktestsSubmitted metric), AWS_ENDPOINT_URL (local stack only).
//! IAM: dynamodb:PutItem, dynamodb:GetItem and dynamodb:UpdateItem on the job table; dynamodb:PutItem,
//! dynamodb:GetItem and dynamodb:DeleteItem on the idempotency table; sqs:SendMessage on the queue (sqs mode).

use submit_backtest::{Deps, Settings, handle};
use tradai::executor::Executor;
use tradai::idempotency::DynamoDbKeys;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        store: DynamoDbStore::new(dynamodb.clone(), &settings.workflow_table),
        launcher: Executor::new(&settings.executor, settings.context, &aws),
        keys: DynamoDbKeys::new(dynamodb, &settings.idempotency_table),
        metrics: tradai::metrics::BacktestMetrics::stdout(settings.environment),
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
