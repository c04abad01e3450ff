//! The strategy container's entrypoint: it owns a job's life while the engine runs. It waits for MLflow, claims
//! the job (QUEUED → RUNNING, conditionally, so a second start does nothing), keeps a heartbeat on it, runs the
//! engine, judges its result, and records how it ended; a SIGTERM (Spot interruption, StopTask) is forwarded to
//! the engine and the job recorded FAILED `interrupted` well within the stop timeout, never left RUNNING.

mod engine;
pub mod hyperopt;
pub mod result;
pub mod settings;
pub mod trade;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tradai::backtest::{RunId, Status};
use tradai::mlflow::{ExperimentTracker, ModelRegistry, RunEnd, TrackedRun};
use tradai::readiness::Probe;
use tradai::report::chain;
use tradai::store::{RecordUpdate, Transition, TransitionOutcome, WorkflowStore};
use tradai::time::Timestamp;

pub use engine::{Engine, Transcript};
pub use settings::{EntrypointSettings, SettingsError};

/// The workflow step a container failure is recorded under.
pub const STEP: &str = "RunBacktest";

/// Exit codes: each says how the run ended.
pub mod exit {
    /// Completed, or there was nothing to do (the job was not waiting to run), or it was cancelled.
    pub const OK: i32 = 0;
    /// The environment is incomplete or malformed.
    pub const CONFIGURATION: i32 = 2;
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
    /// The engine produced its result (`result_file`, in the run's backtest folder).
    Completed { result_file: PathBuf },
    /// The job was not waiting to run (another start claimed it, or it was finished or cancelled).
    NothingToDo { status: Option<Status> },
    /// The job was cancelled while the engine ran; the engine was stopped.
    Cancelled,
    /// Stopped by SIGTERM; the job is FAILED `interrupted` (or stays CANCELLED).
    Interrupted,
    /// The run failed; the job is FAILED with `reason`.
    Failed { reason: String, code: i32 },
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Completed { .. } | Outcome::NothingToDo { .. } | Outcome::Cancelled => exit::OK,
            Outcome::Interrupted => exit::INTERRUPTED,
            Outcome::Failed { code, .. } => *code,
        }
    }
}

