//! POST /backtest/{run_id}/rerun: a new job that runs exactly the inputs of run `run_id` — its strategy version
//! and image digest, its config, the object versions of its candle files — bypassing the result cache
//! (`tradai::jobs::rerun`); the caller's IAM principal is recorded as `submitted_by`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use tradai::executor::{ContainerContext, ExecutorMode, Launcher};
use tradai::http::{ApiError, caller, conflict, json_response, log_run_id, planned_error, respond, run_id_parameter};
use tradai::jobs::{self, RerunError, SubmitError};
use tradai::metrics::{BacktestMetrics, EmfMetrics, Metrics};
use tradai::objects::ObjectStore;
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::store::WorkflowStore;

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    /// `S3_RESULTS_BUCKET`: where the original's manifest is.
    pub results_bucket: String,
    pub executor: ExecutorMode,
    /// What strategy containers are told (`ecs` and `local` modes).
    pub context: ContainerContext,
    /// `ENVIRONMENT`: the stage, the metrics' dimension.
    pub environment: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            results_bucket: env.bucket("S3_RESULTS_BUCKET")?,
            executor: ExecutorMode::from_env(env)?,
            context: ContainerContext::from_env(env)?,
            environment: env.environment(),
        })
    }
}

/// What the handler needs: where jobs are recorded, where manifests are, where jobs are handed off, where the
/// count of submissions goes.
pub struct Deps<S, O, L, M = EmfMetrics<std::io::Stdout>> {
    pub store: S,
    pub results: O,
    pub launcher: L,
    pub metrics: BacktestMetrics<M>,
}

/// 202 `{run_id, status, status_url, rerun_of}`; 400 malformed id; 404 unknown; 409 when the run has no manifest
/// or is a hyperopt; 503 when the store, the results bucket or the executor is down.
pub async fn handle<S: WorkflowStore, O: ObjectStore, L: Launcher, M: Metrics>(
    deps: &Deps<S, O, L, M>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let original = run_id_parameter(&request)?;
        let rerun = jobs::rerun(&deps.store, &deps.results, &deps.launcher, original, caller(&request));
        match rerun.await {
            Ok(submitted) => {
                log_run_id(submitted.run_id);
                deps.metrics.submitted().await;
                Ok(json_response(
                    StatusCode::ACCEPTED,
                    &json!({
                        "run_id": submitted.run_id,
                        "status": submitted.status,
                        "status_url": format!("/backtest/{}/status", submitted.run_id),
                        "rerun_of": original,
                    }),
                ))
            }
            Err(RerunError::Planned(error)) => Err(planned_error(&error)),
            Err(error @ RerunError::Hyperopt(_)) => Err(conflict(error.to_string())),
            Err(RerunError::Submit(SubmitError::Refused(errors))) => Err(ApiError::validation(&errors)),
            Err(error @ RerunError::Submit(SubmitError::Store(_))) => {
                Err(ApiError::unavailable("the workflow store", &error))
            }
            Err(error @ RerunError::Submit(_)) => Err(ApiError::unavailable("the executor", &error)),
        }
    })
    .await
}
