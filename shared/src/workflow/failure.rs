//! MarkFailed, the workflow's failure path: a Catch hands it `{"Error", "Cause"}` under `error` and a Pass state the
//! failed step's name under `failed_step`; the job gets FAILED with a one-line reason, unless it already ended (a
//! cancel, or the container's own, more precise reason) — then it keeps what it has.

use serde::{Deserialize, Serialize};

use super::state::Failure;
use super::{ErrorType, StepError};
use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::store::{RecordUpdate, StoreError, Transition, TransitionOutcome, WorkflowStore};
use crate::time::Timestamp;

/// What the step reads: the run, the caught error and the step it came from — or, from the rule on executions
/// that ended outside their failure path, how the execution ended.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CaughtFailure {
    pub run_id: RunId,
    #[serde(default)]
    pub failed_step: Option<String>,
    #[serde(default)]
    pub error: Option<Failure>,
    /// `ABORTED`, `TIMED_OUT` or `FAILED`, from the rule on ended executions.
    #[serde(default)]
    pub execution_status: Option<String>,
}

/// What the step sets in the state: the error with its Cause made one line, the step, and the job's status now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Marked {
    pub error: Failure,
    pub failed_step: String,
    pub job_status: Status,
}

/// The errors this step raises.
pub const RAISES: &[ErrorType] = &[ErrorType::InvalidInput, ErrorType::TransientDependency];

/// Records `caught` on its job in `store`.
pub async fn mark_failed_step(store: &impl WorkflowStore, caught: &CaughtFailure) -> Result<Marked, StepError> {
    let run_id = caught.run_id;
    let step = caught.failed_step.clone().unwrap_or_else(|| "Workflow".to_owned());
    let failure = match (&caught.error, &caught.execution_status) {
        (Some(failure), _) => failure.clone(),
        (None, Some(ended)) => Failure::ended_execution(ended),
        (None, None) => Failure::default(),
    };
    let why = reason(&failure);
    let record = mark_failed(store, run_id, &why, &step)
        .await
        .map_err(|error| StepError::transient("the workflow store", error))?
        .ok_or_else(|| StepError::invalid_input(format!("no job with run_id {run_id}")))?;
    // A job the container failed itself keeps its own, more precise reason and step: the notification says those.
    let (why, step) = match (record.error, record.failed_step) {
        (Some(error), Some(failed_step)) => (error, failed_step),
        _ => (why, step),
    };
    tracing::warn!(%run_id, %step, reason = %why, status = %record.status, "backtest failed");
    let name = Some(failure.error)
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "Failed".to_owned());
    Ok(Marked {
        error: Failure {
            error: name,
            cause: why,
        },
        failed_step: step,
        job_status: record.status,
    })
}

/// A Cause that is JSON: a Lambda error's body, or a stopped ECS task.
#[derive(Deserialize)]
#[serde(untagged)]
enum CauseBody {
    Lambda {
        #[serde(rename = "errorMessage")]
        error_message: String,
    },
    Task(StoppedTask),
}

#[derive(Deserialize)]
struct StoppedTask {
    #[serde(rename = "Containers", default)]
    containers: Option<Vec<StoppedContainer>>,
    #[serde(rename = "StoppedReason", default)]
    stopped_reason: Option<String>,
}

#[derive(Deserialize)]
struct StoppedContainer {
    #[serde(rename = "ExitCode", default)]
    exit_code: Option<i64>,
    #[serde(rename = "Reason", default)]
    reason: Option<String>,
}

/// How often MarkFailed re-reads a job that moved under it.
const ATTEMPTS: usize = 3;

/// The one line a Catch's error says. Step Functions puts a Lambda error's body (JSON with `errorMessage`) in
/// the Cause, and for a failed `ecs:runTask.sync` the stopped task as JSON; anything else is taken as text.
pub fn reason(failure: &Failure) -> String {
    let name = failure.error.trim();
    let cause = failure.cause.trim();
    let said = match serde_json::from_str::<CauseBody>(cause) {
        Ok(CauseBody::Lambda { error_message }) => Some(error_message),
        Ok(CauseBody::Task(task)) if task.containers.is_some() || task.stopped_reason.is_some() => {
            Some(stopped_task(&task))
        }
        _ => None,
    };
    let text = said.unwrap_or_else(|| cause.to_owned());
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match (text.is_empty(), name.is_empty()) {
        (false, _) => text,
        (true, false) => match name {
            "States.Timeout" => "the step timed out".to_owned(),
            "States.HeartbeatTimeout" => "the step stopped sending heartbeats".to_owned(),
            other => format!("the step failed with {other}"),
        },
        (true, true) => "the step failed".to_owned(),
    }
}

