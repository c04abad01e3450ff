//! The service functions behind the job routes and the queue: submit a backtest, report on one, list them, cancel
//! one, re-run one, compare two, and launch the queued ones.

mod cancel;
mod consume;
mod diff;
mod listing;
mod orphans;
mod planned;
mod rerun;

pub use cancel::{CancelError, Cancelled, cancel};
pub use consume::{ConsumeError, Consumed, consume, consume_batch};
pub use diff::{DataChange, METRICS, MetricDelta, RunDiff, diff};
pub use listing::{DEFAULT_LIMIT, LIMITS, ListError, ListQuery, Listing, list};
pub use orphans::{OrphanLimits, QUEUED_STEP, RUNNING_STEP, ScanError, ScanReport, report_orphans, scan};
pub use planned::{PlannedError, planned_run};
pub use rerun::{RerunError, rerun};

use serde::Serialize;
use serde_json::Value;

use crate::backtest::{BacktestRequest, RunId, Status, StrategyVersion, ValidationErrors, WorkflowRecord};
use crate::executor::{LaunchError, Launcher, WorkflowProgress};
use crate::idempotency::{Claim, IdempotencyKey, IdempotencyKeys, fingerprint};
use crate::metrics::{BacktestMetrics, EmfMetrics, Metrics};
use crate::objects::{DownloadSigner, ObjectError};
use crate::report::chain;
use crate::results::{CHART_FILE, PAIRS_FILE, SUMMARY_FILE, results_folder};
use crate::store::{RecordUpdate, StoreError, Transition, TransitionOutcome, WorkflowStore};
use crate::time::Timestamp;

/// The step name recorded when a job fails before any workflow step ran.
pub const SUBMIT_STEP: &str = "Submit";

/// A backtest a caller asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub request: BacktestRequest,
    /// The caller asking (the IAM principal API Gateway authenticated), when there is one.
    pub submitted_by: Option<String>,
    /// When it was asked.
    pub at: Timestamp,
}

impl Submission {
    /// `request`, asked now by nobody in particular.
    pub fn new(request: BacktestRequest) -> Self {
        Self {
            request,
            submitted_by: None,
            at: Timestamp::now(),
        }
    }

    /// The same submission, asked by `caller`.
    pub fn by(mut self, caller: Option<String>) -> Self {
        self.submitted_by = caller;
        self
    }

    /// The same submission, asked at `at`.
    pub fn at(mut self, at: Timestamp) -> Self {
        self.at = at;
        self
    }
}

/// A job that was recorded and handed off, or, for a repeated idempotent request, the job it made first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submitted {
    pub run_id: RunId,
    pub status: Status,
    /// True when an `Idempotency-Key` matched an earlier request and this is its job.
    #[serde(skip)]
    pub replayed: bool,
}

/// Why a submission did not go through.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the job could not be recorded")]
    Store(#[from] StoreError),
    #[error("job {run_id} could not be handed to the executor; it is recorded as FAILED")]
    Handoff {
        run_id: RunId,
        #[source]
        source: LaunchError,
    },
    #[error("Idempotency-Key {0} was already used with a different request body or by another caller")]
    KeyReused(IdempotencyKey),
    #[error("the executor cannot take this backtest: {0}")]
    Refused(ValidationErrors),
}

/// Records a new job for `request` and hands it to `launcher`. A job the launcher refused is never left waiting:
/// it is moved to FAILED with the reason, so nothing sits QUEUED without a message behind it.
pub async fn submit(
    store: &impl WorkflowStore,
    launcher: &impl Launcher,
    submission: Submission,
) -> Result<Submitted, SubmitError> {
    let run_id = RunId::new();
    match submit_as(store, launcher, run_id, submission).await {
        // A fresh run id can only exist if this very create landed and its answer was lost (the SDK's retry then
        // finds it): the job is recorded, but was it handed off? Hand it off (again).
        Err(SubmitError::Store(StoreError::AlreadyExists(_))) => {
            replay(store, launcher, recorded(store, run_id).await?, false).await
        }
        other => other,
    }
}

