//! `get-backtest-logs` — GET /backtest/{run_id}/logs (API Gateway HTTP API, payload 2.0).
//! Input: the run id path parameter; `next_token` and `limit` (1–10 000 lines, default 1 000) query parameters.
//! Output: 200 `{run_id, status, tasks: [{task_arn, capacity_provider?, log_group?, log_stream?}],
//! lines: [{task, timestamp, message}], next_token, complete}`; 400 naming the field; 404 for an unknown run id;
//! 503 when a dependency is unavailable.
//! Environment: WORKFLOW_STATE_TABLE, AWS_ENDPOINT_URL (local stack only).
//! IAM: dynamodb:GetItem on the table, states:GetExecutionHistory on the workflow's executions,
//! ecs:DescribeTasks on the cluster's tasks, ecs:DescribeTaskDefinition, logs:GetLogEvents on the strategy log group.

use get_backtest_logs::{Deps, Settings, handle};
use tradai::run_logs::{AwsRunTasks, CloudWatchLogs};
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let ecs = aws_sdk_ecs::Client::new(&aws);
    let deps = Deps {
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
        tasks: AwsRunTasks::new(aws_sdk_sfn::Client::new(&aws), ecs.clone()),
        logs: CloudWatchLogs::new(aws_sdk_cloudwatchlogs::Client::new(&aws), ecs),
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
