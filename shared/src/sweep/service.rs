//! The service functions behind the sweep routes: plan and submit a sweep, report on one, cancel one.
//!
//! A submission is checked whole before anything is written — the request, the strategy version (resolved once:
//! every child runs that number), the space against what the version declares — then recorded in order: the sweep
//! (PENDING), its children (PENDING jobs whose run ids are made of the sweep's id, so a repeated write finds them),
//! the list the workflow's map reads, and the workflow, named by the sweep's id. A start that fails leaves nothing
//! waiting: the sweep and its children are FAILED with the reason.

use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

use super::declared::Declared;
use super::estimate::{EngineTime, Estimate, SweepShape, estimate};
use super::launch::{ItemsObject, SweepInput, SweepLauncher};
use super::leaderboard::{Child, Leaderboard, leaderboard};
use super::record::{SweepId, SweepRecord, child_combination, child_jobs};
use super::request::{Plan, SweepRequest};
use super::space::Combination;
use super::store::{SweepStore, SweepUpdate};
use super::windows::{WindowReport, window_reports};
use crate::backtest::{BacktestConfig, BacktestJob, RunId, Status, StrategyVersion, WorkflowRecord};
use crate::executor::{LaunchError, StopError, Stopper};
use crate::jobs::{self, CancelError};
use crate::mlflow::{ModelRegistry, RegistryError};
use crate::objects::{ObjectError, ObjectStore};
use crate::report::chain;
use crate::settings::TaskSize;
use crate::store::{RecordUpdate, StoreError, Transition, WorkflowStore};
use crate::time::Timestamp;
use crate::validation::ValidationErrors;

/// How many child jobs are written, read or cancelled at once.
const CONCURRENCY: usize = 16;
/// How many of the strategy's latest completed runs the estimate learns the engine's speed from.
const PAST_RUNS: usize = 50;
/// The step a child is failed under when its sweep could not be started.
pub(crate) const SWEEP_STEP: &str = "Sweep";

/// A sweep a caller asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSubmission {
    pub request: SweepRequest,
    pub submitted_by: Option<String>,
    pub at: Timestamp,
}

/// What a submission planned, and for a real one what it started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    /// None for a dry run: nothing was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep_id: Option<SweepId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    pub strategy_name: String,
    pub strategy_version: u32,
    pub runs: usize,
    pub estimate: Estimate,
    pub dry_run: bool,
}

