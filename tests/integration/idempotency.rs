//! `Idempotency-Key` on POST /backtest against the stand-in: one key, one job, one message.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use tradai::backtest::{RunId, Status};
use tradai::executor::SqsQueue;
use tradai::http::REPLAYED_HEADER;
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;
use tradai_tests::events;
use tradai_tests::project_root;
use tradai_tests::stack::Stack;

use crate::answer::Answer;

/// The valid sample event with `key` as its Idempotency-Key and, if given, another strategy name.
fn event(key: &str, strategy: Option<&str>) -> lambda_http::Request {
    let path = project_root().join("events/submit-backtest/valid.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("JSON");
    event["headers"]["idempotency-key"] = Value::from(key);
    if let Some(name) = strategy {
        let mut body: Value = serde_json::from_str(event["body"].as_str().expect("body")).expect("JSON body");
        body["strategy_name"] = Value::from(name);
        event["body"] = Value::from(body.to_string());
    }
    events::request_from_json(&event.to_string())
}

/// The submit handler on the stack's table, queue and idempotency keys.
pub(crate) fn queue_deps(
    stack: &Stack,
) -> submit_backtest::Deps<
    tradai::store::DynamoDbStore,
    SqsQueue,
    tradai::idempotency::DynamoDbKeys,
    tradai_tests::Recorded,
> {
    submit_backtest::Deps {
        metrics: tradai_tests::metrics(),
        store: stack.store(),
        launcher: SqsQueue::new(stack.sqs.clone(), &stack.queue_url),
        keys: stack.keys(),
    }
}

/// `again` answers a repeated Idempotency-Key with `first`'s job: both 202 with one run id, only `again` marked
/// replayed.
pub(crate) fn assert_replayed(first: &Answer, again: &Answer) {
    assert_eq!(
        (first.status, again.status),
        (202, 202),
        "{} {}",
        first.json,
        again.json
    );
    assert_eq!(first.json["run_id"], again.json["run_id"]);
    assert_eq!(
        (first.header(REPLAYED_HEADER), again.header(REPLAYED_HEADER)),
        (None, Some("true"))
    );
}

#[tokio::test]
async fn the_same_key_and_body_answer_with_the_first_job() {
    let stack = Stack::fresh().await;
    let deps = queue_deps(&stack);
    let key = uuid::Uuid::new_v4().to_string();
    let first = Answer::read(
        submit_backtest::handle(&deps, event(&key, None))
            .await
            .expect("answers"),
    );
    let second = Answer::read(
        submit_backtest::handle(&deps, event(&key, None))
            .await
            .expect("answers"),
    );
    assert_replayed(&first, &second);
    assert_eq!(stack.items().await.len(), 1);
    assert_eq!(stack.messages(&stack.queue_url).await.len(), 1);
    assert_eq!(
        tradai_tests::published(&deps.metrics),
        [(tradai::metrics::BACKTESTS_SUBMITTED.to_owned(), 1.0)],
        "a replay is not a second submission"
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let stack = Stack::fresh().await;
    let deps = queue_deps(&stack);
    let key = uuid::Uuid::new_v4().to_string();
    let first = Answer::read(
        submit_backtest::handle(&deps, event(&key, None))
            .await
            .expect("answers"),
    );
    assert_eq!(first.status, 202);
    let other = Answer::read(
        submit_backtest::handle(&deps, event(&key, Some("OtherStrategy")))
            .await
            .expect("answers"),
    );
    assert_eq!(other.status, 422, "{}", other.json);
    assert_eq!(other.json["error"]["details"][0]["field"], "Idempotency-Key");
    assert_eq!(stack.items().await.len(), 1, "nothing written for the refused request");
    assert_eq!(stack.messages(&stack.queue_url).await.len(), 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_make_one_job() {
    let stack = Stack::fresh().await;
    let deps = std::sync::Arc::new(queue_deps(&stack));
    let key = uuid::Uuid::new_v4().to_string();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (deps, request) = (deps.clone(), event(&key, None));
        requests.spawn(async move { Answer::read(submit_backtest::handle(&deps, request).await.expect("answers")) });
    }
    let mut run_ids = std::collections::HashSet::new();
    while let Some(answer) = requests.join_next().await {
        let answer = answer.expect("task");
        assert_eq!(answer.status, 202, "{}", answer.json);
        run_ids.insert(answer.json["run_id"].clone());
    }
    assert_eq!(run_ids.len(), 1, "every answer names the same job");
    assert_eq!(stack.items().await.len(), 1);
    assert_eq!(stack.messages(&stack.queue_url).await.len(), 1);
    assert_eq!(tradai_tests::published(&deps.metrics).len(), 1, "one job, one count");
}

#[tokio::test]
async fn a_failed_handoff_frees_the_key_for_the_retry() {
    let stack = Stack::fresh().await;
    let key = uuid::Uuid::new_v4().to_string();
    let broken = submit_backtest::Deps {
        metrics: tradai_tests::metrics(),
        store: stack.store(),
        launcher: SqsQueue::new(
            stack.sqs.clone(),
            stack.queue_url.replace("tradai-backtest-", "missing-"),
        ),
        keys: stack.keys(),
    };
    let failed = Answer::read(
        submit_backtest::handle(&broken, event(&key, None))
            .await
            .expect("answers"),
    );
    assert_eq!(failed.status, 503, "{}", failed.json);
    let retried = Answer::read(
        submit_backtest::handle(&queue_deps(&stack), event(&key, None))
            .await
            .expect("answers"),
    );
    assert_eq!(retried.status, 202, "{}", retried.json);
    assert_eq!(retried.header(REPLAYED_HEADER), None);
    let run_id: RunId = retried.json["run_id"].as_str().expect("run id").parse().expect("valid");
    assert_eq!(
        stack.store().get(run_id).await.expect("read").expect("stored").status,
        Status::Queued
    );
    assert_eq!(
        stack.items().await.len(),
        2,
        "the failed attempt stays on record as FAILED"
    );
    assert_eq!(stack.messages(&stack.queue_url).await.len(), 1);
}

#[tokio::test]
async fn an_expired_key_starts_afresh() {
    let stack = Stack::fresh().await;
    let key = uuid::Uuid::new_v4().to_string();
    let yesterday = Timestamp::now().minus(chrono::TimeDelta::hours(25));
    stack
        .dynamodb
        .put_item()
        .table_name(&stack.idempotency_table)
        .item("idempotency_key", AttributeValue::S(key.clone()))
        .item("fingerprint", AttributeValue::S("an older request".into()))
        .item("run_id", AttributeValue::S(RunId::new().to_string()))
        .item("created_at", AttributeValue::S(yesterday.to_string()))
        .item(
            "expires_at",
            AttributeValue::N(yesterday.plus(chrono::TimeDelta::hours(24)).epoch_seconds().to_string()),
        )
        .send()
        .await
        .expect("an expired claim");
    let answer = Answer::read(
        submit_backtest::handle(&queue_deps(&stack), event(&key, None))
            .await
            .expect("answers"),
    );
    assert_eq!(answer.status, 202, "{}", answer.json);
    assert_eq!(answer.header(REPLAYED_HEADER), None);
}
