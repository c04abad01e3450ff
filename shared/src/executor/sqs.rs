use aws_sdk_sqs::Client;

use super::{Handoff, LaunchError, Launcher};
use crate::backtest::{BacktestJob, Status};

/// `EXECUTOR_MODE=sqs`: a FIFO queue, one message group per strategy, deduplicated by run id, so that a retried
/// hand-off never queues a job twice.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl Launcher for SqsQueue {
    fn handoff_status(&self) -> Status {
        Status::Queued
    }

    async fn launch(&self, job: &BacktestJob) -> Result<Handoff, LaunchError> {
        let body = serde_json::to_string(job).map_err(|error| LaunchError::Unavailable(Box::new(error)))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_group_id(&job.request.strategy_name)
            .message_deduplication_id(job.run_id.to_string())
            .send()
            .await
            .map_err(|error| LaunchError::unavailable(error.into_service_error()))?;
        Ok(Handoff::default())
    }
}
