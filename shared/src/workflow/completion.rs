//! NotifyCompletion: publishes how a backtest ended, with attributes (`status`, `strategy`) that subscribers filter
//! on. Runs on both paths of the workflow — after TransformResults, and after MarkFailed (the state then carries
//! `error`, and `job_status`: CANCELLED for a cancelled job) — and for executions that ended outside their failure
//! path, where the rule on ended executions sends only `{run_id, execution_status}` and the rest is read from the job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::Failure;
use super::{ErrorType, StepError};
use crate::backtest::{RunId, Status, StrategyVersion};
use crate::notify::{Notification, Notifier};
use crate::store::WorkflowStore;

/// What the step reads: how the run ended, as far as the state knows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunEnding {
    pub run_id: RunId,
    #[serde(default)]
    pub strategy_name: Option<String>,
    #[serde(default)]
    pub strategy_version: Option<StrategyVersion>,
    /// Set on the failure path.
    #[serde(default)]
    pub error: Option<Failure>,
    #[serde(default)]
    pub failed_step: Option<String>,
    /// What MarkFailed found the job in.
    #[serde(default)]
    pub job_status: Option<Status>,
    #[serde(default)]
    pub summary: Option<Value>,
    /// Set by the rule on executions that ended outside the failure path (ABORTED, TIMED_OUT, FAILED).
    #[serde(default)]
    pub execution_status: Option<String>,
}

/// What the step adds to the state.
#[derive(Debug, Serialize)]
pub struct Notified {
    pub notification: Sent,
}

/// The published message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sent {
    pub message_id: String,
    pub status: Status,
}

/// The message subscribers receive.
#[derive(Debug, Serialize)]
struct Message<'a> {
    run_id: RunId,
    status: Status,
    strategy_name: &'a str,
    strategy_version: Option<&'a StrategyVersion>,
    error: Option<&'a str>,
    failed_step: Option<&'a str>,
    summary: Option<&'a Value>,
    status_url: String,
}

/// The errors this step raises.
pub const RAISES: &[ErrorType] = &[ErrorType::InvalidInput, ErrorType::TransientDependency];

/// Publishes how `ending`'s run ended to `notifier`; `store` fills in what an ended execution's event lacks.
pub async fn notify_completion(
    notifier: &impl Notifier,
    store: &impl WorkflowStore,
    ending: &RunEnding,
) -> Result<Notified, StepError> {
    let ending = match &ending.execution_status {
        Some(ended) => from_the_job(store, ending.run_id, ended).await?,
        None => ending.clone(),
    };
    let run_id = ending.run_id;
    let strategy = ending.strategy_name.as_deref().unwrap_or("unknown");
    // The failure path's Catch puts the error under `error` ({Error, Cause}); its one-line reason is the Cause.
    let error = ending.error.as_ref().map(|failure| {
        if failure.cause.is_empty() {
            "failed"
        } else {
            failure.cause.as_str()
        }
    });
    // MarkFailed says what the job ended as: a cancelled job stays CANCELLED, and a job that completed before a
    // later step failed (this notification, the cleanup) stays COMPLETED. Otherwise the path tells.
    let status = match ending.job_status {
        Some(Status::Cancelled) => Status::Cancelled,
        Some(Status::Completed) => Status::Completed,
        _ if error.is_some() => Status::Failed,
        _ => Status::Completed,
    };
    let message = Message {
        run_id,
        status,
        strategy_name: strategy,
        strategy_version: ending.strategy_version.as_ref(),
        error,
        failed_step: ending.failed_step.as_deref(),
        summary: ending.summary.as_ref(),
        status_url: format!("/backtest/{run_id}/status"),
    };
    let notification = Notification {
        subject: format!("TradAI backtest {status}: {strategy}"),
        message: serde_json::to_string(&message)
            .map_err(|error| StepError::invalid_state("the notification cannot be written", error))?,
        attributes: BTreeMap::from([
            ("status".to_owned(), status.to_string()),
            ("strategy".to_owned(), strategy.to_owned()),
        ]),
    };
    let message_id = notifier
        .publish(&notification)
        .await
        .map_err(|error| StepError::transient("publishing the notification", error))?;
    tracing::info!(%run_id, %status, "notification published");
    Ok(Notified {
        notification: Sent { message_id, status },
    })
}

