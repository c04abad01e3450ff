//! Executors: where a submitted job is handed off, chosen by `EXECUTOR_MODE`. One port, one adapter per mode.

mod sqs;
mod stop;

use std::future::Future;

pub use sqs::SqsQueue;
pub use stop::{AwsStopper, StopError, Stopper};

use crate::backtest::{BacktestJob, Status};

/// Hands jobs to whatever will run them.
pub trait Launcher: Send + Sync {
    /// The status a job has once this launcher holds it.
    fn handoff_status(&self) -> Status;

    /// Hands `job` off. On `Ok` the job will run (or wait its turn); on `Err` nothing was handed off.
    fn launch(&self, job: &BacktestJob) -> impl Future<Output = Result<(), LaunchError>> + Send;
}

/// No executor configured: jobs are recorded and stay PENDING until someone hands them off.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoExecutor;

impl Launcher for NoExecutor {
    fn handoff_status(&self) -> Status {
        Status::Pending
    }

    async fn launch(&self, _job: &BacktestJob) -> Result<(), LaunchError> {
        Ok(())
    }
}

/// The executor selected by the settings.
#[derive(Debug, Clone)]
pub enum Executor {
    None(NoExecutor),
    Sqs(SqsQueue),
}

impl Launcher for Executor {
    fn handoff_status(&self) -> Status {
        match self {
            Executor::None(none) => none.handoff_status(),
            Executor::Sqs(queue) => queue.handoff_status(),
        }
    }

    async fn launch(&self, job: &BacktestJob) -> Result<(), LaunchError> {
        match self {
            Executor::None(none) => none.launch(job).await,
            Executor::Sqs(queue) => queue.launch(job).await,
        }
    }
}

/// The hand-off did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("the executor did not accept the job")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}
