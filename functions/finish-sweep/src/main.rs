//! `finish-sweep` — the sweep workflow's FinishSweep step (Step Functions → Lambda), and the target of the rule on
//! sweep executions that ended early.
//! Input: the sweep workflow's state, with `sweep_id` and, when the map failed, `error: {Error, Cause}`; or, from the
//! rule, `{sweep_id, execution_status}`. Output: the state with `finished: {status, error?, leaderboard_uri,
//! picture_uri, best_run_id?, mlflow_run_id?}`. Errors: `InvalidInput` (no such sweep, a malformed state), `TransientDependency`
//! (DynamoDB or S3 failed; the state machine retries).
//! Environment: WORKFLOW_STATE_TABLE, SWEEP_TABLE, S3_RESULTS_BUCKET (required), MLFLOW_TRACKING_URI and its
//! credentials (the parent run; without it the sweep is not tracked), AWS_ENDPOINT_URL (local only).
//! IAM: dynamodb:GetItem and dynamodb:UpdateItem on the sweep table; dynamodb:BatchGetItem on the job table;
//! s3:PutObject on sweeps/* of the results bucket.

use finish_sweep::{Deps, Settings, handle};
use tradai::mlflow::MlflowClient;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;
use tradai::sweep::DynamoDbSweeps;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        sweeps: DynamoDbSweeps::new(dynamodb.clone(), &settings.sweep_table),
        jobs: DynamoDbStore::new(dynamodb, &settings.workflow_table),
        results: tradai::aws::s3_objects(&aws, &settings.results_bucket),
        tracker: settings.mlflow.map(MlflowClient::new).transpose()?,
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