/// [`submit`], once per `key`: the same key with the same request from the same caller answers with the first job
/// (`replayed`); with another request, or from another caller, it is refused. A submission that fails gives the key
/// up, so the client's retry starts afresh.
pub async fn submit_once(
    store: &impl WorkflowStore,
    launcher: &impl Launcher,
    keys: &impl IdempotencyKeys,
    key: &IdempotencyKey,
    submission: Submission,
) -> Result<Submitted, SubmitError> {
    let ours = fingerprint(&submission.request, submission.submitted_by.as_deref());
    let run_id = RunId::new();
    match keys.claim(key, &ours, run_id, submission.at).await? {
        Claim::Claimed => {
            let result = create_or_replay(store, launcher, run_id, submission).await;
            if result.is_err()
                && let Err(error) = keys.release(key, run_id).await
            {
                tracing::error!(%run_id, error = %chain(&error), "could not give up the idempotency key");
            }
            result
        }
        Claim::Existing { fingerprint, .. } if fingerprint != ours => Err(SubmitError::KeyReused(key.clone())),
        Claim::Existing { run_id, .. } => match store.get(run_id).await? {
            Some(record) => replay(store, launcher, record, true).await,
            // The first request claimed the key but has not recorded its job (it is in flight, or it died).
            None => create_or_replay(store, launcher, run_id, submission).await,
        },
    }
}

/// What the routes that start jobs share: where jobs are recorded, where they are handed off, where idempotency keys
/// are claimed, where the count of submissions goes.
pub struct Launch<S, L, K, M = EmfMetrics<std::io::Stdout>> {
    pub store: S,
    pub launcher: L,
    pub keys: K,
    pub metrics: BacktestMetrics<M>,
}

impl<S: WorkflowStore, L: Launcher, K: IdempotencyKeys, M: Metrics> Launch<S, L, K, M> {
    /// Submits `submission` ([`submit_once`] when the client sent an idempotency `key`, [`submit`] when it did
    /// not), counting it unless it answers an earlier request.
    pub async fn submit(&self, key: Option<&IdempotencyKey>, submission: Submission) -> Result<Submitted, SubmitError> {
        let submitted = match key {
            Some(key) => submit_once(&self.store, &self.launcher, &self.keys, key, submission).await,
            None => submit(&self.store, &self.launcher, submission).await,
        }?;
        if !submitted.replayed {
            self.metrics.submitted().await;
        }
        Ok(submitted)
    }
}

/// Records and hands off the job `run_id` of an idempotency key, unless a concurrent request with the same key
/// already recorded it: the conditional create lets exactly one of them make the job, the others answer with it.
async fn create_or_replay(
    store: &impl WorkflowStore,
    launcher: &impl Launcher,
    run_id: RunId,
    submission: Submission,
) -> Result<Submitted, SubmitError> {
    match submit_as(store, launcher, run_id, submission).await {
        Err(SubmitError::Store(StoreError::AlreadyExists(_))) => {
            replay(store, launcher, recorded(store, run_id).await?, true).await
        }
        other => other,
    }
}

/// The job `run_id`, which a create just found there.
async fn recorded(store: &impl WorkflowStore, run_id: RunId) -> Result<WorkflowRecord, StoreError> {
    store
        .get(run_id)
        .await?
        .ok_or(StoreError::Unavailable("the job vanished while it was replayed".into()))
}

/// Answers with the recorded job; one still waiting for its hand-off with nothing recorded behind it
/// (its first hand-off's outcome is unknown: a lost answer, a timeout between record and launch) is handed off
/// again — every launcher is idempotent by run id, so a job that did start is not started twice.
async fn replay(
    store: &impl WorkflowStore,
    launcher: &impl Launcher,
    record: WorkflowRecord,
    replayed: bool,
) -> Result<Submitted, SubmitError> {
    let run_id = record.run_id;
    let unstarted = record.status == launcher.handoff_status()
        && record.status != Status::Pending
        && record.execution_arn.is_none()
        && record.task_arn.is_none();
    if unstarted {
        tracing::info!(%run_id, "the job's hand-off is not known to have happened: handing it off again");
        hand_off(store, launcher, &record).await?;
    }
    Ok(Submitted {
        run_id,
        status: record.status,
        replayed,
    })
}

