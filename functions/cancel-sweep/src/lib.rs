//! POST /sweeps/{sweep_id}/cancel: the sweep CANCELLED, its workflow stopped, and every unfinished child cancelled
//! as POST /backtest/{run_id}/cancel cancels a job; the caller's IAM principal is recorded as `cancelled_by`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::executor::Stopper;
use tradai::http::{ApiError, caller, conflict, json_response, respond, sweep_id_parameter};
use tradai::settings::{AwsSettings, DEFAULT_SWEEP_TABLE, Env, SettingsError};
use tradai::store::WorkflowStore;
use tradai::sweep::{CancelSweepError, SweepLauncher, SweepStore};

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    /// `SWEEP_TABLE` (default `tradai-sweeps`).
    pub sweep_table: String,
    /// `SWEEP_WORKFLOW_ARN`: the sweep state machine.
    pub sweep_workflow_arn: String,
    /// `BACKTEST_WORKFLOW_ARN`: a child's execution is named by its run id there.
    pub backtest_workflow_arn: String,
    /// `ECS_CLUSTER`: the cluster of tasks whose ARN names none.
    pub ecs_cluster: Option<String>,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            sweep_table: env.table("SWEEP_TABLE", DEFAULT_SWEEP_TABLE)?,
            sweep_workflow_arn: env.arn("SWEEP_WORKFLOW_ARN", "states")?,
            backtest_workflow_arn: env.arn("BACKTEST_WORKFLOW_ARN", "states")?,
            ecs_cluster: env.optional("ECS_CLUSTER"),
        })
    }
}

/// What the handler needs.
pub struct Deps<S, W, L, T> {
    pub sweeps: S,
    pub jobs: W,
    pub launcher: L,
    pub stopper: T,
}

/// 200 `{sweep_id, status, previous_status, children_cancelled, cancelled_by?}`; 400 malformed id; 404 unknown;
/// 409 finished; 503 when DynamoDB, Step Functions or ECS is unavailable (cancelling again retries).
pub async fn handle<S: SweepStore, W: WorkflowStore, L: SweepLauncher, T: Stopper>(
    deps: &Deps<S, W, L, T>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let sweep_id = sweep_id_parameter(&request)?;
        let cancelled = tradai::sweep::cancel_sweep(
            &deps.sweeps,
            &deps.jobs,
            &deps.launcher,
            &deps.stopper,
            sweep_id,
            caller(&request),
        )
        .await;
        match cancelled {
            Ok(cancelled) => Ok(json_response(StatusCode::OK, &cancelled)),
            Err(error @ CancelSweepError::NotFound(_)) => Err(ApiError::not_found(error.to_string())),
            Err(error @ CancelSweepError::Finished { .. }) => Err(conflict(error.to_string())),
            Err(error @ CancelSweepError::Store(_)) => Err(ApiError::unavailable("the workflow store", &error)),
            Err(error @ (CancelSweepError::Stop { .. } | CancelSweepError::Child { .. })) => {
                Err(ApiError::unavailable("stopping the sweep", &error))
            }
        }
    })
    .await
}