/// Where the run's inputs are read from: the merged config and the candles (S3).
pub trait InputStore: Send + Sync {
    /// The object `key` of `bucket`, or `None` when there is none.
    fn fetch(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, String>> + Send;
}

/// S3, reached with one client for every bucket.
#[derive(Debug, Clone)]
pub struct S3Inputs(pub aws_sdk_s3::Client);

impl InputStore for S3Inputs {
    async fn fetch(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        tradai::market_data::S3Objects::new(self.0.clone(), bucket)
            .get_object(key)
            .await
            .map_err(|error| chain(&error))
    }
}

/// Where raw results are kept (`S3_RESULTS_BUCKET`).
pub trait ResultStore: Send + Sync {
    /// Stores `bytes` at `key`.
    fn put(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send;
}

impl ResultStore for tradai::market_data::S3Objects {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        self.put_object(key, bytes).await.map_err(|error| chain(&error))
    }
}

/// Runs job `settings.run_id` to its end: MLflow (when given) is waited for and gets the run's params, metrics and
/// result; `results` (when given) gets the raw result under `results/{run_id}/`. `shutdown` completes when the
/// process is asked to stop (SIGTERM).
pub async fn run<M: Probe + ExperimentTracker + ModelRegistry>(
    settings: &EntrypointSettings,
    store: &impl WorkflowStore,
    mlflow: Option<&M>,
    inputs: Option<&impl InputStore>,
    results: Option<&impl ResultStore>,
    shutdown: impl Future<Output = ()>,
) -> Outcome {
    let run_id = settings.run_id;
    tokio::pin!(shutdown);

    if let Some(mlflow) = mlflow
        && let Err(reason) = wait_for(mlflow, settings.mlflow_wait).await
    {
        let reason = format!(
            "MLflow at {} did not answer within {:?}: {reason}",
            settings.mlflow_tracking_uri.as_deref().unwrap_or("?"),
            settings.mlflow_wait
        );
        fail_waiting_job(store, run_id, &reason).await;
        return Outcome::Failed {
            reason,
            code: exit::DEPENDENCY,
        };
    }

    match claim(store, run_id).await {
        Ok(true) => {}
        Ok(false) => {
            let status = store.get(run_id).await.ok().flatten().map(|record| record.status);
            tracing::info!(%run_id, ?status, "the job is not waiting to run; nothing to do");
            return Outcome::NothingToDo { status };
        }
        Err(reason) => {
            return Outcome::Failed {
                reason,
                code: exit::DEPENDENCY,
            };
        }
    }

    let folder = settings.work_dir.join(run_id.to_string());
    let backtests = folder.join("backtest_results");
    if let Err(error) = std::fs::create_dir_all(&backtests)
        .and_then(|()| std::fs::create_dir_all(folder.join("user_data")))
        .and_then(|()| std::fs::create_dir_all(folder.join("data").join(&settings.exchange)))
    {
        return fail_running_job(
            store,
            run_id,
            format!("cannot prepare {}: {error}", folder.display()),
            exit::ENGINE,
        )
        .await;
    }
    if let Some(inputs) = inputs {
        // Launched directly there is no PrepareConfig step before the container: it prepares the config itself.
        if settings.config_path.is_none()
            && let Some(registry) = mlflow
            && let Err(reason) = prepare_config(registry, inputs, settings, &folder).await
        {
            return fail_running_job(store, run_id, reason, exit::INPUTS).await;
        }
        if let Err(reason) = fetch_inputs(inputs, settings, &folder).await {
            return fail_running_job(store, run_id, reason, exit::INPUTS).await;
        }
    }
    let argv = engine_argv(settings, &folder, &backtests);
    tracing::info!(%run_id, command = ?argv, "starting the engine");
    let mut engine = match Engine::start(&argv, &folder) {
        Ok(engine) => engine,
        Err(error) => {
            return fail_running_job(
                store,
                run_id,
                format!("cannot start the engine {}: {error}", argv[0]),
                exit::ENGINE,
            )
            .await;
        }
    };

    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.tick().await;
    let mut stopping: Option<Outcome> = None;
    let grace = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(grace);
    let status = loop {
        tokio::select! {
            status = engine.child.wait() => break status,
            () = &mut shutdown, if stopping.is_none() => {
                tracing::warn!(%run_id, "SIGTERM: stopping the engine");
                engine.terminate();
                stopping = Some(Outcome::Interrupted);
                grace.as_mut().reset(tokio::time::Instant::now() + settings.stop_grace);
            }
            _ = heartbeat.tick(), if stopping.is_none() => match store.heartbeat(run_id, Timestamp::now()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(%run_id, "the job is no longer RUNNING (cancelled?): stopping the engine");
                    engine.terminate();
                    stopping = Some(Outcome::Cancelled);
                    grace.as_mut().reset(tokio::time::Instant::now() + settings.stop_grace);
                }
                Err(error) => tracing::warn!(%run_id, error = %chain(&error), "heartbeat not recorded; retrying"),
            },
            () = &mut grace => {
                tracing::error!(%run_id, "the engine ignored SIGTERM; killing it");
                engine.kill();
            }
        }
    };
    let transcript = engine.transcript().await;

    match stopping {
        Some(Outcome::Cancelled) => return Outcome::Cancelled,
        Some(_) => return interrupted(store, run_id).await,
        None => {}
    }
    let status = match status {
        Ok(status) => status,
        Err(error) => {
            return fail_running_job(store, run_id, format!("the engine was lost: {error}"), exit::ENGINE).await;
        }
    };
    if !status.success() {
        let said = transcript
            .last_error
            .or(transcript.last_line)
            .unwrap_or_else(|| "no output".to_owned());
        let code = status
            .code()
            .map_or_else(|| "a signal".to_owned(), |code| code.to_string());
        return fail_running_job(
            store,
            run_id,
            format!("the engine exited with {code}: {said}"),
            exit::ENGINE,
        )
        .await;
    }
    if transcript.reported_error {
        let said = transcript.last_error.unwrap_or_default();
        return fail_running_job(
            store,
            run_id,
            format!("the engine reported an error: {said}"),
            exit::ENGINE,
        )
        .await;
    }
    let produced = match produced(settings, &folder, &backtests) {
        Ok(produced) => produced,
        Err(reason) => return fail_running_job(store, run_id, reason, exit::RESULT).await,
    };
    let tracked = match mlflow {
        Some(tracker) => match track(tracker, settings, &produced).await {
            Ok(tracked) => Some(tracked),
            Err(reason) => return fail_running_job(store, run_id, reason, exit::DEPENDENCY).await,
        },
        None => None,
    };
    if let Some(results) = results
        && let Err(reason) = upload(results, run_id, &produced.folder).await
    {
        if let (Some(tracker), Some(run)) = (mlflow, &tracked) {
            let _ended = tracker.end_run(run, RunEnd::Failed).await;
        }
        return fail_running_job(store, run_id, reason, exit::DEPENDENCY).await;
    }
    if let (Some(tracker), Some(run)) = (mlflow, &tracked)
        && let Err(error) = tracker.end_run(run, RunEnd::Finished).await
    {
        tracing::warn!(%run_id, error = %chain(&error), "the MLflow run could not be ended");
    }

