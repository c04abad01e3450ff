//! POST /backtest: an accepted submission is recorded QUEUED and handed to the queue once; a malformed one names
//! its field and writes nothing.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use tradai::backtest::{BacktestRequest, RunId};
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{caller_of, event, request};
use crate::answer::Answer;
use crate::idempotency::queue_deps as deps;

const FUNCTION: &str = "submit-backtest";

#[tokio::test]
async fn an_accepted_submission_is_recorded_queued_and_sent_once() {
    for name in [
        "valid.json",
        "valid-alias-with-overrides.json",
        "valid-with-idempotency-key.json",
    ] {
        // A fresh stack per event, so "one item, one message" is checked on an empty table and queue.
        let stack = Stack::fresh().await;
        let event = event(FUNCTION, name);
        let answer = Answer::read(
            submit_backtest::handle(&deps(&stack), request(FUNCTION, name))
                .await
                .expect("answers"),
        );
        answer.assert_well_formed(&event);
        let items = stack.items().await;
        let messages = stack.messages(&stack.queue_url).await;
        assert_eq!(answer.status, 202, "{name}: {}", answer.json);
        let run_id = answer.json["run_id"].as_str().expect("run_id");
        run_id.parse::<RunId>().expect("run_id is a UUID v4");
        assert_eq!(answer.json["status"], "QUEUED");
        assert_eq!(answer.json["status_url"], format!("/backtest/{run_id}/status"));

        let body: Value = serde_json::from_str(event["body"].as_str().expect("body")).expect("JSON body");
        assert_eq!(items.len(), 1);
        let item = &items[0];
        assert_eq!(item["run_id"], AttributeValue::S(run_id.to_owned()));
        assert_eq!(item["status"], AttributeValue::S("QUEUED".into()));
        assert_eq!(item["workflow_type"], AttributeValue::S("backtest".into()));
        assert_eq!(
            item["strategy_name"],
            AttributeValue::S(body["strategy_name"].as_str().expect("name").into())
        );
        assert_eq!(item["created_at"], item["updated_at"]);
        let caller = caller_of(&event).expect("the sample events carry an IAM principal");
        assert_eq!(
            item["submitted_by"],
            AttributeValue::S(caller),
            "{name}: the submitter is recorded"
        );
        let record = stack
            .store()
            .get(run_id.parse().expect("id"))
            .await
            .expect("get")
            .expect("stored");
        let sent = BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("valid");
        assert_eq!(record.config, sent.config);
        assert_eq!(record.experiment_name, sent.experiment_name);

        assert_eq!(messages.len(), 1, "one message per accepted job");
        let message = &messages[0];
        let job: Value = serde_json::from_str(message.body().expect("body")).expect("JSON message");
        assert_eq!(job["run_id"], run_id);
        assert_eq!(job["config"]["symbols"], body["config"]["symbols"]);
        let attributes = message.attributes().expect("system attributes");
        let attribute = |name: &str| {
            attributes
                .get(&aws_sdk_sqs::types::MessageSystemAttributeName::from(name))
                .cloned()
        };
        assert_eq!(attribute("MessageGroupId").as_deref(), body["strategy_name"].as_str());
        assert_eq!(attribute("MessageDeduplicationId").as_deref(), Some(run_id));
    }
}

#[tokio::test]
async fn a_malformed_submission_names_the_field_and_writes_nothing() {
    let cases = [
        ("invalid-idempotency-key.json", "Idempotency-Key"),
        ("invalid-end-before-start.json", "config.end_date"),
        ("invalid-future-end-date.json", "config.end_date"),
        ("invalid-malformed-symbol.json", "config.symbols[1]"),
        ("invalid-missing-strategy-name.json", "strategy_name"),
        ("invalid-not-json.json", "body"),
        ("invalid-unknown-field.json", "priority"),
        ("invalid-unknown-timeframe.json", "config.timeframe"),
    ];
    let stack = Stack::fresh().await;
    let deps = deps(&stack);
    for (name, field) in cases {
        let answer = Answer::read(
            submit_backtest::handle(&deps, request(FUNCTION, name))
                .await
                .expect("answers"),
        );
        answer.assert_well_formed(&event(FUNCTION, name));
        answer.assert_names_field(field);
        let items = stack.items().await;
        let messages = stack.messages(&stack.queue_url).await;
        assert!(items.is_empty(), "{name} wrote {} items", items.len());
        assert!(messages.is_empty(), "{name} queued {} messages", messages.len());
    }
}
