//! The DynamoDB workflow store against the stand-in: conditional create and transitions, races, paging.

use std::collections::HashSet;

use chrono::TimeDelta;
use serde_json::json;
use tradai::backtest::{BacktestRequest, RunId, Status, WorkflowRecord};
use tradai::store::{Cursor, RecordUpdate, StoreError, Transition, TransitionOutcome, WorkflowStore};
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

fn request() -> BacktestRequest {
    let body = json!({"strategy_name": "EmaCross", "strategy_version": 2, "config": {"timeframe": "15m",
        "symbols": ["BTC/USDT"], "start_date": "2024-01-01", "end_date": "2024-06-01",
        "config_overrides": {"max_open_trades": 3, "stoploss": -0.1, "minimal_roi": {"0": 0.04}}}});
    BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("valid request")
}

fn record(status: Status, created_at: Timestamp) -> WorkflowRecord {
    WorkflowRecord::new(RunId::new(), request(), status, created_at)
}

#[tokio::test]
async fn a_created_job_reads_back_equal_and_is_never_overwritten() {
    let stack = Stack::fresh().await;
    let store = stack.store();
    let job = record(Status::Queued, Timestamp::now());
    store.create(&job).await.expect("created");
    assert_eq!(store.get(job.run_id).await.expect("read"), Some(job.clone()));

    let mut impostor = job.clone();
    impostor.status = Status::Completed;
    assert!(matches!(store.create(&impostor).await, Err(StoreError::AlreadyExists(id)) if id == job.run_id));
    assert_eq!(store.get(job.run_id).await.expect("read"), Some(job));
    assert_eq!(store.get(RunId::new()).await.expect("read"), None);
}

#[tokio::test]
async fn a_transition_writes_its_fields_and_reports_who_won() {
    let stack = Stack::fresh().await;
    let store = stack.store();
    let job = record(Status::Running, Timestamp::now());
    store.create(&job).await.expect("created");

    let at = Timestamp::now();
    let failed = Transition::new(Status::Running, Status::Failed, at)
        .with(RecordUpdate::failure("engine exited 1: No data found", "RunBacktest"));
    let TransitionOutcome::Moved(moved) = store.transition(job.run_id, &failed).await.expect("answer") else {
        panic!("the first transition must win");
    };
    assert_eq!(moved.status, Status::Failed);
    assert_eq!(moved.updated_at, at);
    assert_eq!(moved.error.as_deref(), Some("engine exited 1: No data found"));
    assert_eq!(moved.failed_step.as_deref(), Some("RunBacktest"));
    assert_eq!(moved.created_at, job.created_at);
    assert_eq!(store.get(job.run_id).await.expect("read"), Some(*moved));

    let late = Transition::new(Status::Running, Status::Completed, Timestamp::now());
    assert_eq!(
        store.transition(job.run_id, &late).await.expect("answer"),
        TransitionOutcome::LostRace {
            current: Status::Failed
        }
    );
    assert_eq!(
        store.transition(RunId::new(), &late).await.expect("answer"),
        TransitionOutcome::NotFound
    );
    let from_terminal = Transition::new(Status::Failed, Status::Running, Timestamp::now());
    assert!(matches!(
        store.transition(job.run_id, &from_terminal).await,
        Err(StoreError::InvalidTransition { .. })
    ));
}

