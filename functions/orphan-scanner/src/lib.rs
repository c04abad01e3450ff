//! The orphan scan (`tradai::jobs::scan`): every RUNNING job whose heartbeat is older than `MAX_RUNNING_MINUTES`
//! and every QUEUED job older than `MAX_QUEUED_MINUTES`, across every page, judged by whether what runs it is
//! still there; orphans move to FAILED with a reason naming their last heartbeat. Publishes `OrphanedJobs` and
//! alerts with the run ids.

use chrono::TimeDelta;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tradai::executor::RunInspector;
use tradai::jobs::{OrphanLimits, ScanReport, report_orphans, scan};
use tradai::metrics::Metrics;
use tradai::notify::Notifier;
use tradai::report::chain;
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::store::WorkflowStore;
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
        })
    }
}

/// What the scan needs: the job table, what tells whether a run is still there, the metrics and the alerts.
pub struct Deps<S, I, M, N> {
    pub store: S,
    pub inspector: I,
    pub metrics: M,
    pub alerts: N,
    pub limits: OrphanLimits,
    pub environment: String,
}

/// Answers `{orphan_count, jobs_marked_failed, not_judged}`.
pub async fn handle<S: WorkflowStore, I: RunInspector, M: Metrics, N: Notifier>(
    deps: &Deps<S, I, M, N>,
    _event: LambdaEvent<Value>,
) -> Result<ScanReport, lambda_runtime::Error> {
    let (report, failed) = scan(&deps.store, &deps.inspector, deps.limits, Timestamp::now()).await?;
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
    Ok(report)
}
