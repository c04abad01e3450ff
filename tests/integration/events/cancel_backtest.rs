//! POST /backtest/{run_id}/cancel: a running job becomes CANCELLED and its execution and task are stopped; a
//! finished job is 409; an unknown run id 404 and a malformed one 400, each writing nothing.

use tradai::backtest::{RunId, Status, WorkflowRecord};
use tradai::executor::AwsStopper;
use tradai::store::{DynamoDbStore, WorkflowStore};
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{caller_of, event, request, run_id_of, sample_request};
use crate::answer::Answer;

const FUNCTION: &str = "cancel-backtest";

fn deps(stack: &Stack) -> cancel_backtest::Deps<DynamoDbStore, AwsStopper, tradai_tests::Recorded> {
    cancel_backtest::Deps {
        metrics: tradai_tests::metrics(),
        store: stack.store(),
        stopper: AwsStopper::new(
            aws_sdk_sfn::Client::new(&stack.sdk),
            aws_sdk_ecs::Client::new(&stack.sdk),
            None,
        ),
    }
}

async fn cancel(stack: &Stack, request: lambda_http::Request) -> Answer {
    Answer::read(cancel_backtest::handle(&deps(stack), request).await.expect("answers"))
}

#[tokio::test]
async fn a_running_job_is_cancelled_and_its_execution_and_task_stopped() {
    let stack = Stack::fresh().await;
    let event = event(FUNCTION, "valid.json");
    let run_id = run_id_of(FUNCTION, "valid.json");
    // The job runs in a real (emulated) execution and task, which must be stopped.
    let mut record = WorkflowRecord::new(run_id, sample_request(), Status::Running, Timestamp::now());
    record.execution_arn = Some(stack.running_execution().await);
    record.task_arn = Some(stack.running_task().await);
    stack.store().create(&record).await.expect("created");

    let deps = deps(&stack);
    let answer = Answer::read(
        cancel_backtest::handle(&deps, request(FUNCTION, "valid.json"))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event);
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["status"], "CANCELLED");
    assert_eq!(answer.json["previous_status"], "RUNNING");
    // Cancelling it again answers the same and counts nothing more.
    let again = Answer::read(
        cancel_backtest::handle(&deps, request(FUNCTION, "valid.json"))
            .await
            .expect("answers"),
    );
    assert_eq!(
        (again.status, &again.json["previous_status"]),
        (200, &serde_json::json!("CANCELLED"))
    );
    assert_eq!(
        tradai_tests::published(&deps.metrics),
        [(tradai::metrics::BACKTESTS_CANCELLED.to_owned(), 1.0)]
    );
    assert_eq!(answer.json["stop_requested"], true);
    let stored = stack.store().get(run_id).await.expect("read").expect("stored");
    assert_eq!(stored.status, Status::Cancelled);
    let caller = caller_of(&event).expect("the sample event carries an IAM principal");
    assert_eq!(answer.json["cancelled_by"], caller.as_str());
    assert_eq!(
        stored.cancelled_by.as_deref(),
        Some(caller.as_str()),
        "the canceller is recorded"
    );
    let execution = aws_sdk_sfn::Client::new(&stack.sdk)
        .describe_execution()
        .execution_arn(record.execution_arn.clone().expect("arn"))
        .send()
        .await
        .expect("execution");
    assert_eq!(execution.status, aws_sdk_sfn::types::ExecutionStatus::Aborted);
    let task_arn = record.task_arn.clone().expect("arn");
    let cluster = task_arn.split('/').nth(1).expect("cluster in the ARN").to_owned();
    let tasks = aws_sdk_ecs::Client::new(&stack.sdk)
        .describe_tasks()
        .cluster(cluster)
        .tasks(task_arn)
        .send()
        .await
        .expect("tasks");
    assert_eq!(tasks.tasks()[0].desired_status(), Some("STOPPED"));
}

