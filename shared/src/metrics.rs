//! Operational and business metrics: one port, and its adapter in CloudWatch's embedded metric format (EMF): one
//! JSON line on standard output per metric, which Lambda's log pipeline turns into a CloudWatch metric — no API call
//! on the function's path, no `cloudwatch:PutMetricData` permission. The template's alarms and dashboard read what
//! is published here, under the names below.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::store::WorkflowStore;
use crate::time::Timestamp;

/// The namespace of every TradAI metric.
pub const NAMESPACE: &str = "TradAI/Backtests";
/// The dimension every TradAI metric has: the stage (`ENVIRONMENT`).
pub const ENVIRONMENT: &str = "Environment";
/// The second dimension of [`BACKTESTS_FAILED`]: the workflow step that failed.
pub const FAILED_STEP: &str = "FailedStep";

/// Jobs recorded by POST /backtest (submit-backtest; a replayed idempotent request is not a second one).
pub const BACKTESTS_SUBMITTED: &str = "BacktestsSubmitted";
/// Workflow runs that ended COMPLETED (notify-completion, once per notification).
pub const BACKTESTS_COMPLETED: &str = "BacktestsCompleted";
/// Workflow runs that ended FAILED, by [`FAILED_STEP`] (notify-completion).
pub const BACKTESTS_FAILED: &str = "BacktestsFailed";
/// Jobs a cancel moved to CANCELLED (cancel-backtest, only the call that cancelled it).
pub const BACKTESTS_CANCELLED: &str = "BacktestsCancelled";
/// From submission to the start of the container that ran the job, for completed runs (notify-completion).
pub const QUEUE_TO_START_SECONDS: &str = "QueueToStartSeconds";
/// From submission to COMPLETED (notify-completion).
pub const END_TO_END_SECONDS: &str = "EndToEndSeconds";
/// How long the engine itself ran, as its result says (notify-completion).
pub const ENGINE_SECONDS: &str = "EngineSeconds";
/// Jobs the orphan scan failed (orphan-scanner, every scan).
pub const ORPHANED_JOBS: &str = "OrphanedJobs";
/// Every metric this module publishes.
pub const ALL: &[&str] = &[
    BACKTESTS_SUBMITTED,
    BACKTESTS_COMPLETED,
    BACKTESTS_FAILED,
    BACKTESTS_CANCELLED,
    QUEUE_TO_START_SECONDS,
    END_TO_END_SECONDS,
    ENGINE_SECONDS,
    ORPHANED_JOBS,
];

/// What a metric's value counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
        }
    }
}

/// A value published under a name, with dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: Unit,
    /// `(name, value)` pairs, such as `("Environment", "dev")`.
    pub dimensions: Vec<(String, String)>,
}

impl Metric {
    /// `value` of `name` in stage `environment`.
    pub fn new(name: &str, value: f64, unit: Unit, environment: &str) -> Self {
        Self {
            name: name.to_owned(),
            value,
            unit,
            dimensions: vec![(ENVIRONMENT.to_owned(), environment.to_owned())],
        }
    }

    /// The same metric with one more dimension.
    pub fn by(mut self, dimension: &str, value: &str) -> Self {
        self.dimensions.push((dimension.to_owned(), value.to_owned()));
        self
    }
}

/// Where metrics go.
pub trait Metrics: Send + Sync {
    fn put(&self, metric: &Metric) -> impl Future<Output = Result<(), MetricsError>> + Send;
}

/// The metric was not published.
#[derive(Debug, thiserror::Error)]
#[error("the metric could not be published")]
pub struct MetricsError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// EMF lines written to `out` (standard output in a function).
#[derive(Debug, Clone)]
pub struct EmfMetrics<W> {
    out: Arc<Mutex<W>>,
}

impl EmfMetrics<std::io::Stdout> {
    /// Metrics on standard output, where Lambda collects them.
    pub fn stdout() -> Self {
        Self::new(std::io::stdout())
    }
}

impl<W: Write + Send> EmfMetrics<W> {
    pub fn new(out: W) -> Self {
        Self {
            out: Arc::new(Mutex::new(out)),
        }
    }

    /// What was written, for a test that gave a buffer.
    pub fn written(&self) -> Vec<u8>
    where
        W: AsRef<[u8]>,
    {
        self.out.lock().map(|out| out.as_ref().to_vec()).unwrap_or_default()
    }
}

