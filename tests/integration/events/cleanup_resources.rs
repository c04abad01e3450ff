//! CleanupResources: only the run's `temp/{run_id}/` objects go, the state passes through, a repeat finds none;
//! a state without a valid run id is `InvalidInput`.

use tradai::backtest::RunId;
use tradai::objects::S3Objects;
use tradai_tests::stack::Stack;

use super::{assert_invalid_input, event, invocation};

const FUNCTION: &str = "cleanup-resources";

fn deps(stack: &Stack) -> cleanup_resources::Deps<S3Objects> {
    cleanup_resources::Deps {
        configs: S3Objects::new(stack.s3.clone(), &stack.config_bucket),
    }
}

#[tokio::test]
async fn cleanup_removes_only_the_runs_temporary_objects_and_is_repeatable() {
    let stack = Stack::fresh().await;
    let state = event(FUNCTION, "valid.json");
    let run_id = state["run_id"].as_str().expect("run id").to_owned();
    let other = RunId::new().to_string();
    for key in [
        format!("temp/{run_id}/config.json"),
        format!("temp/{run_id}/extra/notes.txt"),
        format!("temp/{other}/config.json"),
    ] {
        stack.put_config(&key, b"{}".to_vec()).await;
    }
    let deps = deps(&stack);
    let output = cleanup_resources::handle(&deps, invocation(&state))
        .await
        .expect("cleaned");
    assert_eq!(output["cleanup"]["deleted_objects"], 2);
    assert_eq!(output["run_id"], state["run_id"], "the state passes through");
    assert_eq!(
        stack.keys_in(&stack.config_bucket, "").await,
        [format!("temp/{other}/config.json")],
        "only this run's objects go"
    );
    let repeated = cleanup_resources::handle(&deps, invocation(&state))
        .await
        .expect("idempotent");
    assert_eq!(repeated["cleanup"]["deleted_objects"], 0);
}

#[tokio::test]
async fn cleanup_refuses_a_state_without_a_valid_run_id() {
    let stack = Stack::fresh().await;
    let deps = deps(&stack);
    for name in ["invalid-malformed-run-id.json", "invalid-missing-run-id.json"] {
        let answer = cleanup_resources::handle(&deps, invocation(&event(FUNCTION, name))).await;
        assert_invalid_input(answer, "run_id");
    }
}
