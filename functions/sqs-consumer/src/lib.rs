//! The backtest queue's consumer: each record is a queued job, launched by `LAUNCH_MODE` unless it is no longer
//! QUEUED (`tradai::jobs::consume`). Answers the records to deliver again (`ReportBatchItemFailures`): for a FIFO
//! queue, the first that failed and every one after it.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Diagnostic, LambdaEvent};
use tradai::executor::{ContainerContext, ExecutorMode, Launcher};
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::store::WorkflowStore;

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    /// `LAUNCH_MODE`: `stepfunctions` (default, `BACKTEST_WORKFLOW_ARN`) or `ecs` (the `ECS_*` variables).
    pub launch: ExecutorMode,
    /// What strategy containers launched directly (`ecs`) are told.
    pub context: ContainerContext,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            launch: ExecutorMode::for_launch(env)?,
            context: ContainerContext::from_env(env)?,
        })
    }
}

/// What the consumer needs: the job table and the launcher.
pub struct Deps<S, L> {
    pub store: S,
    pub launcher: L,
}

/// Answers the batch's failed records, by message id.
pub async fn handle<S: WorkflowStore, L: Launcher>(
    deps: &Deps<S, L>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Diagnostic> {
    let records = &event.payload.records;
    let messages = records.iter().map(|record| {
        (
            record.message_id.as_deref().unwrap_or_default(),
            record.body.as_deref().unwrap_or_default(),
        )
    });
    let failed = tradai::jobs::consume_batch(&deps.store, &deps.launcher, messages).await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|item_identifier| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = item_identifier;
            failure
        })
        .collect();
    Ok(response)
}
