use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{BacktestConfig, BacktestRequest, RunId, Status, StrategyVersion};
use crate::run_manifest::Fingerprint;
use crate::sweep::SweepId;
use crate::time::Timestamp;

/// The kind of workflow every record of this table describes today.
const WORKFLOW_TYPE: &str = "backtest";

/// One job as the workflow store keeps it: the request, where the job is, and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRecord {
    pub run_id: RunId,
    pub workflow_type: String,
    pub status: Status,
    pub strategy_name: String,
    pub strategy_version: StrategyVersion,
    pub experiment_name: String,
    pub config: BacktestConfig,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the container that ran the job claimed it (the last claim, after a Spot task was replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// One line saying why the job failed (FAILED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The workflow step that failed (FAILED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    /// The backtest summary (COMPLETED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlflow_experiment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlflow_run_id: Option<String>,
    /// The Step Functions execution running the job, once one was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    /// The ECS task running the strategy container, once one was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// Why the queue consumer's last hand-off of the job failed (QUEUED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_error: Option<String>,
    /// Why MLflow did not take a run whose result is safe in S3 (the run still completed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_error: Option<String>,
    /// The caller that submitted the job: the IAM principal API Gateway authenticated. Absent for jobs submitted
    /// without one (a local stack), which the submitter index therefore does not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<String>,
    /// The caller that cancelled the job (CANCELLED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    /// The sweep the job is a child of, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_id: Option<SweepId>,
    /// The fingerprint of the run's inputs (its manifest's), once PrepareConfig planned them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
    /// The earlier run with the same inputs whose result this job was answered from, with no engine run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_from: Option<RunId>,
}

impl WorkflowRecord {
    /// A new job for `request`, created now in `status`.
    pub fn new(run_id: RunId, request: BacktestRequest, status: Status, now: Timestamp) -> Self {
        let BacktestRequest {
            strategy_name,
            strategy_version,
            experiment_name,
            config,
        } = request;
        Self {
            run_id,
            workflow_type: WORKFLOW_TYPE.to_owned(),
            status,
            strategy_name,
            strategy_version,
            experiment_name,
            config,
            created_at: now,
            updated_at: now,
            started_at: None,
            error: None,
            failed_step: None,
            result: None,
            mlflow_experiment_id: None,
            mlflow_run_id: None,
            execution_arn: None,
            task_arn: None,
            handoff_error: None,
            tracking_error: None,
            submitted_by: None,
            cancelled_by: None,
            sweep_id: None,
            fingerprint: None,
            cached_from: None,
        }
    }

    /// The same job, recorded as submitted by `caller`.
    pub fn submitted_by(mut self, caller: Option<String>) -> Self {
        self.submitted_by = caller;
        self
    }

    /// Whether this job's result answers a run of inputs with `fingerprint`: it COMPLETED a backtest of exactly
    /// those inputs with its own engine run (a hyperopt's search is not a result to reuse).
    pub fn answers(&self, fingerprint: &Fingerprint) -> bool {
        self.status == Status::Completed
            && self.fingerprint.as_ref() == Some(fingerprint)
            && self.cached_from.is_none()
            && self.config.hyperopt.is_none()
    }

    /// The job as it is handed to an executor.
    pub fn job(&self) -> BacktestJob {
        BacktestJob {
            run_id: self.run_id,
            request: BacktestRequest {
                strategy_name: self.strategy_name.clone(),
                strategy_version: self.strategy_version.clone(),
                experiment_name: self.experiment_name.clone(),
                config: self.config.clone(),
            },
        }
    }
}

/// The message an executor receives: the run id and the validated request, flat, as the workflow's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestJob {
    pub run_id: RunId,
    #[serde(flatten)]
    pub request: BacktestRequest,
}
