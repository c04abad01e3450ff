//! `sqs-consumer` — the backtest FIFO queue's consumer (SQS event source mapping, batches of 10,
//! `ReportBatchItemFailures`), for EXECUTOR_MODE=sqs.
//! Input: SQS records whose bodies are backtest jobs (`{run_id, strategy_name, …}`, as submit-backtest queues them).
//! Output: `{batchItemFailures: [{itemIdentifier}]}` — the first record that failed and every record after it; the
//! others are deleted. A job that is no longer QUEUED (cancelled, running, ended) is not launched.
//! Launch: LAUNCH_MODE `stepfunctions` (default; an execution named by the run id, "already exists" counts as
//! launched) or `ecs` (RunTask with the run id as client token); the execution or task ARN is recorded on the job.
//! Environment: WORKFLOW_STATE_TABLE, LAUNCH_MODE, BACKTEST_WORKFLOW_ARN (stepfunctions), ECS_CLUSTER,
//! ECS_TASK_PREFIX, ECS_SUBNETS, ECS_SECURITY_GROUPS, ECS_CONTAINER_NAME, MLFLOW_TRACKING_URI, S3_RESULTS_BUCKET,
//! MARKET_DATA_S3_URI (ecs), AWS_ENDPOINT_URL (local stack only).
//! IAM: dynamodb:GetItem and UpdateItem on the job table; states:StartExecution on the backtest workflow (or
//! ecs:RunTask and iam:PassRole of the strategy roles); the queue's receive and delete (the event source mapping).

use sqs_consumer::{Deps, Settings, handle};
use tradai::executor::Executor;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
        launcher: Executor::new(&settings.launch, settings.context, &aws),
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
