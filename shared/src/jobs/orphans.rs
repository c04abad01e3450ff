//! Orphans: jobs left RUNNING or QUEUED with nothing behind them — a container that died without a word (OOM,
//! SIGKILL, a Spot reclaim it could not finish), a hand-off that never happened. A RUNNING job is an orphan when
//! its heartbeat is older than the limit and what runs it is gone; a QUEUED one when it waited longer than its limit
//! and nothing was started for it, or what was started ended. Each is moved to FAILED by a write that still expects
//! the status and `updated_at` it was judged by, so a job that completes or beats meanwhile is left alone.

use chrono::TimeDelta;
use futures::StreamExt;
use serde::Serialize;

use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::executor::{RunInspector, RunState};
use crate::metrics::{Metric, Metrics, ORPHANED_JOBS, Unit};
use crate::notify::{Notification, Notifier};
use crate::report::chain;
use crate::store::{RecordUpdate, StoreError, Transition, TransitionOutcome, WorkflowStore};
use crate::time::Timestamp;

/// How many jobs are judged and written at once.
const CONCURRENCY: usize = 32;
/// How many run ids one alert lists (SNS messages are at most 256 KB).
const IDS_PER_ALERT: usize = 500;
/// The step a RUNNING orphan is recorded under (its container died), and a QUEUED one (it was never started).
pub const RUNNING_STEP: &str = "RunBacktest";
pub const QUEUED_STEP: &str = "Queue";

/// How long a job may go without a heartbeat (RUNNING) or a start (QUEUED) before it is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrphanLimits {
    /// `MAX_RUNNING_MINUTES` (90): the longest gap between heartbeats of a live job is the container's heartbeat
    /// interval, two minutes.
    pub max_running: TimeDelta,
    /// `MAX_QUEUED_MINUTES` (60).
    pub max_queued: TimeDelta,
}

/// What a scan found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    /// Jobs judged orphaned.
    pub orphan_count: usize,
    /// Those this scan moved to FAILED (the others moved meanwhile, or could not be written and wait for the next).
    pub jobs_marked_failed: Vec<RunId>,
    /// Jobs that could not be judged (what runs them did not answer); the next scan judges them again.
    pub not_judged: usize,
}

/// Why a scan did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("the stale jobs could not be read")]
    Store(#[source] StoreError),
}

/// A judged orphan.
struct Orphan {
    record: WorkflowRecord,
    reason: String,
}

/// Finds the orphans of `store` as of `now` and moves each to FAILED with its reason.
pub async fn scan(
    store: &impl WorkflowStore,
    inspector: &impl RunInspector,
    limits: OrphanLimits,
    now: Timestamp,
) -> Result<(ScanReport, Vec<(RunId, String)>), ScanError> {
    let mut stale = store
        .stale(Status::Running, now.minus(limits.max_running))
        .await
        .map_err(ScanError::Store)?;
    stale.extend(
        store
            .stale(Status::Queued, now.minus(limits.max_queued))
            .await
            .map_err(ScanError::Store)?,
    );
    let judged: Vec<Result<Option<Orphan>, ()>> = futures::stream::iter(stale)
        .map(|record| judge(inspector, record, limits))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let not_judged = judged.iter().filter(|judgement| judgement.is_err()).count();
    let orphans: Vec<Orphan> = judged
        .into_iter()
        .filter_map(|judgement| judgement.ok().flatten())
        .collect();
    let orphan_count = orphans.len();
    let failed: Vec<Option<(RunId, String)>> = futures::stream::iter(orphans)
        .map(|orphan| fail(store, orphan, now))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let failed: Vec<(RunId, String)> = failed.into_iter().flatten().collect();
    let report = ScanReport {
        orphan_count,
        jobs_marked_failed: failed.iter().map(|(run_id, _)| *run_id).collect(),
        not_judged,
    };
    Ok((report, failed))
}

/// Whether `record` is an orphan, and why; `Err` when what runs it did not answer.
async fn judge(
    inspector: &impl RunInspector,
    record: WorkflowRecord,
    limits: OrphanLimits,
) -> Result<Option<Orphan>, ()> {
    let state = inspector.inspect(&record).await.map_err(|error| {
        tracing::warn!(run_id = %record.run_id, error = %chain(&error), "could not tell whether the job still runs");
    })?;
    let gone = match state {
        RunState::Alive => return Ok(None),
        RunState::Ended(why) => format!("; {why}"),
        RunState::Unrecorded => String::new(),
    };
    let reason = match record.status {
        Status::Running => format!(
            "orphaned: no heartbeat since {} (limit {} min){gone}",
            record.updated_at,
            limits.max_running.num_minutes()
        ),
        _ => format!(
            "never started: queued since {}, not running within {} min{gone}{}",
            record.created_at,
            limits.max_queued.num_minutes(),
            record
                .handoff_error
                .as_deref()
                .map(|error| format!("; last hand-off failed: {error}"))
                .unwrap_or_default()
        ),
    };
    Ok(Some(Orphan { record, reason }))
}

