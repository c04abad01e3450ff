//! NotifyCompletion: how a run ended reaches subscribers with `status` and `strategy` attributes — COMPLETED with
//! the summary, FAILED with the reason and step, and an execution stopped outside the workflow told from its job;
//! a state without a valid run id is `InvalidInput`.

use chrono::TimeDelta;
use serde_json::Value;
use tradai::backtest::{Status, WorkflowRecord};
use tradai::metrics;
use tradai::notify::SnsTopic;
use tradai::store::{DynamoDbStore, WorkflowStore};
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{assert_invalid_input, event, invocation, sample_job, sample_request};

const FUNCTION: &str = "notify-completion";

/// A topic with a queue subscribed to it: what the queue receives is what subscribers get.
struct Subscribed {
    deps: notify_completion::Deps<SnsTopic, DynamoDbStore, tradai_tests::Recorded>,
    inbox: String,
}

async fn subscribed(stack: &Stack) -> Subscribed {
    let sns = aws_sdk_sns::Client::new(&stack.sdk);
    let suffix = || uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let topic = sns
        .create_topic()
        .name(format!("tradai-notifications-{}", suffix()))
        .send()
        .await
        .expect("topic")
        .topic_arn
        .expect("topic ARN");
    let inbox = stack.subscribed_queue(&topic).await;
    Subscribed {
        deps: notify_completion::Deps {
            metrics: tradai_tests::metrics(),
            notifier: SnsTopic::new(sns, topic),
            store: stack.store(),
        },
        inbox,
    }
}

/// Notifies `state` and answers the one message subscribers received: its attribute `status` and its body.
async fn notify(stack: &Stack, subscribed: &Subscribed, state: &Value, status: &str) -> Value {
    let output = notify_completion::handle(&subscribed.deps, invocation(state))
        .await
        .expect("published");
    assert_eq!(output["notification"]["status"], status);
    let received = stack.messages(&subscribed.inbox).await;
    assert_eq!(received.len(), 1, "one message");
    let envelope: Value = serde_json::from_str(received[0].body().expect("body")).expect("SNS envelope");
    assert_eq!(envelope["MessageAttributes"]["status"]["Value"], status);
    assert_eq!(envelope["MessageAttributes"]["strategy"]["Value"], "EmaCross");
    let message: Value = serde_json::from_str(envelope["Message"].as_str().expect("message")).expect("JSON");
    assert_eq!(message["run_id"], state["run_id"]);
    message
}

/// The job of `state` as its run ended: `status`, created 5 minutes ago, claimed 40 s later, ended now, with what
/// the engine's summary says.
async fn ended_job(stack: &Stack, state: &Value, status: Status, failed_step: Option<&str>) {
    let run_id = state["run_id"].as_str().expect("run id").parse().expect("a run id");
    let created = Timestamp::now().minus(TimeDelta::minutes(5));
    let mut record = WorkflowRecord::new(run_id, sample_request(), status, created);
    record.started_at = Some(created.plus(TimeDelta::seconds(40)));
    record.updated_at = created.plus(TimeDelta::seconds(300));
    record.result = Some(serde_json::json!({"total_trades": 404, "engine_seconds": 7.5}));
    record.failed_step = failed_step.map(str::to_owned);
    stack.store().create(&record).await.expect("created");
}

#[tokio::test]
async fn a_completed_run_is_notified_with_its_summary_and_counted_with_its_durations() {
    let stack = Stack::fresh().await;
    let subscribed = subscribed(&stack).await;
    let state = event(FUNCTION, "valid-completed.json");
    ended_job(&stack, &state, Status::Completed, None).await;
    let message = notify(&stack, &subscribed, &state, "COMPLETED").await;
    assert_eq!(message["summary"]["total_trades"], 404);
    assert_eq!(
        tradai_tests::published(&subscribed.deps.metrics),
        [
            (metrics::BACKTESTS_COMPLETED.to_owned(), 1.0),
            (metrics::QUEUE_TO_START_SECONDS.to_owned(), 40.0),
            (metrics::END_TO_END_SECONDS.to_owned(), 300.0),
            (metrics::ENGINE_SECONDS.to_owned(), 7.5),
        ]
    );
}

#[tokio::test]
async fn a_failed_run_is_notified_with_its_reason_and_step_and_counted_by_its_step() {
    let stack = Stack::fresh().await;
    let subscribed = subscribed(&stack).await;
    let state = event(FUNCTION, "valid-failed.json");
    ended_job(&stack, &state, Status::Failed, Some("CheckDataFreshness")).await;
    let message = notify(&stack, &subscribed, &state, "FAILED").await;
    assert!(
        message["error"].as_str().is_some_and(|e| e.contains("stale data")),
        "{message}"
    );
    assert_eq!(message["failed_step"], "CheckDataFreshness");
    let written = String::from_utf8(subscribed.deps.metrics.inner().written()).expect("text");
    let line: Value = serde_json::from_str(written.trim()).expect("one EMF line");
    assert_eq!(
        (
            &line[metrics::FAILED_STEP],
            &line[metrics::BACKTESTS_FAILED],
            &line[metrics::ENVIRONMENT]
        ),
        (
            &serde_json::json!("CheckDataFreshness"),
            &serde_json::json!(1.0),
            &serde_json::json!("test")
        )
    );
}

#[tokio::test]
async fn a_stopped_execution_is_told_from_its_cancelled_job() {
    let stack = Stack::fresh().await;
    let subscribed = subscribed(&stack).await;
    // The rule on stopped executions sends only the run id: the rest comes from the (cancelled) job.
    let state = event(FUNCTION, "valid-stopped-execution.json");
    sample_job(&stack, state["run_id"].as_str().expect("run id"), Status::Cancelled).await;
    let message = notify(&stack, &subscribed, &state, "CANCELLED").await;
    assert_eq!(message["error"], "cancelled by its owner");
}

#[tokio::test]
async fn notify_refuses_a_state_without_a_valid_run_id() {
    let stack = Stack::fresh().await;
    let subscribed = subscribed(&stack).await;
    for name in ["invalid-malformed-run-id.json", "invalid-missing-run-id.json"] {
        let answer = notify_completion::handle(&subscribed.deps, invocation(&event(FUNCTION, name))).await;
        assert_invalid_input(answer, "run_id");
    }
    assert!(stack.messages(&subscribed.inbox).await.is_empty(), "nothing published");
}