/// The EMF document of `metric` at `at`.
pub fn emf_line(metric: &Metric, at: Timestamp) -> Value {
    let names: Vec<&str> = metric.dimensions.iter().map(|(name, _)| name.as_str()).collect();
    let mut document = Map::new();
    document.insert(
        "_aws".to_owned(),
        json!({"Timestamp": at.epoch_millis(), "CloudWatchMetrics": [{"Namespace": NAMESPACE,
            "Dimensions": [names], "Metrics": [{"Name": metric.name, "Unit": metric.unit.as_str()}]}]}),
    );
    for (name, value) in &metric.dimensions {
        document.insert(name.clone(), Value::from(value.as_str()));
    }
    document.insert(metric.name.clone(), json!(metric.value));
    Value::Object(document)
}

impl<W: Write + Send> Metrics for EmfMetrics<W> {
    async fn put(&self, metric: &Metric) -> Result<(), MetricsError> {
        let line = emf_line(metric, Timestamp::now()).to_string();
        let mut out = self
            .out
            .lock()
            .map_err(|_| MetricsError("the metrics output is poisoned".into()))?;
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|error| MetricsError(Box::new(error)))
    }
}

/// The business metrics of one stage, as the functions that see them publish them. Publishing never fails the
/// work it describes: a metric that cannot be written is logged and dropped.
#[derive(Debug, Clone)]
pub struct BacktestMetrics<M> {
    metrics: M,
    environment: String,
}

impl BacktestMetrics<EmfMetrics<std::io::Stdout>> {
    /// EMF on standard output for stage `environment`: what a deployed function uses.
    pub fn stdout(environment: impl Into<String>) -> Self {
        Self::new(EmfMetrics::stdout(), environment)
    }
}

impl<M: Metrics> BacktestMetrics<M> {
    pub fn new(metrics: M, environment: impl Into<String>) -> Self {
        Self {
            metrics,
            environment: environment.into(),
        }
    }

    /// The port, for a test that reads what was written.
    pub fn inner(&self) -> &M {
        &self.metrics
    }

    /// A job was recorded.
    pub async fn submitted(&self) {
        self.publish(Metric::new(BACKTESTS_SUBMITTED, 1.0, Unit::Count, &self.environment))
            .await;
    }

    /// A job was cancelled by this call.
    pub async fn cancelled(&self) {
        self.publish(Metric::new(BACKTESTS_CANCELLED, 1.0, Unit::Count, &self.environment))
            .await;
    }

    /// A run ended (as its notification says): see [`ended_metrics`].
    pub async fn ended(&self, record: &WorkflowRecord) {
        for metric in ended_metrics(record, &self.environment) {
            self.publish(metric).await;
        }
    }

    /// The job `run_id` ended: its record, read from `store`, says how and when. A record that cannot be read
    /// costs the metrics, never the caller's work.
    pub async fn ended_job(&self, store: &impl WorkflowStore, run_id: RunId) {
        match store.get(run_id).await {
            Ok(Some(record)) => self.ended(&record).await,
            Ok(None) => tracing::warn!(%run_id, "no job to publish the metrics of"),
            Err(error) => {
                tracing::warn!(%run_id, error = %crate::report::chain(&error), "the ended job was not read for its metrics")
            }
        }
    }

    async fn publish(&self, metric: Metric) {
        if let Err(error) = self.metrics.put(&metric).await {
            tracing::warn!(error = %crate::report::chain(&error), metric = %metric.name, "a metric was not published");
        }
    }
}

