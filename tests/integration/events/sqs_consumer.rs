//! sqs-consumer against DynamoDB and Step Functions: each queued job of a batch is launched once and its execution
//! recorded, however often its message comes; a cancelled job's message is done without a launch; a malformed
//! record and every record after it are delivered again.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Context, LambdaEvent};
use tradai::backtest::{RunId, Status};
use tradai::executor::StepFunctions;
use tradai::store::{DynamoDbStore, WorkflowStore};
use tradai_tests::stack::Stack;

use super::{event, sample_job};

const FUNCTION: &str = "sqs-consumer";

struct Consumer {
    stack: Stack,
    machine: String,
    deps: sqs_consumer::Deps<DynamoDbStore, StepFunctions>,
}

async fn consumer() -> Consumer {
    let stack = Stack::fresh().await;
    let machine = stack.state_machine().await;
    let deps = sqs_consumer::Deps {
        store: stack.store(),
        launcher: StepFunctions::new(aws_sdk_sfn::Client::new(&stack.sdk), &machine),
    };
    Consumer { stack, machine, deps }
}

impl Consumer {
    /// The sample event `name`, with a job recorded in `status` for each of its records.
    async fn batch(&self, name: &str, status: Status) -> (SqsEvent, Vec<RunId>) {
        let event: SqsEvent = serde_json::from_value(event(FUNCTION, name)).expect("an SQS event");
        let mut run_ids = Vec::new();
        for record in &event.records {
            let body: serde_json::Value =
                serde_json::from_str(record.body.as_deref().unwrap_or_default()).unwrap_or_default();
            if let Some(run_id) = body["run_id"].as_str().filter(|id| id.parse::<RunId>().is_ok()) {
                run_ids.push(sample_job(&self.stack, run_id, status).await);
            }
        }
        (event, run_ids)
    }

    /// The ids of the records the handler answers as failed.
    async fn consume(&self, event: &SqsEvent) -> Vec<String> {
        let invocation = LambdaEvent::new(event.clone(), Context::default());
        let response = sqs_consumer::handle(&self.deps, invocation).await.expect("answers");
        response
            .batch_item_failures
            .into_iter()
            .map(|failure| failure.item_identifier)
            .collect()
    }

    /// How many executions the state machine has.
    async fn executions(&self) -> usize {
        aws_sdk_sfn::Client::new(&self.stack.sdk)
            .list_executions()
            .state_machine_arn(&self.machine)
            .send()
            .await
            .expect("listed")
            .executions()
            .len()
    }
}

#[tokio::test]
async fn each_queued_job_of_a_batch_is_launched_once_and_its_execution_recorded() {
    let consumer = consumer().await;
    let (single, first) = consumer.batch("valid.json", Status::Queued).await;
    let (batch, rest) = consumer.batch("valid-batch.json", Status::Queued).await;
    assert!(consumer.consume(&single).await.is_empty());
    assert!(consumer.consume(&batch).await.is_empty());
    assert_eq!(consumer.executions().await, 4);
    for run_id in first.into_iter().chain(rest) {
        let record = consumer.stack.store().get(run_id).await.expect("read").expect("there");
        assert_eq!(
            record.status,
            Status::Queued,
            "the container claims it, not the consumer"
        );
        let arn = record.execution_arn.expect("the execution is recorded");
        assert!(arn.ends_with(&format!(":{run_id}")), "{arn}");
    }
}

#[tokio::test]
async fn the_same_message_ten_times_one_after_another_and_at_once_starts_one_execution() {
    let consumer = consumer().await;
    let (event, _) = consumer.batch("valid.json", Status::Queued).await;
    for _ in 0..10 {
        assert!(consumer.consume(&event).await.is_empty());
    }
    let at_once = futures::future::join_all((0..10).map(|_| consumer.consume(&event))).await;
    assert!(at_once.iter().all(Vec::is_empty), "{at_once:?}");
    assert_eq!(consumer.executions().await, 1);
}

#[tokio::test]
async fn a_cancelled_jobs_message_is_done_without_a_launch() {
    let consumer = consumer().await;
    let (event, run_ids) = consumer.batch("cancelled-job.json", Status::Cancelled).await;
    assert!(consumer.consume(&event).await.is_empty(), "the message is deleted");
    assert_eq!(consumer.executions().await, 0);
    let record = consumer
        .stack
        .store()
        .get(run_ids[0])
        .await
        .expect("read")
        .expect("there");
    assert_eq!((record.status, record.execution_arn), (Status::Cancelled, None));
}

#[tokio::test]
async fn a_malformed_record_and_every_record_after_it_are_delivered_again() {
    let consumer = consumer().await;
    let (malformed, _) = consumer.batch("invalid-malformed-body.json", Status::Queued).await;
    let ids: Vec<String> = malformed.records.iter().filter_map(|r| r.message_id.clone()).collect();
    assert_eq!(consumer.consume(&malformed).await, ids);
    assert_eq!(consumer.executions().await, 0, "nothing after the failed record ran");

    // The third of five records fails: the third to the fifth come back, the first two were launched.
    let (mut batch, _) = consumer.batch("valid-batch.json", Status::Queued).await;
    let (more, _) = consumer.batch("valid.json", Status::Queued).await;
    batch.records.insert(2, malformed.records[0].clone());
    batch.records.extend(more.records);
    let failed = consumer.consume(&batch).await;
    let expected: Vec<String> = batch.records[2..].iter().filter_map(|r| r.message_id.clone()).collect();
    assert_eq!(failed, expected);
    assert_eq!(consumer.executions().await, 2);
}
