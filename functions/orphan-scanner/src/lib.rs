//! The orphan scan (`tradai::jobs::scan`): every RUNNING job whose heartbeat is older than `MAX_RUNNING_MINUTES`
//! and every QUEUED job older than `MAX_QUEUED_MINUTES`, across every page, judged by whether what runs it is
//! still there; orphans move to FAILED with a reason naming their last heartbeat. Publishes `OrphanedJobs` and
//! alerts with the run ids.

use chrono::TimeDelta;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tradai::executor::RunInspector;
use tradai::jobs::{OrphanLimits, ScanReport, report_orphans, scan};
use tradai::metrics::Metrics;
use tradai::notify::Notifier;
use tradai::report::chain;
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::store::WorkflowStore;
use tradai::sweep::{SweepLauncher, SweepStore, UnstartedSweeps, scan_unstarted};
use tradai::time::Timestamp;

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    /// `MAX_RUNNING_MINUTES` (90) and `MAX_QUEUED_MINUTES` (60).
    pub limits: OrphanLimits,
    /// `ALERT_TOPIC_ARN`: where the alert listing the failed jobs goes.
    pub alert_topic_arn: String,
    /// `ENVIRONMENT` (default `dev`): the metric's `Environment` dimension.
    pub environment: String,
    /// `ECS_CLUSTER`: the cluster of tasks whose ARN names none.
    pub ecs_cluster: Option<String>,
    /// `SWEEP_TABLE` (default `tradai-sweeps`) and `SWEEP_WORKFLOW_ARN`: sweeps left PENDING are scanned when the
    /// sweep workflow is named.
    pub sweep_table: String,
    pub sweep_workflow_arn: Option<String>,
}

fn minutes(text: &str) -> Result<TimeDelta, String> {
    text.parse::<i64>()
        .ok()
        .filter(|minutes| *minutes > 0)
        .map(TimeDelta::minutes)
        .ok_or_else(|| format!("{text:?} is not a positive whole number of minutes"))
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            limits: OrphanLimits {
                max_running: env.parsed("MAX_RUNNING_MINUTES", TimeDelta::minutes(90), minutes)?,
                max_queued: env.parsed("MAX_QUEUED_MINUTES", TimeDelta::minutes(60), minutes)?,
            },
            alert_topic_arn: env.arn("ALERT_TOPIC_ARN", "sns")?,
            environment: env.environment(),
            ecs_cluster: env.optional("ECS_CLUSTER"),
            sweep_table: env.table("SWEEP_TABLE", tradai::settings::DEFAULT_SWEEP_TABLE)?,
            sweep_workflow_arn: env
                .optional("SWEEP_WORKFLOW_ARN")
                .map(|_| env.arn("SWEEP_WORKFLOW_ARN", "states"))
                .transpose()?,
        })
    }
}

/// What the scan needs: the job table, what tells whether a run is still there, the metrics and the alerts, and
/// the sweeps with their workflow, when sweeps are scanned.
pub struct Deps<S, I, M, N, W, L> {
    pub store: S,
    pub inspector: I,
    pub metrics: M,
    pub alerts: N,
    pub limits: OrphanLimits,
    pub environment: String,
    pub sweeps: Option<SweepScan<W, L>>,
}

/// Where sweeps are recorded and run.
pub struct SweepScan<W, L> {
    pub store: W,
    pub launcher: L,
}

/// What a scan did: the jobs (flat, as before sweeps) and the sweeps left PENDING.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scanned {
    #[serde(flatten)]
    pub jobs: ScanReport,
    pub sweeps: UnstartedSweeps,
}

/// Answers `{orphan_count, jobs_marked_failed, not_judged, sweeps: {resumed, failed, not_judged}}`. A sweep is
/// judged once it has been PENDING longer than `MAX_QUEUED_MINUTES` (its submission takes seconds).
pub async fn handle<S, I, M, N, W, L>(
    deps: &Deps<S, I, M, N, W, L>,
    _event: LambdaEvent<Value>,
) -> Result<Scanned, lambda_runtime::Error>
where
    S: WorkflowStore,
    I: RunInspector,
    M: Metrics,
    N: Notifier,
    W: SweepStore,
    L: SweepLauncher,
{
    let now = Timestamp::now();
    let sweeps = match &deps.sweeps {
        Some(scan) => {
            scan_unstarted(
                &scan.store,
                &deps.store,
                &scan.launcher,
                now.minus(deps.limits.max_queued),
            )
            .await?
        }
        None => UnstartedSweeps::default(),
    };
    let (report, failed) = scan(&deps.store, &deps.inspector, deps.limits, now).await?;
    tracing::info!(
        orphans = report.orphan_count,
        failed = report.jobs_marked_failed.len(),
        not_judged = report.not_judged,
        "orphan scan done"
    );
    if let Err(error) = report_orphans(&deps.metrics, &deps.alerts, &deps.environment, &report, &failed).await {
        // The jobs are FAILED either way; the log keeps what the alert would have said.
        tracing::error!(error = %chain(error.as_ref()), jobs = ?report.jobs_marked_failed, "the orphan metric or alert was not published");
        return Err(error);
    }
    Ok(Scanned { jobs: report, sweeps })
}
