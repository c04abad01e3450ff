//! `cancel-backtest` — POST /backtest/{run_id}/cancel (API Gateway HTTP API, payload 2.0).
//! Input: the run id path parameter. Output: 200 `{run_id, status: "CANCELLED", previous_status, stop_requested}`;
//! 400 malformed run id; 404 unknown; 409 when the job already finished (COMPLETED or FAILED); 503 when DynamoDB,
//! Step Functions or ECS is unavailable (the job is then CANCELLED already; cancelling again retries the stop).
//! Environment: WORKFLOW_STATE_TABLE, ECS_CLUSTER (tasks whose ARN names no cluster), BACKTEST_WORKFLOW_ARN (the
//! execution named by the run id is stopped when none is recorded yet), ENVIRONMENT (the stage of the
//! BacktestsCancelled metric), AWS_ENDPOINT_URL (local only).
//! IAM: dynamodb:GetItem and dynamodb:UpdateItem on the table; states:StopExecution on the backtest workflow's
//! executions; ecs:StopTask on the cluster's tasks.

use cancel_backtest::{Deps, Settings, handle};
use tradai::executor::AwsStopper;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
        stopper: AwsStopper::new(
            aws_sdk_sfn::Client::new(&aws),
            aws_sdk_ecs::Client::new(&aws),
            settings.ecs_cluster,
        )
        .with_workflow(settings.workflow_arn),
        metrics: tradai::metrics::BacktestMetrics::stdout(settings.environment),
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
