//! POST /backtest/{run_id}/rerun: a planned run is submitted again as a new QUEUED job pinned to its manifest's
//! version, without the cache, and sent to the queue once; a run without a manifest is 409, an unknown one 404 and a
//! malformed id 400, each writing nothing.

use tradai::backtest::{RunId, Status, StrategyVersion, WorkflowRecord};
use tradai::executor::SqsQueue;
use tradai::objects::{ObjectStore, S3Objects};
use tradai::store::{DynamoDbStore, WorkflowStore};
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{caller_of, event, request, run_id_of, sample_request};
use crate::answer::Answer;

const FUNCTION: &str = "rerun-backtest";

fn deps(stack: &Stack) -> rerun_backtest::Deps<DynamoDbStore, S3Objects, SqsQueue, tradai_tests::Recorded> {
    rerun_backtest::Deps {
        store: stack.store(),
        results: stack.results(),
        launcher: SqsQueue::new(stack.sqs.clone(), &stack.queue_url),
        metrics: tradai_tests::metrics(),
    }
}

async fn rerun(stack: &Stack, name: &str) -> Answer {
    let answer = Answer::read(
        rerun_backtest::handle(&deps(stack), request(FUNCTION, name))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

/// The sample request's job, COMPLETED under `run_id`.
async fn completed(stack: &Stack, run_id: RunId) {
    let record = WorkflowRecord::new(run_id, sample_request(), Status::Completed, Timestamp::now());
    stack.store().create(&record).await.expect("created");
}

#[tokio::test]
async fn a_planned_run_is_submitted_again_pinned_to_its_manifest() {
    let stack = Stack::fresh().await;
    let original = run_id_of(FUNCTION, "valid.json");
    completed(&stack, original).await;
    let manifest = serde_json::json!({"strategy": {"name": "EmaCross", "version": 3, "image": "i:3",
        "digest": "sha256:aa"}, "config": {"sha256": "sha256:00", "document": {}}, "data": [],
        "timerange": "20260105-20260301", "pairs": ["BTC/USDT", "ETH/USDT"], "timeframe": "5m"});
    stack
        .results()
        .put(
            &format!("results/{original}/manifest.json"),
            manifest.to_string().into_bytes(),
        )
        .await
        .expect("manifest written");

    let answer = rerun(&stack, "valid.json").await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    assert_eq!(answer.json["rerun_of"], original.to_string());
    assert_eq!(answer.json["status"], "QUEUED");
    let run_id: RunId = answer.json["run_id"]
        .as_str()
        .expect("run_id")
        .parse()
        .expect("a run id");
    let job = stack.store().get(run_id).await.expect("read").expect("recorded");
    assert_eq!(job.strategy_version, StrategyVersion::Number(3));
    assert_eq!((job.config.rerun_of, job.config.no_cache), (Some(original), true));
    assert_eq!(job.submitted_by, caller_of(&event(FUNCTION, "valid.json")));
    assert_eq!(
        stack.messages(&stack.queue_url).await.len(),
        1,
        "handed to the queue once"
    );
}

#[tokio::test]
async fn an_unplanned_unknown_or_malformed_run_is_refused_and_nothing_is_written() {
    let stack = Stack::fresh().await;
    completed(&stack, run_id_of(FUNCTION, "not-planned.json")).await;
    for (name, status, says) in [
        ("not-planned.json", 409, "has no manifest"),
        ("unknown-run-id.json", 404, "no backtest"),
        ("invalid-malformed-run-id.json", 400, "run_id"),
    ] {
        let answer = rerun(&stack, name).await;
        assert_eq!(answer.status, status, "{name}: {}", answer.json);
        assert!(answer.json.to_string().contains(says), "{name}: {}", answer.json);
    }
    assert_eq!(stack.items().await.len(), 1, "only the planned-less run");
    assert!(stack.messages(&stack.queue_url).await.is_empty());
}