/// Moves `orphan` to FAILED if it is still as it was judged; answers it when this write moved it.
async fn fail(store: &impl WorkflowStore, orphan: Orphan, now: Timestamp) -> Option<(RunId, String)> {
    let Orphan { record, reason } = orphan;
    let step = if record.status == Status::Running {
        RUNNING_STEP
    } else {
        QUEUED_STEP
    };
    let failed = Transition::new(record.status, Status::Failed, now)
        .with(RecordUpdate::failure(&reason, step))
        .if_unchanged_since(record.updated_at);
    match store.transition(record.run_id, &failed).await {
        Ok(TransitionOutcome::Moved(_)) => {
            tracing::warn!(run_id = %record.run_id, %reason, "orphaned job marked FAILED");
            Some((record.run_id, reason))
        }
        Ok(outcome) => {
            tracing::info!(run_id = %record.run_id, ?outcome, "the job moved since it was judged: left alone");
            None
        }
        Err(error) => {
            tracing::error!(run_id = %record.run_id, error = %chain(&error), "could not mark the orphan; the next scan will");
            None
        }
    }
}

/// Publishes `OrphanedJobs` (dimension `Environment`) and, when jobs were failed, alerts listing them.
pub async fn report_orphans(
    metrics: &impl Metrics,
    alerts: &impl Notifier,
    environment: &str,
    report: &ScanReport,
    failed: &[(RunId, String)],
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    metrics
        .put(&Metric::new(
            ORPHANED_JOBS,
            report.orphan_count as f64,
            Unit::Count,
            environment,
        ))
        .await?;
    let parts: Vec<&[(RunId, String)]> = failed.chunks(IDS_PER_ALERT).collect();
    for (index, part) in parts.iter().enumerate() {
        let lines: Vec<String> = part
            .iter()
            .map(|(run_id, reason)| format!("- {run_id}: {reason}"))
            .collect();
        let message = format!(
            "The orphan scan marked {} job(s) FAILED in {environment}{}:\n{}\n\nLikely causes: a container killed \
             (out of memory, a Spot reclaim, SIGKILL), a dependency it could not reach, a hand-off that never happened.",
            failed.len(),
            if parts.len() > 1 {
                format!(" (part {} of {})", index + 1, parts.len())
            } else {
                String::new()
            },
            lines.join("\n")
        );
        alerts
            .publish(&Notification {
                subject: format!("[TradAI {environment}] {} orphaned job(s) marked FAILED", failed.len()),
                message,
                attributes: [("kind".to_owned(), "orphans".to_owned())].into(),
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::backtest::BacktestRequest;
    use crate::executor::InspectError;
    use crate::metrics::MetricsError;
    use crate::notify::NotifyError;
    use crate::store::MemoryStore;

    /// What runs each job, as a test says.
    #[derive(Default)]
    struct Runs(HashMap<RunId, RunState>);

    impl RunInspector for Runs {
        async fn inspect(&self, record: &WorkflowRecord) -> Result<RunState, InspectError> {
            Ok(self.0.get(&record.run_id).cloned().unwrap_or(RunState::Unrecorded))
        }
    }

    #[derive(Default)]
    struct Published(Mutex<Vec<String>>);

    impl Metrics for Published {
        async fn put(&self, count: &Metric) -> Result<(), MetricsError> {
            let line = format!("{}={} {:?}", count.name, count.value, count.dimensions);
            self.0.lock().map_err(|_| MetricsError("poisoned".into()))?.push(line);
            Ok(())
        }
    }

    impl Notifier for Published {
        async fn publish(&self, notification: &Notification) -> Result<String, NotifyError> {
            let mut sent = self.0.lock().map_err(|_| NotifyError("poisoned".into()))?;
            sent.push(notification.subject.clone());
            Ok(format!("m{}", sent.len()))
        }
    }

    const LIMITS: OrphanLimits = OrphanLimits {
        max_running: TimeDelta::minutes(90),
        max_queued: TimeDelta::minutes(60),
    };

    async fn job(store: &MemoryStore, status: Status, minutes_ago: i64) -> RunId {
        let body = br#"{"strategy_name":"S","strategy_version":1,"config":{"timeframe":"5m","symbols":["BTC/USDT"],
            "start_date":"2024-01-01","end_date":"2024-02-01"}}"#;
        let request = BacktestRequest::from_json(body, Timestamp::now().date()).expect("valid");
        let at = Timestamp::now().minus(TimeDelta::minutes(minutes_ago));
        let record = WorkflowRecord::new(RunId::new(), request, status, at);
        store.create(&record).await.expect("created");
        record.run_id
    }

    async fn status(store: &MemoryStore, run_id: RunId) -> (Status, Option<String>) {
        let record = store.get(run_id).await.expect("read").expect("there");
        (record.status, record.error)
    }

    #[tokio::test]
    async fn a_job_is_an_orphan_when_its_heartbeat_is_stale_and_nothing_runs_it() {
        let store = MemoryStore::new();
        let dead = job(&store, Status::Running, 120).await;
        let ended = job(&store, Status::Running, 120).await;
        let alive = job(&store, Status::Running, 120).await;
        let fresh = job(&store, Status::Running, 10).await;
        let long_ago_but_beating = job(&store, Status::Running, 600).await;
        store
            .heartbeat(long_ago_but_beating, Timestamp::now())
            .await
            .expect("beat");
        let runs = Runs(HashMap::from([
            (ended, RunState::Ended("its execution ended ABORTED".into())),
            (alive, RunState::Alive),
        ]));
        let (report, failed) = scan(&store, &runs, LIMITS, Timestamp::now()).await.expect("scanned");
        assert_eq!(report.orphan_count, 2);
        let mut marked = report.jobs_marked_failed.clone();
        marked.sort();
        let mut expected = vec![dead, ended];
        expected.sort();
        assert_eq!(marked, expected);
        assert_eq!(failed.len(), 2);
        let (dead_status, dead_error) = status(&store, dead).await;
        assert_eq!(dead_status, Status::Failed);
        assert!(
            dead_error.is_some_and(|e| e.starts_with("orphaned: no heartbeat since ")),
            "named the heartbeat"
        );
        let (_, ended_error) = status(&store, ended).await;
        assert!(ended_error.is_some_and(|e| e.ends_with("; its execution ended ABORTED")));
        for untouched in [alive, fresh, long_ago_but_beating] {
            assert_eq!(status(&store, untouched).await, (Status::Running, None));
        }
    }

    #[tokio::test]
    async fn a_job_queued_too_long_without_a_start_fails_with_its_last_hand_off_error() {
        let store = MemoryStore::new();
        let stuck = job(&store, Status::Queued, 90).await;
        store
            .annotate(stuck, &RecordUpdate::handoff_failure("no such task definition"))
            .await
            .expect("noted");
        let waiting = job(&store, Status::Queued, 5).await;
        let pending = job(&store, Status::Pending, 900).await;
        let (report, _) = scan(&store, &Runs::default(), LIMITS, Timestamp::now())
            .await
            .expect("scanned");
        assert_eq!(report.jobs_marked_failed, [stuck]);
        let record = store.get(stuck).await.expect("read").expect("there");
        assert_eq!(record.failed_step.as_deref(), Some(QUEUED_STEP));
        assert!(
            record
                .error
                .is_some_and(|e| e.contains("never started") && e.contains("no such task definition")),
            "the reason says why"
        );
        assert_eq!(status(&store, waiting).await.0, Status::Queued);
        assert_eq!(
            status(&store, pending).await.0,
            Status::Pending,
            "no executor: PENDING by design"
        );
    }

    #[tokio::test]
    async fn the_metric_has_the_environment_and_long_alerts_are_split() {
        let published = Published::default();
        let failed: Vec<(RunId, String)> = (0..1_200).map(|_| (RunId::new(), "orphaned".to_owned())).collect();
        let report = ScanReport {
            orphan_count: 1_200,
            jobs_marked_failed: failed.iter().map(|(run_id, _)| *run_id).collect(),
            not_judged: 0,
        };
        report_orphans(&published, &published, "dev", &report, &failed)
            .await
            .expect("published");
        let sent = published.0.lock().expect("lock").clone();
        assert_eq!(sent[0], r#"OrphanedJobs=1200 [("Environment", "dev")]"#);
        assert_eq!(sent.len(), 1 + 3, "500 run ids an alert");
        let quiet = Published::default();
        let none = ScanReport {
            orphan_count: 0,
            jobs_marked_failed: Vec::new(),
            not_judged: 0,
        };
        report_orphans(&quiet, &quiet, "dev", &none, &[])
            .await
            .expect("published");
        assert_eq!(quiet.0.lock().expect("lock").len(), 1, "the metric, no alert");
    }
}
