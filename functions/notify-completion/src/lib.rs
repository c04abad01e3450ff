//! NotifyCompletion: publishes how a backtest ended, with `status` and `strategy` attributes subscribers filter on
//! (`tradai::workflow::completion`). Answers the state with `notification: {message_id, status}` added.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tradai::metrics::{BacktestMetrics, EmfMetrics, Metrics};
use tradai::notify::Notifier;
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::store::WorkflowStore;
use tradai::workflow::StepInput;
use tradai::workflow::completion::{RunEnding, notify_completion};

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    /// `NOTIFICATION_TOPIC_ARN`: the SNS topic.
    pub topic_arn: String,
    pub workflow_table: String,
    /// `ENVIRONMENT`: the stage, the metrics' dimension.
    pub environment: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            topic_arn: env.arn("NOTIFICATION_TOPIC_ARN", "sns")?,
            workflow_table: env.workflow_table()?,
            environment: env.environment(),
        })
    }
}

/// What the step needs: the topic, and the job table for events that carry only the run id.
pub struct Deps<N, S, M = EmfMetrics<std::io::Stdout>> {
    pub notifier: N,
    pub store: S,
    /// Where each ended run's outcome and durations go, once per notification.
    pub metrics: BacktestMetrics<M>,
}

/// Answers the state with `notification: {message_id, status}` added.
pub async fn handle<N: Notifier, S: WorkflowStore, M: Metrics>(
    deps: &Deps<N, S, M>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let state = StepInput::<RunEnding>::parse(event.payload)?;
    let notified = notify_completion(&deps.notifier, &deps.store, &state.input).await?;
    // After the publish, so that a retried notification (one that failed) counts once.
    deps.metrics.ended_job(&deps.store, state.input.run_id).await;
    Ok(state.answer(&notified)?)
}
