//! Executors: where a submitted job is handed off, chosen by `EXECUTOR_MODE`. One port, one adapter per mode.

mod ecs;
mod local;
mod sqs;
mod stepfunctions;
mod stop;

use std::future::Future;

pub use ecs::{ContainerContext, EcsTasks, TaskPlacement, container_environment};
pub use local::{LocalProcess, start_entrypoint};
pub use sqs::SqsQueue;
pub use stepfunctions::StepFunctions;
pub use stop::{AwsStopper, StopError, Stopper};

use crate::backtest::{BacktestJob, Status};
use crate::settings::{ExecutorMode, Settings};
use crate::store::RecordUpdate;

/// What a launcher started for a job, recorded on it so that a cancel can stop it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handoff {
    pub execution_arn: Option<String>,
    pub task_arn: Option<String>,
}

impl Handoff {
    /// The fields to record on the job; `None` when nothing was started yet (a queued message).
    pub fn record_update(&self) -> Option<RecordUpdate> {
        if self.execution_arn.is_none() && self.task_arn.is_none() {
            return None;
        }
        Some(RecordUpdate {
            execution_arn: self.execution_arn.clone(),
            task_arn: self.task_arn.clone(),
            ..RecordUpdate::default()
        })
    }
}

/// Hands jobs to whatever will run them.
pub trait Launcher: Send + Sync {
    /// The status a job has once this launcher holds it.
    fn handoff_status(&self) -> Status;

    /// Hands `job` off. On `Ok` the job will run (or wait its turn); on `Err` nothing was handed off.
    fn launch(&self, job: &BacktestJob) -> impl Future<Output = Result<Handoff, LaunchError>> + Send;
}

/// No executor configured: jobs are recorded and stay PENDING until someone hands them off.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoExecutor;

impl Launcher for NoExecutor {
    fn handoff_status(&self) -> Status {
        Status::Pending
    }

    async fn launch(&self, _job: &BacktestJob) -> Result<Handoff, LaunchError> {
        Ok(Handoff::default())
    }
}

/// The executor selected by the settings.
#[derive(Debug, Clone)]
pub enum Executor {
    None(NoExecutor),
    Sqs(SqsQueue),
    StepFunctions(StepFunctions),
    Ecs(EcsTasks),
    Local(LocalProcess),
}

impl Launcher for Executor {
    fn handoff_status(&self) -> Status {
        match self {
            Executor::None(none) => none.handoff_status(),
            Executor::Sqs(queue) => queue.handoff_status(),
            Executor::StepFunctions(workflow) => workflow.handoff_status(),
            Executor::Ecs(tasks) => tasks.handoff_status(),
            Executor::Local(process) => process.handoff_status(),
        }
    }

    async fn launch(&self, job: &BacktestJob) -> Result<Handoff, LaunchError> {
        match self {
            Executor::None(none) => none.launch(job).await,
            Executor::Sqs(queue) => queue.launch(job).await,
            Executor::StepFunctions(workflow) => workflow.launch(job).await,
            Executor::Ecs(tasks) => tasks.launch(job).await,
            Executor::Local(process) => process.launch(job).await,
        }
    }
}

impl Executor {
    /// The executor `settings` select, with its clients made from `aws`.
    pub fn from_settings(settings: &Settings, aws: &aws_config::SdkConfig) -> Self {
        match &settings.executor {
            ExecutorMode::None => Executor::None(NoExecutor),
            ExecutorMode::Sqs { queue_url } => Executor::Sqs(SqsQueue::new(aws_sdk_sqs::Client::new(aws), queue_url)),
            ExecutorMode::StepFunctions { state_machine_arn } => {
                Executor::StepFunctions(StepFunctions::new(aws_sdk_sfn::Client::new(aws), state_machine_arn))
            }
            ExecutorMode::Ecs(placement) => Executor::Ecs(EcsTasks::new(
                aws_sdk_ecs::Client::new(aws),
                placement.clone(),
                context(settings),
            )),
            ExecutorMode::Local { entrypoint, log_dir } => {
                Executor::Local(LocalProcess::new(entrypoint, context(settings), log_dir.clone()))
            }
        }
    }
}

/// What a strategy container is told beside its job, from the settings.
pub fn context(settings: &Settings) -> ContainerContext {
    ContainerContext {
        workflow_table: settings.workflow_table.clone(),
        mlflow_tracking_uri: settings.mlflow_tracking_uri.clone(),
        results_bucket: settings.results_bucket.clone(),
        market_data_uri: settings
            .market_data
            .as_ref()
            .map(|location| location.uri(&location.prefix)),
    }
}

/// The hand-off did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("the executor did not accept the job")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the executor refused the job: {0}")]
    Refused(String),
}

impl LaunchError {
    fn unavailable<E: std::error::Error + Send + Sync + 'static>(error: E) -> Self {
        LaunchError::Unavailable(Box::new(error))
    }
}