    let result_file = produced.file.clone();
    let update = RecordUpdate {
        result: Some(produced.record),
        mlflow_experiment_id: tracked.as_ref().map(|run| run.experiment_id.clone()),
        mlflow_run_id: tracked.as_ref().map(|run| run.run_id.clone()),
        ..RecordUpdate::default()
    };
    let recorded = if settings.workflow_managed {
        // The workflow's next steps summarise and complete the job; it only needs to know the MLflow run.
        store
            .annotate(run_id, &RecordUpdate { result: None, ..update })
            .await
            .map(|_| ())
    } else {
        let done = Transition::new(Status::Running, Status::Completed, Timestamp::now()).with(update);
        match store.transition(run_id, &done).await {
            Ok(TransitionOutcome::Moved(_)) => Ok(()),
            Ok(other) => {
                tracing::warn!(%run_id, outcome = ?other, "the job moved before it could complete");
                Ok(())
            }
            Err(error) => Err(error),
        }
    };
    if let Err(error) = recorded {
        return Outcome::Failed {
            reason: format!("the result is safe but the job could not be updated: {}", chain(&error)),
            code: exit::DEPENDENCY,
        };
    }
    tracing::info!(%run_id, result = %result_file.display(), "backtest finished");
    Outcome::Completed { result_file }
}

