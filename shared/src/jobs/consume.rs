//! The backtest queue's consumer (EXECUTOR_MODE=sqs): each message is a queued job, launched by the launcher of
//! `LAUNCH_MODE` (a Step Functions execution named by the run id, or an ECS task with the run id as client token),
//! so a message delivered twice starts the job once. A job that is no longer QUEUED (cancelled, or already running
//! or ended) is done: its message is dropped without a launch.

use crate::backtest::{BacktestJob, RunId, Status};
use crate::executor::{Handoff, LaunchError, Launcher};
use crate::report::chain;
use crate::store::{RecordUpdate, StoreError, WorkflowStore};

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumed {
    /// The job was handed to its launcher (or found handed already): what runs it is recorded on the job.
    Launched { run_id: RunId, handoff: Handoff },
    /// The job was not waiting in the queue (`None`: there is no such job); nothing was launched.
    Skipped { run_id: RunId, status: Option<Status> },
}

/// Why a message could not be consumed; the queue delivers it again, and after its last attempt keeps it in the
/// dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("the message is not a backtest job")]
    Malformed(#[source] serde_json::Error),
    #[error("the workflow store could not be read")]
    Store(#[source] StoreError),
    #[error("job {run_id} could not be launched")]
    Launch {
        run_id: RunId,
        #[source]
        source: LaunchError,
    },
    #[error("job {run_id} was launched but what runs it could not be recorded")]
    Record {
        run_id: RunId,
        #[source]
        source: StoreError,
    },
}

/// Consumes one message `body`.
pub async fn consume(
    store: &impl WorkflowStore,
    launcher: &impl Launcher,
    body: &str,
) -> Result<Consumed, ConsumeError> {
    let job: BacktestJob = serde_json::from_str(body).map_err(ConsumeError::Malformed)?;
    let run_id = job.run_id;
    let record = match store.get(run_id).await.map_err(ConsumeError::Store)? {
        Some(record) if record.status == Status::Queued => record,
        other => {
            let status = other.map(|record| record.status);
            tracing::info!(%run_id, ?status, "the job is not queued: its message is done");
            return Ok(Consumed::Skipped { run_id, status });
        }
    };
    // The job as recorded is the one that runs: the record, not the message, is the source of truth.
    let handoff = match launcher.launch(&record.job()).await {
        Ok(handoff) => handoff,
        Err(source) => {
            // Kept on the job, so that whoever fails it after the last attempt can say why.
            let noted = RecordUpdate::handoff_failure(chain(&source));
            if let Err(error) = store.annotate(run_id, &noted).await {
                tracing::warn!(%run_id, error = %chain(&error), "could not note the failed hand-off");
            }
            return Err(ConsumeError::Launch { run_id, source });
        }
    };
    if let Some(update) = handoff.record_update() {
        store
            .annotate(run_id, &update)
            .await
            .map_err(|source| ConsumeError::Record { run_id, source })?;
    }
    tracing::info!(%run_id, execution = ?handoff.execution_arn, task = ?handoff.task_arn, "job launched");
    Ok(Consumed::Launched { run_id, handoff })
}

/// Consumes a batch of `(message id, body)` in order and answers the ids of the messages to deliver again. A FIFO
/// queue must keep its order: when one message fails, it and every message after it are answered, none before.
pub async fn consume_batch<'a>(
    store: &impl WorkflowStore,
    launcher: &impl Launcher,
    messages: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    let mut failed = Vec::new();
    for (message_id, body) in messages {
        if !failed.is_empty() {
            failed.push(message_id.to_owned());
            continue;
        }
        if let Err(error) = consume(store, launcher, body).await {
            tracing::error!(message_id, error = %chain(&error), "message not consumed; it and the rest of the batch are delivered again");
            failed.push(message_id.to_owned());
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::{BacktestRequest, WorkflowRecord};
    use crate::store::MemoryStore;
    use crate::time::Timestamp;
    use crate::workflow::fakes::FakeExecutions as Executions;

    async fn queued(store: &MemoryStore, status: Status) -> (RunId, String) {
        let body = br#"{"strategy_name":"S","strategy_version":1,"config":{"timeframe":"5m","symbols":["BTC/USDT"],
            "start_date":"2024-01-01","end_date":"2024-02-01"}}"#;
        let request = BacktestRequest::from_json(body, Timestamp::now().date()).expect("valid");
        let record = WorkflowRecord::new(RunId::new(), request, status, Timestamp::now());
        store.create(&record).await.expect("created");
        let message = serde_json::to_string(&record.job()).expect("JSON");
        (record.run_id, message)
    }

    #[tokio::test]
    async fn a_queued_job_is_launched_once_however_often_its_message_comes() {
        let store = MemoryStore::new();
        let launcher = Executions::default();
        let (run_id, message) = queued(&store, Status::Queued).await;
        for _ in 0..10 {
            let consumed = consume(&store, &launcher, &message).await.expect("consumed");
            assert!(matches!(consumed, Consumed::Launched { .. }), "{consumed:?}");
        }
        assert_eq!(launcher.started(), [run_id]);
        let record = store.get(run_id).await.expect("read").expect("there");
        assert!(
            record
                .execution_arn
                .is_some_and(|arn| arn.ends_with(&run_id.to_string()))
        );
    }

    #[tokio::test]
    async fn a_job_that_is_not_queued_is_skipped_without_a_launch() {
        let store = MemoryStore::new();
        let launcher = Executions::default();
        for status in [Status::Cancelled, Status::Running, Status::Completed] {
            let (run_id, message) = queued(&store, status).await;
            let consumed = consume(&store, &launcher, &message).await.expect("consumed");
            assert_eq!(
                consumed,
                Consumed::Skipped {
                    run_id,
                    status: Some(status)
                }
            );
        }
        assert!(launcher.started.lock().expect("lock").is_empty());
    }

    #[tokio::test]
    async fn when_the_third_message_fails_it_and_the_rest_are_delivered_again() {
        let store = MemoryStore::new();
        let mut messages = Vec::new();
        for _ in 0..5 {
            messages.push(queued(&store, Status::Queued).await);
        }
        let launcher = Executions {
            refused: vec![messages[2].0],
            ..Executions::default()
        };
        let ids: Vec<String> = (1..=5).map(|n| format!("m{n}")).collect();
        let batch = ids
            .iter()
            .zip(&messages)
            .map(|(id, (_, body))| (id.as_str(), body.as_str()));
        let failed = consume_batch(&store, &launcher, batch).await;
        assert_eq!(failed, ["m3", "m4", "m5"]);
        assert_eq!(launcher.started(), [messages[0].0, messages[1].0]);
        let refused = store.get(messages[2].0).await.expect("read").expect("there");
        assert_eq!(refused.status, Status::Queued, "left for the next attempt");
        assert!(
            refused
                .handoff_error
                .is_some_and(|error| error.contains("no such task definition"))
        );
    }

    #[tokio::test]
    async fn a_message_that_is_no_job_fails() {
        let store = MemoryStore::new();
        let error = consume(&store, &Executions::default(), "{\"run_id\": 7}")
            .await
            .expect_err("malformed");
        assert!(matches!(error, ConsumeError::Malformed(_)), "{error:?}");
    }
}
