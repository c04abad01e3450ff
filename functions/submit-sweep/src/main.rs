//! `submit-sweep` — POST /sweeps (API Gateway HTTP API, payload 2.0).
//! Input: JSON: the fields of POST /backtest (the base every child runs) plus `space` (`{"grid": {name: [values]}}`
//! or `{"random": {"samples", "seed"?, "ranges": {name: {low, high} | {choices}}}}`), `rank_by`, `max_concurrency`,
//! `tolerated_failure_percentage`, `dry_run`. Output: 202 `{sweep_id, status, strategy_name, strategy_version, runs,
//! estimate, dry_run, status_url}`; 200 with the estimate only for a dry run; 400 naming the field (an unknown or
//! undeclared parameter, an empty range, too many combinations, an unregistered version), nothing recorded; 503
//! when MLflow, DynamoDB, S3 or Step Functions is unavailable.
//! Environment: MLFLOW_TRACKING_URI (required) and its credentials, WORKFLOW_STATE_TABLE, SWEEP_TABLE,
//! S3_CONFIG_BUCKET, SWEEP_WORKFLOW_ARN, STRATEGY_TASK_CPU, STRATEGY_TASK_MEMORY, AWS_ENDPOINT_URL (local only).
//! IAM: dynamodb:PutItem, dynamodb:UpdateItem and dynamodb:GetItem on the sweep table; dynamodb:PutItem,
//! dynamodb:UpdateItem and dynamodb:Query (the status index, for past runs' engine times) on the job table;
//! s3:PutObject on `sweeps/*` of the configs bucket; states:StartExecution on the sweep workflow.

use submit_sweep::{Deps, Settings, handle};
use tradai::mlflow::MlflowClient;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;
use tradai::sweep::{DynamoDbSweeps, StepFunctionsSweeps};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        registry: MlflowClient::new(settings.mlflow)?,
        jobs: DynamoDbStore::new(dynamodb.clone(), &settings.workflow_table),
        sweeps: DynamoDbSweeps::new(dynamodb, &settings.sweep_table),
        items: tradai::aws::s3_objects(&aws, &settings.config_bucket),
        launcher: StepFunctionsSweeps::new(aws_sdk_sfn::Client::new(&aws), settings.sweep_workflow_arn),
        task: settings.task,
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