/// What the engine produced, read and ready to be tracked, uploaded and recorded.
struct Produced {
    /// The result file; MLflow gets it as the run's artifact.
    file: PathBuf,
    /// The folder whose files go to `results/{run_id}/`.
    folder: PathBuf,
    /// Parameters beside the run's own (a hyperopt's best parameters).
    params: std::collections::BTreeMap<String, String>,
    metrics: std::collections::BTreeMap<String, f64>,
    /// What the job record gets as its result.
    record: serde_json::Value,
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads the engine's result: the backtest Freqtrade's `.last_result.json` names in the backtest folder, or for
/// hyperopt the best epoch of the `.fthypt` file named in `{userdir}/hyperopt_results`.
fn produced(settings: &EntrypointSettings, folder: &Path, backtests: &Path) -> Result<Produced, String> {
    if settings.trading_mode != "hyperopt" {
        let file = latest_result(backtests)?;
        let result = result::read_result(&file, &settings.strategy)?;
        return Ok(Produced {
            record: json!({ "result_file": file_name(&file), "metrics": result.metrics, "pairlist": result.pairlist }),
            file,
            folder: backtests.to_owned(),
            params: std::collections::BTreeMap::new(),
            metrics: result.metrics,
        });
    }
    let results = folder.join("user_data").join(hyperopt::RESULTS_DIR);
    let file = hyperopt::latest_hyperopt(&results)?;
    let best = hyperopt::read_hyperopt(&file, &settings.strategy)?;
    // Megabytes of preprocessed candles that nothing reads again; and the lock of the finished run.
    let _removed = std::fs::remove_file(results.join(hyperopt::TICKER_DATA));
    let _unlocked = std::fs::remove_file(folder.join("user_data").join("hyperopt.lock"));
    let loss = best.loss.is_finite().then_some(best.loss);
    let mut metrics = best.metrics.clone();
    metrics.extend([
        ("hyperopt_epochs".to_owned(), best.epochs as f64),
        ("hyperopt_best_epoch".to_owned(), best.best_epoch as f64),
    ]);
    if let Some(loss) = loss {
        metrics.insert("hyperopt_loss".to_owned(), loss);
    }
    let params = best
        .params
        .iter()
        .map(|(name, value)| {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            (format!("best.{name}"), text)
        })
        .collect();
    let record = json!({"mode": "hyperopt", "result_file": file_name(&file), "best_epoch": best.best_epoch,
        "epochs": best.epochs, "loss": loss, "params": best.params, "metrics": best.metrics,
        "pairlist": best.pairlist, "loss_function": settings.hyperopt.loss,
        "random_state": settings.hyperopt.random_state});
    // The best epoch on its own beside the full log, for whoever reads the results without Freqtrade.
    std::fs::write(
        results.join("best_epoch.json"),
        serde_json::to_vec_pretty(&record).unwrap_or_default(),
    )
    .map_err(|error| format!("cannot write best_epoch.json: {error}"))?;
    Ok(Produced {
        file,
        folder: results,
        params,
        metrics,
        record,
    })
}

/// Logs the run to MLflow: its parameters, the result's metrics and the result file as an artifact.
async fn track(
    tracker: &impl ExperimentTracker,
    settings: &EntrypointSettings,
    produced: &Produced,
) -> Result<TrackedRun, String> {
    let failed = |error: tradai::mlflow::RegistryError| format!("MLflow logging failed: {}", chain(&error));
    let run_id = settings.run_id.to_string();
    let tags = std::collections::BTreeMap::from([
        ("tradai.run_id".to_owned(), run_id.clone()),
        ("tradai.strategy".to_owned(), settings.strategy.clone()),
        ("tradai.strategy_version".to_owned(), settings.strategy_version.clone()),
    ]);
    let tracked = tracker
        .start_run(&settings.experiment_name, &run_id, &tags)
        .await
        .map_err(failed)?;
    let mut params = std::collections::BTreeMap::from([
        ("strategy".to_owned(), settings.strategy.clone()),
        ("strategy_version".to_owned(), settings.strategy_version.clone()),
        ("timeframe".to_owned(), settings.timeframe.clone()),
        ("timerange".to_owned(), settings.timerange.clone()),
        ("pairs".to_owned(), settings.pairs.join(",")),
        ("trading_mode".to_owned(), settings.trading_mode.clone()),
    ]);
    if settings.trading_mode == "hyperopt" {
        params.extend([
            ("hyperopt_epochs".to_owned(), settings.hyperopt.epochs.to_string()),
            ("hyperopt_loss".to_owned(), settings.hyperopt.loss.clone()),
            (
                "hyperopt_random_state".to_owned(),
                settings.hyperopt.random_state.to_string(),
            ),
        ]);
    }
    params.extend(produced.params.clone());
    let logged = async {
        tracker.log_batch(&tracked, &params, &produced.metrics).await?;
        let bytes =
            std::fs::read(&produced.file).map_err(|error| tradai::mlflow::RegistryError::Malformed(Box::new(error)))?;
        let folder = if settings.trading_mode == "hyperopt" {
            "hyperopt"
        } else {
            "backtest"
        };
        tracker
            .log_artifact(&tracked, &format!("{folder}/{}", file_name(&produced.file)), bytes)
            .await
    };
    if let Err(error) = logged.await {
        let _ended = tracker.end_run(&tracked, RunEnd::Failed).await;
        return Err(failed(error));
    }
    Ok(tracked)
}

/// Uploads every file of the result folder (the result, its metadata, the pointer) to `results/{run_id}/`.
async fn upload(results: &impl ResultStore, run_id: RunId, backtests: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(backtests).map_err(|error| format!("cannot list the results: {error}"))?;
    for entry in entries {
        let path = entry
            .map_err(|error| format!("cannot list the results: {error}"))?
            .path();
        if !path.is_file() {
            continue;
        }
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(&path).map_err(|error| format!("cannot read {name}: {error}"))?;
        results
            .put(&format!("results/{run_id}/{name}"), bytes)
            .await
            .map_err(|error| format!("uploading {name} to the results bucket failed: {error}"))?;
    }
    Ok(())
}

/// Fetches the merged config (an `s3://` CONFIG_PATH) to `config.json` and each pair's candles (and the exchange's
/// `markets.json`, when there is one) into the engine's data folder, in Freqtrade's layout.
async fn fetch_inputs(inputs: &impl InputStore, settings: &EntrypointSettings, folder: &Path) -> Result<(), String> {
    if let Some(uri) = settings.config_path.as_deref().filter(|path| path.starts_with("s3://")) {
        let (bucket, key) =
            tradai::market_data::s3_object(uri).ok_or_else(|| format!("CONFIG_PATH {uri} names no key"))?;
        let bytes = inputs
            .fetch(bucket, key)
            .await?
            .ok_or_else(|| format!("the config {uri} does not exist"))?;
        let config = tradai::config::parse_document(&bytes).map_err(|error| format!("the config {uri}: {error}"))?;
        write_config(folder, &config)?;
    }
    let Some(location) = &settings.market_data else {
        return Ok(());
    };
    let timeframe = tradai::backtest::Timeframe::try_from(settings.timeframe.clone())?;
    let data = folder.join("data").join(&settings.exchange);
    for pair in &settings.pairs {
        let symbol = tradai::backtest::Symbol::try_from(pair.clone())?;
        let key = tradai::market_data::dataset_key(location, &settings.exchange, &symbol, timeframe);
        let bytes = inputs
            .fetch(&location.bucket, &key)
            .await?
            .ok_or_else(|| format!("no {timeframe} market data for {pair} at {}", location.uri(&key)))?;
        let relative = key
            .strip_prefix(&format!("{}{}/", location.prefix, settings.exchange))
            .unwrap_or(&key);
        let target = data.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
        }
        std::fs::write(&target, bytes).map_err(|error| format!("cannot write {}: {error}", target.display()))?;
    }
    let markets = format!("{}{}/markets.json", location.prefix, settings.exchange);
    if let Some(bytes) = inputs.fetch(&location.bucket, &markets).await? {
        std::fs::write(data.join("markets.json"), bytes)
            .map_err(|error| format!("cannot write markets.json: {error}"))?;
    }
    Ok(())
}

