//! POST /sweeps: validates a sweep (the base backtest as POST /backtest does, the space against what the strategy
//! version declares), estimates its cost and time, and unless it is a dry run records it with one child job per
//! combination and starts its workflow (`tradai::sweep::submit_sweep`).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use tradai::http::{ApiError, caller, json_body, json_response, registry_error, respond};
use tradai::mlflow::ModelRegistry;
use tradai::objects::ObjectStore;
use tradai::settings::{AwsSettings, DEFAULT_SWEEP_TABLE, Env, SettingsError, TaskSize};
use tradai::store::WorkflowStore;
use tradai::sweep::{SubmitSweepError, SweepLauncher, SweepPorts, SweepRequest, SweepStore, SweepSubmission};
use tradai::time::Timestamp;

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub mlflow: tradai::mlflow::MlflowOptions,
    pub workflow_table: String,
    /// `SWEEP_TABLE` (default `tradai-sweeps`).
    pub sweep_table: String,
    /// `S3_CONFIG_BUCKET`: where each sweep's list of children is written for its workflow.
    pub config_bucket: String,
    /// `SWEEP_WORKFLOW_ARN`: the sweep state machine.
    pub sweep_workflow_arn: String,
    /// `STRATEGY_TASK_CPU`, `STRATEGY_TASK_MEMORY`: what the estimate prices each child's task as.
    pub task: TaskSize,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            mlflow: env.mlflow()?,
            workflow_table: env.workflow_table()?,
            sweep_table: env.table("SWEEP_TABLE", DEFAULT_SWEEP_TABLE)?,
            config_bucket: env.bucket("S3_CONFIG_BUCKET")?,
            sweep_workflow_arn: env.arn("SWEEP_WORKFLOW_ARN", "states")?,
            task: env.strategy_task_size()?,
        })
    }
}

/// What the handler needs.
pub struct Deps<R, W, S, O, L> {
    pub registry: R,
    pub jobs: W,
    pub sweeps: S,
    pub items: O,
    pub launcher: L,
    pub task: TaskSize,
}

/// 202 `{sweep_id, status, runs, strategy_version, estimate, status_url}`; 200 `{runs, strategy_version, estimate,
/// dry_run: true}` for a dry run; 400 naming the field, nothing recorded; 503 when MLflow, DynamoDB, S3 or Step
/// Functions is unavailable (a sweep whose workflow could not start is recorded FAILED with its children).
pub async fn handle<R, W, S, O, L>(
    deps: &Deps<R, W, S, O, L>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error>
where
    R: ModelRegistry,
    W: WorkflowStore,
    S: SweepStore,
    O: ObjectStore,
    L: SweepLauncher,
{
    respond(&request, async {
        let now = Timestamp::now();
        let sweep = SweepRequest::from_json(json_body(&request)?, now.date())
            .map_err(|errors| ApiError::validation(&errors))?;
        let ports = SweepPorts {
            registry: &deps.registry,
            jobs: &deps.jobs,
            sweeps: &deps.sweeps,
            items: &deps.items,
            launcher: &deps.launcher,
            task: deps.task,
        };
        let submission = SweepSubmission {
            request: sweep,
            submitted_by: caller(&request),
            at: now,
        };
        match tradai::sweep::submit_sweep(&ports, submission).await {
            Ok(planned) => match planned.sweep_id {
                Some(sweep_id) => {
                    let mut body = serde_json::to_value(&planned).map_err(|error| ApiError::internal(&error))?;
                    body["status_url"] = json!(format!("/sweeps/{sweep_id}"));
                    Ok(json_response(StatusCode::ACCEPTED, &body))
                }
                None => Ok(json_response(StatusCode::OK, &planned)),
            },
            Err(SubmitSweepError::Invalid(errors)) => Err(ApiError::validation(&errors)),
            Err(SubmitSweepError::Registry(error)) => Err(registry_error(&error, None)),
            Err(error @ SubmitSweepError::Store(_)) => Err(ApiError::unavailable("the workflow store", &error)),
            Err(error @ SubmitSweepError::Objects(_)) => Err(ApiError::unavailable("the configs bucket", &error)),
            Err(error @ SubmitSweepError::Launch { .. }) => Err(ApiError::unavailable("Step Functions", &error)),
        }
    })
    .await
}
