//! GET /sweeps/{sweep_id}: progress counted from the children's records and the leaderboard ranked from their
//! summaries, the best marked, the failed named; an unknown sweep is 404 and a malformed id 400.

use tradai::backtest::Status;
use tradai_tests::stack::Stack;

use super::{end_child, event, request, sample_sweep};
use crate::answer::Answer;

const FUNCTION: &str = "get-sweep";

async fn ask(stack: &Stack, name: &str) -> Answer {
    let deps = get_sweep::Deps {
        sweeps: stack.sweeps(),
        jobs: stack.store(),
    };
    let answer = Answer::read(
        get_sweep::handle(&deps, request(FUNCTION, name))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

#[tokio::test]
async fn the_report_counts_the_children_and_ranks_those_that_completed() {
    let stack = Stack::fresh().await;
    let sweep = sample_sweep(&stack, Status::Running, None).await;
    end_child(&stack, &sweep, 0, Status::Completed, 0.4).await;
    end_child(&stack, &sweep, 3, Status::Completed, 1.2).await;
    end_child(&stack, &sweep, 5, Status::Failed, 0.0).await;
    let answer = ask(&stack, "valid.json").await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(
        answer.json["progress"],
        serde_json::json!({"queued": 3, "running": 0, "completed": 2, "failed": 1, "cancelled": 0})
    );
    let best = sweep.sweep_id.child(3).to_string();
    assert_eq!(answer.json["leaderboard"]["best"], best.as_str());
    let rows = answer.json["leaderboard"]["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 6);
    assert_eq!(
        (rows[0]["run_id"].as_str(), rows[0]["value"].as_f64()),
        (Some(best.as_str()), Some(1.2))
    );
    assert_eq!(
        rows[0]["parameters"],
        serde_json::json!({"buy_ema_fast": 8, "buy_ema_slow": 30})
    );
    assert_eq!(rows[0]["metrics"]["total_trades"], 12);
    assert_eq!(answer.json["failures"][0]["index"], 5);
    assert_eq!(answer.json["failures"][0]["error"], "the engine exited with 1");
}

#[tokio::test]
async fn an_unknown_sweep_is_404_and_a_malformed_id_400() {
    let stack = Stack::fresh().await;
    let unknown = ask(&stack, "unknown-sweep-id.json").await;
    assert_eq!(unknown.status, 404, "{}", unknown.json);
    let malformed = ask(&stack, "invalid-malformed-sweep-id.json").await;
    assert_eq!(malformed.status, 400, "{}", malformed.json);
    assert_eq!(malformed.json["error"]["details"][0]["field"], "sweep_id");
}