/// Freqtrade reads its config as JSON, whatever the config was written in.
fn write_config(folder: &Path, config: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(config).map_err(|error| format!("cannot write the config: {error}"))?;
    std::fs::write(folder.join("config.json"), text).map_err(|error| format!("cannot write the config: {error}"))
}

/// The run's config as PrepareConfig makes it (`tradai::workflow::prepare`), for a container launched without
/// one: the version's (or alias's) `config_path` tag → the base config → `CONFIG_OVERRIDES` → the run's fields.
async fn prepare_config(
    registry: &impl ModelRegistry,
    inputs: &impl InputStore,
    settings: &EntrypointSettings,
    folder: &Path,
) -> Result<(), String> {
    let name = &settings.strategy;
    let registry_down = |error: tradai::mlflow::RegistryError| format!("MLflow: {}", chain(&error));
    let version = match settings.strategy_version.parse::<u32>() {
        Ok(number) => registry.version(name, number).await,
        Err(_) => registry.resolve_alias(name, &settings.strategy_version).await,
    }
    .map_err(registry_down)?
    .ok_or_else(|| {
        format!(
            "strategy {name} version {} is not registered",
            settings.strategy_version
        )
    })?;
    let (base, uri) = version_config(&version, name, inputs).await?;
    let run = tradai::workflow::prepare::RunFields {
        run_id: settings.run_id,
        pairs: settings.pairs.iter().map(String::as_str).collect(),
        timeframe: &settings.timeframe,
        experiment_name: &settings.experiment_name,
        strategy_name: name,
        strategy_version: version.version,
    };
    let config = tradai::workflow::prepare::merged_config(base, &settings.config_overrides, &run);
    tracing::info!(run_id = %settings.run_id, %uri, version = version.version, "run config prepared");
    write_config(folder, &config)
}

/// The base config a registered version's `config_path` tag names (YAML or JSON, in S3), and that URI.
pub(crate) async fn version_config(
    version: &tradai::mlflow::StrategyVersion,
    name: &str,
    inputs: &impl InputStore,
) -> Result<(serde_json::Value, String), String> {
    let uri = version
        .tags
        .get("config_path")
        .ok_or_else(|| format!("strategy {name} version {} has no config_path tag", version.version))?;
    let (bucket, key) =
        tradai::market_data::s3_object(uri).ok_or_else(|| format!("config_path {uri} is not an s3:// URI"))?;
    let bytes = inputs
        .fetch(bucket, key)
        .await?
        .ok_or_else(|| format!("the config {uri} does not exist"))?;
    let config = tradai::config::parse_document(&bytes).map_err(|error| format!("the config {uri}: {error}"))?;
    Ok((config, uri.clone()))
}