/// What an ended run counts for: COMPLETED → [`BACKTESTS_COMPLETED`] and, where the record holds the moments, how
/// long it queued ([`QUEUE_TO_START_SECONDS`], to the container's claim), how long it took end to end
/// ([`END_TO_END_SECONDS`], to the COMPLETED write) and how long the engine ran ([`ENGINE_SECONDS`], the summary's
/// `engine_seconds`); FAILED → [`BACKTESTS_FAILED`] by its failed step. A cancelled or unfinished run counts for
/// nothing here (cancel-backtest counts cancels).
pub fn ended_metrics(record: &WorkflowRecord, environment: &str) -> Vec<Metric> {
    let seconds = |from: Timestamp, to: Timestamp| (to.epoch_millis() - from.epoch_millis()) as f64 / 1000.0;
    match record.status {
        Status::Completed => {
            let mut metrics = vec![Metric::new(BACKTESTS_COMPLETED, 1.0, Unit::Count, environment)];
            if let Some(started) = record.started_at {
                metrics.push(Metric::new(
                    QUEUE_TO_START_SECONDS,
                    seconds(record.created_at, started).max(0.0),
                    Unit::Seconds,
                    environment,
                ));
            }
            metrics.push(Metric::new(
                END_TO_END_SECONDS,
                seconds(record.created_at, record.updated_at).max(0.0),
                Unit::Seconds,
                environment,
            ));
            let engine = record
                .result
                .as_ref()
                .and_then(|result| result["engine_seconds"].as_f64());
            if let Some(engine) = engine.filter(|seconds| seconds.is_finite() && *seconds >= 0.0) {
                metrics.push(Metric::new(ENGINE_SECONDS, engine, Unit::Seconds, environment));
            }
            metrics
        }
        Status::Failed => {
            let step = record.failed_step.as_deref().unwrap_or("Workflow");
            vec![Metric::new(BACKTESTS_FAILED, 1.0, Unit::Count, environment).by(FAILED_STEP, step)]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_count_is_one_emf_line_with_its_dimensions() {
        let metrics = EmfMetrics::new(Vec::new());
        let count = Metric::new(ORPHANED_JOBS, 3.0, Unit::Count, "dev");
        metrics.put(&count).await.expect("written");
        let written = String::from_utf8(metrics.written()).expect("text");
        assert_eq!(written.lines().count(), 1);
        let line: Value = serde_json::from_str(written.trim()).expect("JSON");
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Dimensions"], json!([["Environment"]]));
        assert_eq!(declared["Metrics"], json!([{"Name": "OrphanedJobs", "Unit": "Count"}]));
        assert_eq!(
            (line["Environment"].clone(), line["OrphanedJobs"].clone()),
            (json!("dev"), json!(3.0))
        );
        assert!(
            line["_aws"]["Timestamp"]
                .as_i64()
                .is_some_and(|ms| ms > 1_700_000_000_000)
        );
    }

    fn record(status: Status) -> WorkflowRecord {
        let body = br#"{"strategy_name":"S","strategy_version":1,"config":{"timeframe":"5m","symbols":["BTC/USDT"],
            "start_date":"2024-01-01","end_date":"2024-02-01"}}"#;
        let created = Timestamp::from_epoch_millis(1_800_000_000_000).expect("a time");
        let request = crate::backtest::BacktestRequest::from_json(body, created.date()).expect("valid");
        WorkflowRecord::new(crate::backtest::RunId::new(), request, status, created)
    }

    fn at(record: &WorkflowRecord, seconds: i64) -> Timestamp {
        record.created_at.plus(chrono::TimeDelta::seconds(seconds))
    }

    #[tokio::test]
    async fn a_completed_run_counts_with_how_long_it_queued_took_and_ran() {
        let mut completed = record(Status::Completed);
        completed.started_at = Some(at(&completed, 40));
        completed.updated_at = at(&completed, 130);
        completed.result = Some(json!({"engine_seconds": 52.5, "total_trades": 3}));
        let metrics = BacktestMetrics::new(EmfMetrics::new(Vec::new()), "prod");
        metrics.ended(&completed).await;
        let written = String::from_utf8(metrics.inner().written()).expect("text");
        let lines: Vec<Value> = written
            .lines()
            .map(|line| serde_json::from_str(line).expect("JSON"))
            .collect();
        let published: Vec<(String, Value, Value)> = lines
            .iter()
            .map(|line| {
                let declared = &line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0];
                let name = declared["Name"].as_str().expect("a name").to_owned();
                (name.clone(), line[&name].clone(), declared["Unit"].clone())
            })
            .collect();
        assert_eq!(
            published,
            [
                (BACKTESTS_COMPLETED.to_owned(), json!(1.0), json!("Count")),
                (QUEUE_TO_START_SECONDS.to_owned(), json!(40.0), json!("Seconds")),
                (END_TO_END_SECONDS.to_owned(), json!(130.0), json!("Seconds")),
                (ENGINE_SECONDS.to_owned(), json!(52.5), json!("Seconds")),
            ]
        );
        assert!(lines.iter().all(|line| line[ENVIRONMENT] == "prod"));
    }

    #[test]
    fn a_failed_run_counts_by_its_step_and_a_cancelled_or_running_one_not_at_all() {
        let mut failed = record(Status::Failed);
        failed.failed_step = Some("CheckDataFreshness".into());
        let metrics = ended_metrics(&failed, "dev");
        assert_eq!(
            metrics,
            [Metric::new(BACKTESTS_FAILED, 1.0, Unit::Count, "dev").by(FAILED_STEP, "CheckDataFreshness")]
        );
        let line = emf_line(&metrics[0], Timestamp::now());
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[ENVIRONMENT, FAILED_STEP]])
        );
        for status in [Status::Cancelled, Status::Running, Status::Queued] {
            assert!(ended_metrics(&record(status), "dev").is_empty(), "{status}");
        }
        // A completed record without a start or an engine time still counts, with what it has.
        let names: Vec<String> = ended_metrics(&record(Status::Completed), "dev")
            .into_iter()
            .map(|metric| metric.name)
            .collect();
        assert_eq!(names, [BACKTESTS_COMPLETED, END_TO_END_SECONDS]);
    }
}
