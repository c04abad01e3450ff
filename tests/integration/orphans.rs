//! The orphan scan at scale and under races, against the stand-in's DynamoDB: 10 000 stale RUNNING jobs among
//! 1 000 fresh ones are all failed in one scan and no fresh one is touched; a scan racing a completion never lets
//! both win.

use std::time::Instant;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::TimeDelta;
use futures::StreamExt;
use tradai::backtest::{BacktestRequest, RunId, Status, WorkflowRecord};
use tradai::executor::{InspectError, RunInspector, RunState};
use tradai::jobs::{OrphanLimits, scan};
use tradai::store::{Transition, TransitionOutcome, WorkflowStore};
use tradai::time::Timestamp;
use tradai_tests::deployment::{self, DeploymentStack};
use tradai_tests::stack::Stack;

const LIMITS: OrphanLimits = OrphanLimits {
    max_running: TimeDelta::minutes(90),
    max_queued: TimeDelta::minutes(60),
};

/// Nothing recorded runs any job: each is judged by its heartbeat alone.
struct NothingRecorded;

impl RunInspector for NothingRecorded {
    async fn inspect(&self, _record: &WorkflowRecord) -> Result<RunState, InspectError> {
        Ok(RunState::Unrecorded)
    }
}

fn request() -> BacktestRequest {
    let body = br#"{"strategy_name":"Orphan","strategy_version":1,"config":{"timeframe":"5m","symbols":["BTC/USDT"],
        "start_date":"2024-01-01","end_date":"2024-02-01"}}"#;
    BacktestRequest::from_json(body, Timestamp::now().date()).expect("valid")
}