async fn submit_as(
    store: &impl WorkflowStore,
    launcher: &impl Launcher,
    run_id: RunId,
    submission: Submission,
) -> Result<Submitted, SubmitError> {
    let Submission {
        request,
        submitted_by,
        at,
    } = submission;
    let record = WorkflowRecord::new(run_id, request, launcher.handoff_status(), at).submitted_by(submitted_by);
    launcher
        .admits(&record.job())
        .map_err(|error| SubmitError::Refused(ValidationErrors(vec![error])))?;
    store.create(&record).await?;
    hand_off(store, launcher, &record).await?;
    tracing::info!(%run_id, status = %record.status, strategy = %record.strategy_name, "job submitted");
    Ok(Submitted {
        run_id,
        status: record.status,
        replayed: false,
    })
}

/// Hands the recorded job to `launcher` and records what runs it. A job the launcher refused is never left
/// waiting: it is moved to FAILED with the reason, so nothing sits QUEUED without a message behind it.
async fn hand_off(
    store: &impl WorkflowStore,
    launcher: &impl Launcher,
    record: &WorkflowRecord,
) -> Result<(), SubmitError> {
    let run_id = record.run_id;
    match launcher.launch(&record.job()).await {
        Ok(handoff) => {
            if let Some(update) = handoff.record_update() {
                // The job runs either way; without the reference a cancel can still mark it, and the container
                // stops when its heartbeat finds the job no longer RUNNING.
                if let Err(error) = store.annotate(run_id, &update).await {
                    tracing::error!(%run_id, error = %chain(&error), "could not record what runs the job");
                }
            }
            Ok(())
        }
        Err(source) => {
            let reason = format!("hand-off to the executor failed: {}", chain(&source));
            tracing::error!(%run_id, error = %reason, "job not handed off");
            let failed = Transition::new(record.status, Status::Failed, Timestamp::now())
                .with(RecordUpdate::failure(reason, SUBMIT_STEP));
            match store.transition(run_id, &failed).await {
                Ok(TransitionOutcome::Moved(_)) => {}
                Ok(other) => {
                    tracing::warn!(%run_id, outcome = ?other, "failed job was moved by someone else")
                }
                Err(error) => {
                    tracing::error!(%run_id, error = %chain(&error), "could not record the failed hand-off");
                }
            }
            Err(SubmitError::Handoff { run_id, source })
        }
    }
}

/// What a client is told about one job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub run_id: RunId,
    pub status: Status,
    pub strategy_name: String,
    pub strategy_version: StrategyVersion,
    pub experiment_name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mlflow_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    /// Who submitted the job (the caller's IAM principal), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<String>,
    /// Who cancelled it (CANCELLED only), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    /// The workflow state the job is in while its execution runs (`ValidateStrategy`, …, `RunBacktest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Links to the result's files (COMPLETED), that need no credentials until `expires_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<ResultFiles>,
    /// The fingerprint of the run's inputs (its manifest's), once they were planned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<crate::run_manifest::Fingerprint>,
    /// The earlier run of the same inputs the job was answered from (its result, files and MLflow run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_from: Option<RunId>,
}

/// Pre-signed GETs of a completed run's files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultFiles {
    /// `summary.json`: the summary with the equity curve and every trade's pair.
    pub summary: String,
    /// `equity.svg`: the equity chart with the drawdown shaded.
    pub chart: String,
    /// `pairs.csv`: the per-pair table.
    pub pairs: String,
    /// `manifest.json`: what produced the run (none for a run whose inputs were not planned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    pub expires_at: Timestamp,
}