#[tokio::test]
async fn of_two_concurrent_transitions_exactly_one_wins_every_time() {
    let stack = Stack::fresh().await;
    let store = stack.store();
    for attempt in 0..100 {
        let job = record(Status::Queued, Timestamp::now());
        store.create(&job).await.expect("created");
        // Two writers leave QUEUED at once, for different destinations: a consumer starting it, a user cancelling.
        let (first, second) = (store.clone(), store.clone());
        let to_running = Transition::new(Status::Queued, Status::Running, Timestamp::now());
        let to_cancelled = Transition::new(Status::Queued, Status::Cancelled, Timestamp::now());
        let a = tokio::spawn(async move { first.transition(job.run_id, &to_running).await });
        let b = tokio::spawn(async move { second.transition(job.run_id, &to_cancelled).await });
        let outcomes = [
            a.await.expect("task").expect("answer"),
            b.await.expect("task").expect("answer"),
        ];

        let winners: Vec<Status> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                TransitionOutcome::Moved(record) => Some(record.status),
                _ => None,
            })
            .collect();
        assert_eq!(winners.len(), 1, "attempt {attempt}: {outcomes:?}");
        let final_status = store.get(job.run_id).await.expect("read").expect("stored").status;
        assert_eq!(final_status, winners[0], "attempt {attempt}");
        let loser = outcomes
            .iter()
            .find(|o| !matches!(o, TransitionOutcome::Moved(_)))
            .expect("a loser");
        assert_eq!(
            loser,
            &TransitionOutcome::LostRace { current: final_status },
            "attempt {attempt}"
        );
    }
}

#[tokio::test]
async fn listing_250_jobs_pages_by_100_newest_first() {
    let stack = Stack::fresh().await;
    let store = stack.store();
    let now = Timestamp::now();
    let mut created = Vec::new();
    let mut writers = tokio::task::JoinSet::new();
    for index in 0..270 {
        let status = if index < 250 { Status::Queued } else { Status::Running };
        let job = record(status, now.minus(TimeDelta::seconds(index)));
        if status == Status::Queued {
            created.push(job.run_id);
        }
        let store = store.clone();
        writers.spawn(async move { store.create(&job).await });
    }
    while let Some(result) = writers.join_next().await {
        result.expect("task").expect("created");
    }

    let mut pages = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = store
            .list_by_status(Status::Queued, 100, cursor.as_ref())
            .await
            .expect("page");
        pages.push(page.records);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let listed: Vec<WorkflowRecord> = pages.into_iter().flatten().collect();
    assert!(listed.iter().all(|r| r.status == Status::Queued));
    assert!(
        listed.windows(2).all(|pair| pair[0].created_at > pair[1].created_at),
        "not newest first"
    );
    let ids: Vec<RunId> = listed.iter().map(|r| r.run_id).collect();
    assert_eq!(
        ids, created,
        "every job exactly once, in creation order from the newest"
    );

    let cursor = cursor.expect("a cursor was handed out");
    assert!(matches!(
        store.list_by_status(Status::Running, 10, Some(&cursor)).await,
        Err(StoreError::InvalidCursor)
    ));
    let forged = Cursor::from_client("eyJydW5faWQiOiJ4In0");
    assert!(matches!(
        store.list_by_status(Status::Queued, 10, Some(&forged)).await,
        Err(StoreError::InvalidCursor)
    ));
}

#[tokio::test]
async fn one_submitters_jobs_page_through_their_index_and_a_status_filter_crosses_sparse_pages() {
    let stack = Stack::fresh().await;
    let store = stack.store();
    let now = Timestamp::now();
    let (ada, bob) = (
        "arn:aws:iam::123456789012:user/ada",
        "arn:aws:iam::123456789012:user/bob",
    );
    let mut adas = Vec::new();
    let mut writers = tokio::task::JoinSet::new();
    for index in 0..120 {
        // Ada's RUNNING jobs are one in ten of hers: a status-filtered page must read past many others.
        let status = if index % 10 == 0 {
            Status::Running
        } else {
            Status::Queued
        };
        let caller = if index % 4 == 3 { bob } else { ada };
        let job = record(status, now.minus(TimeDelta::seconds(index))).submitted_by(Some(caller.to_owned()));
        if caller == ada {
            adas.push((job.run_id, job.status));
        }
        let store = store.clone();
        writers.spawn(async move { store.create(&job).await });
    }
    // Jobs recorded without a submitter are not in the (sparse) index at all.
    writers.spawn({
        let store = store.clone();
        async move { store.create(&record(Status::Running, now)).await }
    });
    while let Some(result) = writers.join_next().await {
        result.expect("task").expect("created");
    }

    for only in [None, Some(Status::Running)] {
        let mut listed = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = store
                .list_by_submitter(ada, only, 4, cursor.as_ref())
                .await
                .expect("page");
            assert!(!page.records.is_empty() && page.records.len() <= 4);
            listed.extend(page.records);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let expected: Vec<RunId> = adas
            .iter()
            .filter(|(_, status)| only.is_none_or(|only| *status == only))
            .map(|(run_id, _)| *run_id)
            .collect();
        assert_eq!(
            listed.iter().map(|r| r.run_id).collect::<Vec<_>>(),
            expected,
            "status {only:?}: every job of hers once, newest first"
        );
        assert!(listed.iter().all(|r| r.submitted_by.as_deref() == Some(ada)));
    }

    let first = store.list_by_submitter(ada, None, 4, None).await.expect("page");
    let cursor = first.next.expect("more");
    assert!(matches!(
        store.list_by_submitter(bob, None, 4, Some(&cursor)).await,
        Err(StoreError::InvalidCursor)
    ));
}

