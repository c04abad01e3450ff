//! The workflow's failure path: a Catch hands MarkFailed `{"Error", "Cause"}` and the failed step's name; the job
//! gets FAILED with a one-line reason, unless it already ended (a cancel, or the container's own, more precise
//! reason) — then it keeps what it has.

use serde_json::Value;

use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::store::{RecordUpdate, StoreError, Transition, TransitionOutcome, WorkflowStore};
use crate::time::Timestamp;

/// How often MarkFailed re-reads a job that moved under it.
const ATTEMPTS: usize = 3;

/// The one line a Catch's error says. Step Functions puts a Lambda error's body (JSON with `errorMessage`) in
/// the Cause, and for a failed `ecs:runTask.sync` the stopped task as JSON; anything else is taken as text.
pub fn reason(error: &Value) -> String {
    let name = error["Error"].as_str().unwrap_or("").trim();
    let cause = error["Cause"].as_str().or_else(|| error.as_str()).unwrap_or("").trim();
    let parsed = serde_json::from_str::<Value>(cause).ok();
    let said = match &parsed {
        Some(body) if body["errorMessage"].is_string() => body["errorMessage"].as_str().map(str::to_owned),
        Some(task) if task["Containers"].is_array() || task["StoppedReason"].is_string() => Some(stopped_task(task)),
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
fn stopped_task(task: &Value) -> String {
    let containers = task["Containers"].as_array().map(Vec::as_slice).unwrap_or_default();
    let exit = containers
        .iter()
        .find(|container| container["ExitCode"].as_i64().is_some_and(|code| code != 0))
        .or_else(|| containers.first());
    let stopped = task["StoppedReason"].as_str().unwrap_or("stopped");
    match exit {
        Some(container) => {
            let code = container["ExitCode"]
                .as_i64()
                .map_or_else(|| "no exit code".to_owned(), |code| code.to_string());
            let detail = container["Reason"]
                .as_str()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
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
    use serde_json::json;

    use super::*;
    use crate::backtest::BacktestRequest;
    use crate::store::MemoryStore;

    #[test]
    fn a_lambda_errors_message_is_the_reason() {
        let error = json!({"Error": "StrategyNotFound",
            "Cause": r#"{"errorType":"StrategyNotFound","errorMessage":"strategy X version 9 is not registered"}"#});
        assert_eq!(reason(&error), "strategy X version 9 is not registered");
    }

    #[test]
    fn a_stopped_task_is_told_by_its_exit_code() {
        let task = json!({"StoppedReason": "Essential container in task exited", "StopCode": "EssentialContainerExited",
            "Containers": [{"Name": "sidecar", "ExitCode": 0}, {"Name": "strategy", "ExitCode": 11}]});
        let error = json!({"Error": "States.TaskFailed", "Cause": task.to_string()});
        assert_eq!(
            reason(&error),
            "the strategy container exited with 11 (Essential container in task exited)"
        );
    }

    #[test]
    fn text_causes_are_kept_on_one_line_and_empty_ones_named() {
        assert_eq!(
            reason(&json!({"Error": "EngineFailed", "Cause": "exited\n with 1"})),
            "exited with 1"
        );
        assert_eq!(
            reason(&json!({"Error": "States.Timeout", "Cause": ""})),
            "the step timed out"
        );
        assert_eq!(reason(&json!({"Error": "Boom"})), "the step failed with Boom");
        assert_eq!(reason(&json!(null)), "the step failed");
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
}
