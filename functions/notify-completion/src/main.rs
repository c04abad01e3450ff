//! `notify-completion` — the workflow's NotifyCompletion step (Step Functions → Lambda).
//! Input: the workflow state (`run_id`, `strategy_name`, and `error` on the failure path), or from the rule on
//! ended executions `{run_id, execution_status}` (the rest is read from the job). Output: the state with
//! `notification: {message_id, status}`. Publishes a JSON message with attributes `status` and `strategy`.
//! Errors: `InvalidInput` (no or malformed run_id), `TransientDependency` (SNS failed; the state machine retries).
//! Environment: NOTIFICATION_TOPIC_ARN (required), WORKFLOW_STATE_TABLE, ENVIRONMENT (the stage of the outcome
//! metrics: BacktestsCompleted, BacktestsFailed by step, QueueToStart/EndToEnd/EngineSeconds), AWS_ENDPOINT_URL
//! (local stack only).
//! IAM: sns:Publish on the topic; dynamodb:GetItem on the table.

use notify_completion::{Deps, Settings, handle};
use tradai::notify::SnsTopic;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        notifier: SnsTopic::new(aws_sdk_sns::Client::new(&aws), settings.topic_arn),
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
        metrics: tradai::metrics::BacktestMetrics::stdout(settings.environment),
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