#[tokio::test]
async fn exactly_200_jobs_end_without_an_empty_page() {
    let stack = Stack::fresh().await;
    let store = stack.store();
    let now = Timestamp::now();
    for index in 0..200 {
        store
            .create(&record(Status::Pending, now.minus(TimeDelta::milliseconds(index))))
            .await
            .expect("created");
    }
    let first = store.list_by_status(Status::Pending, 100, None).await.expect("page");
    let second = store
        .list_by_status(Status::Pending, 100, first.next.as_ref())
        .await
        .expect("page");
    assert_eq!((first.records.len(), second.records.len()), (100, 100));
    assert_eq!(second.next, None, "the last full page says there is no next one");
}

#[tokio::test]
async fn the_stale_running_query_judges_by_heartbeat_and_crosses_pages() {
    let stack = Stack::fresh().await;
    let store = stack.store().with_scan_page_size(7);
    let now = Timestamp::now();
    let long_ago = now.minus(TimeDelta::hours(3));
    let cutoff = now.minus(TimeDelta::hours(1));

    let mut stale = HashSet::new();
    for index in 0..30 {
        let job = record(Status::Running, long_ago.minus(TimeDelta::seconds(index)));
        stale.insert(job.run_id);
        store.create(&job).await.expect("created");
    }
    for index in 0..25 {
        // Started long ago, but its heartbeat is recent: alive, not orphaned.
        let mut job = record(Status::Running, long_ago.minus(TimeDelta::seconds(index)));
        job.updated_at = now;
        store.create(&job).await.expect("created");
    }
    for status in [Status::Queued, Status::Completed, Status::Failed] {
        for index in 0..5 {
            store
                .create(&record(status, long_ago.minus(TimeDelta::seconds(index))))
                .await
                .expect("created");
        }
    }

    let found: HashSet<RunId> = store
        .stale(Status::Running, cutoff)
        .await
        .expect("query")
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(found, stale);
}

#[tokio::test]
async fn an_aws_endpoint_that_never_answers_is_given_up_on_not_waited_for() {
    let (endpoint, _) = tradai_tests::proxy::silent_server().await;
    let settings = tradai::settings::AwsSettings {
        endpoint_url: Some(endpoint),
        timeouts: tradai::settings::SdkTimeouts {
            connect: std::time::Duration::from_millis(300),
            attempt: std::time::Duration::from_millis(300),
            operation: std::time::Duration::from_secs(2),
        },
        app_name: None,
    };
    let aws = tradai::aws::sdk_config(&settings).await;
    let store = tradai::store::DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), "tradai-workflow-state");
    // Without the timeouts this would wait for ever; the outer bound only keeps a regression from hanging CI.
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), store.get(RunId::new()))
        .await
        .expect("the SDK gave up by itself");
    assert!(matches!(answer, Err(StoreError::Unavailable(_))), "{answer:?}");
}
