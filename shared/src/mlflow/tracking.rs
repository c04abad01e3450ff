//! Experiment tracking over MLflow's REST API: an experiment by name, a run in it, params and metrics in one
//! batch, artifacts through MLflow's artifact proxy, and the run's end.

use std::collections::BTreeMap;
use std::future::Future;

use serde::Deserialize;
use serde_json::{Value, json};

use super::RegistryError;
use super::client::{Call, MlflowClient};

/// A run being tracked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedRun {
    pub experiment_id: String,
    pub run_id: String,
    /// Where the run's artifacts go, such as `mlflow-artifacts:/1/abc/artifacts`.
    pub artifact_uri: String,
}

/// How a tracked run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Finished,
    Failed,
    Killed,
}

/// Records runs, their parameters, metrics and artifacts.
pub trait ExperimentTracker: Send + Sync {
    /// Starts a run named `name` in experiment `experiment` (created if missing), with `tags`.
    fn start_run(
        &self,
        experiment: &str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<TrackedRun, RegistryError>> + Send;

    /// Logs `params` and `metrics` in one batch.
    fn log_batch(
        &self,
        run: &TrackedRun,
        params: &BTreeMap<String, String>,
        metrics: &BTreeMap<String, f64>,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Stores `bytes` as artifact `path` of `run`.
    fn log_artifact(
        &self,
        run: &TrackedRun,
        path: &str,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// The run with MLflow id `run_id`, if there is one (to add artifacts to a run another process started).
    fn find_run(&self, run_id: &str) -> impl Future<Output = Result<Option<TrackedRun>, RegistryError>> + Send;

    /// Ends `run`.
    fn end_run(&self, run: &TrackedRun, end: RunEnd) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Sets tag `key` of run `run_id` (another process's run, such as a sweep child nested under its parent with
    /// `mlflow.parentRunId`).
    fn set_tag(&self, run_id: &str, key: &str, value: &str) -> impl Future<Output = Result<(), RegistryError>> + Send;
}

#[derive(Deserialize)]
struct ExperimentAnswer {
    experiment: Experiment,
}

#[derive(Deserialize)]
struct Experiment {
    experiment_id: String,
}

#[derive(Deserialize)]
struct CreatedExperiment {
    experiment_id: String,
}

#[derive(Deserialize)]
struct RunAnswer {
    run: Run,
}

#[derive(Deserialize)]
struct Run {
    info: RunInfo,
}

#[derive(Deserialize)]
struct RunInfo {
    run_id: String,
    experiment_id: String,
    artifact_uri: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// MLflow limits: 500 characters of parameter value, 250 of key.
fn clipped(text: &str, limit: usize) -> String {
    text.chars().take(limit).collect()
}

impl MlflowClient {
    async fn experiment_id(&self, name: &str) -> Result<String, RegistryError> {
        let path = "/api/2.0/mlflow/experiments/get-by-name";
        if let Some(found) = self
            .call::<ExperimentAnswer>(path, &Call::Get(&[("experiment_name", name)]))
            .await?
        {
            return Ok(found.experiment.experiment_id);
        }
        let body = json!({ "name": name });
        match self
            .call::<CreatedExperiment>("/api/2.0/mlflow/experiments/create", &Call::Post(&body))
            .await
        {
            Ok(Some(created)) => Ok(created.experiment_id),
            // Created meanwhile by a concurrent run: read it.
            Ok(None) | Err(RegistryError::Rejected(_)) => self
                .call::<ExperimentAnswer>(path, &Call::Get(&[("experiment_name", name)]))
                .await?
                .map(|found| found.experiment.experiment_id)
                .ok_or_else(|| RegistryError::Rejected(format!("experiment {name} can be neither created nor read"))),
            Err(error) => Err(error),
        }
    }
}

impl ExperimentTracker for MlflowClient {
    async fn start_run(
        &self,
        experiment: &str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<TrackedRun, RegistryError> {
        let experiment_id = self.experiment_id(experiment).await?;
        let tags: Vec<Value> = tags
            .iter()
            .map(|(key, value)| json!({"key": key, "value": value}))
            .collect();
        let body = json!({"experiment_id": experiment_id, "run_name": name, "start_time": now_ms(), "tags": tags});
        let answer: RunAnswer = self
            .call("/api/2.0/mlflow/runs/create", &Call::Post(&body))
            .await?
            .ok_or_else(|| RegistryError::Rejected(format!("experiment {experiment} vanished")))?;
        Ok(TrackedRun {
            experiment_id: answer.run.info.experiment_id,
            run_id: answer.run.info.run_id,
            artifact_uri: answer.run.info.artifact_uri,
        })
    }

    async fn log_batch(
        &self,
        run: &TrackedRun,
        params: &BTreeMap<String, String>,
        metrics: &BTreeMap<String, f64>,
    ) -> Result<(), RegistryError> {
        let timestamp = now_ms();
        let params: Vec<Value> = params
            .iter()
            .map(|(key, value)| json!({"key": clipped(key, 250), "value": clipped(value, 500)}))
            .collect();
        let metrics: Vec<Value> = metrics
            .iter()
            .filter(|(_, value)| value.is_finite())
            .map(|(key, value)| json!({"key": clipped(key, 250), "value": value, "timestamp": timestamp, "step": 0}))
            .collect();
        // MLflow takes at most 100 params and 1000 metrics per batch.
        for chunk in params.chunks(100) {
            let body = json!({"run_id": run.run_id, "params": chunk});
            self.call::<Value>("/api/2.0/mlflow/runs/log-batch", &Call::Post(&body))
                .await?;
        }
        for chunk in metrics.chunks(1000) {
            let body = json!({"run_id": run.run_id, "metrics": chunk});
            self.call::<Value>("/api/2.0/mlflow/runs/log-batch", &Call::Post(&body))
                .await?;
        }
        Ok(())
    }

    async fn log_artifact(&self, run: &TrackedRun, path: &str, bytes: Vec<u8>) -> Result<(), RegistryError> {
        let location = run.artifact_uri.strip_prefix("mlflow-artifacts:").ok_or_else(|| {
            RegistryError::Rejected(format!(
                "run artifacts go to {}, which this client cannot reach; serve artifacts through MLflow",
                run.artifact_uri
            ))
        })?;
        let location = location.trim_start_matches('/');
        let url_path = format!(
            "/api/2.0/mlflow-artifacts/artifacts/{location}/{}",
            path.trim_start_matches('/')
        );
        self.call::<Value>(&url_path, &Call::Put(bytes)).await?;
        Ok(())
    }

    async fn find_run(&self, run_id: &str) -> Result<Option<TrackedRun>, RegistryError> {
        let answer: Option<RunAnswer> = self
            .call("/api/2.0/mlflow/runs/get", &Call::Get(&[("run_id", run_id)]))
            .await?;
        Ok(answer.map(|answer| TrackedRun {
            experiment_id: answer.run.info.experiment_id,
            run_id: answer.run.info.run_id,
            artifact_uri: answer.run.info.artifact_uri,
        }))
    }

    async fn end_run(&self, run: &TrackedRun, end: RunEnd) -> Result<(), RegistryError> {
        let status = match end {
            RunEnd::Finished => "FINISHED",
            RunEnd::Failed => "FAILED",
            RunEnd::Killed => "KILLED",
        };
        let body = json!({"run_id": run.run_id, "status": status, "end_time": now_ms()});
        self.call::<Value>("/api/2.0/mlflow/runs/update", &Call::Post(&body))
            .await?;
        Ok(())
    }

    async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<(), RegistryError> {
        let body = json!({"run_id": run_id, "key": key, "value": value});
        self.call::<Value>("/api/2.0/mlflow/runs/set-tag", &Call::Post(&body))
            .await?;
        Ok(())
    }
}
