//! The backtest queue with its dead-letter queue, against the stand-in: a message whose job cannot be launched
//! comes back until its fifth receive, then waits in the dead-letter queue, and the orphan scan fails its job with
//! the hand-off's reason.

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::TimeDelta;
use lambda_runtime::{Context, LambdaEvent};
use tradai::backtest::{RunId, Status, WorkflowRecord};
use tradai::executor::{AwsInspector, SqsQueue, StepFunctions};
use tradai::jobs::Submission;
use tradai::jobs::{OrphanLimits, QUEUED_STEP, scan};
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;
use tradai_local::event_source::sqs_record;
use tradai_tests::stack::Stack;

#[tokio::test]
async fn a_poison_message_reaches_the_dead_letter_queue_after_five_receives_and_its_job_is_failed_with_the_reason() {
    let stack = Stack::fresh().await;
    let body = br#"{"strategy_name":"Poison","strategy_version":1,"config":{"timeframe":"5m","symbols":["BTC/USDT"],
        "start_date":"2024-01-01","end_date":"2024-02-01"}}"#;
    let request = tradai::backtest::BacktestRequest::from_json(body, Timestamp::now().date()).expect("valid");
    let queue = SqsQueue::new(stack.sqs.clone(), &stack.queue_url);
    let run_id: RunId = tradai::jobs::submit(&stack.store(), &queue, Submission::new(request))
        .await
        .expect("queued")
        .run_id;
    // The consumer's workflow does not exist: every launch fails.
    let missing = "arn:aws:states:us-east-1:123456789012:stateMachine:tradai-backtest-missing";
    let deps = sqs_consumer::Deps {
        store: stack.store(),
        launcher: StepFunctions::new(aws_sdk_sfn::Client::new(&stack.sdk), missing),
    };
    let queue_arn = format!(
        "arn:aws:sqs:us-east-1:123456789012:{}",
        stack.queue_url.rsplit('/').next().unwrap_or_default()
    );
    let mut receives = 0;
    for _ in 0..10 {
        let received = stack
            .sqs
            .receive_message()
            .queue_url(&stack.queue_url)
            .visibility_timeout(0)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("received");
        let Some(message) = received.messages.unwrap_or_default().into_iter().next() else {
            break;
        };
        receives += 1;
        let event: SqsEvent =
            serde_json::from_value(serde_json::json!({"Records": [sqs_record(&message, &queue_arn)]})).expect("event");
        let answer = sqs_consumer::handle(&deps, LambdaEvent::new(event, Context::default()))
            .await
            .expect("answers");
        assert_eq!(
            answer.batch_item_failures.len(),
            1,
            "the launch fails: the message comes back"
        );
    }
    assert_eq!(receives, 5, "maxReceiveCount is 5");
    let dead = stack.messages(&stack.dead_letter_queue_url).await;
    assert_eq!(dead.len(), 1, "the message waits in the dead-letter queue");
    let job: serde_json::Value = serde_json::from_str(dead[0].body().unwrap_or_default()).expect("JSON");
    assert_eq!(job["run_id"], run_id.to_string());

    let queued: WorkflowRecord = stack.store().get(run_id).await.expect("read").expect("there");
    assert_eq!(queued.status, Status::Queued);
    let later = Timestamp::now().plus(TimeDelta::minutes(61));
    let limits = OrphanLimits {
        max_running: TimeDelta::minutes(90),
        max_queued: TimeDelta::minutes(60),
    };
    let inspector = AwsInspector::new(
        aws_sdk_sfn::Client::new(&stack.sdk),
        aws_sdk_ecs::Client::new(&stack.sdk),
        None,
    );
    let (report, _) = scan(&stack.store(), &inspector, limits, later).await.expect("scanned");
    assert_eq!(report.jobs_marked_failed, [run_id]);
    let failed = stack.store().get(run_id).await.expect("read").expect("there");
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.failed_step.as_deref(), Some(QUEUED_STEP));
    let error = failed.error.unwrap_or_default();
    assert!(
        error.contains("never started")
            && error.contains("last hand-off failed")
            && error.contains("StateMachineDoesNotExist"),
        "{error}"
    );
}
