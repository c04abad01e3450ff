//! POST /backtest/{run_id}/cancel: PENDING, QUEUED or RUNNING → CANCELLED, stopping what runs the job; the
//! caller's IAM principal is recorded as `cancelled_by`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::backtest::Status;
use tradai::executor::Stopper;
use tradai::http::{ApiError, caller, conflict, json_response, respond, run_id_parameter};
use tradai::jobs::{self, CancelError};
use tradai::metrics::{BacktestMetrics, EmfMetrics, Metrics};
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::store::WorkflowStore;

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    /// `ECS_CLUSTER`: the cluster of tasks whose ARN names none.
    pub ecs_cluster: Option<String>,
    /// `BACKTEST_WORKFLOW_ARN`: whose execution, named by the run id, is stopped when none is recorded yet.
    pub workflow_arn: Option<String>,
    /// `ENVIRONMENT`: the stage, the metrics' dimension.
    pub environment: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            ecs_cluster: env.optional("ECS_CLUSTER"),
            workflow_arn: env
                .optional("BACKTEST_WORKFLOW_ARN")
                .map(|_| env.arn("BACKTEST_WORKFLOW_ARN", "states"))
                .transpose()?,
            environment: env.environment(),
        })
    }
}

/// What the handler needs: the store and what stops executions and tasks.
pub struct Deps<S, T, M = EmfMetrics<std::io::Stdout>> {
    pub store: S,
    pub stopper: T,
    /// Where the count of cancels goes (only the call that cancelled a job counts it).
    pub metrics: BacktestMetrics<M>,
}

/// 200 `{run_id, status, previous_status, stop_requested, cancelled_by?}`; 400 malformed id; 404 unknown; 409 finished;
/// 503 when the store, or the service running the job, is unavailable.
pub async fn handle<S: WorkflowStore, T: Stopper, M: Metrics>(
    deps: &Deps<S, T, M>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let run_id = run_id_parameter(&request)?;
        match jobs::cancel(&deps.store, &deps.stopper, run_id, caller(&request)).await {
            Ok(cancelled) => {
                if cancelled.previous_status != Status::Cancelled {
                    deps.metrics.cancelled().await;
                }
                Ok(json_response(StatusCode::OK, &cancelled))
            }
            Err(error @ CancelError::NotFound(_)) => Err(ApiError::not_found(error.to_string())),
            Err(error @ (CancelError::Finished { .. } | CancelError::Contended(_))) => Err(conflict(error.to_string())),
            Err(error @ CancelError::Store(_)) => Err(ApiError::unavailable("the workflow store", &error)),
            Err(error @ CancelError::Stop { .. }) => Err(ApiError::unavailable("stopping the backtest", &error)),
        }
    })
    .await
}