/// "the strategy container exited with 1 (Essential container in task exited)".
fn stopped_task(task: &StoppedTask) -> String {
    let containers = task.containers.as_deref().unwrap_or_default();
    let exit = containers
        .iter()
        .find(|container| container.exit_code.is_some_and(|code| code != 0))
        .or_else(|| containers.first());
    let stopped = task.stopped_reason.as_deref().unwrap_or("stopped");
    match exit {
        Some(container) => {
            let code = container
                .exit_code
                .map_or_else(|| "no exit code".to_owned(), |code| code.to_string());
            let detail = container.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default();
            format!("the strategy container exited with {code} ({stopped}){detail}")
        }
        None => format!("the strategy task stopped: {stopped}"),
    }
}

/// Records FAILED with `reason` and `step` on job `run_id` unless it already ended; answers the job as it is
/// afterwards (`None` when there is no such job).
pub async fn mark_failed(
    store: &impl WorkflowStore,
    run_id: RunId,
    reason: &str,
    step: &str,
) -> Result<Option<WorkflowRecord>, StoreError> {
    for _ in 0..ATTEMPTS {
        let Some(record) = store.get(run_id).await? else {
            return Ok(None);
        };
        if record.status.is_terminal() {
            return Ok(Some(record));
        }
        let failed =
            Transition::new(record.status, Status::Failed, Timestamp::now()).with(RecordUpdate::failure(reason, step));
        match store.transition(run_id, &failed).await? {
            TransitionOutcome::Moved(record) => return Ok(Some(*record)),
            TransitionOutcome::LostRace { .. } => continue,
            TransitionOutcome::NotFound => return Ok(None),
        }
    }
    store.get(run_id).await
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn caught(error: Value) -> Failure {
        serde_json::from_value(error).expect("a caught error")
    }
    use crate::backtest::BacktestRequest;
    use crate::store::MemoryStore;

    #[test]
    fn a_lambda_errors_message_is_the_reason() {
        let error = json!({"Error": "StrategyNotFound",
            "Cause": r#"{"errorType":"StrategyNotFound","errorMessage":"strategy X version 9 is not registered"}"#});
        assert_eq!(reason(&caught(error)), "strategy X version 9 is not registered");
    }

    #[test]
    fn a_stopped_task_is_told_by_its_exit_code() {
        let task = json!({"StoppedReason": "Essential container in task exited", "StopCode": "EssentialContainerExited",
            "Containers": [{"Name": "sidecar", "ExitCode": 0}, {"Name": "strategy", "ExitCode": 11}]});
        let error = json!({"Error": "States.TaskFailed", "Cause": task.to_string()});
        assert_eq!(
            reason(&caught(error)),
            "the strategy container exited with 11 (Essential container in task exited)"
        );
    }

    #[test]
    fn text_causes_are_kept_on_one_line_and_empty_ones_named() {
        assert_eq!(
            reason(&caught(json!({"Error": "EngineFailed", "Cause": "exited\n with 1"}))),
            "exited with 1"
        );
        assert_eq!(
            reason(&caught(json!({"Error": "States.Timeout", "Cause": ""}))),
            "the step timed out"
        );
        assert_eq!(reason(&caught(json!({"Error": "Boom"}))), "the step failed with Boom");
        assert_eq!(reason(&caught(json!(null))), "the step failed");
    }

    async fn job(store: &MemoryStore, status: Status) -> RunId {
        let body = br#"{"strategy_name":"S","strategy_version":1,"config":{"timeframe":"5m","symbols":["BTC/USDT"],
            "start_date":"2024-01-01","end_date":"2024-02-01"}}"#;
        let request = BacktestRequest::from_json(body, Timestamp::now().date()).expect("valid");
        let record = WorkflowRecord::new(RunId::new(), request, status, Timestamp::now());
        store.create(&record).await.expect("created");
        record.run_id
    }

    #[tokio::test]
    async fn an_unfinished_job_fails_with_the_reason_and_step() {
        let store = MemoryStore::default();
        let run_id = job(&store, Status::Running).await;
        let status = mark_failed(&store, run_id, "no data", "CheckDataFreshness")
            .await
            .expect("stored");
        assert_eq!(status.map(|record| record.status), Some(Status::Failed));
        let record = store.get(run_id).await.expect("read").expect("there");
        assert_eq!(record.error.as_deref(), Some("no data"));
        assert_eq!(record.failed_step.as_deref(), Some("CheckDataFreshness"));
    }

    #[tokio::test]
    async fn an_ended_job_keeps_its_status_and_reason() {
        let store = MemoryStore::default();
        let cancelled = job(&store, Status::Cancelled).await;
        let marked = mark_failed(&store, cancelled, "x", "RunBacktest").await.expect("read");
        assert_eq!(marked.map(|record| record.status), Some(Status::Cancelled));
        assert_eq!(store.get(cancelled).await.expect("read").expect("there").error, None);
        assert!(
            mark_failed(&store, RunId::new(), "x", "S")
                .await
                .expect("read")
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_cancelled_job_stays_cancelled_when_marked_failed() {
        let store = MemoryStore::default();
        let run_id = job(&store, Status::Cancelled).await;
        let caught = CaughtFailure {
            run_id,
            failed_step: Some("RunBacktest".into()),
            error: Some(Failure {
                error: "States.TaskFailed".into(),
                cause: "exited".into(),
            }),
            execution_status: None,
        };
        let marked = mark_failed_step(&store, &caught).await.expect("read");
        assert_eq!(marked.job_status, Status::Cancelled);
        assert_eq!(marked.error.error, "States.TaskFailed");
        assert_eq!(store.get(run_id).await.expect("read").expect("there").error, None);
    }

    #[tokio::test]
    async fn the_containers_own_reason_wins_and_an_unknown_job_is_invalid_input() {
        let store = MemoryStore::default();
        let run_id = job(&store, Status::Running).await;
        mark_failed(&store, run_id, "the engine exited with 1: No data", "RunBacktest")
            .await
            .expect("stored");
        let caught = CaughtFailure {
            run_id,
            failed_step: Some("RunBacktest".into()),
            error: None,
            execution_status: None,
        };
        let marked = mark_failed_step(&store, &caught).await.expect("read");
        assert_eq!(
            (
                marked.error.error.as_str(),
                marked.error.cause.as_str(),
                marked.job_status
            ),
            ("Failed", "the engine exited with 1: No data", Status::Failed)
        );
        let unknown = CaughtFailure {
            run_id: RunId::new(),
            ..caught
        };
        let error = mark_failed_step(&store, &unknown).await.expect_err("no job");
        assert_eq!(error.error_type(), ErrorType::InvalidInput);
        assert!(RAISES.contains(&error.error_type()));
    }

    #[tokio::test]
    async fn an_execution_that_ended_outside_its_failure_path_fails_its_job() {
        let store = MemoryStore::default();
        let queued = job(&store, Status::Queued).await;
        let ended = CaughtFailure {
            run_id: queued,
            failed_step: Some("Workflow".into()),
            error: None,
            execution_status: Some("ABORTED".into()),
        };
        let marked = mark_failed_step(&store, &ended).await.expect("recorded");
        assert_eq!(marked.job_status, Status::Failed);
        assert_eq!(marked.error.error, "ExecutionABORTED");
        let record = store.get(queued).await.expect("read").expect("there");
        assert_eq!(record.error.as_deref(), Some("the workflow execution ended ABORTED"));
        let cancelled = job(&store, Status::Cancelled).await;
        let marked = mark_failed_step(
            &store,
            &CaughtFailure {
                run_id: cancelled,
                ..ended
            },
        )
        .await
        .expect("read");
        assert_eq!(marked.job_status, Status::Cancelled, "a cancel stays CANCELLED");
    }
}
