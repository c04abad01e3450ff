//! Submission beyond the sample events: the hand-off failing, and no executor at all.

use serde_json::Value;
use tradai::backtest::{RunId, Status};
use tradai::executor::{NoExecutor, SqsQueue};
use tradai::store::WorkflowStore;
use tradai_tests::events;
use tradai_tests::project_root;
use tradai_tests::stack::Stack;

use crate::answer::Answer;

fn valid_event() -> lambda_http::Request {
    events::request(&project_root().join("events/submit-backtest/valid.json"))
}

#[tokio::test]
async fn a_failed_handoff_answers_503_and_leaves_no_job_queued() {
    let stack = Stack::fresh().await;
    let missing_queue = stack.queue_url.replace("tradai-backtest-", "no-such-queue-");
    let deps = submit_backtest::Deps {
        metrics: tradai_tests::metrics(),
        store: stack.store(),
        launcher: SqsQueue::new(stack.sqs.clone(), missing_queue),
        keys: stack.keys(),
    };
    let answer = Answer::read(submit_backtest::handle(&deps, valid_event()).await.expect("answers"));
    assert_eq!(answer.status, 503, "{}", answer.json);
    assert_eq!(answer.json["error"]["code"], "ServiceUnavailable");

    let items = stack.items().await;
    assert_eq!(
        items.len(),
        1,
        "the job is kept, as FAILED, so the attempt is on record"
    );
    let run_id: RunId = items[0]["run_id"].as_s().expect("run id").parse().expect("valid");
    let record = stack.store().get(run_id).await.expect("read").expect("stored");
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.failed_step.as_deref(), Some("Submit"));
    assert!(
        record
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("hand-off to the executor failed")),
        "{record:?}"
    );
    assert!(stack.messages(&stack.queue_url).await.is_empty());
}

#[tokio::test]
async fn without_an_executor_jobs_are_recorded_pending() {
    let stack = Stack::fresh().await;
    let deps = submit_backtest::Deps {
        metrics: tradai_tests::metrics(),
        store: stack.store(),
        launcher: NoExecutor,
        keys: stack.keys(),
    };
    let answer = Answer::read(submit_backtest::handle(&deps, valid_event()).await.expect("answers"));
    assert_eq!(answer.status, 202, "{}", answer.json);
    assert_eq!(answer.json["status"], "PENDING");
    let run_id: RunId = answer.json["run_id"].as_str().expect("run id").parse().expect("valid");
    let record = stack.store().get(run_id).await.expect("read").expect("stored");
    assert_eq!(record.status, Status::Pending);
    assert!(stack.messages(&stack.queue_url).await.is_empty());
}

#[tokio::test]
async fn two_submissions_of_one_body_are_two_jobs() {
    let stack = Stack::fresh().await;
    let deps = submit_backtest::Deps {
        metrics: tradai_tests::metrics(),
        store: stack.store(),
        launcher: SqsQueue::new(stack.sqs.clone(), &stack.queue_url),
        keys: stack.keys(),
    };
    let first = Answer::read(submit_backtest::handle(&deps, valid_event()).await.expect("answers"));
    let second = Answer::read(submit_backtest::handle(&deps, valid_event()).await.expect("answers"));
    assert_ne!(first.json["run_id"], second.json["run_id"]);
    let ids: Vec<Value> = stack
        .messages(&stack.queue_url)
        .await
        .iter()
        .map(|m| serde_json::from_str::<Value>(m.body().expect("body")).expect("JSON")["run_id"].clone())
        .collect();
    assert_eq!(ids.len(), 2);
}

/// openapi.yaml names exactly the settings `config_overrides` may set, as the request's validation has them.
#[test]
fn openapi_lists_the_settings_an_override_may_set() {
    let described = tradai_tests::openapi::document()
        .pointer("/components/schemas/BacktestRequest/properties/config/properties/config_overrides/description")
        .and_then(Value::as_str)
        .expect("config_overrides is described");
    let listed: Vec<&str> = described
        .split(|c: char| !(c.is_ascii_lowercase() || c == '_' || c == '.'))
        .filter(|word| word.contains('_') || tradai::backtest::OVERRIDABLE_SETTINGS.contains(word))
        .collect();
    for setting in tradai::backtest::OVERRIDABLE_SETTINGS {
        assert!(listed.contains(setting), "openapi.yaml does not name {setting}");
    }
    for word in listed.iter().filter(|word| **word != "config_overrides") {
        assert!(
            tradai::backtest::OVERRIDABLE_SETTINGS.contains(word),
            "openapi.yaml names {word}, which the validation refuses"
        );
    }
}
