//! The strategy container's entrypoint: it owns a job's life while the engine runs. In phases: wait for MLflow,
//! claim the job (QUEUED → RUNNING, conditionally, so a second start does nothing), fetch the inputs, run the
//! engine (keeping a heartbeat; a cancel or a SIGTERM stops it), collect its result, publish it (the results
//! bucket, then MLflow: a good run whose MLflow logging fails still completes, the gap recorded) and record how
//! the run ended. Each phase fails with a [`RunFailure`] that carries its exit code
//! and its cause; a SIGTERM (Spot interruption, StopTask) never leaves the job RUNNING: a run the workflow manages
//! is released to QUEUED for the workflow to re-run or fail, any other is FAILED `interrupted`.

mod engine;
mod failure;
pub mod hyperopt;
mod inputs;
mod job;
mod publish;
mod result;
pub mod settings;
mod shutdown;
mod strategy;
pub mod trade;
mod workspace;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tradai::backtest::Status;
use tradai::mlflow::{ExperimentTracker, ModelRegistry};
use tradai::objects::ObjectStore;
use tradai::readiness::Probe;
use tradai::report::chain;
use tradai::store::WorkflowStore;

pub use engine::{Engine, EngineEnd, Transcript};
pub use failure::RunFailure;
pub use settings::{Container, EntrypointSettings, HyperoptSettings, RunMode};

use crate::engine::run_engine;
use crate::shutdown::Shutdown;
use crate::workspace::Workspace;

/// The workflow step a container failure is recorded under.
pub const STEP: &str = "RunBacktest";

/// Exit codes: each says how the run ended.
pub mod exit {
    /// Completed, or it was cancelled.
    pub const OK: i32 = 0;
    /// The environment is incomplete or malformed.
    pub const CONFIGURATION: i32 = 2;
    /// The job was not waiting to run (another start claimed it, it ended, or it is not there): this start did
    /// nothing, and must not be taken for a run that produced a result.
    pub const NOT_CLAIMED: i32 = 3;
    /// A dependency (MLflow, DynamoDB) did not answer in time.
    pub const DEPENDENCY: i32 = 10;
    /// The engine failed (non-zero exit, or an error it reported while exiting 0).
    pub const ENGINE: i32 = 11;
    /// The engine exited cleanly but left no usable result.
    pub const RESULT: i32 = 12;
    /// The run's config or market data could not be fetched.
    pub const INPUTS: i32 = 13;
    /// Stopped by SIGTERM (128 + 15, as a shell reports it).
    pub const INTERRUPTED: i32 = 143;
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The engine produced its result (`result_file`, in the run's folder).
    Completed { result_file: PathBuf },
    /// The job was not waiting to run (another start claimed it, or it was finished or cancelled).
    NothingToDo { status: Option<Status> },
    /// The job was cancelled while the engine ran; the engine was stopped.
    Cancelled,
    /// Stopped by SIGTERM; the job is released to QUEUED (workflow-managed) or FAILED `interrupted`.
    Interrupted,
    /// The run failed; the job is FAILED with `reason`.
    Failed { reason: String, code: i32 },
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Completed { .. } | Outcome::Cancelled => exit::OK,
            Outcome::NothingToDo { .. } => exit::NOT_CLAIMED,
            Outcome::Interrupted => exit::INTERRUPTED,
            Outcome::Failed { code, .. } => *code,
        }
    }
}

/// What a run works with: the job table, MLflow (when the run is tracked), and the object store the config,
/// candles and results are read from and written to (on any bucket: the run names the bucket of each).
pub struct Deps<S, M, O> {
    pub store: S,
    pub mlflow: Option<M>,
    pub objects: O,
}

