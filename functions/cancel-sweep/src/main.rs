//! `cancel-sweep` — POST /sweeps/{sweep_id}/cancel (API Gateway HTTP API, payload 2.0).
//! Input: the sweep id path parameter. Output: 200 `{sweep_id, status: "CANCELLED", previous_status,
//! children_cancelled, cancelled_by?}`; 400 malformed id; 404 unknown; 409 when the sweep already finished; 503 when
//! DynamoDB, Step Functions or ECS is unavailable (the sweep is then CANCELLED already; cancelling again retries).
//! Environment: WORKFLOW_STATE_TABLE, SWEEP_TABLE, SWEEP_WORKFLOW_ARN, BACKTEST_WORKFLOW_ARN, ECS_CLUSTER,
//! AWS_ENDPOINT_URL (local only).
//! IAM: dynamodb:GetItem and dynamodb:UpdateItem on the sweep table; dynamodb:BatchGetItem, dynamodb:GetItem and
//! dynamodb:UpdateItem on the job table; states:StopExecution on the sweep and backtest workflows' executions;
//! ecs:StopTask on the cluster's tasks.

use cancel_sweep::{Deps, Settings, handle};
use tradai::executor::AwsStopper;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;
use tradai::sweep::{DynamoDbSweeps, StepFunctionsSweeps};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let sfn = aws_sdk_sfn::Client::new(&aws);
    let deps = Deps {
        sweeps: DynamoDbSweeps::new(dynamodb.clone(), &settings.sweep_table),
        jobs: DynamoDbStore::new(dynamodb, &settings.workflow_table),
        launcher: StepFunctionsSweeps::new(sfn.clone(), settings.sweep_workflow_arn),
        stopper: AwsStopper::new(sfn, aws_sdk_ecs::Client::new(&aws), settings.ecs_cluster)
            .with_workflow(Some(settings.backtest_workflow_arn)),
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