#[tokio::test]
async fn a_finished_job_cannot_be_cancelled() {
    let stack = Stack::fresh().await;
    let event = event(FUNCTION, "valid.json");
    let run_id = event["pathParameters"]["run_id"].as_str().expect("run id");
    let mut finished = WorkflowRecord::new(RunId::new(), sample_request(), Status::Completed, Timestamp::now());
    finished.result = Some(serde_json::json!({"total_trades": 1}));
    stack.store().create(&finished).await.expect("created");
    let text = event.to_string().replace(run_id, &finished.run_id.to_string());
    let conflict = cancel(&stack, tradai_tests::events::request_from_json(&text)).await;
    assert_eq!(conflict.status, 409, "{}", conflict.json);
    assert_eq!(conflict.json["error"]["code"], "Conflict");
}

#[tokio::test]
async fn an_unknown_or_malformed_run_id_writes_nothing() {
    let stack = Stack::fresh().await;
    let before = stack.items().await;
    let answer = cancel(&stack, request(FUNCTION, "unknown-run-id.json")).await;
    answer.assert_well_formed(&event(FUNCTION, "unknown-run-id.json"));
    assert_eq!(answer.status, 404, "{}", answer.json);
    assert_eq!(stack.items().await, before, "nothing written");
    for name in ["invalid-malformed-run-id.json", "invalid-not-version-4.json"] {
        let answer = cancel(&stack, request(FUNCTION, name)).await;
        answer.assert_well_formed(&event(FUNCTION, name));
        answer.assert_names_field("run_id");
        assert_eq!(stack.items().await, before, "nothing written");
    }
}

#[tokio::test]
async fn a_cancel_before_the_execution_is_recorded_stops_it_by_its_run_id() {
    let stack = Stack::fresh().await;
    let machine = stack.state_machine().await;
    let sfn = aws_sdk_sfn::Client::new(&stack.sdk);
    // Submitted and started, but the answer that records the execution on the job was lost.
    let record = WorkflowRecord::new(RunId::new(), sample_request(), Status::Queued, Timestamp::now());
    stack.store().create(&record).await.expect("created");
    let execution = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name(record.run_id.to_string())
        .send()
        .await
        .expect("started")
        .execution_arn;
    // The stand-in runs the execution on a thread of its own: a stop racing its very start is overwritten there.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let deps = cancel_backtest::Deps {
        metrics: tradai_tests::metrics(),
        store: stack.store(),
        stopper: AwsStopper::new(sfn.clone(), aws_sdk_ecs::Client::new(&stack.sdk), None).with_workflow(Some(machine)),
    };
    let event = event(FUNCTION, "valid.json").to_string();
    let valid_run_id = super::event(FUNCTION, "valid.json")["pathParameters"]["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();
    let request = tradai_tests::events::request_from_json(&event.replace(&valid_run_id, &record.run_id.to_string()));
    let answer = Answer::read(cancel_backtest::handle(&deps, request).await.expect("answers"));
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["stop_requested"], true);
    // The stand-in's engine takes a stop only once the execution's worker thread exists (before that, moto's
    // StopExecution is a no-op): a cancel is repeatable and repeats the stop, as a client would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut attempts = 0;
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .expect("described");
        if described.status == aws_sdk_sfn::types::ExecutionStatus::Aborted {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the execution is still {:?}",
            described.status
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        attempts += 1;
        if attempts % 4 == 0 {
            let again =
                tradai_tests::events::request_from_json(&event.replace(&valid_run_id, &record.run_id.to_string()));
            let answer = Answer::read(cancel_backtest::handle(&deps, again).await.expect("answers"));
            assert_eq!(
                (answer.status, answer.json["stop_requested"].clone()),
                (200, serde_json::json!(true))
            );
        }
    }

    // A job that was never started is still cancelled: there is nothing to stop.
    let unstarted = WorkflowRecord::new(RunId::new(), sample_request(), Status::Queued, Timestamp::now());
    stack.store().create(&unstarted).await.expect("created");
    let request = tradai_tests::events::request_from_json(&event.replace(&valid_run_id, &unstarted.run_id.to_string()));
    let answer = Answer::read(cancel_backtest::handle(&deps, request).await.expect("answers"));
    assert_eq!(
        (answer.status, answer.json["stop_requested"].clone()),
        (200, serde_json::json!(false))
    );
}
