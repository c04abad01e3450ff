//! `notify-completion` — the workflow's NotifyCompletion step (Step Functions → Lambda).
//! Input: the workflow state (`run_id`, `strategy_name`, and `error` on the failure path). Output: the state with
//! `notification: {message_id, status}`. Publishes a JSON message with attributes `status` and `strategy`.
//! Errors: `InvalidInput` (no or malformed run_id), `TransientDependency` (SNS failed; the state machine retries).
//! Environment: NOTIFICATION_TOPIC_ARN (required), AWS_ENDPOINT_URL (local stand-ins only).
//! IAM: sns:Publish on the topic.

use notify_completion::{Deps, handle};
use tradai::settings::Settings;

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
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