/// Why a sweep was not submitted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitSweepError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("MLflow could not be asked for the strategy version")]
    Registry(#[source] RegistryError),
    #[error("the sweep could not be recorded")]
    Store(#[from] StoreError),
    #[error("the sweep's children could not be written for its workflow")]
    Objects(#[source] ObjectError),
    #[error("sweep {sweep_id} could not be started; it is recorded as FAILED")]
    Launch {
        sweep_id: SweepId,
        #[source]
        source: LaunchError,
    },
}

/// The ports a submission writes to.
pub struct SweepPorts<'a, R, W, S, O, L> {
    pub registry: &'a R,
    pub jobs: &'a W,
    pub sweeps: &'a S,
    /// Where the children's list is written (`sweeps/{id}/children.json` in the configs bucket).
    pub items: &'a O,
    pub launcher: &'a L,
    /// The strategy task's size, which the estimate prices.
    pub task: TaskSize,
}

/// Plans `submission` and, unless it is a dry run, records and starts it.
pub async fn submit_sweep<R, W, S, O, L>(
    ports: &SweepPorts<'_, R, W, S, O, L>,
    submission: SweepSubmission,
) -> Result<Planned, SubmitSweepError>
where
    R: ModelRegistry,
    W: WorkflowStore,
    S: SweepStore,
    O: ObjectStore,
    L: SweepLauncher,
{
    let request = submission.request;
    let version = pinned_version(ports.registry, &request).await?;
    let combinations = combinations(&request, &version)?;
    let runs = match &request.plan {
        Plan::Space(_) => combinations.len(),
        Plan::WalkForward { .. } => request.children(),
    };
    let engine = engine_time(ports.jobs, &request.base.strategy_name).await;
    let shape = shape(&request, runs, ports.task);
    let planned = Planned {
        sweep_id: None,
        status: None,
        strategy_name: request.base.strategy_name.clone(),
        strategy_version: version.version,
        runs,
        estimate: estimate(shape, engine),
        dry_run: request.dry_run,
    };
    if request.dry_run {
        return Ok(planned);
    }
    let sweep = SweepRecord::new(
        SweepId::new(),
        request,
        version.version,
        runs,
        planned.estimate.clone(),
        submission.at,
    )
    .submitted_by(submission.submitted_by);
    ports.sweeps.create(&sweep).await?;
    let children = child_jobs(&sweep, &combinations);
    record_children(ports.jobs, &children).await?;
    let items = write_items(ports.items, &sweep, &children)
        .await
        .map_err(SubmitSweepError::Objects)?;
    let input = SweepInput {
        sweep_id: sweep.sweep_id.to_string(),
        items,
        max_concurrency: sweep.request.max_concurrency,
        tolerated_failure_percentage: sweep.request.tolerated_failure_percentage,
    };
    let execution_arn = match ports.launcher.start(&sweep, &input).await {
        Ok(arn) => arn,
        Err(source) => {
            fail_unstarted(ports.jobs, ports.sweeps, &sweep, &chain(&source)).await;
            return Err(SubmitSweepError::Launch {
                sweep_id: sweep.sweep_id,
                source,
            });
        }
    };
    let started = SweepUpdate {
        execution_arn: Some(execution_arn),
        ..SweepUpdate::default()
    };
    let status = match ports
        .sweeps
        .transition(
            sweep.sweep_id,
            &[Status::Pending],
            Status::Running,
            Timestamp::now(),
            &started,
        )
        .await?
    {
        Some(moved) => moved.status,
        // Cancelled (or already finished by its workflow) in the moment since it was recorded.
        None => {
            let now = ports.sweeps.get(sweep.sweep_id).await?;
            let status = now.as_ref().map_or(Status::Running, |now| now.status);
            if let Some(now) = now.filter(|now| now.status == Status::Cancelled) {
                // A cancel came while the sweep was being recorded: it could not stop the workflow started since,
                // nor cancel the children recorded after it read them.
                cancel_after_start(ports, &now, started.execution_arn.as_deref()).await?;
            }
            status
        }
    };
    tracing::info!(sweep_id = %sweep.sweep_id, runs = sweep.runs, strategy = %sweep.strategy_name,
        version = sweep.strategy_version, "sweep submitted");
    Ok(Planned {
        sweep_id: Some(sweep.sweep_id),
        status: Some(status),
        ..planned
    })
}

/// Finishes a cancel that raced the submission: stops the workflow it started and cancels every child still PENDING
/// (none of them was started: the workflow starts them, and it is stopped first).
async fn cancel_after_start<R, W, S, O, L>(
    ports: &SweepPorts<'_, R, W, S, O, L>,
    sweep: &SweepRecord,
    execution_arn: Option<&str>,
) -> Result<(), SubmitSweepError>
where
    W: WorkflowStore,
    L: SweepLauncher,
{
    if let Some(execution) = execution_arn {
        let reason = format!("sweep {} was cancelled while it was submitted", sweep.sweep_id);
        if let Err(error) = ports.launcher.stop(execution, &reason).await {
            tracing::error!(sweep_id = %sweep.sweep_id, error = %chain(&error), "could not stop the cancelled sweep's workflow");
        }
    }
    let set = RecordUpdate {
        cancelled_by: sweep.cancelled_by.clone(),
        ..RecordUpdate::default()
    };
    Ok(end_pending_children(ports.jobs, sweep, Status::Cancelled, &set).await?)
}

/// Moves every child of `sweep` still PENDING to `to` with `set`, `CONCURRENCY` at a time; every child is tried,
/// the first write that failed is answered.
async fn end_pending_children(
    jobs: &impl WorkflowStore,
    sweep: &SweepRecord,
    to: Status,
    set: &RecordUpdate,
) -> Result<(), StoreError> {
    end_pending(
        jobs,
        sweep
            .child_ids()
            .into_iter()
            .map(|run_id| (run_id, to, set.clone()))
            .collect(),
    )
    .await
}

/// Moves each `(child, status, set)` of `ends` from PENDING to its status with its `set`, `CONCURRENCY` at a time
/// (a child no longer PENDING is left as it is); every child is tried, the first write that failed is answered.
pub(crate) async fn end_pending(
    jobs: &impl WorkflowStore,
    ends: Vec<(RunId, Status, RecordUpdate)>,
) -> Result<(), StoreError> {
    let mut writes = futures::stream::iter(ends.into_iter().map(|(run_id, to, set)| {
        let transition = Transition::new(Status::Pending, to, Timestamp::now()).with(set);
        async move { jobs.transition(run_id, &transition).await }
    }))
    .buffer_unordered(CONCURRENCY);
    let mut first_failure = None;
    while let Some(written) = writes.next().await {
        if let Err(error) = written {
            first_failure.get_or_insert(error);
        }
    }
    first_failure.map_or(Ok(()), Err)
}

/// The registered version the request names, by number or alias; unknown or archived is the request's fault.
async fn pinned_version(
    registry: &impl ModelRegistry,
    request: &SweepRequest,
) -> Result<crate::mlflow::StrategyVersion, SubmitSweepError> {
    let name = &request.base.strategy_name;
    let found = match &request.base.strategy_version {
        StrategyVersion::Number(number) => registry.version(name, *number).await,
        StrategyVersion::Alias(alias) => registry.resolve_alias(name, alias).await,
    }
    .map_err(SubmitSweepError::Registry)?;
    let invalid = |message: String| SubmitSweepError::Invalid(ValidationErrors::one("strategy_version", message));
    let version = found.ok_or_else(|| {
        invalid(format!(
            "strategy {name} has no version {}: register it first (POST /strategies)",
            request.base.strategy_version
        ))
    })?;
    if version.is_archived() {
        return Err(invalid(format!(
            "strategy {name} version {} is archived",
            version.version
        )));
    }
    Ok(version)
}

/// What the estimate prices: every child, and the candles each reads. A walk-forward window is a hyperopt of
/// `epochs` backtests of its training days then one backtest of its test days, in sequence: its two children are
/// priced at their mean, and at most as many run at once as there are windows.
fn shape(request: &SweepRequest, runs: usize, task: TaskSize) -> SweepShape {
    let config = &request.base.config;
    let (candle_pairs, max_concurrency) = match &request.plan {
        Plan::Space(_) => (candle_pairs(config), request.max_concurrency as usize),
        Plan::WalkForward { plan, windows } => {
            let per_day = candle_pairs(config) / ((config.end_date - config.start_date).num_days().max(1) as u64);
            let window = per_day * (u64::from(plan.epochs) * u64::from(plan.train_days) + u64::from(plan.test_days));
            (window / 2, (request.max_concurrency as usize).min(windows.len()))
        }
    };
    SweepShape {
        children: runs,
        candle_pairs,
        max_concurrency,
        task_cpu: task.cpu,
        task_memory_mib: task.memory_mib,
    }
}

/// The combinations of the request's space, once the version declares everything it varies; none for a
/// walk-forward, which needs the version to declare something to fit.
fn combinations(
    request: &SweepRequest,
    version: &crate::mlflow::StrategyVersion,
) -> Result<Vec<Combination>, SubmitSweepError> {
    let declared = Declared::from_tags(&version.tags).map_err(|problem| {
        SubmitSweepError::Invalid(ValidationErrors::one(
            "strategy_version",
            format!(
                "strategy {} version {}: {problem}",
                request.base.strategy_name, version.version
            ),
        ))
    })?;
    let space = match &request.plan {
        Plan::Space(space) => space,
        Plan::WalkForward { .. } if declared.is_empty() => {
            return Err(SubmitSweepError::Invalid(ValidationErrors::one(
                "walk_forward",
                format!(
                    "strategy {} version {} declares no hyperoptable parameters: a walk-forward has nothing to fit \
                     (declare them with the version's parameters)",
                    request.base.strategy_name, version.version
                ),
            )));
        }
        Plan::WalkForward { .. } => return Ok(Vec::new()),
    };
    let refused = declared.check("space", space);
    if !refused.is_empty() {
        return Err(SubmitSweepError::Invalid(ValidationErrors(refused)));
    }
    space
        .combinations()
        .map_err(|message| SubmitSweepError::Invalid(ValidationErrors::one("space", message)))
}

/// Candles per pair over the request's dates, times its pairs.
fn candle_pairs(config: &BacktestConfig) -> u64 {
    let seconds = (config.end_date - config.start_date).num_seconds().max(0) as u64;
    seconds / config.timeframe.seconds().max(1) * config.symbols.len() as u64
}

/// The engine's speed from the strategy's latest completed runs that say how long their engine took; a store that
/// does not answer leaves the documented default (the estimate is an estimate).
async fn engine_time(jobs: &impl WorkflowStore, strategy: &str) -> EngineTime {
    match jobs.list_by_status(Status::Completed, PAST_RUNS * 4, None).await {
        Ok(page) => EngineTime::from_runs(
            page.records
                .iter()
                .filter(|job| job.strategy_name == strategy)
                .take(PAST_RUNS)
                .filter_map(|job| {
                    let seconds = job.result.as_ref()?.get("engine_seconds")?.as_f64()?;
                    Some((seconds, candle_pairs(&job.config)))
                }),
        ),
        Err(error) => {
            tracing::warn!(error = %chain(&error), "past runs could not be read; the estimate assumes the engine's speed");
            EngineTime::Assumed
        }
    }
}

/// Records every child, `CONCURRENCY` at a time; one already there (a repeated write) is left as it is.
async fn record_children(jobs: &impl WorkflowStore, children: &[WorkflowRecord]) -> Result<(), StoreError> {
    // Owned records: a future borrowing its item from the closure's argument is not Send in the Lambda runtime.
    let mut writes = futures::stream::iter(children.iter().cloned().map(|child| async move {
        match jobs.create(&child).await {
            Ok(()) | Err(StoreError::AlreadyExists(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }))
    .buffer_unordered(CONCURRENCY);
    while let Some(written) = writes.next().await {
        written?;
    }
    Ok(())
}

/// Where a sweep's children's list is kept, in the configs bucket.
pub fn items_key(sweep_id: SweepId) -> String {
    format!("sweeps/{sweep_id}/children.json")
}

/// Writes the map's items: the children as the backtest workflow takes its input (the job, flat), in the sweep's
/// order; for a walk-forward one item per window, `{"in_sample": job, "out_of_sample": job}`, run one after the
/// other.
async fn write_items(
    items: &impl ObjectStore,
    sweep: &SweepRecord,
    children: &[WorkflowRecord],
) -> Result<ItemsObject, ObjectError> {
    let jobs: Vec<BacktestJob> = children.iter().map(WorkflowRecord::job).collect();
    let text = match &sweep.request.plan {
        Plan::Space(_) => serde_json::to_vec(&jobs),
        Plan::WalkForward { .. } => serde_json::to_vec(
            &jobs
                .chunks(2)
                .map(|window| json!({"in_sample": window[0], "out_of_sample": window.get(1)}))
                .collect::<Vec<_>>(),
        ),
    }
    .map_err(ObjectError::new)?;
    let key = items_key(sweep.sweep_id);
    items.put(&key, text).await?;
    Ok(ItemsObject {
        bucket: items.bucket().to_owned(),
        key,
    })
}

/// Fails a sweep whose workflow could not be started (`why`), and its children, so nothing waits for it.
async fn fail_unstarted(jobs: &impl WorkflowStore, sweeps: &impl SweepStore, sweep: &SweepRecord, why: &str) {
    let reason = format!("the sweep's workflow could not be started: {why}");
    let failed = SweepUpdate {
        error: Some(reason.clone()),
        ..SweepUpdate::default()
    };
    if let Err(error) = sweeps
        .transition(
            sweep.sweep_id,
            &[Status::Pending],
            Status::Failed,
            Timestamp::now(),
            &failed,
        )
        .await
    {
        tracing::error!(sweep_id = %sweep.sweep_id, error = %chain(&error), "could not record the sweep as FAILED");
    }
    let set = RecordUpdate::failure(reason, SWEEP_STEP);
    if let Err(error) = end_pending_children(jobs, sweep, Status::Failed, &set).await {
        tracing::error!(sweep_id = %sweep.sweep_id, error = %chain(&error), "could not fail every child");
    }
}

/// What a scan of unstarted sweeps did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnstartedSweeps {
    /// Sweeps whose workflow was running though the submission had not recorded it: now RUNNING.
    pub resumed: Vec<SweepId>,
    /// Sweeps whose workflow never started: now FAILED, with their children.
    pub failed: Vec<SweepId>,
    /// Sweeps whose workflow could not be asked about; the next scan asks again.
    pub not_judged: usize,
}

/// Sweeps PENDING since before `before`: a submission that stopped (a Lambda timeout, a crash) after recording
/// the sweep. One whose workflow is running is recorded RUNNING; one whose workflow never started is FAILED with
/// every child still PENDING, so nothing waits for a workflow that will not come.
pub async fn scan_unstarted(
    sweeps: &impl SweepStore,
    jobs: &impl WorkflowStore,
    launcher: &impl SweepLauncher,
    before: Timestamp,
) -> Result<UnstartedSweeps, StoreError> {
    let mut done = UnstartedSweeps::default();
    for sweep in sweeps.stale_pending(before).await? {
        match launcher.execution(&sweep).await {
            Ok(Some((arn, _status))) => {
                let started = SweepUpdate {
                    execution_arn: Some(arn),
                    ..SweepUpdate::default()
                };
                if sweeps
                    .transition(
                        sweep.sweep_id,
                        &[Status::Pending],
                        Status::Running,
                        Timestamp::now(),
                        &started,
                    )
                    .await?
                    .is_some()
                {
                    tracing::warn!(sweep_id = %sweep.sweep_id, "a sweep's workflow ran unrecorded: it is RUNNING");
                    done.resumed.push(sweep.sweep_id);
                }
            }
            Ok(None) => {
                let why = format!(
                    "its submission stopped before the workflow started (PENDING since {})",
                    sweep.created_at
                );
                fail_unstarted(jobs, sweeps, &sweep, &why).await;
                tracing::warn!(sweep_id = %sweep.sweep_id, "a sweep whose workflow never started is FAILED");
                done.failed.push(sweep.sweep_id);
            }
            Err(error) => {
                tracing::warn!(sweep_id = %sweep.sweep_id, error = %chain(&error), "could not tell whether the sweep runs");
                done.not_judged += 1;
            }
        }
    }
    Ok(done)
}

/// How many children are in each status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Recorded, not started by the sweep's workflow yet (PENDING) or waiting for a task (QUEUED).
    pub queued: usize,
    pub running: usize,
    pub completed: usize,
    pub failed: usize,
    pub cancelled: usize,
}

/// A sweep as `GET /sweeps/{id}` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    pub sweep_id: SweepId,
    pub status: Status,
    pub strategy_name: String,
    pub strategy_version: u32,
    pub runs: usize,
    pub progress: Progress,
    pub rank_by: String,
    pub leaderboard: Leaderboard,
    /// A walk-forward's windows: in-sample against out-of-sample, as far as their children ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<Vec<WindowReport>>,
    /// The children that failed, with why.
    pub failures: Vec<Value>,
    pub estimate: Estimate,
    pub max_concurrency: u32,
    pub tolerated_failure_percentage: f64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    /// The MLflow parent run the children are nested under, once the sweep finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mlflow_run_id: Option<String>,
    /// Why MLflow did not take the sweep's parent run (the sweep still ended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_error: Option<String>,
}

/// The sweep `id` with its children's progress and leaderboard, if there is such a sweep.
pub async fn report(
    sweeps: &impl SweepStore,
    jobs: &impl WorkflowStore,
    id: SweepId,
) -> Result<Option<SweepReport>, StoreError> {
    let Some(sweep) = sweeps.get(id).await? else {
        return Ok(None);
    };
    let children = children(jobs, &sweep).await?;
    Ok(Some(report_of(sweep, &children)))
}

/// `sweep` as its recorded `children` (in its order) stand.
pub fn report_of(sweep: SweepRecord, children: &[WorkflowRecord]) -> SweepReport {
    let varied = match &sweep.request.plan {
        Plan::Space(space) => space.parameters(),
        Plan::WalkForward { .. } => Vec::new(),
    };
    let places: std::collections::HashMap<RunId, usize> = sweep
        .child_ids()
        .into_iter()
        .enumerate()
        .map(|(index, run_id)| (run_id, index))
        .collect();
    let mut progress = Progress::default();
    let mut failures = Vec::new();
    let mut ranked = Vec::with_capacity(children.len());
    for job in children {
        let index = places.get(&job.run_id).copied().unwrap_or(usize::MAX);
        match job.status {
            Status::Pending | Status::Queued => progress.queued += 1,
            Status::Running => progress.running += 1,
            Status::Completed => progress.completed += 1,
            Status::Failed => {
                progress.failed += 1;
                failures.push(
                    json!({"index": index, "run_id": job.run_id, "failed_step": job.failed_step,
                    "error": job.error}),
                );
            }
            Status::Cancelled => progress.cancelled += 1,
        }
        ranked.push(Child {
            index,
            run_id: job.run_id.to_string(),
            status: job.status.to_string(),
            parameters: child_combination(job, &varied),
            summary: job.result.clone().filter(|_| job.status == Status::Completed),
        });
    }
    // A walk-forward's children are not alternatives to rank: its windows are reported side by side instead.
    let windows = match &sweep.request.plan {
        Plan::Space(_) => None,
        Plan::WalkForward { windows, .. } => {
            ranked.clear();
            Some(window_reports(sweep.sweep_id, windows, children))
        }
    };
    SweepReport {
        sweep_id: sweep.sweep_id,
        status: sweep.status,
        strategy_name: sweep.strategy_name.clone(),
        strategy_version: sweep.strategy_version,
        runs: sweep.runs,
        progress,
        rank_by: sweep.request.rank_by.metric().to_owned(),
        leaderboard: leaderboard(sweep.request.rank_by.clone(), &ranked),
        windows,
        failures,
        estimate: sweep.estimate.clone(),
        max_concurrency: sweep.request.max_concurrency,
        tolerated_failure_percentage: sweep.request.tolerated_failure_percentage,
        created_at: sweep.created_at,
        updated_at: sweep.updated_at,
        error: sweep.error,
        execution_arn: sweep.execution_arn,
        submitted_by: sweep.submitted_by,
        cancelled_by: sweep.cancelled_by,
        mlflow_run_id: sweep.mlflow_run_id,
        tracking_error: sweep.tracking_error,
    }
}

/// The sweep's children that are recorded, in its order.
pub async fn children(jobs: &impl WorkflowStore, sweep: &SweepRecord) -> Result<Vec<WorkflowRecord>, StoreError> {
    jobs.get_many(&sweep.child_ids()).await
}

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepCancelled {
    pub sweep_id: SweepId,
    pub status: Status,
    pub previous_status: Status,
    /// Children this cancel moved to CANCELLED (the others had ended, or were cancelled before).
    pub children_cancelled: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
}

/// Why a sweep was not cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelSweepError {
    #[error("no sweep with sweep_id {0}")]
    NotFound(SweepId),
    #[error("sweep {sweep_id} already finished as {status}; only unfinished sweeps can be cancelled")]
    Finished { sweep_id: SweepId, status: Status },
    #[error("the sweep store could not be used")]
    Store(#[from] StoreError),
    #[error("sweep {sweep_id} is recorded CANCELLED, but its workflow could not be stopped; cancel again to retry")]
    Stop {
        sweep_id: SweepId,
        #[source]
        source: StopError,
    },
    #[error("sweep {sweep_id} is recorded CANCELLED, but child {run_id} could not be cancelled; cancel again to retry")]
    Child {
        sweep_id: SweepId,
        run_id: RunId,
        #[source]
        source: CancelError,
    },
}

/// Cancels sweep `id` for `caller`: the sweep is recorded CANCELLED first (its workflow's end then leaves it so),
/// its workflow is stopped (the map starts no more children), then every unfinished child is cancelled as
/// `POST /backtest/{id}/cancel` would. Cancelling again repeats the stops and succeeds.
pub async fn cancel_sweep(
    sweeps: &impl SweepStore,
    jobs: &impl WorkflowStore,
    launcher: &impl SweepLauncher,
    stopper: &impl Stopper,
    id: SweepId,
    caller: Option<String>,
) -> Result<SweepCancelled, CancelSweepError> {
    let sweep = sweeps.get(id).await?.ok_or(CancelSweepError::NotFound(id))?;
    let previous_status = sweep.status;
    let sweep = match previous_status {
        Status::Completed | Status::Failed => {
            return Err(CancelSweepError::Finished {
                sweep_id: id,
                status: previous_status,
            });
        }
        Status::Cancelled => sweep,
        _ => {
            let cancelled = SweepUpdate {
                cancelled_by: caller.clone(),
                ..SweepUpdate::default()
            };
            let unfinished = [Status::Pending, Status::Queued, Status::Running];
            match sweeps
                .transition(id, &unfinished, Status::Cancelled, Timestamp::now(), &cancelled)
                .await?
            {
                Some(moved) => moved,
                // It ended (or was cancelled) meanwhile: answer as for that status.
                None => {
                    let now = sweeps.get(id).await?.ok_or(CancelSweepError::NotFound(id))?;
                    if now.status != Status::Cancelled {
                        return Err(CancelSweepError::Finished {
                            sweep_id: id,
                            status: now.status,
                        });
                    }
                    now
                }
            }
        }
    };
    let by = sweep.cancelled_by.clone().unwrap_or_else(|| "its owner".to_owned());
    if let Some(execution) = &sweep.execution_arn {
        launcher
            .stop(execution, &format!("sweep {id} cancelled by {by}"))
            .await
            .map_err(|source| CancelSweepError::Stop { sweep_id: id, source })?;
    }
    let unfinished: Vec<RunId> = children(jobs, &sweep)
        .await?
        .into_iter()
        .filter(|child| !child.status.is_terminal())
        .map(|child| child.run_id)
        .collect();
    let cancelled_by = sweep.cancelled_by.clone();
    let mut cancels = futures::stream::iter(unfinished.into_iter().map(|run_id| {
        let by = cancelled_by.clone();
        async move { (run_id, jobs::cancel(jobs, stopper, run_id, by).await) }
    }))
    .buffer_unordered(CONCURRENCY);
    let mut children_cancelled = 0;
    while let Some((run_id, cancelled)) = cancels.next().await {
        match cancelled {
            Ok(cancelled) if cancelled.previous_status != Status::Cancelled => children_cancelled += 1,
            Ok(_) | Err(CancelError::Finished { .. }) => {}
            Err(source) => {
                return Err(CancelSweepError::Child {
                    sweep_id: id,
                    run_id,
                    source,
                });
            }
        }
    }
    drop(cancels);
    tracing::info!(sweep_id = %id, %previous_status, children_cancelled, "sweep cancelled");
    Ok(SweepCancelled {
        sweep_id: id,
        status: Status::Cancelled,
        previous_status,
        children_cancelled,
        cancelled_by: sweep.cancelled_by,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::NaiveDate;

    use super::*;
    use crate::objects::MemoryObjects;
    use crate::store::MemoryStore;
    use crate::sweep::store::MemorySweeps;
    use crate::workflow::fakes::FakeRegistry;

    /// Remembers the starts and stops it was asked for; starts fail when `down`.
    #[derive(Default)]
    struct FakeSweeps {
        started: Mutex<Vec<SweepInput>>,
        stopped: Mutex<Vec<String>>,
        down: bool,
    }

    impl SweepLauncher for FakeSweeps {
        async fn start(&self, sweep: &SweepRecord, input: &SweepInput) -> Result<String, LaunchError> {
            if self.down {
                return Err(LaunchError::unavailable(std::io::Error::other(
                    "Step Functions is down",
                )));
            }
            self.started.lock().expect("lock").push(input.clone());
            Ok(format!(
                "arn:aws:states:us-east-1:123456789012:execution:tradai-sweep:{}",
                sweep.sweep_id
            ))
        }

        async fn execution(&self, sweep: &SweepRecord) -> Result<Option<(String, String)>, LaunchError> {
            let started = self.started.lock().expect("lock");
            Ok(started
                .iter()
                .any(|input| input.sweep_id == sweep.sweep_id.to_string())
                .then(|| (format!("arn:execution:{}", sweep.sweep_id), "RUNNING".to_owned())))
        }

        async fn stop(&self, execution_arn: &str, _reason: &str) -> Result<(), StopError> {
            self.stopped.lock().expect("lock").push(execution_arn.to_owned());
            Ok(())
        }
    }

    struct NoStop;

    impl Stopper for NoStop {
        async fn stop(&self, _record: &WorkflowRecord, _reason: &str) -> Result<bool, StopError> {
            Ok(false)
        }
    }

    struct World {
        registry: FakeRegistry,
        jobs: MemoryStore,
        sweeps: MemorySweeps,
        items: MemoryObjects,
        launcher: FakeSweeps,
    }

    const DECLARED: &str = r#"{"buy_ema_fast": {"low": 4, "high": 15}, "buy_ema_slow": {"low": 16, "high": 50}}"#;

    impl World {
        fn new(launcher: FakeSweeps) -> Self {
            Self {
                registry: FakeRegistry::default()
                    .with_version("EmaCross", 3, &[("parameters", DECLARED)])
                    .with_alias("EmaCross", "production", 3),
                jobs: MemoryStore::new(),
                sweeps: MemorySweeps::default(),
                items: MemoryObjects::new("configs"),
                launcher,
            }
        }

        async fn submit(&self, extra: Value) -> Result<Planned, SubmitSweepError> {
            let mut body = json!({"strategy_name": "EmaCross", "strategy_version": "production",
                "config": {"timeframe": "5m", "symbols": ["BTC/USDT", "ETH/USDT"], "start_date": "2026-01-01",
                    "end_date": "2026-01-31"},
                "space": {"grid": {"buy_ema_fast": [5, 8, 12], "buy_ema_slow": [21, 30]}},
                "max_concurrency": 4, "tolerated_failure_percentage": 20});
            for (key, value) in extra.as_object().into_iter().flatten() {
                body[key] = value.clone();
            }
            let today = NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date");
            let request =
                SweepRequest::from_json(body.to_string().as_bytes(), today).map_err(SubmitSweepError::Invalid)?;
            let ports = SweepPorts {
                registry: &self.registry,
                jobs: &self.jobs,
                sweeps: &self.sweeps,
                items: &self.items,
                launcher: &self.launcher,
                task: TaskSize {
                    cpu: 1024,
                    memory_mib: 2048,
                },
            };
            submit_sweep(
                &ports,
                SweepSubmission {
                    request,
                    submitted_by: Some("quant".into()),
                    at: Timestamp::now(),
                },
            )
            .await
        }

        /// The id of the sweep `extra` submitted.
        async fn submitted(&self, extra: Value) -> SweepId {
            self.submit(extra).await.expect("submitted").sweep_id.expect("an id")
        }

        fn nothing_written(&self) -> bool {
            self.jobs.is_empty() && self.sweeps.is_empty() && self.items.keys().is_empty()
        }
    }

    #[tokio::test]
    async fn a_grid_is_recorded_as_one_pending_child_per_combination_and_its_workflow_started() {
        let world = World::new(FakeSweeps::default());
        let planned = world.submit(json!({})).await.expect("submitted");
        let id = planned.sweep_id.expect("recorded");
        assert_eq!(
            (planned.runs, planned.strategy_version, planned.status),
            (6, 3, Some(Status::Running))
        );
        assert_eq!(planned.estimate.children, 6);
        assert!(
            planned.estimate.cost_usd > 0.0 && planned.estimate.wall_seconds > 0.0,
            "{planned:?}"
        );

        let sweep = world.sweeps.get(id).await.expect("read").expect("recorded");
        assert_eq!(sweep.status, Status::Running);
        assert!(
            sweep
                .execution_arn
                .as_deref()
                .is_some_and(|arn| arn.ends_with(&id.to_string()))
        );
        let children = world.jobs.get_many(&sweep.child_ids()).await.expect("read");
        assert_eq!(children.len(), 6);
        assert!(
            children
                .iter()
                .all(|child| child.status == Status::Pending && child.sweep_id == Some(id))
        );
        assert_eq!(
            serde_json::to_value(&children[5].config.parameters).expect("JSON"),
            json!({"buy_ema_fast": 12, "buy_ema_slow": 30})
        );

        let started = world.launcher.started.lock().expect("lock").clone();
        assert_eq!(started.len(), 1);
        assert_eq!(
            (started[0].max_concurrency, started[0].tolerated_failure_percentage),
            (4, 20.0)
        );
        assert_eq!(started[0].items.key, items_key(id));
        let items = world.items.get(&items_key(id)).await.expect("read").expect("written");
        let items: Vec<BacktestJob> = serde_json::from_slice(&items).expect("jobs");
        assert_eq!(
            items.iter().map(|job| job.run_id).collect::<Vec<_>>(),
            sweep.child_ids()
        );
        assert_eq!(items[0].request.strategy_version, StrategyVersion::Number(3), "pinned");
    }

    #[tokio::test]
    async fn a_dry_run_answers_the_estimate_and_writes_nothing() {
        let world = World::new(FakeSweeps::default());
        let planned = world.submit(json!({"dry_run": true})).await.expect("planned");
        assert_eq!((planned.sweep_id, planned.runs, planned.dry_run), (None, 6, true));
        // 30 days of 5m candles for two pairs, at the assumed engine speed.
        assert_eq!(planned.estimate.engine, EngineTime::Assumed);
        assert!(
            (planned.estimate.engine_seconds_per_child - 17_280.0 / (31_680.0 / 8.0)).abs() < 1e-9,
            "{planned:?}"
        );
        assert!(world.nothing_written());
        assert!(world.launcher.started.lock().expect("lock").is_empty());
    }

    #[tokio::test]
    async fn what_the_version_does_not_declare_or_have_is_refused_by_field_with_nothing_written() {
        let world = World::new(FakeSweeps::default());
        let fields = |error: SubmitSweepError| match error {
            SubmitSweepError::Invalid(errors) => errors.errors().iter().map(|e| e.field.clone()).collect::<Vec<_>>(),
            other => panic!("not a validation error: {other:?}"),
        };
        let undeclared = world
            .submit(json!({"space": {"grid": {"buy_rsi": [30], "buy_ema_fast": [99]}}}))
            .await
            .expect_err("refused");
        assert_eq!(fields(undeclared), ["space.grid.buy_ema_fast[0]", "space.grid.buy_rsi"]);
        let unknown = world.submit(json!({"strategy_version": 9})).await.expect_err("refused");
        assert_eq!(fields(unknown), ["strategy_version"]);
        assert!(world.nothing_written());
    }

    #[tokio::test]
    async fn a_workflow_that_cannot_start_leaves_the_sweep_and_its_children_failed() {
        let world = World::new(FakeSweeps {
            down: true,
            ..FakeSweeps::default()
        });
        let Err(SubmitSweepError::Launch { sweep_id, .. }) = world.submit(json!({})).await else {
            panic!("the start failed")
        };
        assert_failed_with_children(&world, sweep_id, "Step Functions is down").await;
    }

    #[tokio::test]
    async fn the_report_counts_children_ranks_the_completed_and_names_the_failed() {
        let world = World::new(FakeSweeps::default());
        let id = world.submitted(json!({})).await;
        let sweep = world.sweeps.get(id).await.expect("read").expect("recorded");
        let ids = sweep.child_ids();
        end_child(&world, id, 0, Status::Completed, 0.5).await;
        end_child(&world, id, 4, Status::Completed, 1.5).await;
        end_child(&world, id, 2, Status::Failed, 0.0).await;
        let report = report(&world.sweeps, &world.jobs, id)
            .await
            .expect("read")
            .expect("a sweep");
        assert_eq!(
            report.progress,
            Progress {
                queued: 3,
                running: 0,
                completed: 2,
                failed: 1,
                cancelled: 0
            }
        );
        assert_eq!(report.leaderboard.best.as_deref(), Some(ids[4].to_string().as_str()));
        let best = &report.leaderboard.rows[0];
        assert_eq!((best.rank, best.value, best.best), (Some(1), Some(1.5), true));
        assert_eq!(
            Value::Object(best.parameters.clone()),
            json!({"buy_ema_fast": 12, "buy_ema_slow": 21})
        );
        assert_eq!(report.failures.len(), 1);
        assert_eq!(report.failures[0]["index"], 2);
        assert_eq!(report.failures[0]["error"], "the engine exited with 1");
        assert_eq!(report.leaderboard.rows.len(), 6, "every child is listed");
    }

    #[tokio::test]
    async fn a_cancel_stops_the_workflow_and_cancels_every_unfinished_child_once() {
        let world = World::new(FakeSweeps::default());
        let id = world.submitted(json!({})).await;
        let sweep = world.sweeps.get(id).await.expect("read").expect("recorded");
        let ids = sweep.child_ids();
        end_child(&world, id, 1, Status::Completed, 1.0).await;
        let cancelled = cancel_sweep(
            &world.sweeps,
            &world.jobs,
            &world.launcher,
            &NoStop,
            id,
            Some("quant".into()),
        )
        .await
        .expect("cancelled");
        assert_eq!(
            (cancelled.status, cancelled.previous_status),
            (Status::Cancelled, Status::Running)
        );
        assert_eq!(cancelled.children_cancelled, 5, "the completed child is left as it is");
        assert_eq!(world.launcher.stopped.lock().expect("lock").len(), 1);
        let children = world.jobs.get_many(&ids).await.expect("read");
        let statuses: Vec<Status> = children.iter().map(|child| child.status).collect();
        assert_eq!(
            statuses.iter().filter(|status| **status == Status::Cancelled).count(),
            5
        );
        assert_eq!(statuses[1], Status::Completed);
        assert!(
            children
                .iter()
                .filter(|c| c.status == Status::Cancelled)
                .all(|c| c.cancelled_by.as_deref() == Some("quant"))
        );

        let again = cancel_sweep(
            &world.sweeps,
            &world.jobs,
            &world.launcher,
            &NoStop,
            id,
            Some("other".into()),
        )
        .await
        .expect("cancelled again");
        assert_eq!(
            (again.children_cancelled, again.cancelled_by.as_deref()),
            (0, Some("quant"))
        );
        let missing = cancel_sweep(
            &world.sweeps,
            &world.jobs,
            &world.launcher,
            &NoStop,
            SweepId::new(),
            None,
        )
        .await;
        assert!(matches!(missing, Err(CancelSweepError::NotFound(_))));
    }

    /// Asserts sweep `id` is FAILED for a reason that says `says`, and every child of it FAILED too.
    async fn assert_failed_with_children(world: &World, id: SweepId, says: &str) {
        let sweep = world.sweeps.get(id).await.expect("read").expect("recorded");
        assert_eq!(sweep.status, Status::Failed);
        assert!(
            sweep.error.as_deref().is_some_and(|why| why.contains(says)),
            "{sweep:?}"
        );
        let children = world.jobs.get_many(&sweep.child_ids()).await.expect("read");
        assert_eq!(children.len(), sweep.runs, "every child is recorded");
        assert!(
            children.iter().all(|child| child.status == Status::Failed),
            "{children:?}"
        );
    }

    /// Runs child `index` of sweep `id` to `status` (a sharpe of `sharpe` when it completed).
    async fn end_child(world: &World, id: SweepId, index: usize, status: Status, sharpe: f64) {
        let run_id = id.child(index);
        let at = Timestamp::now();
        world
            .jobs
            .transition(run_id, &Transition::new(Status::Pending, Status::Running, at))
            .await
            .expect("running");
        let mut set = match status {
            Status::Completed => RecordUpdate {
                result: Some(json!({"sharpe": sharpe, "total_trades": 10})),
                ..RecordUpdate::default()
            },
            _ => RecordUpdate::failure("the engine exited with 1", "RunBacktest"),
        };
        set.mlflow_run_id = Some(format!("mlflow-{index}"));
        world
            .jobs
            .transition(run_id, &Transition::new(Status::Running, status, at).with(set))
            .await
            .expect("ended");
    }

    /// Finishes sweep `id` as the step would with the map's `error`; answers what it answered and what MLflow got.
    async fn finish(
        world: &World,
        id: SweepId,
        error: Option<(&str, &str)>,
    ) -> (crate::sweep::Finished, Vec<(String, String)>) {
        let results = MemoryObjects::new("results");
        let input = crate::sweep::FinishInput {
            sweep_id: id,
            error: error.map(|(error, cause)| crate::workflow::Failure {
                error: error.into(),
                cause: cause.into(),
            }),
            execution_status: None,
        };
        let tracker = crate::workflow::fakes::FakeTracker::default();
        let finished = crate::sweep::finish_sweep(&world.sweeps, &world.jobs, &results, Some(&tracker), &input)
            .await
            .expect("finished");
        let parent = finished.mlflow_run_id.clone().expect("a parent run");
        let logged = tracker.logged();
        assert!(
            logged.contains(&(parent.clone(), "sweep/leaderboard.json".to_owned())),
            "{logged:?}"
        );
        assert!(
            logged.contains(&(parent.clone(), "sweep/leaderboard.svg".to_owned())),
            "{logged:?}"
        );
        let board = results
            .get(&format!("sweeps/{id}/leaderboard.json"))
            .await
            .expect("read")
            .expect("the leaderboard is written");
        let board: Value = serde_json::from_slice(&board).expect("JSON");
        assert_eq!(board["runs"], 6);
        let picture = results
            .get(&format!("sweeps/{id}/leaderboard.svg"))
            .await
            .expect("read")
            .expect("written");
        assert!(String::from_utf8_lossy(&picture).starts_with("<svg"), "an SVG");
        (finished, logged)
    }

    #[tokio::test]
    async fn a_sweep_whose_children_completed_is_completed_with_its_best_named() {
        let world = World::new(FakeSweeps::default());
        let id = world.submitted(json!({})).await;
        for index in 0..6 {
            end_child(&world, id, index, Status::Completed, index as f64 / 10.0).await;
        }
        let (finished, logged) = finish(&world, id, None).await;
        assert_eq!((finished.status, finished.error.as_deref()), (Status::Completed, None));
        let parent = finished.mlflow_run_id.clone().expect("a parent run");
        for index in 0..6 {
            let nested = (format!("mlflow-{index}"), format!("tag mlflow.parentRunId={parent}"));
            assert!(logged.contains(&nested), "child {index} is nested: {logged:?}");
        }
        let sweep = world.sweeps.get(id).await.expect("read").expect("there");
        assert_eq!(
            sweep.mlflow_run_id, finished.mlflow_run_id,
            "the parent run is recorded on the sweep"
        );
        assert_eq!(finished.best_run_id, Some(id.child(5).to_string()));
        assert_eq!(
            finished.leaderboard_uri,
            format!("s3://results/sweeps/{id}/leaderboard.json")
        );
        let sweep = world.sweeps.get(id).await.expect("read").expect("there");
        assert_eq!(sweep.status, Status::Completed);
    }

    #[tokio::test]
    async fn failures_within_the_tolerance_complete_the_sweep_and_beyond_it_fail_it_naming_the_child() {
        let world = World::new(FakeSweeps::default());
        let id = world.submitted(json!({})).await;
        for index in 0..6 {
            let status = if index == 3 { Status::Failed } else { Status::Completed };
            end_child(&world, id, index, status, 1.0).await;
        }
        // One of six (16.7%) within the tolerated 20%: the map succeeded.
        assert_eq!(finish(&world, id, None).await.0.status, Status::Completed);

        let world = World::new(FakeSweeps::default());
        let id = world.submitted(json!({"tolerated_failure_percentage": 10})).await;
        for index in 0..6 {
            let status = if index == 3 { Status::Failed } else { Status::Completed };
            end_child(&world, id, index, status, 1.0).await;
        }
        let threshold = (
            "States.ExceedToleratedFailureThreshold",
            "The specified tolerated failure threshold was exceeded",
        );
        let finished = finish(&world, id, Some(threshold)).await.0;
        assert_eq!(finished.status, Status::Failed);
        let reason = finished.error.expect("a reason");
        assert!(
            reason.starts_with("1 of 6 children did not complete (16.7%), more than the tolerated 10%"),
            "{reason}"
        );
        assert!(
            reason.contains(&format!(
                "child 3 ({}) failed in RunBacktest: the engine exited with 1",
                id.child(3)
            )),
            "{reason}"
        );
        let sweep = world.sweeps.get(id).await.expect("read").expect("there");
        assert_eq!((sweep.status, sweep.error), (Status::Failed, Some(reason)));
    }

    #[tokio::test]
    async fn a_cancelled_sweep_stays_cancelled_when_its_workflow_ends_and_a_map_error_is_said() {
        let world = World::new(FakeSweeps::default());
        let id = world.submitted(json!({})).await;
        cancel_sweep(&world.sweeps, &world.jobs, &world.launcher, &NoStop, id, None)
            .await
            .expect("cancelled");
        assert_eq!(finish(&world, id, None).await.0.status, Status::Cancelled);

        let world = World::new(FakeSweeps::default());
        let id = world.submitted(json!({})).await;
        let failed = finish(&world, id, Some(("States.ItemReaderFailed", "Access denied\nmore")))
            .await
            .0;
        assert_eq!(
            failed.error.as_deref(),
            Some("the sweep's map failed with States.ItemReaderFailed: Access denied")
        );
    }

    /// Cancels the sweep it is asked to start, as a cancel arriving in that moment would, then starts it.
    struct CancelledWhileStarting<'a>(&'a MemorySweeps, FakeSweeps);

    impl SweepLauncher for CancelledWhileStarting<'_> {
        async fn start(&self, sweep: &SweepRecord, input: &SweepInput) -> Result<String, LaunchError> {
            let cancelled = SweepUpdate {
                cancelled_by: Some("quant".into()),
                ..SweepUpdate::default()
            };
            self.0
                .transition(
                    sweep.sweep_id,
                    &[Status::Pending],
                    Status::Cancelled,
                    Timestamp::now(),
                    &cancelled,
                )
                .await
                .expect("cancelled");
            self.1.start(sweep, input).await
        }

        async fn execution(&self, sweep: &SweepRecord) -> Result<Option<(String, String)>, LaunchError> {
            self.1.execution(sweep).await
        }

        async fn stop(&self, execution_arn: &str, reason: &str) -> Result<(), StopError> {
            self.1.stop(execution_arn, reason).await
        }
    }

    #[tokio::test]
    async fn a_cancel_that_races_the_submission_stops_the_workflow_and_leaves_every_child_cancelled() {
        let world = World::new(FakeSweeps::default());
        let launcher = CancelledWhileStarting(&world.sweeps, FakeSweeps::default());
        let body = json!({"strategy_name": "EmaCross", "strategy_version": "production",
            "config": {"timeframe": "5m", "symbols": ["BTC/USDT"], "start_date": "2026-01-01", "end_date": "2026-01-31"},
            "space": {"grid": {"buy_ema_fast": [5, 8]}}});
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date");
        let request = SweepRequest::from_json(body.to_string().as_bytes(), today).expect("a sweep");
        let ports = SweepPorts {
            registry: &world.registry,
            jobs: &world.jobs,
            sweeps: &world.sweeps,
            items: &world.items,
            launcher: &launcher,
            task: TaskSize {
                cpu: 1024,
                memory_mib: 2048,
            },
        };
        let submission = SweepSubmission {
            request,
            submitted_by: None,
            at: Timestamp::now(),
        };
        let planned = submit_sweep(&ports, submission).await.expect("answered");
        assert_eq!(planned.status, Some(Status::Cancelled));
        let id = planned.sweep_id.expect("recorded");
        assert_eq!(
            launcher.1.stopped.lock().expect("lock").len(),
            1,
            "the workflow it started is stopped"
        );
        let children = world.jobs.get_many(&[id.child(0), id.child(1)]).await.expect("read");
        assert!(
            children
                .iter()
                .all(|child| child.status == Status::Cancelled && child.cancelled_by.as_deref() == Some("quant")),
            "{children:?}"
        );
    }

    #[tokio::test]
    async fn a_sweep_left_pending_is_resumed_when_its_workflow_runs_and_failed_with_its_children_when_not() {
        let world = World::new(FakeSweeps::default());
        // A submission that stopped after recording the sweep and its children, before starting its workflow.
        let (record, combinations) = crate::sweep::record::tests::sweep(json!({"grid": {"buy_ema_fast": [5, 8]}}));
        world.sweeps.create(&record).await.expect("recorded");
        for child in child_jobs(&record, &combinations) {
            world.jobs.create(&child).await.expect("child");
        }
        // And one that started its workflow, then stopped before recording it.
        let started = world.submitted(json!({})).await;
        let unrecorded = SweepUpdate::default();
        world
            .sweeps
            .transition(
                started,
                &[Status::Running],
                Status::Pending,
                Timestamp::now(),
                &unrecorded,
            )
            .await
            .expect("back to PENDING, as if unrecorded");

        let later = Timestamp::now().plus(chrono::TimeDelta::minutes(1));
        let scanned = scan_unstarted(&world.sweeps, &world.jobs, &world.launcher, later)
            .await
            .expect("scanned");
        assert_eq!(
            (scanned.resumed, scanned.failed.clone()),
            (vec![started], vec![record.sweep_id])
        );
        assert_eq!(
            world.sweeps.get(started).await.expect("read").map(|sweep| sweep.status),
            Some(Status::Running)
        );
        assert_failed_with_children(&world, record.sweep_id, "submission stopped").await;
        let again = scan_unstarted(&world.sweeps, &world.jobs, &world.launcher, later)
            .await
            .expect("scanned");
        assert_eq!(again, UnstartedSweeps::default(), "nothing is left pending");
    }
}
