//! FinishSweep against DynamoDB and S3 stand-ins: a sweep whose children completed is COMPLETED with its
//! leaderboard and picture in the results bucket; past the tolerance it is FAILED naming the failed child; an
//! execution that ended early fails it with how; a state without a sweep id is InvalidInput.

use serde_json::Value;
use tradai::backtest::Status;
use tradai::objects::ObjectStore;
use tradai::sweep::SweepStore;
use tradai_tests::stack::Stack;

use super::{assert_invalid_input, end_child, invocation, sample_sweep, state};

const FUNCTION: &str = "finish-sweep";

async fn finish(stack: &Stack, name: &str) -> Result<Value, lambda_runtime::Diagnostic> {
    let deps = finish_sweep::Deps {
        sweeps: stack.sweeps(),
        jobs: stack.store(),
        results: stack.results(),
        tracker: Some(super::registry()),
    };
    finish_sweep::handle(&deps, invocation(&state(FUNCTION, name, stack))).await
}

#[tokio::test]
async fn a_sweep_whose_children_completed_is_completed_with_its_leaderboard_and_picture() {
    let stack = Stack::fresh().await;
    let sweep = sample_sweep(&stack, Status::Running, None).await;
    for index in 0..6 {
        end_child(&stack, &sweep, index, Status::Completed, index as f64 * 0.3).await;
    }
    let answer = finish(&stack, "valid.json").await.expect("finished");
    assert_eq!(answer["finished"]["status"], "COMPLETED", "{answer}");
    assert_eq!(
        answer["finished"]["best_run_id"],
        sweep.sweep_id.child(5).to_string().as_str()
    );
    assert_eq!(
        answer["sweep_id"],
        sweep.sweep_id.to_string().as_str(),
        "the state is kept"
    );
    let folder = format!("sweeps/{}", sweep.sweep_id);
    let board = stack
        .results()
        .get(&format!("{folder}/leaderboard.json"))
        .await
        .expect("read")
        .expect("written");
    let board: Value = serde_json::from_slice(&board).expect("JSON");
    let rows = board["leaderboard"]["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 6);
    assert!(
        rows[0]["best"].as_bool().unwrap_or(false) && rows[0]["rank"] == 1,
        "{board}"
    );
    let picture = stack
        .results()
        .get(&format!("{folder}/leaderboard.svg"))
        .await
        .expect("read")
        .expect("written");
    let picture = String::from_utf8(picture).expect("text");
    assert!(
        picture.starts_with("<svg") && picture.contains("buy_ema_fast"),
        "a heatmap of the two parameters"
    );
    let stored = stack.sweeps().get(sweep.sweep_id).await.expect("read").expect("there");
    assert_eq!(stored.status, Status::Completed);
    let parent = answer["finished"]["mlflow_run_id"].as_str().expect("a parent run");
    assert_eq!(stored.mlflow_run_id.as_deref(), Some(parent));
    let artifacts = tradai_tests::mlflow::artifacts(parent, "sweep").await;
    assert!(
        artifacts.contains(&"sweep/leaderboard.json".to_owned()),
        "{artifacts:?}"
    );
}

#[tokio::test]
async fn past_the_tolerance_the_sweep_fails_naming_the_child_and_an_early_end_fails_it_with_how() {
    let stack = Stack::fresh().await;
    let sweep = sample_sweep(&stack, Status::Running, None).await;
    for index in 0..6 {
        let status = if index == 4 { Status::Failed } else { Status::Completed };
        end_child(&stack, &sweep, index, status, 1.0).await;
    }
    let answer = finish(&stack, "tolerance-exceeded.json").await.expect("finished");
    assert_eq!(answer["finished"]["status"], "FAILED", "{answer}");
    let reason = answer["finished"]["error"].as_str().expect("a reason");
    assert!(reason.starts_with("1 of 6 children did not complete"), "{reason}");
    assert!(reason.contains(&sweep.sweep_id.child(4).to_string()), "{reason}");

    let stack = Stack::fresh().await;
    sample_sweep(&stack, Status::Running, None).await;
    let ended = finish(&stack, "execution-ended.json").await.expect("finished");
    assert_eq!(ended["finished"]["status"], "FAILED");
    assert_eq!(
        ended["finished"]["error"],
        "the sweep's map failed with ExecutionTIMED_OUT: the workflow execution ended TIMED_OUT"
    );
    assert_invalid_input(finish(&stack, "invalid-no-sweep-id.json").await, "sweep_id");
}
