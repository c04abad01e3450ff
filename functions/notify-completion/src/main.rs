//! `notify-completion` — the workflow's NotifyCompletion step (Step Functions → Lambda).
//! Input: the workflow state (`run_id`, `strategy_name`, and `error` on the failure path), or from the rule on
//! ended executions `{run_id, execution_status}` (the rest is read from the job). Output: the state with
//! `notification: {message_id, status}`. Publishes a JSON message with attributes `status` and `strategy`.
//! Errors: `InvalidInput` (no or malformed run_id), `TransientDependency` (SNS failed; the state machine retries).
//! Environment: NOTIFICATION_TOPIC_ARN (required), WORKFLOW_STATE_TABLE, AWS_ENDPOINT_URL (local stand-ins only).
//! IAM: sns:Publish on the topic; dynamodb:GetItem on the table.

use notify_completion::{Deps, handle};
use tradai::settings::Settings;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env()?;
    let topic_arn = std::env::var("NOTIFICATION_TOPIC_ARN")
        .ok()
        .filter(|arn| arn.starts_with("arn:"))
        .ok_or("environment variable NOTIFICATION_TOPIC_ARN: required, an SNS topic ARN")?;
    let aws = tradai::aws::sdk_config(&settings).await;
    let deps = Deps {
        sns: aws_sdk_sns::Client::new(&aws),
        topic_arn,
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
