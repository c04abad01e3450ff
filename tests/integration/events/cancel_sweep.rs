//! POST /sweeps/{sweep_id}/cancel against DynamoDB and Step Functions stand-ins: the sweep is CANCELLED, its
//! running workflow stopped, every unfinished child CANCELLED (a finished one left as it is); cancelling again
//! repeats nothing; an unknown sweep is 404.

use tradai::backtest::Status;
use tradai::executor::AwsStopper;
use tradai::store::WorkflowStore;
use tradai::sweep::{StepFunctionsSweeps, SweepStore};
use tradai_tests::stack::Stack;

use super::{end_child, event, request, sample_sweep};
use crate::answer::Answer;

const FUNCTION: &str = "cancel-sweep";

async fn ask(stack: &Stack, machine: &str, name: &str) -> Answer {
    let sfn = aws_sdk_sfn::Client::new(&stack.sdk);
    let deps = cancel_sweep::Deps {
        sweeps: stack.sweeps(),
        jobs: stack.store(),
        launcher: StepFunctionsSweeps::new(sfn.clone(), machine),
        stopper: AwsStopper::new(sfn, aws_sdk_ecs::Client::new(&stack.sdk), None)
            .with_workflow(Some(machine.to_owned())),
    };
    let answer = Answer::read(
        cancel_sweep::handle(&deps, request(FUNCTION, name))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

#[tokio::test]
async fn a_cancel_stops_the_workflow_and_cancels_every_unfinished_child() {
    let stack = Stack::fresh().await;
    let machine = stack.state_machine().await;
    let execution = stack.running_execution().await;
    let sweep = sample_sweep(&stack, Status::Running, Some(execution.clone())).await;
    end_child(&stack, &sweep, 2, Status::Completed, 1.0).await;

    let answer = ask(&stack, &machine, "valid.json").await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(
        (answer.json["status"].as_str(), answer.json["previous_status"].as_str()),
        (Some("CANCELLED"), Some("RUNNING"))
    );
    assert_eq!(answer.json["children_cancelled"], 5);
    let described = aws_sdk_sfn::Client::new(&stack.sdk)
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .expect("described");
    assert_eq!(described.status.as_str(), "ABORTED", "the sweep's workflow was stopped");
    let children = stack.store().get_many(&sweep.child_ids()).await.expect("read");
    let statuses: Vec<Status> = children.iter().map(|child| child.status).collect();
    assert_eq!(
        statuses.iter().filter(|status| **status == Status::Cancelled).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(statuses[2], Status::Completed);
    let stored = stack.sweeps().get(sweep.sweep_id).await.expect("read").expect("there");
    assert_eq!(stored.status, Status::Cancelled);
    assert!(stored.cancelled_by.is_some(), "the caller is recorded");

    let again = ask(&stack, &machine, "valid.json").await;
    assert_eq!(
        (again.status, again.json["children_cancelled"].as_u64()),
        (200, Some(0))
    );
}

#[tokio::test]
async fn an_unknown_sweep_is_404() {
    let stack = Stack::fresh().await;
    let machine = stack.state_machine().await;
    let answer = ask(&stack, &machine, "unknown-sweep-id.json").await;
    assert_eq!(answer.status, 404, "{}", answer.json);
}
