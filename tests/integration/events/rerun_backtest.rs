//! POST /backtest/{run_id}/rerun: a planned run is submitted again as a new QUEUED job pinned to its manifest's
//! version, without the cache, and sent to the queue once (once per Idempotency-Key); a run without a manifest is
//! 409, an unknown one 404, a malformed id or key 400, each writing nothing.

use tradai::backtest::{RunId, Status, StrategyVersion, WorkflowRecord};
use tradai::executor::SqsQueue;
use tradai::idempotency::DynamoDbKeys;
use tradai::objects::{ObjectStore, S3Objects};
use tradai::run_manifest::manifest_key;
use tradai::store::{DynamoDbStore, WorkflowStore};
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{caller_of, event, request, run_id_of, sample_request};
use crate::answer::Answer;

const FUNCTION: &str = "rerun-backtest";

type Deps = rerun_backtest::Deps<DynamoDbStore, S3Objects, SqsQueue, DynamoDbKeys, tradai_tests::Recorded>;

fn deps(stack: &Stack) -> Deps {
    rerun_backtest::Deps {
        launch: crate::idempotency::queue_deps(stack),
        results: stack.results(),
    }
}

async fn rerun(deps: &Deps, name: &str) -> Answer {
    let answer = Answer::read(
        rerun_backtest::handle(deps, request(FUNCTION, name))
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

/// The sample request's job, COMPLETED under `run_id` with a manifest of version 3.
async fn planned(stack: &Stack, run_id: RunId) {
    completed(stack, run_id).await;
    let manifest = serde_json::json!({"strategy": {"name": "EmaCross", "version": 3, "image": "i:3",
        "digest": "sha256:aa"}, "config": {"sha256": "sha256:00", "document": {}}, "data": [],
        "timerange": "20260105-20260301", "pairs": ["BTC/USDT", "ETH/USDT"], "timeframe": "5m"});
    stack
        .results()
        .put(&manifest_key(run_id), manifest.to_string().into_bytes())
        .await
        .expect("manifest written");
}

#[tokio::test]
async fn a_planned_run_is_submitted_again_pinned_to_its_manifest() {
    let stack = Stack::fresh().await;
    let original = run_id_of(FUNCTION, "valid.json");
    planned(&stack, original).await;

    let answer = rerun(&deps(&stack), "valid.json").await;
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
async fn a_rerun_asked_again_with_its_idempotency_key_is_the_same_rerun() {
    let stack = Stack::fresh().await;
    planned(&stack, run_id_of(FUNCTION, "valid-with-idempotency-key.json")).await;
    let deps = deps(&stack);
    let first = rerun(&deps, "valid-with-idempotency-key.json").await;
    let again = rerun(&deps, "valid-with-idempotency-key.json").await;
    crate::idempotency::assert_replayed(&first, &again);
    assert_eq!(stack.items().await.len(), 2, "the original and one re-run");
    assert_eq!(stack.messages(&stack.queue_url).await.len(), 1, "handed off once");
    assert_eq!(
        tradai_tests::published(&deps.launch.metrics),
        [(tradai::metrics::BACKTESTS_SUBMITTED.to_owned(), 1.0)],
        "a replay is not a second submission"
    );
}

#[tokio::test]
async fn an_unplanned_unknown_or_malformed_run_is_refused_and_nothing_is_written() {
    let stack = Stack::fresh().await;
    completed(&stack, run_id_of(FUNCTION, "not-planned.json")).await;
    let deps = deps(&stack);
    for (name, status, says) in [
        ("not-planned.json", 409, "has no manifest"),
        ("unknown-run-id.json", 404, "no backtest"),
        ("invalid-malformed-run-id.json", 400, "run_id"),
        ("invalid-idempotency-key.json", 400, "Idempotency-Key"),
    ] {
        let answer = rerun(&deps, name).await;
        assert_eq!(answer.status, status, "{name}: {}", answer.json);
        assert!(answer.json.to_string().contains(says), "{name}: {}", answer.json);
    }
    assert_eq!(stack.items().await.len(), 1, "only the planned-less run");
    assert!(stack.messages(&stack.queue_url).await.is_empty());
}