/// `count` RUNNING jobs last heard of `minutes_ago`, written 25 to a request, 8 requests at once.
async fn running_jobs(stack: &Stack, count: usize, minutes_ago: i64) -> Vec<RunId> {
    let at = Timestamp::now().minus(TimeDelta::minutes(minutes_ago));
    let records: Vec<WorkflowRecord> = (0..count)
        .map(|_| WorkflowRecord::new(RunId::new(), request(), Status::Running, at))
        .collect();
    let run_ids = records.iter().map(|record| record.run_id).collect();
    let batches: Vec<Vec<WriteRequest>> = records
        .chunks(25)
        .map(|chunk| {
            chunk
                .iter()
                .map(|record| {
                    let item = serde_dynamo::to_item(record).expect("an item");
                    let put = PutRequest::builder().set_item(Some(item)).build().expect("a put");
                    WriteRequest::builder().put_request(put).build()
                })
                .collect()
        })
        .collect();
    futures::stream::iter(batches)
        .map(|batch| async {
            let mut pending = Some(batch);
            while let Some(requests) = pending.take() {
                let written = stack
                    .dynamodb
                    .batch_write_item()
                    .request_items(&stack.table, requests)
                    .send()
                    .await
                    .expect("written");
                pending = written
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(&stack.table))
                    .filter(|left| !left.is_empty());
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    run_ids
}

#[tokio::test]
async fn ten_thousand_stale_jobs_are_failed_in_one_scan_and_no_fresh_one_is_touched() {
    let stack = Stack::fresh().await;
    let stale = running_jobs(&stack, 10_000, 120).await;
    let fresh = running_jobs(&stack, 1_000, 5).await;
    let started = Instant::now();
    let (report, _) = scan(&stack.store(), &NothingRecorded, LIMITS, Timestamp::now())
        .await
        .expect("scanned");
    tracing::info!(elapsed = ?started.elapsed(), "10 000 orphans scanned");
    assert_eq!(report.orphan_count, 10_000);
    assert_eq!(report.jobs_marked_failed.len(), 10_000);
    let store = stack.store();
    let statuses = |run_ids: Vec<RunId>| {
        let store = store.clone();
        async move {
            futures::stream::iter(run_ids)
                .map(|run_id| {
                    let store = store.clone();
                    async move { store.get(run_id).await.expect("read").expect("there").status }
                })
                .buffer_unordered(16)
                .collect::<Vec<Status>>()
                .await
        }
    };
    assert!(
        statuses(fresh).await.iter().all(|status| *status == Status::Running),
        "no fresh job touched"
    );
    let sample: Vec<RunId> = stale.into_iter().step_by(50).collect();
    assert!(statuses(sample).await.iter().all(|status| *status == Status::Failed));
    let (again, _) = scan(&stack.store(), &NothingRecorded, LIMITS, Timestamp::now())
        .await
        .expect("scanned again");
    assert_eq!(again.orphan_count, 0, "a second scan finds nothing left");
}

#[tokio::test]
async fn a_scan_racing_a_completion_never_lets_both_win() {
    let stack = Stack::fresh().await;
    let store = stack.store();
    let (mut scanner_won, mut completion_won) = (0, 0);
    for round in 0..100 {
        let run_id = running_jobs(&stack, 1, 120).await[0];
        let complete = async {
            let done = Transition::new(Status::Running, Status::Completed, Timestamp::now());
            store.transition(run_id, &done).await.expect("no error")
        };
        let (scanned, completed) = tokio::join!(scan(&store, &NothingRecorded, LIMITS, Timestamp::now()), complete);
        let (report, _) = scanned.expect("the scan never errors");
        let failed = report.jobs_marked_failed.contains(&run_id);
        let moved = matches!(completed, TransitionOutcome::Moved(_));
        assert!(
            failed != moved,
            "round {round}: exactly one wins (failed {failed}, completed {moved})"
        );
        let status = store.get(run_id).await.expect("read").expect("there").status;
        assert_eq!(status, if failed { Status::Failed } else { Status::Completed });
        if failed {
            scanner_won += 1;
        } else {
            completion_won += 1;
        }
    }
    tracing::info!(scanner_won, completion_won, "100 races");
}

#[tokio::test]
async fn the_local_stack_fires_the_orphan_scanner_as_its_schedule_does() {
    let local = deployment::shared();
    let stack = local.stack().await;
    let store = stack.store();
    let now = Timestamp::now();
    // A container that died two hours ago without a word: its task is gone, its heartbeat stale.
    let mut dead = WorkflowRecord::new(RunId::new(), request(), Status::Running, now.minus(TimeDelta::hours(3)));
    dead.updated_at = now.minus(TimeDelta::hours(2));
    dead.task_arn = Some(format!(
        "{}/{}",
        local.cluster_arn.replace(":cluster/", ":task/"),
        "0dead"
    ));
    let alive = WorkflowRecord::new(RunId::new(), request(), Status::Running, now);
    for record in [&dead, &alive] {
        store.create(record).await.expect("created");
    }

    let answer = local.scan_orphans().await.expect("the scanner answers");
    let marked: Vec<&str> = answer["jobs_marked_failed"]
        .as_array()
        .expect("the run ids marked")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    assert!(marked.contains(&dead.run_id.to_string().as_str()), "{answer}");
    assert!(!marked.contains(&alive.run_id.to_string().as_str()), "{answer}");
    let failed = store.get(dead.run_id).await.expect("read").expect("there");
    assert_eq!(failed.status, Status::Failed);
    let reason = failed.error.unwrap_or_default();
    assert!(
        reason.contains(&format!("no heartbeat since {}", dead.updated_at)),
        "{reason}"
    );
    let untouched = store.get(alive.run_id).await.expect("read").expect("there");
    assert_eq!(untouched, alive, "a job that beats is not touched");

    // The alert names the job, through the template's topic to its subscriber.
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let bodies: Vec<String> = stack
            .messages(&local.alerts_url)
            .await
            .iter()
            .filter_map(|message| message.body().map(str::to_owned))
            .collect();
        if bodies.iter().any(|body| body.contains(&dead.run_id.to_string())) {
            break;
        }
        assert!(Instant::now() < deadline, "no alert names {}: {bodies:?}", dead.run_id);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