/// How long the links to a result's files work.
pub const FILE_LINK_EXPIRY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl StatusReport {
    /// The report for `record`; `mlflow_ui` is the MLflow address the link points into.
    pub fn new(record: WorkflowRecord, mlflow_ui: Option<&str>) -> Self {
        let completed = record.status == Status::Completed;
        let failed = record.status == Status::Failed;
        let mlflow_url = match (
            completed,
            mlflow_ui,
            &record.mlflow_experiment_id,
            &record.mlflow_run_id,
        ) {
            (true, Some(base), Some(experiment), Some(run)) => Some(format!(
                "{}/#/experiments/{experiment}/runs/{run}",
                base.trim_end_matches('/')
            )),
            _ => None,
        };
        Self {
            run_id: record.run_id,
            status: record.status,
            strategy_name: record.strategy_name,
            strategy_version: record.strategy_version,
            experiment_name: record.experiment_name,
            created_at: record.created_at,
            updated_at: record.updated_at,
            result: record.result.filter(|_| completed),
            mlflow_url,
            error: record.error.filter(|_| failed),
            failed_step: record.failed_step.filter(|_| failed),
            submitted_by: record.submitted_by,
            cancelled_by: record.cancelled_by.filter(|_| record.status == Status::Cancelled),
            step: None,
            files: None,
            fingerprint: record.fingerprint,
            cached_from: record.cached_from,
        }
    }
}

/// The report on job `run_id`, if it exists: with the workflow state it is in while it runs (from `progress`) and
/// links to its files once COMPLETED (signed by `files`). Neither is worth failing the report for: without
/// them it says what the store says.
pub async fn status(
    store: &impl WorkflowStore,
    progress: &impl WorkflowProgress,
    files: &impl DownloadSigner,
    run_id: RunId,
    mlflow_ui: Option<&str>,
) -> Result<Option<StatusReport>, StoreError> {
    let Some(record) = store.get(run_id).await? else {
        return Ok(None);
    };
    let running = record.execution_arn.clone().filter(|_| !record.status.is_terminal());
    let completed = record.status == Status::Completed;
    // A job answered from the cache has the files of the run that answered it, and a manifest of its own.
    let files_of = record.cached_from.unwrap_or(run_id);
    let planned = record.fingerprint.is_some();
    let mut report = StatusReport::new(record, mlflow_ui);
    if let Some(execution) = running {
        report.step = progress
            .current_step(&execution)
            .await
            .inspect_err(|error| tracing::warn!(%run_id, error = %chain(error), "the workflow's state is unknown"))
            .ok()
            .flatten();
    }
    if completed {
        report.files = result_files(files, files_of, planned.then_some(run_id))
            .await
            .inspect_err(|error| tracing::warn!(%run_id, error = %chain(error), "no links to the result's files"))
            .ok();
    }
    Ok(Some(report))
}

