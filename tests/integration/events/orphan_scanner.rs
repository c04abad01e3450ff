//! orphan-scanner against DynamoDB, Step Functions, CloudWatch and SNS: the scheduled scan fails a job whose
//! heartbeat went stale with nothing behind it, and one whose execution ended, names the last heartbeat, leaves a
//! live or fresh job alone, publishes `OrphanedJobs` with its `Environment` and alerts with the run ids; a sweep its
//! submission left PENDING is FAILED with its children.

use chrono::TimeDelta;
use serde_json::Value;
use tradai::backtest::{RunId, Status, WorkflowRecord};
use tradai::executor::AwsInspector;
use tradai::jobs::OrphanLimits;
use tradai::metrics::EmfMetrics;
use tradai::notify::SnsTopic;
use tradai::store::WorkflowStore;
use tradai::sweep::{StepFunctionsSweeps, SweepStore};
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{event, invocation, sample_request, sample_sweep_at};

const FUNCTION: &str = "orphan-scanner";

/// A RUNNING job whose last heartbeat was `minutes_ago`, run by `execution` when given.
async fn running(stack: &Stack, minutes_ago: i64, execution: Option<String>) -> RunId {
    let at = Timestamp::now().minus(TimeDelta::minutes(minutes_ago));
    let mut record = WorkflowRecord::new(RunId::new(), sample_request(), Status::Running, at);
    record.execution_arn = execution;
    stack.store().create(&record).await.expect("created");
    record.run_id
}

#[tokio::test]
async fn the_scheduled_scan_fails_orphans_publishes_the_metric_and_alerts() {
    let stack = Stack::fresh().await;
    let sfn = aws_sdk_sfn::Client::new(&stack.sdk);
    let live = stack.running_execution().await;
    let stopped = stack.running_execution().await;
    sfn.stop_execution()
        .execution_arn(&stopped)
        .send()
        .await
        .expect("stopped");
    let dead = running(&stack, 120, None).await;
    let ended = running(&stack, 120, Some(stopped)).await;
    let alive = running(&stack, 120, Some(live)).await;
    let fresh = running(&stack, 5, None).await;
    let heartbeat = stack.store().get(dead).await.expect("read").expect("there").updated_at;

    let topic = aws_sdk_sns::Client::new(&stack.sdk)
        .create_topic()
        .name(format!(
            "tradai-alerts-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        ))
        .send()
        .await
        .expect("topic")
        .topic_arn
        .expect("ARN");
    let inbox = stack.subscribed_queue(&topic).await;
    let environment = format!("test-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let deps = orphan_scanner::Deps {
        store: stack.store(),
        inspector: AwsInspector::new(sfn, aws_sdk_ecs::Client::new(&stack.sdk), None),
        metrics: EmfMetrics::new(Vec::new()),
        alerts: SnsTopic::new(aws_sdk_sns::Client::new(&stack.sdk), &topic),
        limits: OrphanLimits {
            max_running: TimeDelta::minutes(90),
            max_queued: TimeDelta::minutes(60),
        },
        environment: environment.clone(),
        sweeps: Some(orphan_scanner::SweepScan {
            store: stack.sweeps(),
            launcher: StepFunctionsSweeps::new(aws_sdk_sfn::Client::new(&stack.sdk), stack.state_machine().await),
        }),
    };
    // A sweep its submission left PENDING two hours ago, its workflow never started.
    let unstarted = sample_sweep_at(
        &stack,
        Status::Pending,
        None,
        Timestamp::now().minus(TimeDelta::hours(2)),
    )
    .await;
    let report = orphan_scanner::handle(&deps, invocation(&event(FUNCTION, "valid.json")))
        .await
        .expect("scanned");
    let answer: Value = serde_json::to_value(&report).expect("JSON");
    assert_eq!(answer["orphan_count"], 2, "{answer}");
    assert_eq!(report.sweeps.failed, [unstarted.sweep_id], "{answer}");
    let sweep = stack
        .sweeps()
        .get(unstarted.sweep_id)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(sweep.status, Status::Failed);
    let children = stack.store().get_many(&unstarted.child_ids()).await.expect("read");
    assert!(
        children.iter().all(|child| child.status == Status::Failed),
        "{children:?}"
    );
    let mut marked = report.jobs.jobs_marked_failed.clone();
    marked.sort();
    let mut expected = vec![dead, ended];
    expected.sort();
    assert_eq!(marked, expected);

    let store = stack.store();
    let dead_job = store.get(dead).await.expect("read").expect("there");
    assert_eq!(dead_job.status, Status::Failed);
    let error = dead_job.error.unwrap_or_default();
    assert!(
        error.starts_with(&format!("orphaned: no heartbeat since {heartbeat} (limit 90 min)")),
        "the last heartbeat is named: {error}"
    );
    let ended_job = store.get(ended).await.expect("read").expect("there");
    assert!(
        ended_job
            .error
            .unwrap_or_default()
            .contains("its execution ended ABORTED")
    );
    for untouched in [alive, fresh] {
        assert_eq!(
            store.get(untouched).await.expect("read").expect("there").status,
            Status::Running
        );
    }

    // The metric the alarm reads: one EMF line, OrphanedJobs in TradAI/Backtests by Environment.
    let written = String::from_utf8(deps.metrics.written()).expect("text");
    let line: Value = serde_json::from_str(written.trim()).expect("one EMF line");
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "TradAI/Backtests");
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["Environment"]])
    );
    assert_eq!(
        (line["Environment"].as_str(), line["OrphanedJobs"].as_f64()),
        (Some(environment.as_str()), Some(2.0))
    );
    let alerts = stack.messages(&inbox).await;
    assert_eq!(alerts.len(), 1);
    let body = alerts[0].body().unwrap_or_default();
    for run_id in expected {
        assert!(body.contains(&run_id.to_string()), "the alert lists {run_id}");
    }
}
