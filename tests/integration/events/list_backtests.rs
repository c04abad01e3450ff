//! GET /backtests: every job newest first, or one status's page by page through `next_cursor`; a malformed query
//! names its parameter; listing writes nothing.

use std::collections::HashSet;

use serde_json::Value;
use tradai::backtest::{RunId, Status, WorkflowRecord};
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{event, request, sample_request};
use crate::answer::Answer;

const FUNCTION: &str = "list-backtests";

/// Five queued, three running and two completed jobs, one minute apart.
async fn jobs(stack: &Stack) {
    let store = stack.store();
    let now = Timestamp::now();
    let mut age = 0;
    for (status, count) in [(Status::Queued, 5), (Status::Running, 3), (Status::Completed, 2)] {
        for _ in 0..count {
            age += 1;
            let created = now.minus(chrono::TimeDelta::minutes(age));
            store
                .create(&WorkflowRecord::new(RunId::new(), sample_request(), status, created))
                .await
                .expect("created");
        }
    }
}

fn deps(stack: &Stack) -> list_backtests::Deps<tradai::store::DynamoDbStore> {
    list_backtests::Deps {
        store: stack.store(),
        mlflow_ui: None,
    }
}

async fn list(stack: &Stack, event: &Value) -> Answer {
    let request = tradai_tests::events::request_from_json(&event.to_string());
    let answer = Answer::read(list_backtests::handle(&deps(stack), request).await.expect("answers"));
    answer.assert_well_formed(event);
    answer
}

fn newest_first(listed: &[Value]) -> bool {
    let created: Vec<&str> = listed
        .iter()
        .map(|b| b["created_at"].as_str().expect("created_at"))
        .collect();
    created.windows(2).all(|pair| pair[0] > pair[1])
}

#[tokio::test]
async fn every_job_is_listed_newest_first() {
    let stack = Stack::fresh().await;
    jobs(&stack).await;
    let before = stack.items().await;
    let answer = list(&stack, &event(FUNCTION, "valid.json")).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let listed = answer.json["backtests"].as_array().expect("backtests");
    assert!(newest_first(listed), "newest first");
    assert_eq!(listed.len(), 10);
    assert_eq!(answer.json["next_cursor"], Value::Null);
    assert_eq!(stack.items().await, before, "listing writes nothing");
}

#[tokio::test]
async fn following_next_cursor_reaches_every_job_of_a_status_once() {
    let stack = Stack::fresh().await;
    jobs(&stack).await;
    let event = event(FUNCTION, "valid-by-status.json");
    let status = event["queryStringParameters"]["status"].as_str().expect("a status");
    let answer = list(&stack, &event).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let listed = answer.json["backtests"].as_array().expect("backtests");
    assert!(newest_first(listed), "newest first");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|b| b["status"] == status));
    let mut seen: Vec<Value> = listed.iter().map(|b| b["run_id"].clone()).collect();
    let mut cursor = answer.json["next_cursor"].as_str().expect("a next page").to_owned();
    for _ in 0..10 {
        let mut next = event.clone();
        next["queryStringParameters"]["cursor"] = Value::from(cursor.clone());
        let raw = format!("{}&cursor={cursor}", event["rawQueryString"].as_str().expect("query"));
        next["rawQueryString"] = Value::from(raw);
        let page = list(&stack, &next).await;
        assert_eq!(page.status, 200, "{}", page.json);
        seen.extend(
            page.json["backtests"]
                .as_array()
                .expect("list")
                .iter()
                .map(|b| b["run_id"].clone()),
        );
        match page.json["next_cursor"].as_str() {
            Some(text) => cursor = text.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);
}

#[tokio::test]
async fn by_submitter_lists_only_that_callers_jobs_page_by_page() {
    let stack = Stack::fresh().await;
    jobs(&stack).await; // nobody's: submitted without a principal
    let event = event(FUNCTION, "valid-by-submitter.json");
    let ada = event["queryStringParameters"]["submitted_by"]
        .as_str()
        .expect("a submitter");
    let store = stack.store();
    let now = Timestamp::now();
    let mut adas = Vec::new();
    for (index, (status, caller)) in [
        (Status::Queued, ada),
        (Status::Running, "arn:aws:iam::123456789012:user/bob"),
        (Status::Completed, ada),
        (Status::Cancelled, ada),
        (Status::Queued, "arn:aws:iam::123456789012:user/bob"),
    ]
    .into_iter()
    .enumerate()
    {
        let created = now.minus(chrono::TimeDelta::seconds(index as i64));
        let record =
            WorkflowRecord::new(RunId::new(), sample_request(), status, created).submitted_by(Some(caller.to_owned()));
        if caller == ada {
            adas.push(Value::from(record.run_id.to_string()));
        }
        store.create(&record).await.expect("created");
    }
    let before = stack.items().await;

    let mut seen = Vec::new();
    let mut page = event.clone();
    for _ in 0..10 {
        let answer = list(&stack, &page).await;
        assert_eq!(answer.status, 200, "{}", answer.json);
        let listed = answer.json["backtests"].as_array().expect("backtests");
        assert!(listed.len() <= 2 && newest_first(listed), "{listed:?}");
        assert!(listed.iter().all(|b| b["submitted_by"] == ada), "{listed:?}");
        seen.extend(listed.iter().map(|b| b["run_id"].clone()));
        let Some(cursor) = answer.json["next_cursor"].as_str() else {
            break;
        };
        page["queryStringParameters"]["cursor"] = Value::from(cursor);
        let raw = format!("{}&cursor={cursor}", event["rawQueryString"].as_str().expect("query"));
        page["rawQueryString"] = Value::from(raw);
    }
    assert_eq!(
        seen, adas,
        "every job of that caller once, newest first, and no one else's"
    );

    let mut cancelled = event.clone();
    cancelled["queryStringParameters"]["status"] = Value::from("CANCELLED");
    let raw = format!("{}&status=CANCELLED", event["rawQueryString"].as_str().expect("query"));
    cancelled["rawQueryString"] = Value::from(raw);
    let answer = list(&stack, &cancelled).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let listed = answer.json["backtests"].as_array().expect("backtests");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["run_id"], adas[2]);
    assert_eq!(stack.items().await, before, "listing writes nothing");
}

#[tokio::test]
async fn a_malformed_query_names_its_parameter_and_writes_nothing() {
    let stack = Stack::fresh().await;
    jobs(&stack).await;
    let before = stack.items().await;
    for (name, field) in [
        ("invalid-cursor.json", "cursor"),
        ("invalid-limit-too-large.json", "limit"),
        ("invalid-unknown-parameter.json", "page"),
        ("invalid-unknown-status.json", "status"),
        ("invalid-empty-submitter.json", "submitted_by"),
    ] {
        let answer = Answer::read(
            list_backtests::handle(&deps(&stack), request(FUNCTION, name))
                .await
                .expect("answers"),
        );
        answer.assert_well_formed(&event(FUNCTION, name));
        answer.assert_names_field(field);
    }
    assert_eq!(stack.items().await, before, "listing writes nothing");
}