/// Links to the result files of run `run_id`, and to the manifest of `planned` (the job's own run).
async fn result_files(
    files: &impl DownloadSigner,
    run_id: RunId,
    planned: Option<RunId>,
) -> Result<ResultFiles, ObjectError> {
    let folder = results_folder(run_id);
    let [summary, chart, pairs] = [SUMMARY_FILE, CHART_FILE, PAIRS_FILE].map(|file| format!("{folder}/{file}"));
    let manifest = match planned {
        Some(planned) => Some(
            files
                .presign_get(&crate::run_manifest::manifest_key(planned), FILE_LINK_EXPIRY)
                .await?,
        ),
        None => None,
    };
    Ok(ResultFiles {
        summary: files.presign_get(&summary, FILE_LINK_EXPIRY).await?,
        chart: files.presign_get(&chart, FILE_LINK_EXPIRY).await?,
        pairs: files.presign_get(&pairs, FILE_LINK_EXPIRY).await?,
        manifest,
        expires_at: Timestamp::now().plus(chrono::TimeDelta::from_std(FILE_LINK_EXPIRY).unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::backtest::BacktestJob;
    use crate::executor::NoExecutor;
    use crate::idempotency::IdempotencyKeys;
    use crate::store::MemoryStore;
    use crate::workflow::fakes::FakeExecutions as Executions;

    fn request() -> BacktestRequest {
        let body = json!({"strategy_name": "EmaCross", "strategy_version": "production", "config": {
            "timeframe": "1h", "symbols": ["BTC/USDT"], "start_date": "2024-01-01", "end_date": "2024-02-01"}});
        BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("valid")
    }

    struct RefusingQueue;

    impl Launcher for RefusingQueue {
        fn handoff_status(&self) -> Status {
            Status::Queued
        }

        async fn launch(&self, _job: &BacktestJob) -> Result<crate::executor::Handoff, LaunchError> {
            Err(LaunchError::Unavailable("queue does not exist".into()))
        }
    }

    /// A store whose create lands but whose answer is lost: the retry says the job exists.
    struct LostCreateAnswer(MemoryStore);

    impl WorkflowStore for LostCreateAnswer {
        async fn create(&self, record: &WorkflowRecord) -> Result<(), StoreError> {
            self.0.create(record).await?;
            Err(StoreError::AlreadyExists(record.run_id))
        }

        async fn get(&self, run_id: RunId) -> Result<Option<WorkflowRecord>, StoreError> {
            self.0.get(run_id).await
        }

        async fn transition(&self, run_id: RunId, transition: &Transition) -> Result<TransitionOutcome, StoreError> {
            self.0.transition(run_id, transition).await
        }

        async fn annotate(&self, run_id: RunId, set: &RecordUpdate) -> Result<bool, StoreError> {
            self.0.annotate(run_id, set).await
        }

        async fn heartbeat(&self, run_id: RunId, at: Timestamp) -> Result<bool, StoreError> {
            self.0.heartbeat(run_id, at).await
        }

        async fn list_by_status(
            &self,
            status: Status,
            limit: usize,
            cursor: Option<&crate::store::Cursor>,
        ) -> Result<crate::store::Page, StoreError> {
            self.0.list_by_status(status, limit, cursor).await
        }

        async fn list_by_submitter(
            &self,
            submitted_by: &str,
            only: Option<Status>,
            limit: usize,
            cursor: Option<&crate::store::Cursor>,
        ) -> Result<crate::store::Page, StoreError> {
            self.0.list_by_submitter(submitted_by, only, limit, cursor).await
        }

        async fn stale(&self, status: Status, updated_before: Timestamp) -> Result<Vec<WorkflowRecord>, StoreError> {
            self.0.stale(status, updated_before).await
        }

        async fn completed_with(
            &self,
            fingerprint: &crate::run_manifest::Fingerprint,
        ) -> Result<Option<WorkflowRecord>, StoreError> {
            self.0.completed_with(fingerprint).await
        }
    }

    /// A workflow that is always in `RunBacktest`, counting how often it is asked.
    #[derive(Default)]
    struct InRunBacktest(std::sync::atomic::AtomicUsize);

    impl WorkflowProgress for InRunBacktest {
        async fn current_step(&self, _execution_arn: &str) -> Result<Option<String>, crate::executor::InspectError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Some("RunBacktest".to_owned()))
        }
    }

    #[tokio::test]
    async fn the_step_is_reported_while_a_job_runs_and_file_links_once_it_completed() {
        let store = MemoryStore::new();
        let files = crate::objects::MemoryObjects::new("results");
        let progress = InRunBacktest::default();
        for (status, step, linked) in [
            (Status::Queued, Some("RunBacktest"), false),
            (Status::Running, Some("RunBacktest"), false),
            (Status::Completed, None, true),
            (Status::Failed, None, false),
        ] {
            let mut record = crate::workflow::fakes::sample_record(status);
            record.execution_arn = Some(format!("arn:aws:states:us-east-1:1:execution:tradai:{}", record.run_id));
            store.create(&record).await.expect("created");
            let report = status_of(&store, &progress, &files, record.run_id).await;
            assert_eq!(report.step.as_deref(), step, "{status}");
            assert_eq!(report.files.is_some(), linked, "{status}");
            if let Some(files) = report.files {
                assert_eq!(
                    files.chart,
                    format!("memory://results/results/{}/equity.svg", record.run_id)
                );
            }
        }
        assert_eq!(
            progress.0.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "ended jobs ask no workflow"
        );
        let unknown = status(&store, &progress, &files, RunId::new(), None)
            .await
            .expect("answers");
        assert!(unknown.is_none());
    }

    async fn status_of(
        store: &MemoryStore,
        progress: &InRunBacktest,
        files: &crate::objects::MemoryObjects,
        run_id: RunId,
    ) -> StatusReport {
        status(store, progress, files, run_id, None)
            .await
            .expect("answers")
            .expect("the job")
    }

    #[tokio::test]
    async fn a_job_whose_create_answer_was_lost_is_still_handed_off() {
        let store = LostCreateAnswer(MemoryStore::new());
        let launcher = Executions::default();
        let submitted = submit(&store, &launcher, Submission::new(request()))
            .await
            .expect("submitted");
        assert_eq!(launcher.started(), [submitted.run_id]);
        let record = store.get(submitted.run_id).await.expect("read").expect("there");
        assert!(record.execution_arn.is_some(), "what runs it is recorded");
    }

    #[tokio::test]
    async fn a_replay_of_a_job_never_handed_off_hands_it_off_once() {
        let (store, keys) = (MemoryStore::new(), crate::idempotency::MemoryKeys::default());
        let key = IdempotencyKey::parse("k-lost").expect("valid key");
        // The first request recorded its job and died before the hand-off (a Lambda timeout).
        let run_id = RunId::new();
        let now = Timestamp::now();
        keys.claim(&key, &fingerprint(&request(), None), run_id, now)
            .await
            .expect("claimed");
        store
            .create(&WorkflowRecord::new(run_id, request(), Status::Queued, now))
            .await
            .expect("recorded");
        let launcher = Executions::default();
        for _ in 0..3 {
            let replayed = submit_once(&store, &launcher, &keys, &key, Submission::new(request()))
                .await
                .expect("replayed");
            assert_eq!((replayed.run_id, replayed.replayed), (run_id, true));
        }
        assert_eq!(launcher.started(), [run_id], "handed off, once");
        let record = store.get(run_id).await.expect("read").expect("there");
        assert!(record.execution_arn.is_some());
    }

    #[tokio::test]
    async fn without_an_executor_the_job_stays_pending() {
        let store = MemoryStore::new();
        let submitted = submit(&store, &NoExecutor, Submission::new(request()))
            .await
            .expect("submitted");
        assert_eq!(submitted.status, Status::Pending);
        let stored = store.get(submitted.run_id).await.expect("readable").expect("stored");
        assert_eq!(stored.status, Status::Pending);
        assert_eq!(stored.experiment_name, "backtests/EmaCross");
    }

    #[tokio::test]
    async fn a_refused_handoff_leaves_the_job_failed_with_the_reason() {
        let store = MemoryStore::new();
        let error = submit(&store, &RefusingQueue, Submission::new(request()))
            .await
            .expect_err("refused");
        let SubmitError::Handoff { run_id, .. } = error else {
            panic!("wrong error {error:?}")
        };
        let stored = store.get(run_id).await.expect("readable").expect("stored");
        assert_eq!(stored.status, Status::Failed);
        assert_eq!(stored.failed_step.as_deref(), Some(SUBMIT_STEP));
        assert!(
            stored
                .error
                .as_deref()
                .is_some_and(|e| e.contains("queue does not exist")),
            "{stored:?}"
        );
    }

    #[tokio::test]
    async fn one_key_gives_one_job_and_refuses_another_body() {
        let (store, keys) = (MemoryStore::new(), crate::idempotency::MemoryKeys::default());
        let key = IdempotencyKey::parse("k-1").expect("valid key");
        let first = submit_once(&store, &NoExecutor, &keys, &key, Submission::new(request()))
            .await
            .expect("first");
        let again = submit_once(&store, &NoExecutor, &keys, &key, Submission::new(request()))
            .await
            .expect("again");
        assert_eq!(
            (again.run_id, again.replayed, first.replayed),
            (first.run_id, true, false)
        );
        assert_eq!(store.len(), 1);

        let mut other = request();
        other.strategy_name = "Other".into();
        let refused = submit_once(&store, &NoExecutor, &keys, &key, Submission::new(other)).await;
        assert!(matches!(refused, Err(SubmitError::KeyReused(_))));
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn the_job_records_its_submitter_and_another_caller_cannot_reuse_the_key() {
        let (store, keys) = (MemoryStore::new(), crate::idempotency::MemoryKeys::default());
        let key = IdempotencyKey::parse("k-who").expect("valid key");
        let ada = Some("arn:aws:iam::123456789012:user/ada".to_owned());
        let first = submit_once(
            &store,
            &NoExecutor,
            &keys,
            &key,
            Submission::new(request()).by(ada.clone()),
        )
        .await
        .expect("first");
        let record = store.get(first.run_id).await.expect("read").expect("there");
        assert_eq!(record.submitted_by, ada);
        assert_eq!(StatusReport::new(record, None).submitted_by, ada);

        let bob = Some("arn:aws:iam::123456789012:user/bob".to_owned());
        let refused = submit_once(&store, &NoExecutor, &keys, &key, Submission::new(request()).by(bob)).await;
        assert!(matches!(refused, Err(SubmitError::KeyReused(_))), "{refused:?}");
        let again = submit_once(&store, &NoExecutor, &keys, &key, Submission::new(request()).by(ada))
            .await
            .expect("the same caller's retry");
        assert_eq!((again.run_id, again.replayed), (first.run_id, true));
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn a_failed_submission_gives_its_key_up() {
        let (store, keys) = (MemoryStore::new(), crate::idempotency::MemoryKeys::default());
        let key = IdempotencyKey::parse("k-2").expect("valid key");
        let refused = submit_once(&store, &RefusingQueue, &keys, &key, Submission::new(request())).await;
        assert!(matches!(refused, Err(SubmitError::Handoff { .. })));
        let retried = submit_once(&store, &NoExecutor, &keys, &key, Submission::new(request()))
            .await
            .expect("retry");
        assert!(!retried.replayed);
        assert_eq!(store.len(), 2, "the failed job stays on record; the retry is a new job");
    }

    #[tokio::test]
    async fn a_key_whose_job_was_never_recorded_is_finished_by_the_retry() {
        let (store, keys) = (MemoryStore::new(), crate::idempotency::MemoryKeys::default());
        let key = IdempotencyKey::parse("k-3").expect("valid key");
        let orphan = RunId::new();
        keys.claim(&key, &fingerprint(&request(), None), orphan, Timestamp::now())
            .await
            .expect("claimed");
        let retried = submit_once(&store, &NoExecutor, &keys, &key, Submission::new(request()))
            .await
            .expect("retry");
        assert_eq!(retried.run_id, orphan);
        assert!(store.get(orphan).await.expect("read").is_some());
    }

    #[tokio::test]
    async fn the_first_request_answers_with_the_job_a_concurrent_retry_recorded_for_it() {
        let (store, keys) = (MemoryStore::new(), crate::idempotency::MemoryKeys::default());
        let key = IdempotencyKey::parse("k-4").expect("valid key");
        // The first request claims the key and is slow to record its job; a retry records it meanwhile.
        let first = RunId::new();
        keys.claim(&key, &fingerprint(&request(), None), first, Timestamp::now())
            .await
            .expect("claimed");
        let retry = submit_once(&store, &NoExecutor, &keys, &key, Submission::new(request()))
            .await
            .expect("retry");
        assert_eq!(retry.run_id, first);
        // The first request now goes on: it must answer with that job, not fail.
        let late = create_or_replay(&store, &NoExecutor, first, Submission::new(request()))
            .await
            .expect("answer");
        assert_eq!((late.run_id, late.replayed), (first, true));
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn the_report_shows_results_only_when_completed_and_errors_only_when_failed() {
        let mut record = WorkflowRecord::new(RunId::new(), request(), Status::Running, Timestamp::now());
        record.result = Some(json!({"total_trades": 3}));
        record.error = Some("stale".into());
        record.mlflow_experiment_id = Some("7".into());
        record.mlflow_run_id = Some("abc".into());
        let running = StatusReport::new(record.clone(), Some("http://mlflow:5000/"));
        assert_eq!((running.result, running.error, running.mlflow_url), (None, None, None));

        record.status = Status::Completed;
        let done = StatusReport::new(record.clone(), Some("http://mlflow:5000/"));
        assert_eq!(done.result, Some(json!({"total_trades": 3})));
        assert_eq!(
            done.mlflow_url.as_deref(),
            Some("http://mlflow:5000/#/experiments/7/runs/abc")
        );
        assert_eq!(done.error, None);

        record.status = Status::Failed;
        let failed = StatusReport::new(record, None);
        assert_eq!((failed.error.as_deref(), failed.result), (Some("stale"), None));
    }
}