/// Replaces the `{placeholders}` of the engine command.
fn engine_argv(settings: &EntrypointSettings, folder: &Path, backtests: &Path) -> Vec<String> {
    // An S3 config is fetched to config.json in the run's folder; a local one is used where it is.
    let config = match settings.config_path.as_deref() {
        Some(path) if !path.starts_with("s3://") => path.to_owned(),
        _ => folder.join("config.json").display().to_string(),
    };
    let replacements = [
        ("{config}", config),
        ("{userdir}", folder.join("user_data").display().to_string()),
        (
            "{datadir}",
            folder.join("data").join(&settings.exchange).display().to_string(),
        ),
        ("{backtest_directory}", backtests.display().to_string()),
        ("{strategy}", settings.strategy.clone()),
        ("{timeframe}", settings.timeframe.clone()),
        ("{timerange}", settings.timerange.clone()),
        ("{run_id}", settings.run_id.to_string()),
        ("{epochs}", settings.hyperopt.epochs.to_string()),
        ("{hyperopt_loss}", settings.hyperopt.loss.clone()),
        ("{random_state}", settings.hyperopt.random_state.to_string()),
    ];
    settings
        .engine_command
        .iter()
        .map(|part| {
            replacements
                .iter()
                .fold(part.clone(), |text, (from, to)| text.replace(from, to))
        })
        .collect()
}

/// The result file Freqtrade's `.last_result.json` names, if the run left one.
fn latest_result(backtests: &Path) -> Result<PathBuf, String> {
    let pointer = backtests.join(tradai::results::LAST_RESULT);
    let text = std::fs::read(&pointer).map_err(|_| "the engine wrote no result (.last_result.json)".to_owned())?;
    let latest = tradai::results::latest_backtest(&text).map_err(|error| error.0)?;
    let file = backtests.join(&latest);
    if file.is_file() {
        Ok(file)
    } else {
        Err(format!("the result {latest} named by .last_result.json is missing"))
    }
}

/// Polls `dependency` with exponential backoff (0.5 s doubling, at most 8 s apart) until it answers or `limit` passes.
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

/// Claims the job: PENDING or QUEUED → RUNNING. False when it was not waiting (or another start won).
async fn claim(store: &impl WorkflowStore, run_id: RunId) -> Result<bool, String> {
    let unavailable =
        |error: tradai::store::StoreError| format!("the workflow store is unavailable: {}", chain(&error));
    let Some(record) = store.get(run_id).await.map_err(unavailable)? else {
        return Ok(false);
    };
    if !matches!(record.status, Status::Pending | Status::Queued) {
        return Ok(false);
    }
    let start = Transition::new(record.status, Status::Running, Timestamp::now());
    Ok(matches!(
        store.transition(run_id, &start).await.map_err(unavailable)?,
        TransitionOutcome::Moved(_)
    ))
}

/// Records FAILED on a job that never started running.
async fn fail_waiting_job(store: &impl WorkflowStore, run_id: RunId, reason: &str) {
    if let Ok(Some(record)) = store.get(run_id).await
        && matches!(record.status, Status::Pending | Status::Queued)
    {
        let failed =
            Transition::new(record.status, Status::Failed, Timestamp::now()).with(RecordUpdate::failure(reason, STEP));
        if let Err(error) = store.transition(run_id, &failed).await {
            tracing::error!(%run_id, error = %chain(&error), "could not record the failure");
        }
    }
    tracing::error!(%run_id, %reason, "backtest failed before it started");
}

/// Records FAILED on the running job; answers the outcome to exit with.
async fn fail_running_job(store: &impl WorkflowStore, run_id: RunId, reason: String, code: i32) -> Outcome {
    tracing::error!(%run_id, %reason, "backtest failed");
    let failed =
        Transition::new(Status::Running, Status::Failed, Timestamp::now()).with(RecordUpdate::failure(&reason, STEP));
    match store.transition(run_id, &failed).await {
        Ok(TransitionOutcome::Moved(_)) => {}
        Ok(other) => tracing::warn!(%run_id, outcome = ?other, "the job had moved already"),
        Err(error) => tracing::error!(%run_id, error = %chain(&error), "could not record the failure"),
    }
    Outcome::Failed { reason, code }
}

/// Records the interruption: FAILED `interrupted`, unless the job was cancelled (then it stays CANCELLED).
async fn interrupted(store: &impl WorkflowStore, run_id: RunId) -> Outcome {
    let failed = Transition::new(Status::Running, Status::Failed, Timestamp::now())
        .with(RecordUpdate::failure("interrupted", STEP));
    match store.transition(run_id, &failed).await {
        Ok(TransitionOutcome::LostRace {
            current: Status::Cancelled,
        }) => Outcome::Cancelled,
        Ok(_) => Outcome::Interrupted,
        Err(error) => {
            tracing::error!(%run_id, error = %chain(&error), "could not record the interruption");
            Outcome::Interrupted
        }
    }
}
