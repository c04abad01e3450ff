//! `mark-failed` — the workflow's MarkFailed step (Step Functions → Lambda), reached from every state's Catch.
//! Input: the workflow state with `error: {Error, Cause}` and `failed_step`. Output: the state with `error.Cause`
//! as one line and `job_status` (FAILED, or the status the job already ended in: CANCELLED, or FAILED with the
//! container's own reason).
//! Errors: `InvalidInput` (no or malformed run_id, unknown job), `TransientDependency` (DynamoDB; retried).
//! Environment: WORKFLOW_STATE_TABLE, AWS_ENDPOINT_URL (local stack only).
//! IAM: dynamodb:GetItem and dynamodb:UpdateItem on the table.

use mark_failed::{Deps, Settings, handle};
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
