//! MarkFailed: the job becomes FAILED with the caught error's one line (a Lambda error's message, a stopped task's
//! exit code) and the step; a cancelled job stays CANCELLED; an unknown job or a state without a run id is
//! `InvalidInput`.

use tradai::backtest::Status;
use tradai::store::{DynamoDbStore, WorkflowStore};
use tradai_tests::stack::Stack;

use super::{assert_invalid_input, event, invocation, sample_job};

const FUNCTION: &str = "mark-failed";

fn deps(stack: &Stack) -> mark_failed::Deps<DynamoDbStore> {
    mark_failed::Deps { store: stack.store() }
}

#[tokio::test]
async fn a_running_job_fails_with_the_caught_errors_one_line_and_step() {
    let stack = Stack::fresh().await;
    for (name, error) in [
        (
            "valid.json",
            "stale market data (limit 24 h): ETH/USDT last candle 48.0 h old",
        ),
        (
            "valid-task-failed.json",
            "the strategy container exited with 11 (Essential container in task exited)",
        ),
    ] {
        let state = event(FUNCTION, name);
        let run_id = sample_job(&stack, state["run_id"].as_str().expect("run id"), Status::Running).await;
        let output = mark_failed::handle(&deps(&stack), invocation(&state))
            .await
            .expect("recorded");
        let record = stack.store().get(run_id).await.expect("read").expect("there");
        assert_eq!(record.status, Status::Failed, "{name}");
        assert_eq!(record.error.as_deref(), Some(error), "{name}");
        assert_eq!(output["job_status"], Status::Failed.as_str());
        assert_eq!(output["error"]["Cause"], error);
        assert_eq!(record.failed_step.as_deref(), state["failed_step"].as_str());
    }
}

#[tokio::test]
async fn a_cancelled_job_stays_cancelled_when_marked_failed() {
    let stack = Stack::fresh().await;
    let state = event(FUNCTION, "cancelled-job.json");
    let run_id = sample_job(&stack, state["run_id"].as_str().expect("run id"), Status::Cancelled).await;
    let output = mark_failed::handle(&deps(&stack), invocation(&state))
        .await
        .expect("recorded");
    let record = stack.store().get(run_id).await.expect("read").expect("there");
    assert_eq!(record.status, Status::Cancelled);
    assert_eq!(record.error, None);
    assert_eq!(output["job_status"], Status::Cancelled.as_str());
}

#[tokio::test]
async fn an_unknown_job_or_a_state_without_a_run_id_is_invalid_input() {
    let stack = Stack::fresh().await;
    let answer = mark_failed::handle(&deps(&stack), invocation(&event(FUNCTION, "unknown-run-id.json"))).await;
    assert_invalid_input(answer, "no job");
    let answer = mark_failed::handle(
        &deps(&stack),
        invocation(&event(FUNCTION, "invalid-missing-run-id.json")),
    )
    .await;
    assert_invalid_input(answer, "run_id");
}

#[tokio::test]
async fn an_execution_that_ended_outside_its_failure_path_fails_its_queued_job() {
    let stack = Stack::fresh().await;
    let state = event(FUNCTION, "valid-execution-ended.json");
    let run_id = sample_job(&stack, state["run_id"].as_str().expect("run id"), Status::Queued).await;
    let output = mark_failed::handle(&deps(&stack), invocation(&state))
        .await
        .expect("recorded");
    assert_eq!(output["job_status"], Status::Failed.as_str());
    let record = stack.store().get(run_id).await.expect("read").expect("there");
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.error.as_deref(), Some("the workflow execution ended ABORTED"));
    assert_eq!(record.failed_step.as_deref(), Some("Workflow"));
}