/// An execution that ended outside its failure path: what the state would have said, read from the job.
async fn from_the_job(store: &impl WorkflowStore, run_id: RunId, ended: &str) -> Result<RunEnding, StepError> {
    let record = store
        .get(run_id)
        .await
        .map_err(|error| StepError::transient("the workflow store", error))?
        .ok_or_else(|| StepError::invalid_input(format!("no job with run_id {run_id}")))?;
    let ended_as = Failure::ended_execution(ended);
    let (status, cause) = match record.status {
        Status::Cancelled => (Status::Cancelled, "cancelled by its owner".to_owned()),
        Status::Failed => (Status::Failed, record.error.clone().unwrap_or_default()),
        Status::Completed => (Status::Completed, String::new()),
        _ => (Status::Failed, ended_as.cause.clone()),
    };
    let failed = status != Status::Completed;
    Ok(RunEnding {
        run_id,
        strategy_name: Some(record.strategy_name),
        strategy_version: Some(record.strategy_version),
        error: failed.then_some(Failure { cause, ..ended_as }),
        failed_step: if failed { record.failed_step } else { None },
        job_status: Some(status),
        summary: None,
        execution_status: Some(ended.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::workflow::fakes::{FakeNotifier, sample_record};

    fn ending() -> RunEnding {
        RunEnding {
            run_id: RunId::new(),
            strategy_name: None,
            strategy_version: None,
            error: None,
            failed_step: None,
            job_status: None,
            summary: None,
            execution_status: None,
        }
    }

    fn message(notification: &Notification) -> Value {
        serde_json::from_str(&notification.message).expect("JSON")
    }

    #[tokio::test]
    async fn the_path_decides_the_status_unless_markfailed_found_the_job_ended() {
        let notifier = FakeNotifier::default();
        let store = MemoryStore::new();
        let run_id = RunId::new();
        let failed = Failure {
            error: "StaleMarketData".into(),
            cause: "stale".into(),
        };
        let cases = [
            (ending(), Status::Completed),
            (
                RunEnding {
                    error: Some(failed.clone()),
                    ..ending()
                },
                Status::Failed,
            ),
            (
                RunEnding {
                    error: Some(failed),
                    job_status: Some(Status::Cancelled),
                    ..ending()
                },
                Status::Cancelled,
            ),
        ];
        for (ending, status) in cases {
            let ending = RunEnding {
                run_id,
                strategy_name: Some("EmaCross".into()),
                ..ending
            };
            let notified = notify_completion(&notifier, &store, &ending).await.expect("published");
            assert_eq!(notified.notification.status, status);
            let sent = notifier.sent().pop().expect("sent");
            assert_eq!(sent.attributes["status"], status.as_str());
            assert_eq!(sent.attributes["strategy"], "EmaCross");
            assert_eq!(message(&sent)["status_url"], format!("/backtest/{run_id}/status"));
        }
    }

    #[tokio::test]
    async fn an_ended_execution_is_told_from_the_job() {
        let notifier = FakeNotifier::default();
        let store = MemoryStore::new();
        let record = sample_record(Status::Cancelled);
        store.create(&record).await.expect("created");
        let ending = RunEnding {
            run_id: record.run_id,
            execution_status: Some("ABORTED".into()),
            ..ending()
        };
        let notified = notify_completion(&notifier, &store, &ending).await.expect("published");
        assert_eq!(notified.notification.status, Status::Cancelled);
        let sent = message(&notifier.sent()[0]);
        assert_eq!(sent["error"], "cancelled by its owner");
        assert_eq!(sent["strategy_name"], "EmaCross");
        let unknown = RunEnding {
            run_id: RunId::new(),
            ..ending
        };
        let error = notify_completion(&notifier, &store, &unknown)
            .await
            .expect_err("no job");
        assert_eq!(error.error_type(), ErrorType::InvalidInput);
    }

    #[tokio::test]
    async fn a_topic_that_does_not_answer_is_transient() {
        let notifier = FakeNotifier {
            failing: true,
            ..FakeNotifier::default()
        };
        let ending = RunEnding {
            run_id: RunId::new(),
            ..ending()
        };
        let error = notify_completion(&notifier, &MemoryStore::new(), &ending)
            .await
            .expect_err("down");
        assert_eq!(error.error_type(), ErrorType::TransientDependency);
        assert!(RAISES.contains(&error.error_type()));
    }
}