/// Runs job `settings.run_id` to its end. `shutdown` completes when the process is asked to stop (SIGTERM); every
/// phase watches it: waiting and fetching stop at once, the engine gets SIGTERM and the grace period, and claiming,
/// publishing and recording get the grace period to finish what they save.
pub async fn run<S, M, O>(
    settings: &EntrypointSettings,
    deps: &Deps<S, M, O>,
    shutdown: impl Future<Output = ()>,
) -> Outcome
where
    S: WorkflowStore,
    M: Probe + ExperimentTracker + ModelRegistry,
    O: ObjectStore,
{
    let run_id = settings.run_id;
    tokio::pin!(shutdown);
    let mut shutdown = Shutdown::new(shutdown);
    if let Some(mlflow) = &deps.mlflow {
        match shutdown.unless_requested(wait_for(mlflow, settings.mlflow_wait)).await {
            Some(Ok(())) => {}
            Some(Err(source)) => {
                let failure = RunFailure::MlflowUnavailable {
                    uri: settings
                        .mlflow
                        .as_ref()
                        .map_or_else(|| "?".to_owned(), |options| options.tracking_uri.clone()),
                    waited: settings.mlflow_wait,
                    source: source.into(),
                };
                return job::fail_waiting_job(&deps.store, run_id, failure, settings.record_retry).await;
            }
            None => return job::interrupted_waiting(&deps.store, run_id, settings.workflow_managed).await,
        }
    }
    match shutdown
        .within_grace(settings.stop_grace, job::claim(&deps.store, run_id))
        .await
    {
        Some(Ok(Ok(()))) => {}
        Some(Ok(Err(status))) => {
            tracing::info!(%run_id, ?status, "the job is not waiting to run; nothing to do");
            return Outcome::NothingToDo { status };
        }
        Some(Err(failure)) => {
            return Outcome::Failed {
                reason: chain(&failure),
                code: failure.exit_code(),
            };
        }
        None => {
            tracing::error!(%run_id, "SIGTERM: the claim did not finish within the grace period");
            return Outcome::Interrupted;
        }
    }
    let ended = if shutdown.was_requested() {
        Ok(Ended::Interrupted)
    } else {
        run_claimed(settings, deps, &mut shutdown).await
    };
    match ended {
        Ok(Ended::Completed(result_file)) => {
            tracing::info!(%run_id, result = %result_file.display(), "backtest finished");
            Outcome::Completed { result_file }
        }
        Ok(Ended::Cancelled) => Outcome::Cancelled,
        Ok(Ended::Interrupted) => job::interrupted(&deps.store, run_id, settings.workflow_managed).await,
        Err(failure) => job::fail_running_job(&deps.store, run_id, failure, settings.record_retry).await,
    }
}

/// How a claimed run ended, when it did not fail.
enum Ended {
    Completed(PathBuf),
    Cancelled,
    Interrupted,
}

/// The phases of a claimed job: fetch the inputs → run the engine → collect the result → publish → record.
async fn run_claimed<S, M, O>(
    settings: &EntrypointSettings,
    deps: &Deps<S, M, O>,
    shutdown: &mut Shutdown<'_, impl Future<Output = ()>>,
) -> Result<Ended, RunFailure>
where
    S: WorkflowStore,
    M: ExperimentTracker + ModelRegistry,
    O: ObjectStore,
{
    let workspace = Workspace::create(settings)?;
    let fetched = shutdown
        .unless_requested(inputs::fetch_inputs(
            settings,
            deps.mlflow.as_ref(),
            &deps.objects,
            &workspace,
        ))
        .await;
    match fetched {
        Some(fetched) => fetched?,
        None => return Ok(Ended::Interrupted),
    }
    match run_engine(settings, &workspace, &deps.store, shutdown).await? {
        EngineEnd::Finished => {}
        EngineEnd::Cancelled => return Ok(Ended::Cancelled),
        EngineEnd::Interrupted => return Ok(Ended::Interrupted),
    }
    let produced = result::collect_result(settings, &workspace)?;
    let saved = shutdown
        .within_grace(settings.stop_grace, async {
            let published = publish::publish(settings, deps.mlflow.as_ref(), &deps.objects, &produced).await?;
            job::record_completion(&deps.store, settings, &produced, &published).await
        })
        .await;
    match saved {
        Some(saved) => saved?,
        None => return Ok(Ended::Interrupted),
    }
    Ok(Ended::Completed(produced.file))
}

/// Polls `dependency` with exponential backoff (0.5 s doubling, at most 8 s apart) until it answers or `limit`
/// passes; the error is the last answer's.
async fn wait_for(dependency: &impl Probe, limit: Duration) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut pause = Duration::from_millis(500);
    loop {
        let error = match tokio::time::timeout(Duration::from_secs(5), dependency.probe()).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(error)) => chain(error.as_ref()),
            Err(_) => "no answer within 5 s".to_owned(),
        };
        let now = tokio::time::Instant::now();
        if now + pause > deadline {
            return Err(error);
        }
        tracing::info!(error = %error, retry_in = ?pause, "waiting for MLflow");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(8));
    }
}

#[cfg(test)]
mod tests {
    use tradai::backtest::{BacktestRequest, RunId, WorkflowRecord};
    use tradai::mlflow::MlflowClient;
    use tradai::objects::MemoryObjects;
    use tradai::settings::Env;
    use tradai::store::MemoryStore;
    use tradai::time::Timestamp;

    use super::*;

    /// A job in `status`, and the settings of a run of it whose engine would succeed without doing anything.
    async fn job(store: &MemoryStore, status: Status, extra: &[(&str, &str)]) -> EntrypointSettings {
        let body = br#"{"strategy_name":"EmaCross","strategy_version":3,"config":{"timeframe":"5m",
            "symbols":["BTC/USDT"],"start_date":"2024-01-01","end_date":"2024-03-01"}}"#;
        let request = BacktestRequest::from_json(body, Timestamp::now().date()).expect("valid");
        let record = WorkflowRecord::new(RunId::new(), request, status, Timestamp::now());
        store.create(&record).await.expect("created");
        let work = std::env::temp_dir().join(format!("tradai-entrypoint-{}", record.run_id));
        let run_id = record.run_id.to_string();
        let work = work.display().to_string();
        let mut vars = vec![
            ("RUN_ID", run_id.as_str()),
            ("STRATEGY", "EmaCross"),
            ("TIMEFRAME", "5m"),
            ("TIMERANGE", "20240101-20240301"),
            ("PAIRS", "BTC/USDT"),
            ("WORK_DIR", work.as_str()),
            ("ENGINE_COMMAND", r#"["true"]"#),
        ];
        vars.extend_from_slice(extra);
        EntrypointSettings::from_env(&Env::from_vars(vars.iter().copied())).expect("valid settings")
    }

    fn deps(store: MemoryStore, objects: MemoryObjects) -> Deps<MemoryStore, MlflowClient, MemoryObjects> {
        Deps {
            store,
            mlflow: None,
            objects,
        }
    }

    /// A run planned by the workflow reads the candle file at the version its manifest pins, whatever was uploaded
    /// since; bytes that do not hash to the manifest's are refused before the engine starts.
    #[tokio::test]
    async fn a_planned_run_reads_the_pinned_versions_and_refuses_other_bytes() {
        let objects = MemoryObjects::new("data");
        let key = "ohlcv/binance/BTC_USDT-5m.parquet";
        objects.put(key, b"planned candles".to_vec()).await.expect("put");
        let pinned = objects.hash(key, None).await.expect("hash").expect("there");
        objects.put(key, b"candles uploaded later".to_vec()).await.expect("put");
        let manifest = |sha256: String| tradai::run_manifest::RunManifest {
            data: vec![tradai::run_manifest::DataFile {
                key: key.into(),
                pair: Some("BTC/USDT".into()),
                version_id: pinned.version_id.clone(),
                sha256,
                size: pinned.size,
            }],
            markets: None,
            ..serde_json::from_value(serde_json::json!({
                "strategy": {"name": "EmaCross", "version": 3, "image": "i:3", "digest": "sha256:00"},
                "config": {"sha256": "sha256:00", "document": {}},
                "data": [], "timerange": "20240101-20240301", "pairs": ["BTC/USDT"], "timeframe": "5m"}))
            .expect("a manifest")
        };
        let extra = [
            ("MARKET_DATA_S3_URI", "s3://data/ohlcv"),
            ("RUN_MANIFEST", "s3://results/results/manifest.json"),
            ("ENGINE_VERSION", "freqtrade-2026.9"),
        ];
        let store = MemoryStore::new();
        let settings = job(&store, Status::Queued, &extra).await;
        let workspace = crate::workspace::Workspace::create(&settings).expect("workspace");
        let results = objects.in_bucket("results");
        let write = |manifest: tradai::run_manifest::RunManifest| {
            let results = results.clone();
            async move {
                let bytes = serde_json::to_vec(&manifest).expect("JSON");
                results.put("results/manifest.json", bytes).await.expect("put");
            }
        };
        write(manifest(pinned.sha256.clone())).await;
        inputs::fetch_inputs(&settings, None::<&MlflowClient>, &objects, &workspace)
            .await
            .expect("fetched");
        let fetched = std::fs::read(workspace.datadir.join("BTC_USDT-5m.parquet")).expect("written");
        assert_eq!(fetched, b"planned candles", "the pinned version, not the later upload");
        let recorded: tradai::run_manifest::RunManifest = serde_json::from_slice(
            &results
                .get("results/manifest.json")
                .await
                .expect("read")
                .expect("there"),
        )
        .expect("a manifest");
        assert_eq!(
            recorded.observed.map(|observed| (observed.engine, observed.entrypoint)),
            Some(("freqtrade-2026.9".to_owned(), env!("CARGO_PKG_VERSION").to_owned())),
            "what the container runs is recorded"
        );

        write(manifest(tradai::run_manifest::sha256_of(b"other"))).await;
        let refused = inputs::fetch_inputs(&settings, None::<&MlflowClient>, &objects, &workspace)
            .await
            .expect_err("refused");
        assert!(
            refused.to_string().contains("is not the file the run was planned with"),
            "{refused}"
        );
        std::fs::remove_dir_all(settings.work_dir).ok();
    }

    #[tokio::test]
    async fn missing_candles_fail_the_job_before_the_engine_with_the_inputs_exit_code() {
        let deps = deps(MemoryStore::new(), MemoryObjects::new("data"));
        let settings = job(
            &deps.store,
            Status::Queued,
            &[("MARKET_DATA_S3_URI", "s3://data/ohlcv")],
        )
        .await;
        let outcome = run(&settings, &deps, std::future::pending()).await;
        assert_eq!(outcome.exit_code(), exit::INPUTS, "{outcome:?}");
        let record = deps.store.get(settings.run_id).await.expect("read").expect("there");
        assert_eq!(record.status, Status::Failed);
        let error = record.error.unwrap_or_default();
        assert!(
            error.contains("no 5m market data for BTC/USDT at s3://data/ohlcv/"),
            "{error}"
        );
        assert_eq!(record.failed_step.as_deref(), Some(STEP));
        std::fs::remove_dir_all(settings.work_dir).ok();
    }

    #[tokio::test]
    async fn a_job_that_is_not_waiting_is_left_alone() {
        let deps = deps(MemoryStore::new(), MemoryObjects::new("data"));
        let settings = job(&deps.store, Status::Cancelled, &[]).await;
        let outcome = run(&settings, &deps, std::future::pending()).await;
        assert_eq!(
            outcome,
            Outcome::NothingToDo {
                status: Some(Status::Cancelled)
            }
        );
        assert!(!settings.work_dir.join(settings.run_id.to_string()).exists());
    }

    #[tokio::test]
    async fn an_engine_that_leaves_no_result_fails_with_the_result_exit_code() {
        let deps = deps(MemoryStore::new(), MemoryObjects::new("data"));
        let settings = job(&deps.store, Status::Pending, &[]).await;
        let outcome = run(&settings, &deps, std::future::pending()).await;
        assert_eq!(outcome.exit_code(), exit::RESULT, "{outcome:?}");
        let record = deps.store.get(settings.run_id).await.expect("read").expect("there");
        assert_eq!(
            (record.status, record.error.as_deref()),
            (Status::Failed, Some("the engine wrote no result (.last_result.json)"))
        );
        std::fs::remove_dir_all(settings.work_dir).ok();
    }

    /// A job table whose heartbeat never answers (a network that dropped the route), all else in memory.
    struct HangingHeartbeat(MemoryStore);

    impl WorkflowStore for HangingHeartbeat {
        async fn create(&self, record: &WorkflowRecord) -> Result<(), tradai::store::StoreError> {
            self.0.create(record).await
        }

        async fn get(&self, run_id: RunId) -> Result<Option<WorkflowRecord>, tradai::store::StoreError> {
            self.0.get(run_id).await
        }

        async fn transition(
            &self,
            run_id: RunId,
            transition: &tradai::store::Transition,
        ) -> Result<tradai::store::TransitionOutcome, tradai::store::StoreError> {
            self.0.transition(run_id, transition).await
        }

        async fn annotate(
            &self,
            run_id: RunId,
            set: &tradai::store::RecordUpdate,
        ) -> Result<bool, tradai::store::StoreError> {
            self.0.annotate(run_id, set).await
        }

        async fn heartbeat(&self, _run_id: RunId, _at: Timestamp) -> Result<bool, tradai::store::StoreError> {
            std::future::pending().await
        }

        async fn list_by_status(
            &self,
            status: Status,
            limit: usize,
            cursor: Option<&tradai::store::Cursor>,
        ) -> Result<tradai::store::Page, tradai::store::StoreError> {
            self.0.list_by_status(status, limit, cursor).await
        }

        async fn list_by_submitter(
            &self,
            submitted_by: &str,
            only: Option<Status>,
            limit: usize,
            cursor: Option<&tradai::store::Cursor>,
        ) -> Result<tradai::store::Page, tradai::store::StoreError> {
            self.0.list_by_submitter(submitted_by, only, limit, cursor).await
        }

        async fn stale(
            &self,
            status: Status,
            updated_before: Timestamp,
        ) -> Result<Vec<WorkflowRecord>, tradai::store::StoreError> {
            self.0.stale(status, updated_before).await
        }

        async fn completed_with(
            &self,
            fingerprint: &tradai::run_manifest::Fingerprint,
        ) -> Result<Option<WorkflowRecord>, tradai::store::StoreError> {
            self.0.completed_with(fingerprint).await
        }
    }

    #[tokio::test]
    async fn a_heartbeat_that_never_answers_delays_no_stop() {
        let store = HangingHeartbeat(MemoryStore::new());
        let engine = r#"["sh", "-c", "trap 'exit 143' TERM; sleep 30 & wait $!"]"#;
        let extra = [
            ("ENGINE_COMMAND", engine),
            ("HEARTBEAT_SECONDS", "0.1"),
            ("STOP_GRACE_SECONDS", "5"),
        ];
        let settings = job(&store.0, Status::Queued, &extra).await;
        let deps = Deps {
            store,
            mlflow: None::<MlflowClient>,
            objects: MemoryObjects::new("data"),
        };
        // The SIGTERM comes while a beat hangs; the outer bound only keeps a regression from hanging the suite.
        let shutdown = tokio::time::sleep(std::time::Duration::from_millis(700));
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(20), run(&settings, &deps, shutdown))
            .await
            .expect("the stop was not held up by the heartbeat");
        assert_eq!(outcome, Outcome::Interrupted);
        let record = deps.store.get(settings.run_id).await.expect("read").expect("there");
        assert_eq!(
            (record.status, record.error.as_deref()),
            (Status::Failed, Some("interrupted"))
        );
        std::fs::remove_dir_all(settings.work_dir).ok();
    }
}
